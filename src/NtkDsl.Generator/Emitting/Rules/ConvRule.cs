using System;
using System.Collections.Generic;
using NtkDsl.Generator.Ir;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// Conv: z = WeightScale conv(W, a) + BiasScale b on [C_in, H, W] activations, W [C_out, C_in, kh, kw] row-major then
/// b [C_out] (PyTorch's layout). Every pass works on the im2col columns of the layer's input, X [C_in kh kw, P] per
/// sample (P output positions), which the forward pass keeps: z = W X (a batched GEMM with a shared W), the cotangent
/// of the input is col2im(W^T D), the weight gradient sum_n D_n X_n^T and a Jacobian row D_r X^T.
/// <para>
/// NTK term: one of two strategies per layer, chosen at generation time by <see cref="Costs"/> (the generated comment
/// states both counts and the choice). With F = C_in kh kw, O = C_out, P output positions, q row pairs per sample pair
/// (OutputSize in Trace/Diagonal mode, OutputSize^2 in Full mode):
/// <list type="bullet">
/// <item>Jacobian contraction: J_r = WeightScale D_r X^T [O, F] (and the bias block BiasScale sum_p D_r), formed for
/// every cotangent row (2 O F P FLOPs per row), contracted per row pair (2 O (F + 1)); memory O (F + 1) per row.</item>
/// <item>Position pairs (Novak et al. 2022, structured derivatives): Theta_l(r, s) = sum_{p, p'} &lt;D_r[:, p], D_s[:, p']&gt;
/// (WeightScale^2 &lt;X[:, p], X'[:, p']&gt; + BiasScale^2): the patch Gram once per sample pair (2 F P^2, before the
/// output loop), the cotangent position Gram and its weighted block sums per row pair (2 P^2 (O + 1)); memory P^2 per
/// row pair and per sample pair, plus position-major copies of D (P O per row) and X (P F per sample).</item>
/// </list>
/// The choice compares the per-sample-pair counts in Trace mode (q = OutputSize), the terms that dominate a kernel of
/// many samples: position pairs win for small spatial extents with wide channels (P^2 well below F).
/// </para>
/// </summary>
internal sealed class ConvRule : ILayerRule
{
    public string Label(LayerNode node) =>
        $"Conv {node.InShape} -> {node.OutShape}, {WindowText(node)}" + (node.Parameters!.HasBias ? "" : ", no bias");

    public string DescriptionSpec(LayerNode node)
    {
        var l = node.Declaration;
        return $"{Ns}.LayerSpec.Conv({Int(l.Width)}, {Int(l.Kernel)}, {Int(l.Stride)}, {Ns}.Padding.{node.Window!.Padding}, " +
               $"{OptionalDouble(l.WeightStd)}, {OptionalDouble(l.BiasStd)}, {Bool(node.Parameters!.HasBias)})";
    }

    public void WriteConstants(EmitContext e, LayerNode node)
    {
        var p = node.Parameters!;
        var w = node.Window!;
        string n = Name(node);
        e.W.Line($"// Layer {node.Number}: {Label(node)}; W [{node.OutShape.Channels}, {node.InShape.Channels}, {w.Height}, {w.Width}] at {Int(p.WeightOffset)}" +
                 (p.HasBias ? $", b [{node.OutShape.Channels}] at {Int(p.BiasOffset)}" : "") + $" ({Count(p.Count)} parameters).");
        e.W.Line($"public const int {n}Weights = {Int(p.WeightOffset)};");
        if (p.HasBias) e.W.Line($"public const int {n}Bias = {Int(p.BiasOffset)};");
        e.W.Line($"public const double {n}WeightScale = {Double(p.WeightScale)};");
        if (p.HasBias) e.W.Line($"public const double {n}BiasScale = {Double(p.BiasScale)};");
        if (p.HasRates)
        {
            // The NTK of gradient flow with per-layer rates: the Jacobian blocks J1 J2^T are scaled by sqrt(rho) each.
            e.W.Line($"public const double {n}NtkWeightScale = {Double(System.Math.Sqrt(p.WeightRate) * p.WeightScale)};");
            if (p.HasBias) e.W.Line($"public const double {n}NtkBiasScale = {Double(System.Math.Sqrt(p.BiasRate) * p.BiasScale)};");
        }
        e.W.Line($"public static {Ns}.ConvLayer {n} => ({Ns}.ConvLayer)Description.Layers[{Int(node.Index)}];");
        if (node.HasParametersBefore)
            e.W.Line($"public const int {n}CotangentBlockRows = {Int(CotangentBlockRows(node))}; // rows per block of col2im(W^T D), at most {Count(CotangentBlockElements)} scratch elements");
    }

    public IEnumerable<(string Suffix, string Comment, long Cols)> BatchBuffers(LayerNode node) =>
        [(ColumnsSuffix(node), $"im2col columns of the input of layer {node.Number}, [{Fan(node)}, {node.OutShape.Positions}] per sample", Fan(node) * node.OutShape.Positions)];

    public void Forward(EmitContext e, LayerNode node, string input, string output)
    {
        string cols = $"cols{node.Number}";
        e.W.Line($"TTensor {cols} = workspace.Get(backend, {ForwardSlot(ColumnsSuffix(node))}, n, {Int(Fan(node) * node.OutShape.Positions)});");
        e.W.Line($"backend.Im2Col({input}, {Int(node.InShape.Channels)}, {Helper(Name(node))}.Window, {cols});");
        Product(e, node, "theta", cols, output, accumulate: false);
    }

    public string? Tangent(EmitContext e, LayerNode node, Batch batch, string? inputTangent, string target, bool targetIsOutput)
    {
        e.DeclareTangent(node, target, targetIsOutput);

        // d(conv(W, a) + b) = conv(dW, a) + db + conv(W, da).
        Product(e, node, "tangent", e.BatchBuffer(batch, ColumnsSuffix(node), Int(Fan(node) * node.OutShape.Positions)), target, accumulate: false);
        if (inputTangent is not null)
        {
            string slot = e.Plan.Add($"JvpColumns{node.Number}", $"Jvp: im2col columns of the tangent of a{node.Index}", "n", Int(Fan(node) * node.OutShape.Positions));
            string tangentCols = $"tcols{node.Number}";
            e.W.Line($"TTensor {tangentCols} = workspace.Get(backend, {slot}, n, {Int(Fan(node) * node.OutShape.Positions)});");
            e.W.Line($"backend.Im2Col({inputTangent}, {Int(node.InShape.Channels)}, {Helper(Name(node))}.Window, {tangentCols});");
            e.W.Line($"backend.MatMulRows({Weights(node, "theta")}, false, {tangentCols}, {WeightScale(node)}, {target}, true);");
        }

        return target;
    }

    public void PrepareNtk(EmitContext e, LayerNode node, Batch first, Batch second)
    {
        if (!PositionPairs(e, node)) return;
        // The patch Gram <X[:, p], X'[:, p']> [n1 P, n2 P], shared by every output of the NTK passes.
        string positions = Int(node.OutShape.Positions), fan = Int(Fan(node)), colsCount = Int(Fan(node) * node.OutShape.Positions);
        string p1 = e.Plan.Add($"NtkPatches1_{node.Number}", $"Ntk x1: the im2col columns of layer {node.Number}, position-major", $"n1 * {positions}", fan, inNtk: true);
        string p2 = e.Plan.Add($"NtkPatches2_{node.Number}", $"Ntk x2: the im2col columns of layer {node.Number}, position-major", $"n2 * {positions}", fan, inNtk: true, secondBatchOnly: true);
        string gram = e.Plan.Add(PatchGramSlot(node), $"Ntk: the patch Gram of layer {node.Number}, <X[:, p], X'[:, p']>", $"n1 * {positions}", $"n2 * {positions}", inNtk: true);
        string x1 = $"patches1_{node.Number}", x2 = $"patches2_{node.Number}", g = $"patchGram{node.Number}";
        e.W.Line($"TTensor {x1} = workspace.Get(backend, {p1}, n1 * {positions}, {fan});");
        e.W.Line($"backend.PositionMajor({e.BatchBuffer(first, ColumnsSuffix(node), colsCount)}, {positions}, {x1});");
        string secondColumns = e.BatchBuffer(second, ColumnsSuffix(node), colsCount);
        e.W.Line($"TTensor {x2} = sameInputs ? {x1} : workspace.Get(backend, {p2}, n2 * {positions}, {fan});");
        e.W.Line($"if (!sameInputs) backend.PositionMajor({secondColumns}, {positions}, {x2});");
        e.Fetch(g, gram, $"n1 * {positions}", $"n2 * {positions}");
        e.W.Line($"backend.Gram({x1}, {x2}, {g});");
    }

    public void ParameterTerm(EmitContext e, LayerNode node, SinkKind sink, CotangentStream[] streams)
    {
        var p = node.Parameters!;
        string n = Name(node), c = streams[0].Current, positions = Int(node.OutShape.Positions);
        string colsCount = Int(Fan(node) * node.OutShape.Positions);
        switch (sink)
        {
            case SinkKind.Gradient:
                string cols = e.BatchBuffer(streams[0].Batch, ColumnsSuffix(node), colsCount);
                e.W.Line($"backend.SummedRowProducts({c}, {cols}, {positions}, {WeightScale(node)}, {Weights(node, "gradient")}, false);");
                if (p.HasBias) e.W.Line($"backend.ColumnSums({c}, {positions}, {BiasScale(node)}, backend.View(gradient, {Helper(n + "Bias")}, 1, {Int(node.OutShape.Channels)}), false);");
                break;
            case SinkKind.Jacobian:
                // Row r's weight block is D_r X^T (D_r [C_out, P], X [F, P]); its bias block sums D_r over positions.
                string jcols = e.BatchBuffer(streams[0].Batch, ColumnsSuffix(node), colsCount);
                e.W.Line($"backend.RowProducts({c}, {jcols}, {positions}, OutputSize, {WeightScale(node)}, jacobian, {Helper(n + "Weights")});");
                if (p.HasBias) e.W.Line($"backend.SumPositions({c}, {positions}, {BiasScale(node)}, jacobian, {Helper(n + "Bias")});");
                break;
            case SinkKind.Ntk when PositionPairs(e, node):
                WriteCostComment(e, node);
                PositionPairTerm(e, node, streams);
                break;
            case SinkKind.Ntk:
                WriteCostComment(e, node);
                var (w1, b1) = LayerJacobian(e, node, streams[0]);
                // Folded (Trace): one product over each sample's stacked rows sums the output group's terms.
                string weights = Int(node.OutShape.Channels * Fan(node)), channelsOut = Int(node.OutShape.Channels);
                string w2Slot = e.Plan.Add($"NtkLayerJacobian2_{node.Number}", $"Ntk x2: the weight Jacobian of layer {node.Number}", "n2 * repeat", weights, inNtk: true, secondBatchOnly: true);
                string w2 = $"j2_{node.Number}", b2 = $"jb2_{node.Number}";
                e.W.Line($"TTensor {w2} = sameInputs ? {w1} : workspace.Get(backend, {w2Slot}, n2 * repeat, {weights});");
                if (p.HasBias)
                {
                    string b2Slot = e.Plan.Add($"NtkLayerBiasJacobian2_{node.Number}", $"Ntk x2: the bias Jacobian of layer {node.Number}", "n2 * repeat", channelsOut, inNtk: true, secondBatchOnly: true);
                    e.W.Line($"TTensor {b2} = sameInputs ? {b1} : workspace.Get(backend, {b2Slot}, n2 * repeat, {channelsOut});");
                }

                e.W.Open("if (!sameInputs)");
                FillJacobian(e, node, streams[1], w2, p.HasBias ? b2 : null);
                e.W.Close();
                e.W.Line($"backend.MatMulTransposeB({Folded(w1)}, {Folded(w2)}, 1.0, result, true);");
                if (p.HasBias) e.W.Line($"backend.MatMulTransposeB({Folded(b1!)}, {Folded(b2)}, 1.0, result, true);");
                break;
        }
    }

    public void Cotangent(EmitContext e, LayerNode node, CotangentStream stream)
    {
        // The input's cotangent is col2im(W^T D): through the columns, then summed back onto the input positions, in
        // blocks of at most CotangentBlockRows rows (one scratch of bounded size, however many cotangent rows there are).
        string colsCount = Int(Fan(node) * node.OutShape.Positions);
        string rows = $"global::System.Math.Min({stream.Rows}, {Helper(Name(node) + "CotangentBlockRows")})";
        string slot = CotangentWalk.ScratchSlot(e, stream, $"Columns{node.Number}", $"W^T times a block of the cotangent of a{node.Number}", colsCount, rows);
        string scratch = $"{stream.Prefix}cols{node.Number}";
        CotangentWalk.Step(e, node, stream, Int(node.InShape.Size),
            $"TTensor {scratch} = workspace.Get(backend, {slot}, {rows}, {colsCount});",
            $"{Backends}.ConvCotangent.Input(backend, {Weights(node, "theta")}, {stream.Current}, {WeightScale(node)}, {Int(node.InShape.Channels)}, {Helper(Name(node))}.Window, {scratch}, {{next}});");
    }

    /// <summary>
    /// Rows per block of the input-cotangent pass: the scratch W^T D holds at most <see cref="CotangentBlockElements"/>
    /// elements (at least one row).
    /// </summary>
    private static long CotangentBlockRows(LayerNode node) => Math.Max(1, CotangentBlockElements / (Fan(node) * node.OutShape.Positions));

    /// <summary>
    /// The element budget of a convolution's input-cotangent scratch (2^18: 2 MB in float64), small enough that col2im
    /// reads the block W^T D back from cache (a 32 MB block went through memory and took twice as long at 28 x 28).
    /// </summary>
    internal const long CotangentBlockElements = 1L << 18;

    public void InfiniteWidth(EmitContext e, LayerNode node, string state) =>
        e.W.Line($"{state}.Conv({Helper(Name(node))}, {Ns}.Parameterization.{e.Ir.Model.Abc.KernelForm ?? NtkDsl.Layers.Parameterization.Ntk});");

    // J [rows, parameters] of the stream's samples: the weight blocks D_r X^T, and the bias blocks in their own tensor
    // (so a sample's stacked weight rows are one [repeat C_out, F] product).
    private static (string Weights, string? Bias) LayerJacobian(EmitContext e, LayerNode node, CotangentStream stream)
    {
        string weights = Int(node.OutShape.Channels * Fan(node)), channels = Int(node.OutShape.Channels);
        string slot = e.Plan.Add($"NtkLayerJacobian1_{node.Number}", $"Ntk x1: the weight Jacobian of layer {node.Number}", "n1 * repeat", weights, inNtk: true);
        string j = $"j1_{node.Number}", jb = $"jb1_{node.Number}";
        e.W.Line($"TTensor {j} = workspace.Get(backend, {slot}, n1 * repeat, {weights});");
        if (node.Parameters!.HasBias)
        {
            string biasSlot = e.Plan.Add($"NtkLayerBiasJacobian1_{node.Number}", $"Ntk x1: the bias Jacobian of layer {node.Number}", "n1 * repeat", channels, inNtk: true);
            e.W.Line($"TTensor {jb} = workspace.Get(backend, {biasSlot}, n1 * repeat, {channels});");
        }

        FillJacobian(e, node, stream, j, node.Parameters.HasBias ? jb : null);
        return (j, node.Parameters.HasBias ? jb : null);
    }

    private static void FillJacobian(EmitContext e, LayerNode node, CotangentStream stream, string j, string? jb)
    {
        string positions = Int(node.OutShape.Positions), colsCount = Int(Fan(node) * node.OutShape.Positions);
        // The second stream runs only for distinct inputs, so it reads its batch's columns directly.
        string cols = stream.SameAs is null
            ? e.BatchBuffer(stream.Batch, ColumnsSuffix(node), colsCount)
            : $"workspace.Get(backend, {Helper(stream.Batch.Slots + ColumnsSuffix(node))}, {stream.Batch.Rows}, {colsCount})";
        bool rates = node.Parameters!.HasRates;
        e.W.Line($"backend.RowProducts({stream.Current}, {cols}, {positions}, repeat, {(rates ? Helper(Name(node) + "NtkWeightScale") : WeightScale(node))}, {j}, 0);");
        if (jb is not null)
            e.W.Line($"backend.SumPositions({stream.Current}, {positions}, {(rates ? Helper(Name(node) + "NtkBiasScale") : BiasScale(node))}, {jb}, 0);");
    }

    /// <summary>
    /// The cost model: FLOPs per sample pair of the layer's NTK term in Trace mode (OutputSize row pairs per sample pair)
    /// by Jacobian contraction and by position pairs (see the class summary).
    /// </summary>
    internal static (long JacobianContraction, long PositionPairs) Costs(long channelsOut, long fan, long positions, long outputs)
    {
        long pp = positions * positions;
        return (outputs * 2 * channelsOut * (fan + 1), 2 * fan * pp + outputs * 2 * pp * (channelsOut + 1));
    }

    private static (long JacobianContraction, long PositionPairs) Costs(EmitContext e, LayerNode node) =>
        Costs(node.OutShape.Channels, Fan(node), node.OutShape.Positions, e.Ir.Outputs);

    private static bool PositionPairs(EmitContext e, LayerNode node)
    {
        var (jacobian, pairs) = Costs(e, node);
        return pairs < jacobian;
    }

    // The cost model's counts for this layer, its memory and its choice.
    private static void WriteCostComment(EmitContext e, LayerNode node)
    {
        long o = node.OutShape.Channels, f = Fan(node), positions = node.OutShape.Positions;
        var (jacobian, pairs) = Costs(e, node);
        bool chosen = pairs < jacobian;
        e.W.Line($"// NTK term, cost model per sample pair in Trace mode ({Count(e.Ir.Outputs)} row pairs): Jacobian contraction {Count(jacobian)} FLOPs " +
                 $"(+ {Count(2 * o * f * positions)} per row to form J_r = D_r X^T; memory {Count(o * (f + 1))} per row),");
        e.W.Line($"// position pairs {Count(pairs)} FLOPs (memory {Count(positions * positions)} per row pair and per sample pair, {Count(positions * o)} per row, {Count(positions * f)} per sample):" +
                 $" {(chosen ? "position pairs" : "Jacobian contraction")} chosen.");
    }

    // Theta_l += sum_{p, p'} <D_r[:, p], D_s[:, p']> (WeightScale^2 <X[:, p], X'[:, p']> + BiasScale^2), times the rates where there are.
    private static void PositionPairTerm(EmitContext e, LayerNode node, CotangentStream[] streams)
    {
        string positions = Int(node.OutShape.Positions), channels = Int(node.OutShape.Channels);
        // Folded (Trace): position-major rows (n, p) of a sample's stacked outputs' channels, so their Gram sums over the outputs.
        string r1 = $"rows1 * {positions}", r2 = $"rows2 * {positions}", folded = $"fold * {channels}";
        string s1 = e.Plan.Add($"NtkPositionCotangents1_{node.Number}", $"Ntk x1: the cotangent of layer {node.Number}'s output, position-major", r1, folded, inNtk: true);
        string s2 = e.Plan.Add($"NtkPositionCotangents2_{node.Number}", $"Ntk x2: the cotangent of layer {node.Number}'s output, position-major", r2, folded, inNtk: true, secondBatchOnly: true);
        string gramSlot = e.Plan.Add($"NtkPositionCotangentGram{node.Number}", $"Ntk: <D_r[:, p], D_s[:, p']> of layer {node.Number}", r1, r2, inNtk: true);
        string d1 = $"dp1_{node.Number}", d2 = $"dp2_{node.Number}", gram = $"dpGram{node.Number}";
        e.W.Line($"TTensor {d1} = workspace.Get(backend, {s1}, {r1}, {folded});");
        e.W.Line($"backend.PositionMajor({Folded(streams[0].Current)}, {positions}, {d1});");
        e.W.Line($"TTensor {d2} = sameInputs ? {d1} : workspace.Get(backend, {s2}, {r2}, {folded});");
        e.W.Line($"if (!sameInputs) backend.PositionMajor({Folded(streams[1].Current)}, {positions}, {d2});");
        e.W.Line($"TTensor {gram} = workspace.Get(backend, {gramSlot}, {r1}, {r2});");
        e.W.Line($"backend.Gram({d1}, {d2}, {gram});");
        string patchGram = e.Fetch($"patchGram{node.Number}", Helper(PatchGramSlot(node)), $"n1 * {positions}", $"n2 * {positions}");
        // With per-layer rates (mean-field, muP) the term is that of J diag(rho) J^T: the scales carry sqrt(rho).
        bool rates = node.Parameters!.HasRates;
        string ws = rates ? Helper(Name(node) + "NtkWeightScale") : WeightScale(node);
        string bs = rates ? Helper(Name(node) + "NtkBiasScale") : BiasScale(node);
        string bias = node.Parameters.HasBias ? $"{bs} * {bs}" : "0.0";
        e.W.Line($"backend.PositionPairAccumulate({gram}, {patchGram}, {positions}, repeat / fold, {ws} * {ws}, {bias}, result);");
    }

    private static string PatchGramSlot(LayerNode node) => $"NtkPatchGram{node.Number}";

    // z (=) WeightScale W X + BiasScale b from the parameter vector (or tangent) named flat.
    private static void Product(EmitContext e, LayerNode node, string flat, string cols, string output, bool accumulate)
    {
        e.W.Line($"backend.MatMulRows({Weights(node, flat)}, false, {cols}, {WeightScale(node)}, {output}, {Bool(accumulate)});");
        if (node.Parameters!.HasBias)
            e.W.Line($"backend.AddBias(backend.View({flat}, {Helper(Name(node) + "Bias")}, 1, {Int(node.OutShape.Channels)}), {Int(node.OutShape.Positions)}, {BiasScale(node)}, {output});");
    }

    private static string WindowText(LayerNode node)
    {
        var w = node.Window!;
        string size = node.InShape.Sequence ? $"window {w.Width}" : $"{w.Height}x{w.Width} window";
        string stride = node.InShape.Sequence ? $"stride {w.StrideWidth}" : $"stride {w.StrideHeight}";
        return $"{size}, {stride}, {w.Padding} padding";
    }

    /// <summary>F = C_in kh kw, the fan-in and the rows of the im2col columns.</summary>
    private static long Fan(LayerNode node) => node.InShape.Channels * node.Window!.Taps;

    private static string ColumnsSuffix(LayerNode node) => $"Columns{node.Number}";

    private static string Name(LayerNode node) => $"Layer{node.Number}";

    private static string Weights(LayerNode node, string flat) =>
        $"backend.View({flat}, {Helper(Name(node) + "Weights")}, {Int(node.OutShape.Channels)}, {Int(Fan(node))})";

    private static string WeightScale(LayerNode node) => Helper(Name(node) + "WeightScale");

    private static string BiasScale(LayerNode node) => Helper(Name(node) + "BiasScale");
}

using System;
using System.Collections.Generic;
using System.Linq;
using NtkDsl.Generator.Ir;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// Conv: z = WeightScale conv(W, a) + BiasScale b on [C_in, H, W] activations, W [C_out, C_in, kh, kw] row-major then
/// b [C_out] (PyTorch's layout). Every pass works on the im2col columns of the layer's input, X [C_in kh kw, P] per
/// sample (P output positions), which the forward pass keeps: z = W X (a batched GEMM with a shared W), the cotangent
/// of the input is col2im(W^T D), the weight gradient sum_n D_n X_n^T and a Jacobian row D_r X^T.
/// <para>
/// NTK term: one of three strategies per layer, chosen at generation time by <see cref="Strategy"/> from
/// <see cref="Costs"/>, <see cref="PerSampleCosts"/> and <see cref="ReadoutCosts"/> (the generated comment states the
/// counts and the choice). With F = C_in kh kw, O = C_out, P output positions, q row pairs per sample pair
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
/// <para>
/// Readout (<see cref="ConvReadout"/>: a GlobalAvgPool reads the layer out through elementwise activations only, with any
/// head after the pool): the cotangent of row r at the layer's output is channel-separable, D_r[c, p] = v_r[c] R_n[c, p],
/// with v_r the cotangent of the pool's output and R_n = (1 / P) prod phi'(z_n) the readout factor of the sample (the
/// pool's and activations' steps applied to ones, once per sample). So J_r = WeightScale diag(v_r) G_n with
/// G_n = R_n X_n^T [O, F] formed once per sample (2 O F P), and the term is Theta_l(r, s) = sum_c v_r[c] v_s[c] H_c(n, m)
/// with per-channel Grams H_c = WeightScale^2 &lt;G_n[c], G_m[c]&gt; + BiasScale^2 (sum_p R_n[c]) (sum_p R_m[c]) formed once per
/// sample pair (2 O (F + 1)), plus 2 O per row pair. The input cotangent is sum_c v_r[c] E_n[c] with E_n[c] =
/// col2im(WeightScale W[c]^T R_n[c]) (the backends' SeparableConvCotangent): one transposed convolution per
/// sample (O F P multiply-adds) and 2 O C_in Hin Win per row instead of col2im(W^T D_r)'s 2 O F P per row. It is chosen
/// when it is cheaper per sample pair than the better of the two above and also over a kernel of
/// <see cref="ReferenceSamples"/> x <see cref="ReferenceSamples"/> samples with the per-sample work counted (so it is
/// cheaper for every larger kernel); with one output it never is.
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
        // The columns stay for the backward passes; the backend may gather and multiply them sample by sample.
        e.W.Line($"backend.Conv({input}, {Int(node.InShape.Channels)}, {Helper(Name(node))}.Window, {Weights(node, "theta")}, {WeightScale(node)}, {cols}, {output});");
        Bias(e, node, "theta", output);
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
        var strategy = Strategy(e.Ir, node);
        if (strategy == ConvNtkStrategy.Readout) PrepareReadout(e, ReadoutShape(e.Ir, node)!, first, second);
        if (strategy != ConvNtkStrategy.PositionPairs) return;
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
            case SinkKind.Ntk when Strategy(e.Ir, node) == ConvNtkStrategy.PositionPairs:
                WriteCostComment(e, node);
                PositionPairTerm(e, node, streams);
                break;
            case SinkKind.Ntk:
                WriteCostComment(e, node);
                JacobianTerm(e, node, streams, (stream, j, jb) => FillJacobian(e, node, stream, j, jb));
                break;
        }
    }

    // The Jacobian-contraction term: each stream's Jacobian blocks (written by fill(stream, weights, bias)), then their
    // products into the result. Folded (Trace): one product over each sample's stacked rows sums the output group's terms.
    private static void JacobianTerm(EmitContext e, LayerNode node, CotangentStream[] streams, System.Action<CotangentStream, string, string?> fill)
    {
        bool bias = node.Parameters!.HasBias;
        var (w1, b1) = LayerJacobian(e, node, streams[0], fill);
        string weights = Int(node.OutShape.Channels * Fan(node)), channelsOut = Int(node.OutShape.Channels);
        string w2Slot = e.Plan.Add($"NtkLayerJacobian2_{node.Number}", $"Ntk x2: the weight Jacobian of layer {node.Number}", "n2 * repeat", weights, inNtk: true, secondBatchOnly: true);
        string w2 = $"j2_{node.Number}", b2 = $"jb2_{node.Number}";
        e.W.Line($"TTensor {w2} = sameInputs ? {w1} : workspace.Get(backend, {w2Slot}, n2 * repeat, {weights});");
        if (bias)
        {
            string b2Slot = e.Plan.Add($"NtkLayerBiasJacobian2_{node.Number}", $"Ntk x2: the bias Jacobian of layer {node.Number}", "n2 * repeat", channelsOut, inNtk: true, secondBatchOnly: true);
            e.W.Line($"TTensor {b2} = sameInputs ? {b1} : workspace.Get(backend, {b2Slot}, n2 * repeat, {channelsOut});");
        }

        e.W.Open("if (!sameInputs)");
        fill(streams[1], w2, bias ? b2 : null);
        e.W.Close();
        e.W.Line($"backend.MatMulTransposeB({Folded(w1)}, {Folded(w2)}, 1.0, result, true);");
        if (bias) e.W.Line($"backend.MatMulTransposeB({Folded(b1!)}, {Folded(b2)}, 1.0, result, true);");
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
    private static (string Weights, string? Bias) LayerJacobian(EmitContext e, LayerNode node, CotangentStream stream, System.Action<CotangentStream, string, string?> fill)
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

        fill(stream, j, node.Parameters.HasBias ? jb : null);
        return (j, node.Parameters.HasBias ? jb : null);
    }

    private static void FillJacobian(EmitContext e, LayerNode node, CotangentStream stream, string j, string? jb)
    {
        string positions = Int(node.OutShape.Positions);
        e.W.Line($"backend.RowProducts({stream.Current}, {JacobianColumns(e, node, stream)}, {positions}, repeat, {NtkWeightScale(node)}, {j}, 0);");
        if (jb is not null)
            e.W.Line($"backend.SumPositions({stream.Current}, {positions}, {NtkBiasScale(node)}, {jb}, 0);");
    }

    // The stream's im2col columns of the layer; the second stream runs only for distinct inputs, so it reads its batch's
    // columns directly.
    private static string JacobianColumns(EmitContext e, LayerNode node, CotangentStream stream)
    {
        string colsCount = Int(Fan(node) * node.OutShape.Positions);
        return stream.SameAs is null
            ? e.BatchBuffer(stream.Batch, ColumnsSuffix(node), colsCount)
            : $"workspace.Get(backend, {Helper(stream.Batch.Slots + ColumnsSuffix(node))}, {stream.Batch.Rows}, {colsCount})";
    }

    // The scales of the layer's NTK Jacobian blocks (times the square roots of the learning rates where there are).
    private static string NtkWeightScale(LayerNode node) => node.Parameters!.HasRates ? Helper(Name(node) + "NtkWeightScale") : WeightScale(node);

    private static string NtkBiasScale(LayerNode node) => node.Parameters!.HasRates ? Helper(Name(node) + "NtkBiasScale") : BiasScale(node);

    /// <summary>
    /// The cost model: FLOPs per sample pair of the layer's NTK term in Trace mode (OutputSize row pairs per sample pair)
    /// by Jacobian contraction and by position pairs (see the class summary).
    /// </summary>
    internal static (long JacobianContraction, long PositionPairs) Costs(long channelsOut, long fan, long positions, long outputs)
    {
        long pp = positions * positions;
        return (outputs * 2 * channelsOut * (fan + 1), 2 * fan * pp + outputs * 2 * pp * (channelsOut + 1));
    }

    /// <summary>
    /// The readout route's counts in Trace mode: per sample pair the per-channel Grams and their weighting by the row
    /// pairs, per sample the factors G_n = R_n X_n^T and, where a cotangent flows on (<paramref name="cotangent"/>), one
    /// transposed convolution and the rows' contractions with it (<paramref name="inputSize"/> = C_in Hin Win).
    /// </summary>
    internal static (long PerPair, long PerSample) ReadoutCosts(long channelsOut, long fan, long positions, long inputSize, long outputs, bool cotangent)
    {
        long factors = 2 * channelsOut * fan * positions;
        return (2 * channelsOut * (fan + 1) + outputs * 2 * channelsOut, factors + (cotangent ? factors + outputs * 2 * channelsOut * inputSize : 0));
    }

    /// <summary>
    /// Per-sample FLOPs in Trace mode of the other two routes: the Jacobian rows (contraction only) and, where a cotangent
    /// flows on, col2im(W^T D_r) for every row (2 O F P each, OutputSize rows per sample).
    /// </summary>
    internal static (long JacobianContraction, long PositionPairs) PerSampleCosts(long channelsOut, long fan, long positions, long outputs, bool cotangent)
    {
        long rows = outputs * 2 * channelsOut * fan * positions;
        return (rows + (cotangent ? rows : 0), cotangent ? rows : 0);
    }

    /// <summary>The kernel size (samples per side) at which the readout route must also win with its per-sample work counted.</summary>
    internal const long ReferenceSamples = 64;

    /// <summary>The NTK strategy of a convolution (the generated comment states the counts).</summary>
    internal static ConvNtkStrategy Strategy(NetworkIr ir, LayerNode node)
    {
        long o = node.OutShape.Channels, f = Fan(node), positions = node.OutShape.Positions;
        var (jacobian, pairs) = Costs(o, f, positions, ir.Outputs);
        var best = pairs < jacobian ? ConvNtkStrategy.PositionPairs : ConvNtkStrategy.JacobianContraction;
        if (ReadoutShape(ir, node) is null) return best;
        var (jacobianSample, pairsSample) = PerSampleCosts(o, f, positions, ir.Outputs, node.HasParametersBefore);
        long bestPair = System.Math.Min(jacobian, pairs), bestSample = best == ConvNtkStrategy.PositionPairs ? pairsSample : jacobianSample;
        var (readoutPair, readoutSample) = ReadoutCosts(o, f, positions, node.InShape.Size, ir.Outputs, node.HasParametersBefore);
        bool cheaper = readoutPair < bestPair && ReferenceSamples * readoutPair + readoutSample < ReferenceSamples * bestPair + bestSample;
        return cheaper ? ConvNtkStrategy.Readout : best;
    }

    /// <summary>
    /// The readout structure of a convolution, if it has one: the nodes after it up to a GlobalAvgPool are elementwise
    /// activations, each node from the convolution to the last activation is read by the next node alone (so the
    /// cotangent at the convolution's output is the pool's cotangent times a per-sample factor). Anything may follow the
    /// pool.
    /// </summary>
    internal static ConvReadout? ReadoutShape(NetworkIr ir, LayerNode conv)
    {
        if (conv.Kind != Model.LayerKind.Conv || conv.Parameters is null) return null;
        var chain = new List<LayerNode>();
        for (int i = conv.Index; i + 1 < ir.Nodes.Count; i++)
        {
            var next = ir.Nodes[i + 1];
            if (next.IsJoin || next.Input != i || ir.Readers(i).Count() != 1) return null;
            if (next.Kind == Model.LayerKind.GlobalAvgPool) return new ConvReadout(conv, chain, next);
            if (LayerRules.For(next) is not ActivationRule) return null;
            chain.Add(next);
        }

        return null;
    }

    /// <summary>The readout that ends at <paramref name="pool"/> when its convolution takes the readout route (the NTK walk's unit).</summary>
    internal static ConvReadout? ChosenReadout(NetworkIr ir, LayerNode pool)
    {
        if (pool.Kind != Model.LayerKind.GlobalAvgPool) return null;
        int k = pool.Input;
        while (k >= 0 && LayerRules.For(ir.Nodes[k]) is ActivationRule) k = ir.Nodes[k].Input;
        if (k < 0 || ReadoutShape(ir, ir.Nodes[k]) is not { } readout || readout.Pool.Index != pool.Index) return null;
        return Strategy(ir, readout.Conv) == ConvNtkStrategy.Readout ? readout : null;
    }

    // The cost model's counts for this layer, its memory and its choice.
    private static void WriteCostComment(EmitContext e, LayerNode node)
    {
        long o = node.OutShape.Channels, f = Fan(node), positions = node.OutShape.Positions;
        var (jacobian, pairs) = Costs(o, f, positions, e.Ir.Outputs);
        var strategy = Strategy(e.Ir, node);
        string choice = strategy switch
        {
            ConvNtkStrategy.Readout => "readout",
            ConvNtkStrategy.PositionPairs => "position pairs",
            _ => "Jacobian contraction",
        };
        bool cotangent = node.HasParametersBefore;
        var (jacobianSample, pairsSample) = PerSampleCosts(o, f, positions, e.Ir.Outputs, cotangent);
        e.W.Line($"// NTK term, cost model per sample pair in Trace mode ({Count(e.Ir.Outputs)} row pairs): Jacobian contraction {Count(jacobian)} FLOPs " +
                 $"(+ {Count(2 * o * f * positions)} per row to form J_r = D_r X^T; memory {Count(o * (f + 1))} per row),");
        var readout = ReadoutShape(e.Ir, node);
        e.W.Line($"// position pairs {Count(pairs)} FLOPs (memory {Count(positions * positions)} per row pair and per sample pair, {Count(positions * o)} per row, {Count(positions * f)} per sample)" +
                 (readout is null ? $": {choice} chosen." : ","));
        if (readout is null) return;
        var (readoutPair, readoutSample) = ReadoutCosts(o, f, positions, node.InShape.Size, e.Ir.Outputs, cotangent);
        e.W.Line($"// readout through layer {readout.Pool.Number}'s global average pool {Count(readoutPair)} FLOPs (+ {Count(readoutSample)} per sample" +
                 (cotangent ? $" with the input cotangent; the other two {Count(jacobianSample)} and {Count(pairsSample)} per sample" : $"; the other two {Count(jacobianSample)} and 0") +
                 $"; memory {Count(o * (f + 1))} per sample, {Count(o)} per sample pair): {choice} chosen.");
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

    // Before the passes: each batch's readout factor R = the pool's and activations' cotangent steps applied to ones, its
    // per-sample factors G_n = R_n X_n^T and sum_p R_n, and the per-channel Grams H_c of the two batches.
    private static void PrepareReadout(EmitContext e, ConvReadout readout, Batch first, Batch second)
    {
        var node = readout.Conv;
        string n = Name(node), positions = Int(node.OutShape.Positions), channels = Int(node.OutShape.Channels);
        string size = Int(node.OutShape.Size), factors = Int(node.OutShape.Channels * Fan(node)), colsCount = Int(Fan(node) * node.OutShape.Positions);
        e.W.Line($"// Layer {node.Number} is read out by layer {readout.Pool.Number}'s global average pool: the cotangent of a{node.Number} is v[r, c] R[n, c, p], with v the");
        e.W.Line($"// pool's cotangent and R the readout factor ({Through(readout)}), the same for every output.");
        var streams = new CotangentStream[2];
        foreach (var (batch, index) in new[] { (first, 1), (second, 2) })
        {
            bool own = index == 1;
            string rows = own ? "n1" : "n2", ones = $"ones{index}_{node.Number}", factor = $"readout{index}_{node.Number}";
            string onesSlot = e.Plan.Add($"NtkReadoutSeed{index}_{node.Number}", $"Ntk x{index}: ones, the readout seed of layer {node.Number}", rows, "1", inNtk: true, secondBatchOnly: !own);
            string factorSlot = e.Plan.Add($"NtkReadout{index}_{node.Number}", $"Ntk x{index}: the readout factor R of layer {node.Number}", rows, size, inNtk: true, secondBatchOnly: !own);
            e.W.Line($"TTensor {factor} = {(own ? "" : $"sameInputs ? readout1_{node.Number} : ")}workspace.Get(backend, {factorSlot}, {rows}, {size});");
            string fill = $"backend.BroadcastPositions(workspace.Get(backend, {onesSlot}, {rows}, 1), {size}, {Helper($"Layer{readout.Pool.Number}Scale")}, {factor});";
            string seed = $"backend.SetOutputSeed(workspace.Get(backend, {onesSlot}, {rows}, 1), 0);";
            if (own)
            {
                e.W.Line(seed);
                e.W.Line(fill);
            }
            else
            {
                e.W.Open("if (!sameInputs)");
                e.W.Line(seed);
                e.W.Line(fill);
                e.W.Close();
            }

            streams[index - 1] = new CotangentStream($"Ntk x{index} readout", $"r{index}_", factor, batch, rows, "1", $"NtkReadoutC{index}_", inNtk: true, sameAs: own ? null : streams[0]);
        }

        for (int i = readout.Chain.Count - 1; i >= 0; i--)
            foreach (var stream in streams) LayerRules.For(readout.Chain[i]).Cotangent(e, readout.Chain[i], stream);

        // G_n [C_out, F] and sum_p R_n per sample; H_c = WeightScale^2 <G_n[c], G_m[c]> + BiasScale^2 (sum_p R_n[c]) (sum_p R_m[c]).
        bool rates = node.Parameters!.HasRates, bias = node.Parameters.HasBias;
        string ws = rates ? Helper(n + "NtkWeightScale") : WeightScale(node), bs = rates ? Helper(n + "NtkBiasScale") : BiasScale(node);
        foreach (var (batch, index) in new[] { (first, 1), (second, 2) })
        {
            bool own = index == 1;
            string rows = own ? "n1" : "n2", factor = $"readout{index}_{node.Number}", cols = e.BatchBuffer(batch, ColumnsSuffix(node), colsCount);
            string g = $"rj{index}_{node.Number}", gb = $"rjb{index}_{node.Number}";
            string gSlot = e.Plan.Add($"NtkReadoutJacobian{index}_{node.Number}", $"Ntk x{index}: R_n X_n^T of layer {node.Number}, per sample", rows, factors, inNtk: true, secondBatchOnly: !own);
            e.W.Line($"TTensor {g} = {(own ? "" : $"sameInputs ? rj1_{node.Number} : ")}workspace.Get(backend, {gSlot}, {rows}, {factors});");
            if (bias)
            {
                string gbSlot = e.Plan.Add($"NtkReadoutBiasJacobian{index}_{node.Number}", $"Ntk x{index}: sum_p R_n of layer {node.Number}, per sample", rows, channels, inNtk: true, secondBatchOnly: !own);
                e.W.Line($"TTensor {gb} = {(own ? "" : $"sameInputs ? rjb1_{node.Number} : ")}workspace.Get(backend, {gbSlot}, {rows}, {channels});");
            }

            var statements = new List<string> { $"backend.RowProducts({factor}, {cols}, {positions}, 1, 1.0, {g}, 0);" };
            if (bias) statements.Add($"backend.SumPositions({factor}, {positions}, 1.0, {gb}, 0);");
            if (own)
            {
                foreach (var statement in statements) e.W.Line(statement);
                continue;
            }

            e.W.Open("if (!sameInputs)");
            foreach (var statement in statements) e.W.Line(statement);
            e.W.Close();
        }

        string gramSlot = e.Plan.Add(ReadoutGramSlot(node), $"Ntk: the per-channel Grams H_c of layer {node.Number}'s readout, [C_out, n1, n2]", $"{channels} * n1", "n2", inNtk: true);
        string gram = e.Fetch($"readoutGram{node.Number}", gramSlot, $"{channels} * n1", "n2");
        e.W.Line($"backend.ChannelGrams(rj1_{node.Number}, rj2_{node.Number}, {channels}, {ws} * {ws}, {gram}, false);");
        if (bias) e.W.Line($"backend.ChannelGrams(rjb1_{node.Number}, rjb2_{node.Number}, {channels}, {bs} * {bs}, {gram}, true);");
    }

    /// <summary>
    /// The NTK walk's step over a readout (the pool, the activations and the convolution at once), from the cotangents of
    /// the pool's output (the streams' current tensors): the layer's term sum_c v_r[c] v_s[c] H_c into the result, then,
    /// where parameters come before, the input cotangent sum_c v_r[c] E_n[c] into each stream.
    /// </summary>
    internal static void ReadoutTerm(EmitContext e, ConvReadout readout, CotangentStream[] streams)
    {
        var node = readout.Conv;
        string scope = node.Scope.TrimEnd('/');
        e.W.Line($"// Layers {node.Number}-{readout.Pool.Number}{(scope.Length == 0 ? "" : $" ({scope})")}: {new ConvRule().Label(node)}, read out by the global average pool ({Through(readout)})");
        WriteCostComment(e, node);
        string channels = Int(node.OutShape.Channels);
        string gram = e.Fetch($"readoutGram{node.Number}", Helper(ReadoutGramSlot(node)), $"{channels} * n1", "n2");
        e.W.Line($"backend.ChannelGramAccumulate({streams[0].Current}, {streams[1].Current}, {gram}, repeat, sumOutputs, result);");
        if (!node.HasParametersBefore) return;

        string size = Int(node.OutShape.Size);
        var below = ActivationBelow(e.Ir, readout);
        if (below is not null)
            e.W.Line($"// Layer {below.Number}: {LayerRules.For(below).Label(below)}, its derivative taken by the input cotangent as it is formed (its only reader)");
        string ReadoutFactor(CotangentStream stream) => stream.SameAs is null
            ? e.Fetch($"readout1_{node.Number}", Helper($"NtkReadout1_{node.Number}"), "n1", size)
            : $"workspace.Get(backend, {Helper($"NtkReadout2_{node.Number}")}, n2, {size})";
        string DerivativeArgs(CotangentStream stream) => below is null ? "" : $", {ActivationRule.Field(below)}, {e.Input(stream.Batch, below)}";
        // The arguments both ops share: w, d, v, repeat, scale, channels, window.
        string Separable(CotangentStream stream) =>
            $"{Weights(node, "theta")}, {ReadoutFactor(stream)}, {stream.Current}, repeat, {WeightScale(node)}, {Int(node.InShape.Channels)}, {Helper(Name(node))}.Window";
        if (FusedJacobianBelow(e.Ir, readout) is { } fused)
        {
            // The convolution below needs the input cotangent only for its Jacobian blocks: they are formed from each
            // sample's channel blocks of it as they are made, and the cotangent itself is never stored.
            e.Heading(fused, new ConvRule().Label(fused));
            WriteCostComment(e, fused);
            e.W.Line($"// Its Jacobian blocks are contracted from the input cotangent of layer {node.Number} as it is formed (their only use).");
            JacobianTerm(e, fused, streams, (stream, j, jb) => e.W.Line(
                $"backend.SeparableConvJacobian({Separable(stream)}, {JacobianColumns(e, fused, stream)}, {NtkWeightScale(fused)}, {j}, " +
                $"{(jb is null ? "0.0" : NtkBiasScale(fused))}, {jb ?? "default!"}{DerivativeArgs(stream)});"));
            return;
        }

        foreach (var stream in streams)
            CotangentWalk.StepTo(e, node, (below ?? node).Input + 1, stream, Int(node.InShape.Size),
                $"backend.SeparableConvCotangent({Separable(stream)}, {{next}}{DerivativeArgs(stream)});");
    }

    /// <summary>
    /// The convolution right below a readout (below its activation, <see cref="ActivationBelow"/>) when the readout's
    /// input cotangent is used only for that convolution's Jacobian blocks: it takes the Jacobian-contraction route, has
    /// no parameters before it (no cotangent flows on) and the readout (or its activation) is its only reader. The
    /// readout step then forms those blocks itself (SeparableConvJacobian) and the walk skips the convolution.
    /// </summary>
    internal static LayerNode? FusedJacobianBelow(NetworkIr ir, ConvReadout readout)
    {
        var conv = readout.Conv;
        if (!conv.HasParametersBefore) return null;
        var lowest = ActivationBelow(ir, readout) ?? conv;
        if (lowest.Input < 0 || lowest.IsJoin) return null;
        var below = ir.Nodes[lowest.Input];
        return below.Kind == Model.LayerKind.Conv && below.Parameters is not null && !below.HasParametersBefore && ir.Readers(below.Index).Count() == 1
               && Strategy(ir, below) == ConvNtkStrategy.JacobianContraction
            ? below
            : null;
    }

    /// <summary>
    /// The built-in activation right below a readout's convolution when the convolution is its only reader: the readout's
    /// input cotangent multiplies by its derivative as it is formed, so the NTK walk continues below the activation.
    /// </summary>
    internal static LayerNode? ActivationBelow(NetworkIr ir, ConvReadout readout)
    {
        var conv = readout.Conv;
        if (!conv.HasParametersBefore || conv.Input < 0) return null;
        var below = ir.Nodes[conv.Input];
        return LayerRules.For(below) is ActivationRule { FusesIntoDense: true } && below.HasParametersBefore && ir.Readers(below.Index).Count() == 1
            ? below
            : null;
    }

    // "1/784 times the derivatives of layers 4 (Relu)".
    private static string Through(ConvReadout readout) =>
        $"1/{Count(readout.Pool.InShape.Positions)}" + (readout.Chain.Count == 0 ? "" : " times the derivatives of " + string.Join(", ", readout.Chain.Select(c => $"layer {c.Number} ({LayerRules.For(c).Label(c)})")));

    private static string ReadoutGramSlot(LayerNode node) => $"NtkReadoutGram{node.Number}";

    private static string PatchGramSlot(LayerNode node) => $"NtkPatchGram{node.Number}";

    // z (=) WeightScale W X + BiasScale b from the parameter vector (or tangent) named flat.
    private static void Product(EmitContext e, LayerNode node, string flat, string cols, string output, bool accumulate)
    {
        e.W.Line($"backend.MatMulRows({Weights(node, flat)}, false, {cols}, {WeightScale(node)}, {output}, {Bool(accumulate)});");
        Bias(e, node, flat, output);
    }

    // output += BiasScale b from the parameter vector (or tangent) named flat, if the layer has a bias.
    private static void Bias(EmitContext e, LayerNode node, string flat, string output)
    {
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

/// <summary>How a convolution's NTK term is computed (see <see cref="ConvRule"/>).</summary>
internal enum ConvNtkStrategy
{
    JacobianContraction,
    PositionPairs,
    Readout,
}

/// <summary>
/// A convolution read out by a global average pool: <see cref="Chain"/> holds the elementwise activations between them
/// (nodes Conv, Chain..., Pool are consecutive, each read by the next alone).
/// </summary>
internal sealed record ConvReadout(LayerNode Conv, IReadOnlyList<LayerNode> Chain, LayerNode Pool);

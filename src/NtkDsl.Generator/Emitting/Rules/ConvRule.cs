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
/// NTK term, by the cost model (per sample pair, R = rows of the stream, F = C_in kh kw, O = C_out): contracting the
/// layer's Jacobians J_r = D_r X^T [O, F] costs 2 O F P per row to form and 2 O F per row pair to contract, with memory
/// R O F; the position-pair Grams (Novak et al. 2022) cost 2 P^2 (O + F) per row pair, with memory R1 R2 P^2. The
/// Jacobian contraction is the one implemented; the generated comment states both counts for the layer.
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
            case SinkKind.Ntk:
                WriteCostComment(e, node);
                string count = Int(p.Count);
                string j1 = LayerJacobian(e, node, streams[0], count);
                string j2Slot = e.Plan.Add($"NtkLayerJacobian2_{node.Number}", $"Ntk x2: the Jacobian of layer {node.Number}'s parameters", "n2 * repeat", count, inNtk: true, secondBatchOnly: true);
                string j2 = $"j2_{node.Number}";
                e.W.Line($"TTensor {j2} = sameInputs ? {j1} : workspace.Get(backend, {j2Slot}, n2 * repeat, {count});");
                e.W.Open("if (!sameInputs)");
                FillJacobian(e, node, streams[1], j2);
                e.W.Close();
                e.W.Line($"backend.MatMulTransposeB({j1}, {j2}, 1.0, result, true);");
                break;
        }
    }

    public void Cotangent(EmitContext e, LayerNode node, CotangentStream stream)
    {
        // The input's cotangent is col2im(W^T D): through the columns, then summed back onto the input positions.
        string colsCount = Int(Fan(node) * node.OutShape.Positions);
        string slot = CotangentWalk.ScratchSlot(e, stream, $"Columns{node.Number}", $"W^T times the cotangent of a{node.Number}", colsCount);
        string scratch = $"{stream.Prefix}cols{node.Number}";
        CotangentWalk.Step(e, node, stream, Int(node.InShape.Size),
            $"TTensor {scratch} = workspace.Get(backend, {slot}, {stream.Rows}, {colsCount});",
            $"backend.MatMulRows({Weights(node, "theta")}, true, {stream.Current}, {WeightScale(node)}, {scratch}, false);",
            $"backend.Col2Im({scratch}, {Int(node.InShape.Channels)}, {Helper(Name(node))}.Window, {{next}});");
    }

    public void InfiniteWidth(EmitContext e, LayerNode node, string state) =>
        e.W.Line($"{state}.Conv({Helper(Name(node))}, {Ns}.Parameterization.{e.Ir.Model.Parameterization});");

    // J [rows, parameters] of the stream's samples: the weight blocks D_r X^T, then the bias blocks.
    private static string LayerJacobian(EmitContext e, LayerNode node, CotangentStream stream, string count)
    {
        string slot = e.Plan.Add($"NtkLayerJacobian1_{node.Number}", $"Ntk x1: the Jacobian of layer {node.Number}'s parameters", "n1 * repeat", count, inNtk: true);
        string j = $"j1_{node.Number}";
        e.W.Line($"TTensor {j} = workspace.Get(backend, {slot}, n1 * repeat, {count});");
        FillJacobian(e, node, stream, j);
        return j;
    }

    private static void FillJacobian(EmitContext e, LayerNode node, CotangentStream stream, string j)
    {
        string positions = Int(node.OutShape.Positions), colsCount = Int(Fan(node) * node.OutShape.Positions);
        // The second stream runs only for distinct inputs, so it reads its batch's columns directly.
        string cols = stream.SameAs is null
            ? e.BatchBuffer(stream.Batch, ColumnsSuffix(node), colsCount)
            : $"workspace.Get(backend, {Helper(stream.Batch.Slots + ColumnsSuffix(node))}, {stream.Batch.Rows}, {colsCount})";
        bool rates = node.Parameters!.HasRates;
        e.W.Line($"backend.RowProducts({stream.Current}, {cols}, {positions}, repeat, {(rates ? Helper(Name(node) + "NtkWeightScale") : WeightScale(node))}, {j}, 0);");
        if (node.Parameters.HasBias)
            e.W.Line($"backend.SumPositions({stream.Current}, {positions}, {(rates ? Helper(Name(node) + "NtkBiasScale") : BiasScale(node))}, {j}, {Int(node.Parameters.BiasOffset - node.Parameters.WeightOffset)});");
    }

    // The cost model's two counts for this layer (per row, per row pair) and its choice.
    private static void WriteCostComment(EmitContext e, LayerNode node)
    {
        long o = node.OutShape.Channels, f = Fan(node), positions = node.OutShape.Positions;
        e.W.Line($"// NTK term by Jacobian contraction: forming J_r = D_r X^T costs {Count(2 * o * f * positions)} FLOPs per row, contracting {Count(2 * node.Parameters!.Count)} per row pair;");
        e.W.Line($"// position-pair Grams would cost {Count(2 * positions * positions * (o + f))} FLOPs per row pair (not implemented).");
    }

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

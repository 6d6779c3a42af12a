using System.Collections.Generic;
using NtkDsl.Generator.Ir;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// Dense: z = WeightScale W a + BiasScale b, W [width, fanIn] row-major then b [width] in the flat vector.
/// Its NTK term is &lt;D, D'&gt; (NtkWeight &lt;a, a'&gt; + NtkBias); its infinite-width map is KernelState.Dense.
/// </summary>
internal sealed class DenseRule : ILayerRule
{
    public string Label(LayerNode node) =>
        $"Dense {node.InShape.Size} -> {node.OutShape.Size}" + (node.Parameters!.HasBias ? "" : ", no bias");

    public string DescriptionSpec(LayerNode node) =>
        $"{Ns}.LayerSpec.Dense({Int(node.OutShape.Size)}, {OptionalDouble(node.Declaration.WeightStd)}, {OptionalDouble(node.Declaration.BiasStd)}, {Bool(node.Parameters!.HasBias)})";

    public void WriteConstants(EmitContext e, LayerNode node)
    {
        var p = node.Parameters!;
        string n = Name(node);
        e.W.Line($"// Layer {node.Number}: {Label(node)}; W [{node.OutShape.Size}, {node.InShape.Size}] at {Int(p.WeightOffset)}" +
                 (p.HasBias ? $", b [{node.OutShape.Size}] at {Int(p.BiasOffset)}" : "") + $" ({Count(p.Count)} parameters).");
        e.W.Line($"public const int {n}Weights = {Int(p.WeightOffset)};");
        if (p.HasBias) e.W.Line($"public const int {n}Bias = {Int(p.BiasOffset)};");
        e.W.Line($"public const double {n}WeightScale = {Double(p.WeightScale)};");
        if (p.HasBias) e.W.Line($"public const double {n}BiasScale = {Double(p.BiasScale)};");
        e.W.Line($"public const double {n}NtkWeight = {Double(p.NtkWeight)};");
        e.W.Line($"public const double {n}NtkBias = {Double(p.NtkBias)};");
        if (NetworkEmitter.HasInfiniteWidth(e.Ir))
            e.W.Line($"public static {Ns}.DenseLayer {n} => ({Ns}.DenseLayer)Description.Layers[{Int(node.Index)}];");
    }

    public IEnumerable<(string Suffix, string Comment, long Cols)> BatchBuffers(LayerNode node) => [];

    public void Forward(EmitContext e, LayerNode node, string input, string output) => e.W.Line(Product(node, input, "theta", output));

    /// <summary>Whether the layer and the activation after it may run as one LinearActivate call (layers with a bias).</summary>
    public static bool Fuses(LayerNode node) => node.Parameters!.HasBias;

    /// <summary>The fast path: this layer and the activation after it in one call, which a backend may fuse.</summary>
    public void ForwardWithActivation(EmitContext e, LayerNode node, LayerNode activation, string input, string z, string a) =>
        e.W.Line($"backend.LinearActivate({input}, {Weights(node, "theta")}, {Bias(node, "theta")}, {WeightScale(node)}, {BiasScale(node)}, {ActivationRule.Field(activation)}, {z}, {a});");

    public string? Tangent(EmitContext e, LayerNode node, Batch batch, string? inputTangent, string target, bool targetIsOutput)
    {
        string input = e.Input(batch, node);
        e.DeclareTangent(node, target, targetIsOutput);

        // d(W a + b) = dW a + db + W da.
        e.W.Line(Product(node, input, "tangent", target));
        if (inputTangent is not null)
            e.W.Line($"backend.MatMulTransposeB({inputTangent}, {Weights(node, "theta")}, {WeightScale(node)}, {target}, true);");
        return target;
    }

    public void PrepareNtk(EmitContext e, LayerNode node, Batch first, Batch second)
    {
        string slot = e.Plan.Add(GramSlot(node), $"Ntk: <a, a'> of the input of layer {node.Number}", "n1", "n2", inNtk: true);
        string gram = $"g{node.Number}";
        string a = e.Input(first, node), b = e.Input(second, node);
        e.Fetch(gram, slot, "n1", "n2");
        e.W.Line($"backend.Gram({a}, {b}, {gram});");
    }

    public void ParameterTerm(EmitContext e, LayerNode node, SinkKind sink, CotangentStream[] streams)
    {
        var p = node.Parameters!;
        string n = Name(node), c = streams[0].Current;
        switch (sink)
        {
            case SinkKind.Gradient:
                string input = e.Input(streams[0].Batch, node);
                e.W.Line($"backend.MatMulTransposeA({c}, {input}, {WeightScale(node)}, {Weights(node, "gradient")}, false);");
                if (p.HasBias) e.W.Line($"backend.ColumnSums({c}, 1, {BiasScale(node)}, {Bias(node, "gradient")}, false);");
                break;
            case SinkKind.Jacobian:
                // Row r's block is the outer product c[r] a[r / OutputSize]^T; the bias block is c[r] itself.
                e.W.Line($"backend.RowProducts({c}, {e.Input(streams[0].Batch, node)}, 1, OutputSize, {WeightScale(node)}, jacobian, {Helper(n + "Weights")});");
                if (p.HasBias) e.W.Line($"backend.SumPositions({c}, 1, {BiasScale(node)}, jacobian, {Helper(n + "Bias")});");
                break;
            case SinkKind.Ntk:
                string gram = e.Fetch($"g{node.Number}", Helper(GramSlot(node)), "n1", "n2");
                e.W.Line($"backend.Gram({Folded(c)}, {Folded(streams[1].Current)}, gd);");
                e.W.Line($"backend.HadamardAccumulate(gd, {gram}, repeat / fold, {Helper(n + "NtkWeight")}, {Helper(n + "NtkBias")}, result);");
                break;
        }
    }

    public void Cotangent(EmitContext e, LayerNode node, CotangentStream stream) =>
        CotangentWalk.Step(e, node, stream, Int(node.InShape.Size), $"backend.MatMul({stream.Current}, {Weights(node, "theta")}, {WeightScale(node)}, {{next}});");

    public void InfiniteWidth(EmitContext e, LayerNode node, string state) =>
        e.W.Line($"{state}.Dense({Helper(Name(node))}, {Ns}.Parameterization.{e.Ir.Model.Abc.KernelForm ?? NtkDsl.Layers.Parameterization.Ntk});");

    private static string Name(LayerNode node) => $"Layer{node.Number}";

    private static string GramSlot(LayerNode node) => $"NtkInputGram{node.Number}";

    private static string Weights(LayerNode node, string flat) =>
        $"backend.View({flat}, {Helper(Name(node) + "Weights")}, {Int(node.OutShape.Size)}, {Int(node.InShape.Size)})";

    // z = WeightScale W a (+ BiasScale b) from the parameter vector (or tangent) named flat.
    private static string Product(LayerNode node, string input, string flat, string output) =>
        node.Parameters!.HasBias
            ? $"backend.Linear({input}, {Weights(node, flat)}, {Bias(node, flat)}, {WeightScale(node)}, {BiasScale(node)}, {output});"
            : $"backend.MatMulTransposeB({input}, {Weights(node, flat)}, {WeightScale(node)}, {output}, false);";

    private static string Bias(LayerNode node, string flat) => $"backend.View({flat}, {Helper(Name(node) + "Bias")}, 1, {Int(node.OutShape.Size)})";

    private static string WeightScale(LayerNode node) => Helper(Name(node) + "WeightScale");

    private static string BiasScale(LayerNode node) => Helper(Name(node) + "BiasScale");
}

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

    public void Forward(EmitContext e, LayerNode node, string input, string output) =>
        e.W.Line($"backend.Linear({input}, {Weights(node, "theta")}, {Bias(node, "theta")}, {Bool(node.Parameters!.HasBias)}, {Helper(Name(node) + "WeightScale")}, {BiasScale(node)}, {output}, false);");

    /// <summary>The fast path: this layer and the activation after it in one call, which a backend may fuse.</summary>
    public void ForwardWithActivation(EmitContext e, LayerNode node, LayerNode activation, string input, string z, string a) =>
        e.W.Line($"backend.LinearActivate({input}, {Weights(node, "theta")}, {Bias(node, "theta")}, {Bool(node.Parameters!.HasBias)}, {Helper(Name(node) + "WeightScale")}, {BiasScale(node)}, {ActivationRule.Field(activation)}, {z}, {a});");

    public string? Tangent(EmitContext e, LayerNode node, Batch batch, string? inputTangent, string target, bool targetIsOutput)
    {
        string input = e.Input(batch, node);
        if (!targetIsOutput)
        {
            string slot = e.Plan.Add($"JvpT{node.Number}", $"Jvp: tangent of a{node.Number}", "n", Int(node.OutShape.Size));
            e.W.Line($"TTensor {target} = workspace.Get(backend, {slot}, n, {Int(node.OutShape.Size)});");
        }

        // d(W a + b) = dW a + db + W da.
        e.W.Line($"backend.Linear({input}, {Weights(node, "tangent")}, {Bias(node, "tangent")}, {Bool(node.Parameters!.HasBias)}, {Helper(Name(node) + "WeightScale")}, {BiasScale(node)}, {target}, false);");
        if (inputTangent is not null)
            e.W.Line($"backend.Linear({inputTangent}, {Weights(node, "theta")}, theta, false, {Helper(Name(node) + "WeightScale")}, 0, {target}, true);");
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
                e.W.Line($"backend.MatMulTransposeA({c}, {input}, {Helper(n + "WeightScale")}, {Weights(node, "gradient")}, false);");
                if (p.HasBias) e.W.Line($"backend.ColumnSums({c}, {Helper(n + "BiasScale")}, {Bias(node, "gradient")}, false);");
                break;
            case SinkKind.Jacobian:
                e.W.Line($"backend.OuterRows({c}, {e.Input(streams[0].Batch, node)}, OutputSize, {Helper(n + "WeightScale")}, jacobian, {Helper(n + "Weights")});");
                if (p.HasBias) e.W.Line($"backend.CopyColumns({c}, {Helper(n + "BiasScale")}, jacobian, {Helper(n + "Bias")});");
                break;
            case SinkKind.Ntk:
                string gram = e.Fetch($"g{node.Number}", Helper(GramSlot(node)), "n1", "n2");
                e.W.Line($"backend.Gram({c}, {streams[1].Current}, gd);");
                e.W.Line($"backend.HadamardAccumulate(gd, {gram}, repeat, {Helper(n + "NtkWeight")}, {Helper(n + "NtkBias")}, result);");
                break;
        }
    }

    public void Cotangent(EmitContext e, LayerNode node, CotangentStream stream)
    {
        string next = $"{stream.Prefix}{node.Index}", cols = Int(node.InShape.Size);
        string slot = e.Plan.Add($"{stream.SlotPrefix}{node.Index}", $"{stream.Label}: cotangent of a{node.Index}", stream.Rows, cols, stream.InNtk, secondBatchOnly: stream.SameAs is not null);
        string get = $"workspace.Get(backend, {slot}, {stream.Rows}, {cols})";
        string product = $"backend.MatMul({stream.Current}, {Weights(node, "theta")}, {Helper(Name(node) + "WeightScale")}, {next});";
        if (stream.SameAs is { } first)
        {
            e.W.Line($"TTensor {next} = sameInputs ? {first.Current} : {get};");
            e.W.Line($"if (!sameInputs) {product}");
        }
        else
        {
            e.W.Line($"TTensor {next} = {get};");
            e.W.Line(product);
        }

        stream.Current = next;
    }

    public void InfiniteWidth(EmitContext e, LayerNode node, string state) =>
        e.W.Line($"{state}.Dense({Helper(Name(node))}, {Ns}.Parameterization.{(e.Ir.Model.Standard ? "Standard" : "Ntk")});");

    private static string Name(LayerNode node) => $"Layer{node.Number}";

    private static string GramSlot(LayerNode node) => $"NtkInputGram{node.Number}";

    private static string Weights(LayerNode node, string flat) =>
        $"backend.View({flat}, {Helper(Name(node) + "Weights")}, {Int(node.OutShape.Size)}, {Int(node.InShape.Size)})";

    // Without a bias the flag says so and the tensor argument is not read.
    private static string Bias(LayerNode node, string flat) =>
        node.Parameters!.HasBias ? $"backend.View({flat}, {Helper(Name(node) + "Bias")}, 1, {Int(node.OutShape.Size)})" : flat;

    private static string BiasScale(LayerNode node) => node.Parameters!.HasBias ? Helper(Name(node) + "BiasScale") : "0";
}

using System.Collections.Generic;
using NtkDsl.Generator.Ir;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// LayerNorm without affine parameters: y = (x - mean) / sqrt(var + eps) over the features, or over the channels at each
/// position of [C, H, W] activations. Its Jacobian is symmetric, so the tangent and the cotangent steps are the same
/// in-place backend call (<c>MultiplyByLayerNormJacobian</c>, which recomputes mean and variance from the stored input);
/// no parameters, so no sink term. Infinite width: <c>LayerKernelState.LayerNorm</c>.
/// </summary>
internal sealed class LayerNormRule : ILayerRule, IInPlaceRule
{
    public string Label(LayerNode node) =>
        node.InShape.IsSpatial
            ? $"LayerNorm over the {node.InShape.Channels} channels of {node.InShape} at each of {Count(node.InShape.Positions)} positions"
            : $"LayerNorm over {node.InShape.Size} features";

    public string DescriptionSpec(LayerNode node) => $"{Ns}.LayerSpec.LayerNorm({Double(node.Declaration.A)})";

    public void WriteConstants(EmitContext e, LayerNode node)
    {
        e.W.Line($"// Layer {node.Number}: {Label(node)}.");
        e.W.Line($"public const double {Name(node)}Epsilon = {Double(node.Declaration.A)};");
        e.W.Line($"public static {Ns}.LayerNormLayer {Name(node)} => ({Ns}.LayerNormLayer)Description.Layers[{Int(node.Index)}];");
    }

    public IEnumerable<(string Suffix, string Comment, long Cols)> BatchBuffers(LayerNode node) => [];

    public void Forward(EmitContext e, LayerNode node, string input, string output) =>
        e.W.Line($"backend.LayerNorm({input}, {Int(node.InShape.Positions)}, {Epsilon(node)}, {output});");

    public string? Tangent(EmitContext e, LayerNode node, Batch batch, string? inputTangent, string target, bool targetIsOutput)
    {
        if (inputTangent is null) return null;
        e.W.Line($"backend.MultiplyByLayerNormJacobian({e.Input(batch, node)}, {Int(node.InShape.Positions)}, {Epsilon(node)}, {inputTangent}, 1);");
        return inputTangent;
    }

    public void PrepareNtk(EmitContext e, LayerNode node, Batch first, Batch second)
    {
    }

    public void ParameterTerm(EmitContext e, LayerNode node, SinkKind sink, CotangentStream[] streams)
    {
    }

    public void Cotangent(EmitContext e, LayerNode node, CotangentStream stream)
    {
        string step = $"backend.MultiplyByLayerNormJacobian({e.Input(stream.Batch, node)}, {Int(node.InShape.Positions)}, {Epsilon(node)}, {stream.Current}, {stream.Repeat});";
        e.W.Line(stream.SameAs is null ? step : $"if (!sameInputs) {step}");
    }

    public void InfiniteWidth(EmitContext e, LayerNode node, string state) => e.W.Line($"{state}.LayerNorm({Helper(Name(node))});");

    private static string Name(LayerNode node) => $"Layer{node.Number}";

    private static string Epsilon(LayerNode node) => Helper(Name(node) + "Epsilon");
}

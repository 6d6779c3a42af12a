using System.Collections.Generic;
using NtkDsl.Generator.Ir;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// Flatten: [C, H, W] to C H W features in NCHW order. A row of spatial activations already holds them in that order,
/// so the layer emits no code: its output is its input tensor (see <see cref="EmitContext.Activation"/>), and its
/// tangent and cotangent are those of its input.
/// </summary>
internal sealed class FlattenRule : ILayerRule
{
    public string Label(LayerNode node) => $"Flatten {node.InShape} -> {node.OutShape}";

    public string DescriptionSpec(LayerNode node) => $"{Ns}.LayerSpec.Flatten()";

    public void WriteConstants(EmitContext e, LayerNode node)
    {
        e.W.Line($"// Layer {node.Number}: {Label(node)} (rows are already NCHW: no data moves).");
        e.W.Line($"public static {Ns}.FlattenLayer Layer{node.Number} => ({Ns}.FlattenLayer)Description.Layers[{Int(node.Index)}];");
    }

    public IEnumerable<(string Suffix, string Comment, long Cols)> BatchBuffers(LayerNode node) => [];

    public void Forward(EmitContext e, LayerNode node, string input, string output)
    {
    }

    public string? Tangent(EmitContext e, LayerNode node, Batch batch, string? inputTangent, string target, bool targetIsOutput) => inputTangent;

    public void PrepareNtk(EmitContext e, LayerNode node, Batch first, Batch second)
    {
    }

    public void ParameterTerm(EmitContext e, LayerNode node, SinkKind sink, CotangentStream[] streams)
    {
    }

    public void Cotangent(EmitContext e, LayerNode node, CotangentStream stream)
    {
    }

    public void InfiniteWidth(EmitContext e, LayerNode node, string state) => e.W.Line($"{state}.Flatten({Helper($"Layer{node.Number}")});");
}

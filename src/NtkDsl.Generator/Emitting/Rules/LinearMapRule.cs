using System.Collections.Generic;
using NtkDsl.Generator.Ir;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// A layer that is a fixed linear map without parameters (pooling, global pooling): its tangent is the same map of
/// the input's tangent, and it adds nothing to a sink. Kinds supply the map (<see cref="Forward"/>) and its adjoint
/// (<see cref="Cotangent"/>).
/// </summary>
internal abstract class LinearMapRule : ILayerRule
{
    public abstract string Label(LayerNode node);

    public abstract string DescriptionSpec(LayerNode node);

    public abstract void WriteConstants(EmitContext e, LayerNode node);

    public IEnumerable<(string Suffix, string Comment, long Cols)> BatchBuffers(LayerNode node) => [];

    public abstract void Forward(EmitContext e, LayerNode node, string input, string output);

    public string? Tangent(EmitContext e, LayerNode node, Batch batch, string? inputTangent, string target, bool targetIsOutput)
    {
        if (inputTangent is null) return null;
        e.DeclareTangent(node, target, targetIsOutput);
        Forward(e, node, inputTangent, target);
        return target;
    }

    public void PrepareNtk(EmitContext e, LayerNode node, Batch first, Batch second)
    {
    }

    public void ParameterTerm(EmitContext e, LayerNode node, SinkKind sink, CotangentStream[] streams)
    {
    }

    public abstract void Cotangent(EmitContext e, LayerNode node, CotangentStream stream);

    public abstract void InfiniteWidth(EmitContext e, LayerNode node, string state);
}

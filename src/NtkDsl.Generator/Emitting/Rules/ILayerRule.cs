using System.Collections.Generic;
using NtkDsl.Generator.Ir;
using NtkDsl.Generator.Model;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// Everything the generator knows about one layer kind, in one place: how the layer is described, its
/// constants, its forward step, its tangent (JVP) step, its cotangent step and parameter terms (for the one
/// backward walk), and its infinite-width kernel map. A new layer kind is a new implementation (plus its
/// attribute, its parser entry and its runtime Layers file; see docs/architecture.md).
/// </summary>
internal interface ILayerRule
{
    /// <summary>A short label for comments: "Dense 2 -> 512".</summary>
    string Label(LayerNode node);

    /// <summary>The LayerSpec expression of the network description.</summary>
    string DescriptionSpec(LayerNode node);

    /// <summary>Named constants and fields of the layer in the helper class.</summary>
    void WriteConstants(EmitContext e, LayerNode node);

    /// <summary>
    /// Buffers per batch that the forward pass fills and the backward passes read (suffix, comment, columns), e.g. a
    /// convolution's im2col columns; slots A{suffix} and B{suffix}.
    /// </summary>
    IEnumerable<(string Suffix, string Comment, long Cols)> BatchBuffers(LayerNode node);

    /// <summary>output = layer(input) for one batch [n rows] (inside RunForward, whose 'second' picks the batch's slots).</summary>
    void Forward(EmitContext e, LayerNode node, string input, string output);

    /// <summary>
    /// The tangent of the layer's output into <paramref name="target"/> (declared by the rule unless it is the
    /// network output), from its input and the input's tangent (null: zero, no parameters before). Returns the
    /// output tangent (null when it is still zero).
    /// </summary>
    string? Tangent(EmitContext e, LayerNode node, Batch batch, string? inputTangent, string target, bool targetIsOutput);

    /// <summary>Work of the NTK that needs only the forward passes (before the backward walks).</summary>
    void PrepareNtk(EmitContext e, LayerNode node, Batch first, Batch second);

    /// <summary>The layer's parameter contribution to the sink, from the cotangents of its output.</summary>
    void ParameterTerm(EmitContext e, LayerNode node, SinkKind sink, CotangentStream[] streams);

    /// <summary>Moves the stream's cotangent from the layer's output to its input (updates <see cref="CotangentStream.Current"/>).</summary>
    void Cotangent(EmitContext e, LayerNode node, CotangentStream stream);

    /// <summary>The layer's step of the infinite-width kernel recursion on <paramref name="state"/>.</summary>
    void InfiniteWidth(EmitContext e, LayerNode node, string state);
}

/// <summary>
/// A rule whose tangent and cotangent steps overwrite the stream they are given (activations, LayerNorm): where that
/// tensor is still read by another layer (a fan-out), the driver hands the rule a copy.
/// </summary>
internal interface IInPlaceRule
{
}

/// <summary>The rule of each layer kind.</summary>
internal static class LayerRules
{
    private static readonly ILayerRule Dense = new DenseRule();
    private static readonly ILayerRule Activation = new ActivationRule();
    private static readonly ILayerRule Elementwise = new ElementwiseRule();
    private static readonly ILayerRule Conv = new ConvRule();
    private static readonly ILayerRule Pool = new PoolRule();
    private static readonly ILayerRule GlobalAvgPool = new GlobalAvgPoolRule();
    private static readonly ILayerRule Flatten = new FlattenRule();
    private static readonly ILayerRule LayerNorm = new LayerNormRule();
    private static readonly ILayerRule Join = new JoinRule();

    public static ILayerRule For(LayerNode node) => node.Kind switch
    {
        LayerKind.Dense => Dense,
        LayerKind.Elementwise => Elementwise,
        LayerKind.Conv => Conv,
        LayerKind.AvgPool or LayerKind.SumPool => Pool,
        LayerKind.GlobalAvgPool => GlobalAvgPool,
        LayerKind.Flatten => Flatten,
        LayerKind.LayerNorm => LayerNorm,
        LayerKind.FanInSum or LayerKind.FanInConcat => Join,
        _ => Activation,
    };
}

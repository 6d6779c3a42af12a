using System.Collections.Generic;
using NtkDsl.Generator.Ir;
using NtkDsl.Generator.Model;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// An elementwise activation a = phi(z): no parameters; its tangent and cotangent steps multiply by phi'(z);
/// its infinite-width map is KernelState.Activate (closed forms or quadrature, chosen by the runtime).
/// </summary>
internal class ActivationRule : ILayerRule, IInPlaceRule
{
    public virtual string Label(LayerNode node) => node.Kind.ToString();

    /// <summary>Whether a backend may fuse it into the Dense layer before it (LinearActivate takes built-in activations).</summary>
    public virtual bool FusesIntoDense => true;

    public virtual string DescriptionSpec(LayerNode node) => $"{Ns}.LayerSpec.Act({Field(node)})";

    public virtual void WriteConstants(EmitContext e, LayerNode node)
    {
        var l = node.Declaration;
        e.W.Line($"// Layer {node.Number}: {Label(node)} on [{node.InShape.Size}].");
        e.W.Line($"public static readonly {Ns}.Activation Layer{node.Number} = new {Ns}.Activation({Ns}.ActivationKind.{l.Kind}, {Double(l.A)}, {Double(l.B)}, {Double(l.C)});");
    }

    /// <summary>The helper field that holds the layer's activation.</summary>
    public static string Field(LayerNode node) => Helper($"Layer{node.Number}");

    public IEnumerable<(string Suffix, string Comment, long Cols)> BatchBuffers(LayerNode node) => [];

    public void Forward(EmitContext e, LayerNode node, string input, string output) =>
        e.W.Line($"backend.Activate({Field(node)}, {input}, {output});");

    public string? Tangent(EmitContext e, LayerNode node, Batch batch, string? inputTangent, string target, bool targetIsOutput)
    {
        if (inputTangent is null) return null; // no parameters before: the tangent stays zero
        // In place: nothing reads the input's tangent after this layer (an activation is never the last layer).
        e.W.Line($"backend.MultiplyByDerivative({Field(node)}, {e.Input(batch, node)}, {inputTangent}, 1);");
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
        // In place: the buffer of the output's cotangent becomes the input's.
        string step = $"backend.MultiplyByDerivative({Field(node)}, {e.Input(stream.Batch, node)}, {stream.Current}, {stream.Repeat});";
        e.W.Line(stream.SameAs is null ? step : $"if (!sameInputs) {step}");
    }

    public void InfiniteWidth(EmitContext e, LayerNode node, string state)
    {
        if (node.Kind != LayerKind.Identity) e.W.Line($"{state}.Activate({Field(node)});");
    }
}

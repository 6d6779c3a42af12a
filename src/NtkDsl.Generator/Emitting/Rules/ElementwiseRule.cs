using NtkDsl.Generator.Ir;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// A user-defined elementwise activation: phi and phi' are static methods of the network, called directly from a
/// generated struct implementing <c>IScalarActivation</c> (the backends' generic overloads take it, so the JIT
/// specializes the calls). Forward, tangent and cotangent steps are those of a built-in activation; the
/// infinite-width map integrates the struct numerically (<c>KernelState.Activate&lt;TFunction&gt;</c>).
/// </summary>
internal sealed class ElementwiseRule : ActivationRule
{
    public override string Label(LayerNode node) => $"Elementwise({node.Declaration.Function}, {node.Declaration.Derivative})";

    public override bool FusesIntoDense => false;

    public override string DescriptionSpec(LayerNode node) =>
        $"{Ns}.LayerSpec.Elementwise(\"{node.Declaration.Function}/{node.Declaration.Derivative}\", {Field(node)})";

    public override void WriteConstants(EmitContext e, LayerNode node)
    {
        var l = node.Declaration;
        string self = e.Ir.Model.TypeIdentifier;
        e.W.Line($"// Layer {node.Number}: {Label(node)} on [{node.InShape.Size}], the user's phi and phi'.");
        e.W.Open($"public readonly struct Layer{node.Number}Function : {Ns}.IScalarActivation");
        e.W.Open("public void Evaluate(double x, out double value, out double derivative)");
        e.W.Line($"value = {self}.{l.Function}(x);");
        e.W.Line($"derivative = {self}.{l.Derivative}(x);");
        e.W.Close();
        e.W.Close();
        e.W.Line($"public static readonly Layer{node.Number}Function Layer{node.Number} = default;");
    }
}

using NtkDsl.Generator.Ir;
using NtkDsl.Generator.Model;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// AvgPool and SumPool: each output is Scale times the sum of its window, channel by channel (Scale = 1 / (kh kw) for the
/// average, zero padding counted, or 1). Linear and without parameters: its tangent is the same map of the tangent, its
/// cotangent step the adjoint (each cotangent spread back over its window).
/// </summary>
internal sealed class PoolRule : LinearMapRule
{
    public override string Label(LayerNode node)
    {
        var w = node.Window!;
        string size = node.InShape.Sequence ? $"window {w.Width}, stride {w.StrideWidth}" : $"{w.Height}x{w.Width} window, stride {w.StrideHeight}";
        return $"{node.Kind} {node.InShape} -> {node.OutShape}, {size}, {w.Padding} padding";
    }

    public override string DescriptionSpec(LayerNode node)
    {
        var l = node.Declaration;
        return $"{Ns}.LayerSpec.Pool({Int(l.Kernel)}, {Int(node.InShape.Sequence ? node.Window!.StrideWidth : node.Window!.StrideHeight)}, {Ns}.Padding.{node.Window.Padding}, {Bool(node.Kind == LayerKind.SumPool)})";
    }

    public override void WriteConstants(EmitContext e, LayerNode node)
    {
        e.W.Line($"// Layer {node.Number}: {Label(node)}.");
        e.W.Line($"public const double Layer{node.Number}Scale = {Double(node.Kind == LayerKind.SumPool ? 1.0 : 1.0 / node.Window!.Taps)};");
        e.W.Line($"public static {Ns}.PoolLayer Layer{node.Number} => ({Ns}.PoolLayer)Description.Layers[{Int(node.Index)}];");
    }

    public override void Forward(EmitContext e, LayerNode node, string input, string output) =>
        e.W.Line($"backend.WindowSums({input}, {Int(node.InShape.Channels)}, {Helper($"Layer{node.Number}")}.Window, {Scale(node)}, {output});");

    public override void Cotangent(EmitContext e, LayerNode node, CotangentStream stream) =>
        CotangentWalk.Step(e, node, stream, Int(node.InShape.Size),
            $"backend.WindowSumsTranspose({stream.Current}, {Int(node.InShape.Channels)}, {Helper($"Layer{node.Number}")}.Window, {Scale(node)}, {{next}});");

    public override void InfiniteWidth(EmitContext e, LayerNode node, string state) => e.W.Line($"{state}.Pool({Helper($"Layer{node.Number}")});");

    private static string Scale(LayerNode node) => Helper($"Layer{node.Number}Scale");
}

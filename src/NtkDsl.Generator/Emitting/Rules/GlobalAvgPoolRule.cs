using NtkDsl.Generator.Ir;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// GlobalAvgPool: [C, H, W] to [C], the mean over each channel's positions. Linear: its tangent is the mean of the
/// tangent, its cotangent step spreads each channel's cotangent evenly over the positions.
/// </summary>
internal sealed class GlobalAvgPoolRule : LinearMapRule
{
    public override string Label(LayerNode node) => $"GlobalAvgPool {node.InShape} -> {node.OutShape}";

    public override string DescriptionSpec(LayerNode node) => $"{Ns}.LayerSpec.GlobalAvgPool()";

    public override void WriteConstants(EmitContext e, LayerNode node)
    {
        e.W.Line($"// Layer {node.Number}: {Label(node)}, the mean over {Count(node.InShape.Positions)} positions.");
        e.W.Line($"public const double Layer{node.Number}Scale = {Double(1.0 / node.InShape.Positions)};");
        e.W.Line($"public static {Ns}.GlobalAvgPoolLayer Layer{node.Number} => ({Ns}.GlobalAvgPoolLayer)Description.Layers[{Int(node.Index)}];");
    }

    public override void Forward(EmitContext e, LayerNode node, string input, string output) =>
        e.W.Line($"backend.SumPositions({input}, {Int(node.InShape.Positions)}, {Scale(node)}, {output}, 0);");

    public override void Cotangent(EmitContext e, LayerNode node, CotangentStream stream) =>
        CotangentWalk.Step(e, node, stream, Int(node.InShape.Size),
            $"backend.BroadcastPositions({stream.Current}, {Int(node.InShape.Positions)}, {Scale(node)}, {{next}});");

    public override void InfiniteWidth(EmitContext e, LayerNode node, string state) => e.W.Line($"{state}.GlobalAvgPool({Helper($"Layer{node.Number}")});");

    private static string Scale(LayerNode node) => Helper($"Layer{node.Number}Scale");
}

using System.Collections.Generic;
using System.Linq;
using NtkDsl.Generator.Ir;
using NtkDsl.Generator.Model;
using static NtkDsl.Generator.Emitting.EmitContext;

namespace NtkDsl.Generator.Emitting.Rules;

/// <summary>
/// Where branches meet (FanInSum, a Residual's x + Block(x), FanInConcat). It reads several nodes (<see cref="LayerNode.Joined"/>),
/// whose tensors the driver tracks in <see cref="EmitContext.Tensors"/>. Forward and tangent: the sum, or the concatenation of
/// the rows' column blocks (NCHW rows hold channel after channel, so joining channels joins column blocks). Backward
/// (<see cref="Distribute"/>): a sum hands its cotangent to every branch, a concatenation each branch its block. Infinite
/// width: the driver adds (sum) or concatenates (width-weighted average) the branches' kernel states. No parameters.
/// </summary>
internal sealed class JoinRule : ILayerRule
{
    public string Label(LayerNode node)
    {
        bool sum = node.Kind == LayerKind.FanInSum;
        string reads = string.Join(sum ? " + " : " | ", node.Joined.Select(k => $"a{k + 1}"));
        return $"{(node.Declaration.Kind == LayerKind.Residual ? "Residual" : node.Kind.ToString())} {reads} -> {node.OutShape}";
    }

    public string DescriptionSpec(LayerNode node) =>
        $"{Ns}.LayerSpec.Joined({Ns}.JoinKind.{(node.Kind == LayerKind.FanInSum ? "Sum" : "Concat")}, {string.Join(", ", node.Joined.Select(k => Int(k)))})";

    public void WriteConstants(EmitContext e, LayerNode node) =>
        e.W.Line($"// Layer {node.Number}: {Label(node)}" + (node.Kind == LayerKind.FanInConcat
            ? $", column blocks {string.Join(", ", Blocks(e, node).Select(b => $"a{b.Input + 1} at {Int(b.Offset)}"))}."
            : "."));

    public IEnumerable<(string Suffix, string Comment, long Cols)> BatchBuffers(LayerNode node) => [];

    public void Forward(EmitContext e, LayerNode node, string input, string output)
    {
        if (node.Kind == LayerKind.FanInSum)
        {
            e.W.Line($"backend.Copy({e.Tensors[node.Joined[0] + 1]}, {output});");
            foreach (int k in node.Joined.Skip(1)) e.W.Line($"backend.AddScaled({e.Tensors[k + 1]}, 1.0, {output});");
            return;
        }

        foreach (var (k, offset, size) in Blocks(e, node))
            e.W.Line($"backend.CopyColumns({e.Tensors[k + 1]}, 0, {output}, {Int(offset)}, {Int(size)});");
    }

    public string? Tangent(EmitContext e, LayerNode node, Batch batch, string? inputTangent, string target, bool targetIsOutput)
    {
        var tangents = node.Joined.Select(k => e.Tensors[k + 1]).ToList();
        if (tangents.All(t => t is null)) return null;
        e.DeclareTangent(node, target, targetIsOutput);
        if (node.Kind == LayerKind.FanInSum)
        {
            var given = tangents.Where(t => t is not null).ToList();
            e.W.Line($"backend.Copy({given[0]}, {target});");
            foreach (var t in given.Skip(1)) e.W.Line($"backend.AddScaled({t}, 1.0, {target});");
            return target;
        }

        if (tangents.Any(t => t is null)) e.W.Line($"backend.Clear({target}); // branches without parameters before them have zero tangents");
        foreach (var (k, offset, size) in Blocks(e, node))
            if (e.Tensors[k + 1] is { } t) e.W.Line($"backend.CopyColumns({t}, 0, {target}, {Int(offset)}, {Int(size)});");
        return target;
    }

    public void PrepareNtk(EmitContext e, LayerNode node, Batch first, Batch second)
    {
    }

    public void ParameterTerm(EmitContext e, LayerNode node, SinkKind sink, CotangentStream[] streams)
    {
    }

    /// <summary>Not used: the walk calls <see cref="Distribute"/> for joins (a join has several inputs).</summary>
    public void Cotangent(EmitContext e, LayerNode node, CotangentStream stream)
    {
    }

    /// <summary>
    /// Hands the join's cotangent to each branch that needs one: a sum gives the first its own tensor and the others copies
    /// (each branch may overwrite what it gets), a concatenation each branch its column block.
    /// </summary>
    public static void Distribute(EmitContext e, LayerNode node, CotangentStream[] streams)
    {
        var own = streams.ToDictionary(s => s, s => s.Current);
        bool handedOver = false;
        foreach (var (k, offset, size) in Blocks(e, node))
        {
            if (!CotangentWalk.Trainable(e, k + 1)) continue;
            foreach (var stream in streams)
            {
                if (node.Kind == LayerKind.FanInSum && !handedOver)
                {
                    stream.Current = own[stream];
                }
                else
                {
                    string copy = node.Kind == LayerKind.FanInSum
                        ? $"backend.Copy({own[stream]}, {{next}});"
                        : $"backend.CopyColumns({own[stream]}, {Int(offset)}, {{next}}, 0, {Int(size)});";
                    CotangentWalk.StepTo(e, node, k + 1, stream, Int(size), copy);
                }
            }

            handedOver = true;
            foreach (var stream in streams) CotangentWalk.Merge(e, stream, k + 1, stream.Current);
        }
    }

    public void InfiniteWidth(EmitContext e, LayerNode node, string state)
    {
    }

    /// <summary>The kernel-state call that joins <paramref name="branch"/> into <paramref name="state"/>.</summary>
    public static string Combine(LayerNode node, string state, string branch) =>
        $"{state}.{(node.Kind == LayerKind.FanInSum ? "Add" : "Concat")}({branch});";

    // Each joined node with its column offset and size in the output (a sum: every block at 0).
    private static IEnumerable<(int Input, long Offset, long Size)> Blocks(EmitContext e, LayerNode node)
    {
        long offset = 0;
        foreach (int k in node.Joined)
        {
            long size = e.Ir.OutputOf(k).Size;
            yield return (k, node.Kind == LayerKind.FanInSum ? 0 : offset, size);
            offset += size;
        }
    }
}

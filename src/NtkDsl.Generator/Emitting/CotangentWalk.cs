using NtkDsl.Generator.Emitting.Rules;
using NtkDsl.Generator.Ir;

namespace NtkDsl.Generator.Emitting;

/// <summary>Where the cotangents of a backward pass go at each layer with parameters.</summary>
internal enum SinkKind
{
    /// <summary>Vjp: the parameter gradient, summed over samples.</summary>
    Gradient,

    /// <summary>Jacobian: one row per sample and output.</summary>
    Jacobian,

    /// <summary>Ntk: each layer's term of the structured kernel, from the cotangents of two batches.</summary>
    Ntk,
}

/// <summary>
/// Cotangents flowing back through one batch: the current tensor (named <c>{Prefix}{k}</c>, the cotangent of
/// a_k), its rows (samples times stacked outputs), how many cotangent rows each sample has, and the slot names
/// it takes. A second stream (the NTK's x2) aliases the first when both inputs are the same.
/// </summary>
internal sealed class CotangentStream
{
    public CotangentStream(string label, string prefix, string current, Batch batch, string rows, string repeat, string slotPrefix, bool inNtk, CotangentStream? sameAs = null)
    {
        Label = label;
        Prefix = prefix;
        Current = current;
        Batch = batch;
        Rows = rows;
        Repeat = repeat;
        SlotPrefix = slotPrefix;
        InNtk = inNtk;
        SameAs = sameAs;
    }

    /// <summary>Which pass and batch, for slot comments ("Vjp", "Ntk x2").</summary>
    public string Label { get; }

    public string Prefix { get; }

    /// <summary>The tensor that holds the cotangent of the layer being visited.</summary>
    public string Current { get; set; }

    public Batch Batch { get; }

    public string Rows { get; }

    public string Repeat { get; }

    public string SlotPrefix { get; }

    public bool InNtk { get; }

    public CotangentStream? SameAs { get; }
}

/// <summary>
/// The one backward walk: from the last layer to the first, each layer with parameters hands its cotangents to
/// the sink, then (while parameters remain before it) its rule moves every stream's cotangent to its input.
/// Vjp, Jacobian and the NTK differ only in the streams and the sink.
/// </summary>
internal static class CotangentWalk
{
    public static void Emit(EmitContext e, SinkKind sink, params CotangentStream[] streams)
    {
        for (int i = e.Ir.Nodes.Count - 1; i >= 0; i--)
        {
            var node = e.Ir.Nodes[i];
            var rule = LayerRules.For(node);
            e.W.Line($"// Layer {node.Number}: {rule.Label(node)}");
            if (node.Parameters is not null) rule.ParameterTerm(e, node, sink, streams);
            if (!node.HasParametersBefore) break;
            foreach (var stream in streams) rule.Cotangent(e, node, stream);
        }
    }

    /// <summary>
    /// Moves <paramref name="stream"/> to the input of <paramref name="node"/> through a new buffer [rows, cols]: the
    /// statements (with "{next}" for the new tensor) run only for a stream of its own; a second stream that aliases the
    /// first (same inputs) takes the first's result.
    /// </summary>
    public static void Step(EmitContext e, LayerNode node, CotangentStream stream, string cols, params string[] statements)
    {
        string next = $"{stream.Prefix}{node.Index}";
        string slot = e.Plan.Add($"{stream.SlotPrefix}{node.Index}", $"{stream.Label}: cotangent of a{node.Index}", stream.Rows, cols, stream.InNtk, secondBatchOnly: stream.SameAs is not null);
        string get = $"workspace.Get(backend, {slot}, {stream.Rows}, {cols})";
        if (stream.SameAs is { } first)
        {
            e.W.Line($"TTensor {next} = sameInputs ? {first.Current} : {get};");
            if (statements.Length == 1)
            {
                e.W.Line($"if (!sameInputs) {statements[0].Replace("{next}", next)}");
            }
            else
            {
                e.W.Open("if (!sameInputs)");
                foreach (var statement in statements) e.W.Line(statement.Replace("{next}", next));
                e.W.Close();
            }
        }
        else
        {
            e.W.Line($"TTensor {next} = {get};");
            foreach (var statement in statements) e.W.Line(statement.Replace("{next}", next));
        }

        stream.Current = next;
    }

    /// <summary>The slot of a scratch buffer of a cotangent step [rows (default: the stream's), cols] (named {SlotPrefix}{name}).</summary>
    public static string ScratchSlot(EmitContext e, CotangentStream stream, string name, string comment, string cols, string? rows = null) =>
        e.Plan.Add($"{stream.SlotPrefix}{name}", $"{stream.Label}: {comment}", rows ?? stream.Rows, cols, stream.InNtk, secondBatchOnly: stream.SameAs is not null);
}

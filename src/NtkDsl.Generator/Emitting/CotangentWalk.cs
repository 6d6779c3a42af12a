using System.Collections.Generic;
using System.Linq;
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

    /// <summary>The cotangent of a_k gathered so far (k = node number; a fan-out adds every reader's contribution).</summary>
    public Dictionary<int, string> Cotangents { get; } = new();

    /// <summary>Tensor names declared in the pass, so a second contribution to a_k gets its own name.</summary>
    public HashSet<string> Declared { get; } = new();
}

/// <summary>
/// The one backward walk: from the last layer to the first, each layer with parameters hands its cotangents to the sink,
/// then (while parameters remain before it) its rule moves every stream's cotangent to its input; a join hands its
/// cotangent to each branch (<see cref="JoinRule.Distribute"/>). Where an output feeds several layers (a fan-out) their
/// contributions add up: the first becomes the output's cotangent, later ones are added to it, so each layer's cotangent
/// D is the sum over the paths from it to the output. Vjp, Jacobian and the NTK differ only in the streams and the sink.
/// The NTK walk takes a convolution read out by a global average pool (<see cref="ConvRule.ChosenReadout"/>) as one step.
/// </summary>
internal static class CotangentWalk
{
    public static void Emit(EmitContext e, SinkKind sink, params CotangentStream[] streams)
    {
        foreach (var stream in streams) stream.Cotangents[e.Ir.Nodes.Count] = stream.Current;
        for (int i = e.Ir.Nodes.Count - 1; i >= 0; i--)
        {
            var node = e.Ir.Nodes[i];
            if (!Trainable(node) || !streams[0].Cotangents.ContainsKey(node.Number)) continue;
            if (sink == SinkKind.Ntk && ConvRule.ChosenReadout(e.Ir, node) is { } readout)
            {
                // A convolution read out by this pool: the pool, its activations and the convolution (and the activation
                // below it, ConvRule.ActivationBelow) are one step from the pool's cotangent (ConvRule.ReadoutTerm), which
                // then continues below them.
                foreach (var stream in streams) stream.Current = stream.Cotangents[node.Number];
                ConvRule.ReadoutTerm(e, readout, streams);
                if (ConvRule.FusedJacobianBelow(e.Ir, readout) is { } fused)
                {
                    // The convolution below took its term in the same step (its Jacobian from the readout's cotangent).
                    i = fused.Index;
                    continue;
                }

                var lowest = ConvRule.ActivationBelow(e.Ir, readout) ?? readout.Conv;
                if (readout.Conv.HasParametersBefore)
                    foreach (var stream in streams) Merge(e, stream, lowest.Input + 1, stream.Current);
                i = lowest.Index;
                continue;
            }

            var rule = LayerRules.For(node);
            e.Heading(node, rule.Label(node));
            foreach (var stream in streams) stream.Current = stream.Cotangents[node.Number];
            if (node.Parameters is not null) rule.ParameterTerm(e, node, sink, streams);
            if (!node.HasParametersBefore) continue;
            if (node.IsJoin)
            {
                JoinRule.Distribute(e, node, streams);
                continue;
            }

            foreach (var stream in streams) rule.Cotangent(e, node, stream);
            foreach (var stream in streams) Merge(e, stream, node.Input + 1, stream.Current);
        }
    }

    /// <summary>Whether a node has parameters or reads from one that has (its output needs a cotangent).</summary>
    public static bool Trainable(LayerNode node) => node.Parameters is not null || node.HasParametersBefore;

    /// <summary>Whether a_k (k = node number, 0 the input) needs a cotangent.</summary>
    public static bool Trainable(EmitContext e, int k) => k > 0 && Trainable(e.Ir.Nodes[k - 1]);

    /// <summary>Adds the contribution <paramref name="tensor"/> to the cotangent of a_k (the first one is it, owned by a_k).</summary>
    public static void Merge(EmitContext e, CotangentStream stream, int k, string tensor)
    {
        if (k <= 0) return;
        if (!stream.Cotangents.TryGetValue(k, out var gathered))
        {
            stream.Cotangents[k] = tensor;
            return;
        }

        string add = $"backend.AddScaled({tensor}, 1.0, {gathered});";
        e.W.Line(stream.SameAs is null ? add : $"if (!sameInputs) {add}");
    }

    /// <summary>
    /// Moves <paramref name="stream"/> to the input of <paramref name="node"/> through a new buffer [rows, cols]: the
    /// statements (with "{next}" for the new tensor) run only for a stream of its own; a second stream that aliases the
    /// first (same inputs) takes the first's result.
    /// </summary>
    public static void Step(EmitContext e, LayerNode node, CotangentStream stream, string cols, params string[] statements) =>
        StepTo(e, node, node.Input + 1, stream, cols, statements);

    /// <summary><see cref="Step"/> into a contribution to a_k (a join hands one to each branch).</summary>
    public static void StepTo(EmitContext e, LayerNode node, int k, CotangentStream stream, string cols, params string[] statements)
    {
        // The first contribution to a_k is named c{k}; a fan-out's later ones c{k}_{reader}.
        string suffix = stream.Declared.Contains($"{stream.Prefix}{k}") ? $"{k}_{node.Number}" : $"{k}";
        string next = $"{stream.Prefix}{suffix}";
        stream.Declared.Add(next);
        string slot = e.Plan.Add($"{stream.SlotPrefix}{suffix}", $"{stream.Label}: cotangent of a{k}" + (suffix.Contains("_") ? $" through layer {node.Number}" : ""),
            stream.Rows, cols, stream.InNtk, secondBatchOnly: stream.SameAs is not null);
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

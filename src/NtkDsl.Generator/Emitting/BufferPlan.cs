using System.Collections.Generic;
using System.Linq;
using NtkDsl.Generator.Helpers;

namespace NtkDsl.Generator.Emitting;

/// <summary>
/// The workspace layout of a network: every buffer the passes use gets a named slot (a constant in the helper
/// class) with its shape. The slots of the NTK are also summed into the generated <c>NtkWorkspaceElements</c>, so
/// tiling reads the layout instead of re-deriving it.
/// </summary>
internal sealed class BufferPlan
{
    private readonly List<Slot> _slots = new();

    /// <summary>One slot: its constant name, what it holds, its shape, and whether the NTK counts it (and only for distinct inputs).</summary>
    private sealed record Slot(string Name, string Comment, string Rows, string Cols, bool InNtk, bool SecondBatchOnly, bool TraceOnly);

    public int Count => _slots.Count;

    /// <summary>Adds a slot and returns the expression that names it.</summary>
    public string Add(string name, string comment, string rows, string cols, bool inNtk = false, bool secondBatchOnly = false, bool traceOnly = false)
    {
        _slots.Add(new Slot(name, comment, rows, cols, inNtk, secondBatchOnly, traceOnly));
        return EmitContext.Helper(name);
    }

    /// <summary>The slot constants, in slot order.</summary>
    public void WriteConstants(IndentedWriter w)
    {
        w.Line("// Workspace slots: one buffer each, [rows, cols] as noted, reallocated only when a batch size changes.");
        for (int i = 0; i < _slots.Count; i++)
            w.Line($"public const int {_slots[i].Name} = {EmitContext.Int(i)}; // {_slots[i].Comment}: [{_slots[i].Rows}, {_slots[i].Cols}]");
    }

    /// <summary>
    /// NtkRowElements, the elements per cotangent row of the NTK pass (the slots of n1 * repeat rows), and NtkStackedElements,
    /// the budget of the stacked Trace passes for them (2^27 elements: 1 GiB in float64).
    /// </summary>
    public void WriteRowElements(IndentedWriter w)
    {
        var perRow = _slots.Where(s => s.InNtk && !s.SecondBatchOnly && s.Rows == "n1 * repeat" && s.Cols != "repeat").Select(s => s.Cols).ToList();
        w.Line($"public const long NtkRowElements = {(perRow.Count == 0 ? "1" : string.Join(" + ", perRow))}; // per cotangent row of an NTK pass");
        w.Line("public const long NtkStackedElements = 1L << 27; // what a Trace pass's stacked cotangent rows may hold");
    }

    /// <summary>The body of NtkWorkspaceElements(n1, n2, sameInputs, mode, traceOutputGroupLimit): the elements of every NTK slot.</summary>
    public void WriteNtkElements(IndentedWriter w)
    {
        w.Line($"long repeat = {EmitContext.Helper("NtkRepeat")}(mode, n1, n2, traceOutputGroupLimit);");
        w.Line($"long fold = mode == {EmitContext.Ns}.NtkMode.Trace ? repeat : 1, rows1 = n1 * repeat / fold, rows2 = n2 * repeat / fold;");
        var shared = _slots.Where(s => s.InNtk && !s.SecondBatchOnly && !s.TraceOnly).Select(Size).ToList();
        var second = _slots.Where(s => s.InNtk && s.SecondBatchOnly && !s.TraceOnly).Select(Size).ToList();
        w.Line($"long elements = {(shared.Count == 0 ? "0" : string.Join(" + ", shared))};");
        if (second.Count > 0) w.Line($"if (!sameInputs) elements += {string.Join(" + ", second)};");
        foreach (var (secondOnly, condition) in new[] { (false, ""), (true, " && !sameInputs") })
        {
            var trace = _slots.Where(s => s.InNtk && s.TraceOnly && s.SecondBatchOnly == secondOnly).Select(Size).ToList();
            if (trace.Count > 0) w.Line($"if (mode == {EmitContext.Ns}.NtkMode.Trace{condition}) elements += {string.Join(" + ", trace)};");
        }
        w.Line("return elements;");

        static string Size(Slot s) => s.Rows.Contains(" ") ? $"({s.Rows}) * {s.Cols}" : $"{s.Rows} * {s.Cols}";
    }
}

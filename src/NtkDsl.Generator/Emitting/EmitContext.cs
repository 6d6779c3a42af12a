using System.Collections.Generic;
using System.Globalization;
using NtkDsl.Generator.Helpers;
using NtkDsl.Generator.Ir;

namespace NtkDsl.Generator.Emitting;

/// <summary>
/// The forward pass of one batch as the backward passes see it: a_k (the output of layer k) sits in slot
/// <c>{Slots}{k}</c> with <see cref="Rows"/> rows; a_0 is the batch itself. A second batch of the NTK names the
/// first in <see cref="SameAs"/>: when both inputs are the same tensor it reuses the first batch's buffers.
/// </summary>
internal sealed record Batch(string Prefix, string Input, string Rows, string Slots, Batch? SameAs = null);

/// <summary>What the rules write with: the writer, the IR, the buffer plan, and the tensors already fetched in the current method.</summary>
internal sealed class EmitContext
{
    public const string Ns = "global::NtkDsl";
    public const string Backends = "global::NtkDsl.Backends";

    private readonly HashSet<string> _declared = new();

    public EmitContext(NetworkIr ir, IndentedWriter writer, BufferPlan? plan = null)
    {
        Ir = ir;
        W = writer;
        Plan = plan ?? new BufferPlan();
    }

    public NetworkIr Ir { get; }

    public IndentedWriter W { get; }

    /// <summary>The slots of the whole network (shared by every method, so the layout is one table).</summary>
    public BufferPlan Plan { get; }

    /// <summary>A member of the nested helper class.</summary>
    public static string Helper(string name) => $"{GeneratedNames.HelperClass}.{name}";

    /// <summary>An NTK-pass tensor read with its rows folded (Trace mode: a sample's stacked output rows side by side).</summary>
    public static string Folded(string tensor) => $"{Helper("Fold")}(backend, {tensor}, fold)";

    /// <summary>Starts a method: no tensor is fetched yet.</summary>
    public void BeginMethod() => _declared.Clear();

    /// <summary>The input tensor of <paramref name="node"/> in <paramref name="batch"/>, fetched from its slot at first use.</summary>
    public string Input(Batch batch, LayerNode node) => Activation(batch, node.Input + 1);

    /// <summary>
    /// The names of the tensors a_0 .. a_M in the method being written, where the driver tracks them for joins: RunForward's
    /// activations, Jvp's tangents (null: zero).
    /// </summary>
    public IReadOnlyList<string?> Tensors { get; set; } = new string?[0];

    /// <summary>The comment line that opens a layer's code: "// Layer 5 (Residual(Block)): Conv ...".</summary>
    public void Heading(LayerNode node, string label)
    {
        string scope = node.Scope.TrimEnd('/');
        W.Line($"// Layer {node.Number}{(scope.Length == 0 ? "" : $" ({scope})")}: {label}");
    }

    /// <summary>
    /// a_k of the batch: the batch itself for k = 0, the same tensor as a_(k-1) after a Flatten (NCHW rows already are
    /// the flattened features), else a workspace buffer declared at first use.
    /// </summary>
    public string Activation(Batch batch, int k)
    {
        if (k == 0) return batch.Input;
        if (Ir.Nodes[k - 1].Kind == Model.LayerKind.Flatten) return Activation(batch, Ir.Nodes[k - 1].Input + 1);
        string name = $"{batch.Prefix}{k}";
        if (_declared.Add(name))
        {
            string get = $"workspace.Get(backend, {Helper(batch.Slots + Int(k))}, {batch.Rows}, {Int(Ir.Nodes[k - 1].OutShape.Size)})";
            W.Line(batch.SameAs is { } first ? $"TTensor {name} = sameInputs ? {Activation(first, k)} : {get};" : $"TTensor {name} = {get};");
        }

        return name;
    }

    /// <summary>
    /// A per-batch buffer of a layer kept by the forward pass (e.g. a convolution's im2col columns): slot
    /// {Slots}{suffix}, [batch rows, cols], declared at first use and shared with the first batch when the inputs are the same.
    /// </summary>
    public string BatchBuffer(Batch batch, string suffix, string cols)
    {
        string name = $"{batch.Prefix}{suffix}";
        if (_declared.Add(name))
        {
            string get = $"workspace.Get(backend, {Helper(batch.Slots + suffix)}, {batch.Rows}, {cols})";
            W.Line(batch.SameAs is { } first ? $"TTensor {name} = sameInputs ? {BatchBuffer(first, suffix, cols)} : {get};" : $"TTensor {name} = {get};");
        }

        return name;
    }

    /// <summary>The slot of a per-batch buffer inside RunForward, which serves both batches (its 'second' argument picks).</summary>
    public static string ForwardSlot(string suffix) => $"second ? {Helper("B" + suffix)} : {Helper("A" + suffix)}";

    /// <summary>
    /// Declares the Jvp's tangent of a_k (<paramref name="target"/>, slot JvpTk [n, size]) unless it is the network
    /// output, which the caller passes in.
    /// </summary>
    public void DeclareTangent(LayerNode node, string target, bool targetIsOutput)
    {
        if (targetIsOutput) return;
        string cols = Int(node.OutShape.Size);
        string slot = Plan.Add($"JvpT{node.Number}", $"Jvp: tangent of a{node.Number}", "n", cols);
        W.Line($"TTensor {target} = workspace.Get(backend, {slot}, n, {cols});");
    }

    /// <summary>Declares a local for a buffer once per method (e.g. a Gram computed by the caller of a pass).</summary>
    public string Fetch(string name, string slot, string rows, string cols)
    {
        if (_declared.Add(name)) W.Line($"TTensor {name} = workspace.Get(backend, {slot}, {rows}, {cols});");
        return name;
    }

    public static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Bool(bool value) => value ? "true" : "false";

    public static string OptionalDouble(double? value) => value is { } v ? Double(v) : "null";

    /// <summary>A double literal that round-trips. Validation keeps non-finite values out; they would still compile.</summary>
    public static string Double(double value)
    {
        if (double.IsNaN(value)) return "double.NaN";
        if (double.IsPositiveInfinity(value)) return "double.PositiveInfinity";
        if (double.IsNegativeInfinity(value)) return "double.NegativeInfinity";
        var text = value.ToString("R", CultureInfo.InvariantCulture);
        return text.Contains(".") || text.Contains("E") ? text : text + ".0";
    }

    /// <summary>A count with thousands separators for comments (2,048).</summary>
    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

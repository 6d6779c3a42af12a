namespace NtkDsl.Backends;

/// <summary>Shape checks shared by generated code and host entry points; messages name the argument, the expected and the given shape.</summary>
public static class Shapes
{
    /// <summary>Throws unless <paramref name="tensor"/> is [rows, cols] and has at least one row.</summary>
    public static void Require<TBackend, TTensor>(TBackend backend, TTensor tensor, string name, int rows, int cols)
        where TBackend : ITensorBackend<TTensor>
    {
        int r = backend.Rows(tensor), c = backend.Cols(tensor);
        if (r != rows || c != cols)
            throw new ArgumentException($"'{name}' must have shape [{rows}, {cols}], but has shape [{r}, {c}].", name);
        if (rows == 0)
            throw new ArgumentException($"'{name}' is empty (0 rows); pass at least one sample.", name);
    }

    /// <summary>Throws unless <paramref name="mode"/> is defined and <paramref name="result"/> has its shape (see <see cref="NtkModes.ResultShape"/>).</summary>
    public static void RequireNtkResult<TBackend, TTensor>(TBackend backend, TTensor result, string name, NtkMode mode, int n1, int n2, int outputs)
        where TBackend : ITensorBackend<TTensor>
    {
        var (rows, cols) = NtkModes.ResultShape(mode, n1, n2, outputs);
        Require(backend, result, name, rows, cols);
    }

    /// <summary>Throws unless <paramref name="parameters"/> holds exactly <see cref="NetworkDescription.ParameterCount"/> finite values of <paramref name="network"/>.</summary>
    public static void RequireParameters<T>(T[]? parameters, string name, NetworkDescription network) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(parameters, name);
        if (parameters.Length != network.ParameterCount)
            throw new ArgumentException($"'{name}' must have length ParameterCount = {network.ParameterCount} ({network.Name}), but has length {parameters.Length}.", name);
        RequireFinite<T>(parameters, name);
    }

    /// <summary>Throws unless <paramref name="x"/> is a non-empty [N, <paramref name="inputs"/>] batch of finite values.</summary>
    public static void RequireInput<T>(Matrix<T>? x, string name, int inputs) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (x.Cols != inputs || x.Rows == 0)
            throw new ArgumentException($"'{name}' must have shape [N >= 1, {inputs}], but has shape [{x.Rows}, {x.Cols}].", name);
        RequireFinite<T>(x.Data, name);
    }

    /// <summary>
    /// Throws unless <paramref name="x"/> is a non-empty batch of finite samples of <paramref name="network"/>'s input;
    /// for spatial inputs the message names the sample shape [C, H, W] (rows hold NCHW values).
    /// </summary>
    public static void RequireInput<T>(Matrix<T>? x, string name, NetworkDescription network) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(x, name);
        if (network.InputChannels > 0 && (x.Cols != network.Inputs || x.Rows == 0)) throw SpatialInputError(name, network, $"[{x.Rows}, {x.Cols}]");
        RequireInput(x, name, network.Inputs);
    }

    /// <summary>The error for a batch of a spatial network whose shape is not [N, C * H * W]: names the sample shape.</summary>
    public static ArgumentException SpatialInputError(string name, NetworkDescription network, string given)
    {
        ArgumentNullException.ThrowIfNull(network);
        var s = network.InputSpatial;
        string sample = s.Height == 1 ? $"[{network.InputChannels}, {s.Width}]" : $"[{network.InputChannels}, {s.Height}, {s.Width}]";
        return new ArgumentException(
            $"'{name}' must have shape [N >= 1, {network.Inputs}]: one {sample} sample per row in NCHW order (x.reshape(N, -1)), but has shape {given}.", name);
    }

    /// <summary>
    /// Throws an <see cref="OverflowException"/> when a result computed from finite inputs is not finite: the
    /// values overflowed the element type somewhere along the way. Names the result and the inputs to scale.
    /// </summary>
    public static void RequireFiniteResult<T>(ReadOnlySpan<T> values, string result, string inputs) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (IsFinite(values)) return;
        int i = 0;
        while (T.IsFinite(values[i])) i++;
        throw new OverflowException(
            $"'{result}' contains {values[i]} at index {i} although every input is finite: the computation overflowed {typeof(T).Name} " +
            $"(an intermediate value exceeded its range). Scale {inputs} down, or use float64 if this is float32.");
    }

    /// <summary>Throws when <paramref name="destination"/> shares memory with <paramref name="source"/>: the pass would read what it overwrites.</summary>
    public static void RequireDistinct<T>(ReadOnlySpan<T> destination, string destinationName, ReadOnlySpan<T> source, string sourceName)
    {
        if (destination.Overlaps(source))
            throw new ArgumentException($"'{destinationName}' overlaps '{sourceName}': a destination must not share memory with an input (the result would be silently wrong). Pass a separate buffer.", destinationName);
    }

    /// <summary>Throws on the first NaN or infinity, naming its index.</summary>
    public static void RequireFinite<T>(ReadOnlySpan<T> values, string name) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (IsFinite(values)) return;
        for (int i = 0; i < values.Length; i++)
        {
            if (!T.IsFinite(values[i]))
                throw new ArgumentException($"'{name}' contains {values[i]} at index {i}; inputs must be finite (no NaN or infinity).", name);
        }
    }

    private static bool IsFinite<T>(ReadOnlySpan<T> values) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        // v - v is 0 for every finite v and NaN otherwise, so the vector sum stays 0 unless something is not
        // finite. Callers search for the index to report only then.
        ref T start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(values);
        System.Numerics.Vector<T> sum0 = default, sum1 = default;
        int count = System.Numerics.Vector<T>.Count, i0 = 0;
        for (; i0 <= values.Length - 2 * count; i0 += 2 * count)
        {
            var v0 = System.Numerics.Vector.LoadUnsafe(ref start, (nuint)i0);
            var v1 = System.Numerics.Vector.LoadUnsafe(ref start, (nuint)(i0 + count));
            sum0 += v0 - v0;
            sum1 += v1 - v1;
        }
        bool finite = System.Numerics.Vector.EqualsAll(sum0 + sum1, System.Numerics.Vector<T>.Zero);
        for (int i = i0; i < values.Length; i++) finite &= T.IsFinite(values[i]);
        return finite;
    }
}

using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

/// <summary>
/// Copies between host data (<see cref="Matrix{T}"/>, arrays, spans; row-major) and 2-D torch tensors.
/// float maps to float32 and double to float64; nothing converts precision silently.
/// </summary>
public static class TorchConvert
{
    /// <summary>The torch element type of <typeparamref name="T"/> (float32 for float, float64 for double).</summary>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    public static ScalarType DTypeOf<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(double) ? ScalarType.Float64
        : typeof(T) == typeof(float) ? ScalarType.Float32
        : throw new NotSupportedException($"Torch tensors are supported for float and double elements, not {typeof(T).Name}.");

    /// <summary>A new [Rows, Cols] tensor holding a copy of <paramref name="matrix"/>, on <paramref name="device"/> (CPU when null).</summary>
    public static Tensor ToTensor<T>(this Matrix<T> matrix, Device? device = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(matrix);
        return ToTensor<T>(matrix.Data, matrix.Rows, matrix.Cols, device);
    }

    /// <summary>A new [<paramref name="rows"/>, <paramref name="cols"/>] tensor holding a copy of row-major <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="data"/> does not hold rows * cols elements.</exception>
    public static Tensor ToTensor<T>(T[] data, int rows, int cols, Device? device = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        return ToTensor((ReadOnlySpan<T>)data, rows, cols, device);
    }

    /// <summary>A new [<paramref name="rows"/>, <paramref name="cols"/>] tensor holding a copy of row-major <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="data"/> does not hold rows * cols elements.</exception>
    public static Tensor ToTensor<T>(ReadOnlySpan<T> data, int rows, int cols, Device? device = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (data.Length != (long)rows * cols)
            throw new ArgumentException($"Expected {rows} x {cols} = {(long)rows * cols} elements, got {data.Length}.", nameof(data));
        var dtype = DTypeOf<T>();
        TorchRuntime.EnsureLoaded();
        var host = zeros(rows, cols, dtype: dtype);
        if (data.Length > 0) host.bytes = MemoryMarshal.AsBytes(data).ToArray();
        if (device is null || device.type == DeviceType.CPU) return host;
        using (host) return host.to(device);
    }

    /// <summary>A new [1, n] tensor (the layout of a flat parameter vector) holding a copy of <paramref name="vector"/>.</summary>
    public static Tensor ToRowTensor<T>(ReadOnlySpan<T> vector, Device? device = null) where T : unmanaged, IFloatingPointIeee754<T> =>
        ToTensor(vector, 1, vector.Length, device);

    /// <summary>A host copy of a 2-D tensor (any device) whose element type matches <typeparamref name="T"/>.</summary>
    /// <exception cref="ArgumentException">The tensor is not 2-D, or its element type is not <typeparamref name="T"/>'s.</exception>
    public static Matrix<T> ToMatrix<T>(this Tensor tensor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tensor);
        RequireDType<T>(tensor, nameof(tensor));
        if (tensor.dim() != 2)
            throw new ArgumentException($"Expected a 2-D tensor [rows, cols], got shape {Shape(tensor)}.", nameof(tensor));
        var m = new Matrix<T>(checked((int)tensor.size(0)), checked((int)tensor.size(1)));
        CopyElements(tensor, m.Data);
        return m;
    }

    /// <summary>A host copy of all elements of <paramref name="tensor"/> (any shape, any device) in row-major order.</summary>
    /// <exception cref="ArgumentException">The tensor's element type is not <typeparamref name="T"/>'s.</exception>
    public static T[] ToArray<T>(this Tensor tensor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tensor);
        RequireDType<T>(tensor, nameof(tensor));
        var data = new T[checked((int)tensor.numel())];
        CopyElements(tensor, data);
        return data;
    }

    /// <summary>Copies <paramref name="tensor"/> into <paramref name="destination"/> (same shape and element type).</summary>
    /// <exception cref="ArgumentException">The shapes or element types differ.</exception>
    public static void CopyTo<T>(this Tensor tensor, Matrix<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentNullException.ThrowIfNull(destination);
        RequireDType<T>(tensor, nameof(tensor));
        if (tensor.dim() != 2 || tensor.size(0) != destination.Rows || tensor.size(1) != destination.Cols)
            throw new ArgumentException($"Expected shape [{destination.Rows}, {destination.Cols}] (the destination's), got {Shape(tensor)}.", nameof(tensor));
        CopyElements(tensor, destination.Data);
    }

    /// <summary>Copies <paramref name="source"/> into the existing tensor <paramref name="destination"/> (any device; same shape and element type).</summary>
    /// <exception cref="ArgumentException">The shapes or element types differ.</exception>
    public static void CopyFrom<T>(this Tensor destination, Matrix<T> source) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(source);
        RequireDType<T>(destination, nameof(destination));
        if (destination.dim() != 2 || destination.size(0) != source.Rows || destination.size(1) != source.Cols)
            throw new ArgumentException($"Expected shape [{source.Rows}, {source.Cols}] (the source's), got {Shape(destination)}.", nameof(destination));
        using var host = source.ToTensor();
        destination.copy_(host);
    }

    /// <summary>
    /// Throws unless <paramref name="tensor"/> is 2-D [<paramref name="rows"/>, <paramref name="cols"/>] of
    /// <paramref name="dtype"/> on <paramref name="device"/>; a negative size is not checked.
    /// </summary>
    /// <exception cref="ArgumentException">Naming <paramref name="argumentName"/>, what was expected and what was given.</exception>
    public static void Require(Tensor tensor, string argumentName, long rows, long cols, ScalarType dtype, Device device)
    {
        ArgumentNullException.ThrowIfNull(tensor, argumentName);
        if (tensor.dim() != 2 || (rows >= 0 && tensor.size(0) != rows) || (cols >= 0 && tensor.size(1) != cols))
            throw new ArgumentException($"Expected shape [{(rows >= 0 ? rows : "N")}, {(cols >= 0 ? cols : "*")}], got {Shape(tensor)}.", argumentName);
        if (tensor.dtype != dtype)
            throw new ArgumentException($"Expected element type {dtype}, got {tensor.dtype}.", argumentName);
        if (!SameDevice(tensor.device, device))
            throw new ArgumentException($"Expected a tensor on {device}, got one on {tensor.device}.", argumentName);
    }

    /// <summary>Throws when <paramref name="tensor"/> holds a NaN or an infinity.</summary>
    /// <exception cref="ArgumentException">Naming <paramref name="argumentName"/> and the first offending element.</exception>
    public static void RequireFinite(Tensor tensor, string argumentName)
    {
        ArgumentNullException.ThrowIfNull(tensor, argumentName);
        using var scope = NewDisposeScope();
        var finite = tensor.isfinite();
        if (finite.all().item<bool>()) return;
        var bad = finite.logical_not().nonzero();
        var first = bad.size(0) > 0 ? "[" + string.Join(", ", Enumerable.Range(0, (int)bad.size(1)).Select(i => bad[0, i].item<long>())) + "]" : "?";
        throw new ArgumentException($"Expected finite values, but element {first} of the {Shape(tensor)} tensor is NaN or infinite.", argumentName);
    }

    internal static string Shape(Tensor t) => "[" + string.Join(", ", t.shape) + "]";

    internal static bool SameDevice(Device a, Device b) =>
        a.type == b.type && (a.type == DeviceType.CPU || Math.Max(a.index, 0) == Math.Max(b.index, 0));

    private static void RequireDType<T>(Tensor tensor, string argumentName) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var expected = DTypeOf<T>();
        if (tensor.dtype != expected)
            throw new ArgumentException($"Expected element type {expected} (for {typeof(T).Name}), got {tensor.dtype}.", argumentName);
    }

    private static void CopyElements<T>(Tensor tensor, T[] destination) where T : unmanaged
    {
        if (destination.Length == 0) return;
        using var scope = NewDisposeScope();
        // A fresh contiguous CPU copy, so that the bytes start at the first element even for views.
        var host = tensor.detach().cpu().contiguous().clone();
        MemoryMarshal.Cast<byte, T>(host.bytes).CopyTo(destination);
    }
}

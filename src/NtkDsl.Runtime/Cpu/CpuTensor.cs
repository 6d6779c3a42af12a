using System.Numerics;

namespace NtkDsl.Cpu;

/// <summary>
/// A contiguous row-major [Rows, Cols] block of a host array: the CPU backend's tensor. A view costs
/// nothing (a struct over the same array), which is how parameter blocks are read from the flat vector.
/// </summary>
public readonly struct CpuTensor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Wraps <paramref name="rows"/> x <paramref name="cols"/> elements of <paramref name="array"/> starting at <paramref name="offset"/>.</summary>
    public CpuTensor(T[] array, int offset, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (offset < 0 || rows < 0 || cols < 0 || (long)offset + (long)rows * cols > array.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"A {rows} x {cols} view at {offset} does not fit in {array.Length} elements.");
        Array = array;
        Offset = offset;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>The underlying array.</summary>
    public T[] Array { get; }

    /// <summary>Index of element (0, 0) in <see cref="Array"/>.</summary>
    public int Offset { get; }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns.</summary>
    public int Cols { get; }

    /// <summary>All elements, row-major.</summary>
    public Span<T> Span => Array.AsSpan(Offset, Rows * Cols);

    /// <summary>Row r.</summary>
    public Span<T> Row(int r) => Array.AsSpan(Offset + r * Cols, Cols);

    /// <summary>A tensor over a whole matrix.</summary>
    public static CpuTensor<T> Of(Matrix<T> m) => new(m.Data, 0, m.Rows, m.Cols);

    /// <summary>A [1, n] tensor over a whole vector.</summary>
    public static CpuTensor<T> Of(T[] vector) => new(vector, 0, 1, vector.Length);

    /// <inheritdoc/>
    public override string ToString() => $"CpuTensor<{typeof(T).Name}>[{Rows} x {Cols}]";
}

using System.Numerics;

namespace NtkDsl;

/// <summary>
/// A dense row-major matrix on the host: <see cref="Rows"/> x <see cref="Cols"/> elements in
/// <see cref="Data"/>, element (r, c) at <c>r * Cols + c</c>. Batches are N samples (rows) by features (columns).
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Matrix<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A zero matrix.</summary>
    /// <exception cref="ArgumentException">
    /// rows x cols is more than <see cref="Array.MaxLength"/> elements (one .NET array holds the data).
    /// </exception>
    public Matrix(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        ShapeLimits.RequireMatrix(rows, cols, $"Matrix<{typeof(T).Name}>(rows, cols)", nameof(rows),
            "Split it into blocks; for a kernel: " + ShapeLimits.KernelRemedy);
        Rows = rows;
        Cols = cols;
        Data = new T[rows * cols];
    }

    /// <summary>Wraps existing row-major data (not copied).</summary>
    public Matrix(int rows, int cols, T[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (data.Length != (long)rows * cols)
            throw new ArgumentException($"Expected {rows} x {cols} = {(long)rows * cols} elements, got {data.Length}.", nameof(data));
        Rows = rows;
        Cols = cols;
        Data = data;
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns.</summary>
    public int Cols { get; }

    /// <summary>Row-major storage.</summary>
    public T[] Data { get; }

    /// <summary>Element (r, c).</summary>
    public T this[int r, int c]
    {
        get => Data[Index(r, c)];
        set => Data[Index(r, c)] = value;
    }

    /// <summary>Row r as a span.</summary>
    public Span<T> Row(int r)
    {
        if ((uint)r >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(r), $"Row {r} outside [0, {Rows}).");
        return Data.AsSpan(r * Cols, Cols);
    }

    /// <summary>Copies a rectangular array.</summary>
    public static Matrix<T> FromArray(T[,] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var m = new Matrix<T>(values.GetLength(0), values.GetLength(1));
        for (int r = 0; r < m.Rows; r++)
            for (int c = 0; c < m.Cols; c++)
                m.Data[r * m.Cols + c] = values[r, c];
        return m;
    }

    /// <summary>Copies jagged rows, all of the same length.</summary>
    public static Matrix<T> FromRows(IReadOnlyList<T[]> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int cols = rows.Count == 0 ? 0 : rows[0].Length;
        var m = new Matrix<T>(rows.Count, cols);
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Length != cols)
                throw new ArgumentException($"Row {r} has {rows[r].Length} elements, row 0 has {cols}.", nameof(rows));
            rows[r].CopyTo(m.Data, r * cols);
        }
        return m;
    }

    /// <summary>Converts every element to another precision.</summary>
    public Matrix<TOther> Convert<TOther>() where TOther : unmanaged, IFloatingPointIeee754<TOther>
    {
        var m = new Matrix<TOther>(Rows, Cols);
        for (int i = 0; i < Data.Length; i++) m.Data[i] = TOther.CreateTruncating(Data[i]);
        return m;
    }

    /// <summary>Copies to a rectangular array.</summary>
    public T[,] ToArray()
    {
        var a = new T[Rows, Cols];
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Cols; c++)
                a[r, c] = Data[r * Cols + c];
        return a;
    }

    /// <summary>The transpose, as a new matrix.</summary>
    public Matrix<T> Transpose()
    {
        var t = new Matrix<T>(Cols, Rows);
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Cols; c++)
                t.Data[c * Rows + r] = Data[r * Cols + c];
        return t;
    }

    /// <inheritdoc/>
    public override string ToString() => $"Matrix<{typeof(T).Name}>[{Rows} x {Cols}]";

    private int Index(int r, int c)
    {
        if ((uint)r >= (uint)Rows || (uint)c >= (uint)Cols)
            throw new ArgumentOutOfRangeException($"({r}, {c}) is outside a {Rows} x {Cols} matrix.");
        return r * Cols + c;
    }
}

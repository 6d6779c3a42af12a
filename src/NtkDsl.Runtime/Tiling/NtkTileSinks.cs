using System.Buffers.Binary;
using System.Numerics;
using NtkDsl.IO;

namespace NtkDsl.Tiling;

/// <summary>Where each tile's rows go in the whole kernel, and the transposed tile of a symmetric kernel, per <see cref="NtkMode"/> layout.</summary>
internal static class TileLayout
{
    /// <summary>(row in the tile, row in the kernel, first column in the kernel, length) for each row of the tile.</summary>
    public static IEnumerable<(int Source, int Row, int Column, int Length)> Rows(NtkTile tile, NtkMode mode, int outputs, int kernelSamples)
    {
        int rc = tile.RowCount, cc = tile.ColumnCount, o = outputs;
        switch (mode)
        {
            case NtkMode.Full:
                for (int i = 0; i < rc * o; i++) yield return (i, tile.RowStart * o + i, tile.ColumnStart * o, cc * o);
                break;
            case NtkMode.Diagonal:
                for (int k = 0; k < o; k++)
                    for (int i = 0; i < rc; i++) yield return (k * rc + i, k * kernelSamples + tile.RowStart + i, tile.ColumnStart, cc);
                break;
            default:
                for (int i = 0; i < rc; i++) yield return (i, tile.RowStart + i, tile.ColumnStart, cc);
                break;
        }
    }

    /// <summary>The values of <c>tile.Transposed</c> from those of <paramref name="tile"/> (Theta(x', x) = Theta(x, x')^T, per output block in Diagonal mode).</summary>
    public static void Transpose<T>(NtkTile tile, NtkMode mode, int outputs, Matrix<T> values, Matrix<T> transposed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int blocks = mode == NtkMode.Diagonal ? outputs : 1;
        int rows = values.Rows / blocks, cols = values.Cols;
        for (int k = 0; k < blocks; k++)
            for (int p = 0; p < rows; p++)
                for (int q = 0; q < cols; q++)
                    transposed.Data[(k * cols + q) * rows + p] = values.Data[(k * rows + p) * cols + q];
    }

    public static (int Rows, int Cols) Shape(NtkTile tile, NtkMode mode, int outputs) =>
        NtkModes.ResultShape(mode, tile.RowCount, tile.ColumnCount, outputs);
}

/// <summary>
/// A sink that places tile rows into a whole kernel laid out as <see cref="NtkMode"/> lays it out, writing the
/// transposes of tiles above the diagonal of a symmetric kernel below it. Subclasses say where a row goes.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public abstract class KernelTileSink<T> : INtkTileSink<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly NtkMode _mode;
    private readonly int _outputs;
    private readonly int _samples;
    private Matrix<T>? _transposed;

    /// <summary>For the kernel of <paramref name="rowSamples"/> x1 samples of a network with <paramref name="outputs"/> outputs.</summary>
    protected KernelTileSink(NtkMode mode, int outputs, int rowSamples)
    {
        _ = NtkModes.ResultShape(mode, rowSamples, 1, outputs);
        (_mode, _outputs, _samples) = (mode, outputs, rowSamples);
    }

    /// <inheritdoc/>
    public bool MirrorsLower => true;

    /// <inheritdoc/>
    public void Write(NtkTile tile, Matrix<T> values, bool symmetric)
    {
        Place(tile, values);
        if (!symmetric || tile.ColumnStart <= tile.RowStart) return;
        var (rows, cols) = TileLayout.Shape(tile.Transposed, _mode, _outputs);
        if (_transposed is null || _transposed.Rows != rows || _transposed.Cols != cols) _transposed = new Matrix<T>(rows, cols);
        TileLayout.Transpose(tile, _mode, _outputs, values, _transposed);
        Place(tile.Transposed, _transposed);
    }

    /// <summary>Writes <paramref name="values"/> at (<paramref name="row"/>, <paramref name="column"/>) of the kernel.</summary>
    protected abstract void WriteRow(ReadOnlySpan<T> values, int row, int column);

    private void Place(NtkTile tile, Matrix<T> values)
    {
        foreach (var (source, row, column, length) in TileLayout.Rows(tile, _mode, _outputs, _samples))
            WriteRow(values.Data.AsSpan(source * values.Cols, length), row, column);
    }
}

/// <summary>Writes tiles into a dense kernel matrix.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class MatrixTileSink<T> : KernelTileSink<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Matrix<T> _destination;

    /// <summary>A sink into <paramref name="destination"/>, the whole kernel of <paramref name="rowSamples"/> x1 samples in <paramref name="mode"/>'s layout.</summary>
    public MatrixTileSink(Matrix<T> destination, NtkMode mode, int outputs, int rowSamples) : base(mode, outputs, rowSamples)
    {
        ArgumentNullException.ThrowIfNull(destination);
        _destination = destination;
    }

    /// <inheritdoc/>
    protected override void WriteRow(ReadOnlySpan<T> values, int row, int column) =>
        values.CopyTo(_destination.Data.AsSpan(row * _destination.Cols + column));
}

/// <summary>Hands each tile to a callback (every tile is computed; none is mirrored).</summary>
/// <param name="onTile">Receives the tile and its values (reused after the call: copy what you keep).</param>
/// <typeparam name="T">float or double.</typeparam>
public sealed class CallbackTileSink<T>(Action<NtkTile, Matrix<T>> onTile) : INtkTileSink<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Action<NtkTile, Matrix<T>> _onTile = onTile ?? throw new ArgumentNullException(nameof(onTile));

    /// <inheritdoc/>
    public bool MirrorsLower => false;

    /// <inheritdoc/>
    public void Write(NtkTile tile, Matrix<T> values, bool symmetric) => _onTile(tile, values);
}

/// <summary>
/// Writes the kernel to a .npy file tile by tile (C order, float or double), so a kernel larger than memory can
/// be written: the file is sized once and every tile row is written at its place. Readable by
/// <see cref="Npy.Read(string)"/> and NumPy.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class NpyTileSink<T> : KernelTileSink<T>, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly FileStream _stream;
    private readonly long _dataStart;
    private readonly int _cols;
    private readonly int _size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
    private byte[] _row = [];

    /// <summary>
    /// Creates (or overwrites) <paramref name="path"/> for the kernel of <paramref name="n1"/> x <paramref name="n2"/>
    /// samples in <paramref name="mode"/>'s layout. With <paramref name="resume"/> an existing file is kept and
    /// written into (its tiles already written stay), after checking that it has exactly this kernel's header and
    /// size; a missing file is created.
    /// </summary>
    /// <exception cref="IOException">The file cannot be created or opened for writing.</exception>
    /// <exception cref="NpyFormatException"><paramref name="resume"/> and the existing file is not this kernel's .npy.</exception>
    public NpyTileSink(string path, int n1, int n2, NtkMode mode, int outputs, bool resume = false) : base(mode, outputs, n1)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (rows, cols) = NtkModes.ResultShape(mode, n1, n2, outputs);
        var header = new MemoryStream();
        long length = Npy.WriteHeader<T>(header, [rows, cols]) * _size + header.Length;
        bool keep = resume && File.Exists(path);
        _stream = new FileStream(path, keep ? FileMode.Open : FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            if (keep) RequireHeader(path, header.ToArray(), length);
            else
            {
                header.WriteTo(_stream);
                _stream.SetLength(length);
            }
        }
        catch
        {
            _stream.Dispose();
            throw;
        }

        _dataStart = header.Length;
        _cols = cols;
    }

    /// <summary>Pushes the tiles written so far to the operating system (they survive the end of this process).</summary>
    public void Flush() => _stream.Flush();

    /// <summary>Flushes and closes the file.</summary>
    public void Dispose() => _stream.Dispose();

    private void RequireHeader(string path, byte[] header, long length)
    {
        var found = new byte[header.Length];
        int read = _stream.ReadAtLeast(found, found.Length, throwOnEndOfStream: false);
        if (read != header.Length || !found.AsSpan().SequenceEqual(header) || _stream.Length != length)
            throw new NpyFormatException($"'{path}' is not the .npy file of this kernel (expected {length} bytes starting with the header " +
                $"{Described(header)}); delete it or write elsewhere to start over.");
    }

    private static string Described(byte[] header)
    {
        string text = System.Text.Encoding.ASCII.GetString(header);
        return text[text.IndexOf('{', StringComparison.Ordinal)..].Trim();
    }

    /// <inheritdoc/>
    protected override void WriteRow(ReadOnlySpan<T> values, int row, int column)
    {
        if (_row.Length < values.Length * _size) _row = new byte[values.Length * _size];
        for (int i = 0; i < values.Length; i++)
        {
            var dst = _row.AsSpan(i * _size, _size);
            if (_size == 4) BinaryPrimitives.WriteSingleLittleEndian(dst, float.CreateTruncating(values[i]));
            else BinaryPrimitives.WriteDoubleLittleEndian(dst, double.CreateTruncating(values[i]));
        }

        _stream.Position = _dataStart + ((long)row * _cols + column) * _size;
        _stream.Write(_row, 0, values.Length * _size);
    }
}

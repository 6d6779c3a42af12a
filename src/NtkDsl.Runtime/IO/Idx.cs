using System.Buffers.Binary;
using System.IO.Compression;

namespace NtkDsl.IO;

/// <summary>A malformed or unsupported IDX file; the message names the file, what was expected and what was found.</summary>
public sealed class IdxFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong with the file.</param>
    public IdxFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    /// <param name="message">What is wrong with the file.</param>
    /// <param name="innerException">The cause.</param>
    public IdxFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public IdxFormatException() : base("Malformed IDX file.")
    {
    }
}

/// <summary>An unsigned-byte array read from an IDX file: its shape and its values in C (row-major) order.</summary>
public sealed class IdxArray
{
    /// <summary>Creates an array; <paramref name="data"/> is used as is (not copied).</summary>
    /// <param name="shape">Dimensions, 1 to 255 of them, each &gt;= 0.</param>
    /// <param name="data">Values in C order; length = product of the dimensions.</param>
    public IdxArray(int[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Length is 0 or > 255)
            throw new ArgumentException($"'{nameof(shape)}' must have 1 to 255 dimensions, but has {shape.Length}.", nameof(shape));
        if (Idx.Count(shape) != data.Length)
            throw new ArgumentException($"'{nameof(data)}' must have {Idx.Count(shape)} values for shape ({string.Join(", ", shape)}), but has {data.Length}.", nameof(data));
        Shape = (int[])shape.Clone();
        Data = data;
    }

    /// <summary>The dimensions; the first is the number of items (images or labels).</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Values in C order.</summary>
    public byte[] Data { get; }

    /// <summary>Number of items: the first dimension.</summary>
    public int Count => Shape[0];

    /// <summary>Values per item: the product of the dimensions after the first (1 for labels, rows x cols for images).</summary>
    public int ItemSize => Shape.Count == 1 ? 1 : (int)(Data.Length / Math.Max(1, (long)Count));
}

/// <summary>
/// Reads and writes the IDX format of MNIST and Fashion-MNIST (LeCun's "idx1-ubyte" / "idx3-ubyte" files):
/// a big-endian header (two zero bytes, the element type 0x08 = unsigned byte, the number of dimensions, then
/// each dimension as a 32-bit integer) followed by the values in C order. Gzip-compressed files (the way the
/// data sets are distributed) are recognized by their first two bytes and decompressed on the fly.
/// </summary>
public static class Idx
{
    private const byte UnsignedByte = 0x08;

    /// <summary>Reads an IDX file, plain or gzip-compressed (detected from its content, not its name).</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IdxFormatException">Wrong magic number, an element type other than unsigned byte, or truncated data.</exception>
    public static IdxArray Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>Reads an IDX array from a stream, plain or gzip-compressed.</summary>
    /// <param name="stream">The data, positioned at the start of the file; read to its end, not closed.</param>
    /// <param name="name">The name used in error messages.</param>
    /// <exception cref="IdxFormatException">Wrong magic number, an element type other than unsigned byte, or truncated data.</exception>
    public static IdxArray Read(Stream stream, string name = "stream")
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }

        long start = stream.Position;
        Span<byte> head = stackalloc byte[2];
        bool gzip = ReadUpTo(stream, head) == 2 && head[0] == 0x1f && head[1] == 0x8b;
        stream.Position = start;
        if (!gzip) return Parse(stream, name);
        using var gz = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
        try
        {
            return Parse(gz, name);
        }
        catch (InvalidDataException e)
        {
            throw new IdxFormatException($"'{name}': the gzip data is corrupt ({e.Message}).", e);
        }
    }

    /// <summary>Reads a file of N labels (shape [N]) and returns them as integers.</summary>
    /// <param name="path">An idx1-ubyte file, plain or gzip.</param>
    /// <exception cref="IdxFormatException">The file is not a one-dimensional IDX array, or is malformed.</exception>
    public static int[] ReadLabels(string path)
    {
        var a = Read(path);
        if (a.Shape.Count != 1)
            throw new IdxFormatException($"'{path}': a label file has 1 dimension [N], but this one has shape [{string.Join(", ", a.Shape)}].");
        return Array.ConvertAll(a.Data, b => (int)b);
    }

    /// <summary>
    /// Reads a file of N images (shape [N, rows, cols], or any shape with N first) as an [N, rows cols] matrix of
    /// pixel values divided by 255 (in [0, 1]).
    /// </summary>
    /// <param name="path">An idx3-ubyte file, plain or gzip.</param>
    /// <exception cref="IdxFormatException">The file has fewer than 2 dimensions, or is malformed.</exception>
    public static Matrix<double> ReadImages(string path)
    {
        var a = Read(path);
        if (a.Shape.Count < 2)
            throw new IdxFormatException($"'{path}': an image file has at least 2 dimensions [N, ...], but this one has shape [{string.Join(", ", a.Shape)}].");
        var values = new double[a.Data.Length];
        for (int i = 0; i < values.Length; i++) values[i] = a.Data[i] / 255.0;
        return new Matrix<double>(a.Count, a.ItemSize, values);
    }

    /// <summary>
    /// Reads images and their labels and checks that they match: the same number of items, and every label
    /// below <paramref name="classCount"/> when it is given.
    /// </summary>
    /// <param name="imagesPath">The idx3-ubyte file.</param>
    /// <param name="labelsPath">The idx1-ubyte file.</param>
    /// <param name="classCount">The number of classes; null skips the label range check.</param>
    /// <exception cref="IdxFormatException">Mismatched counts, a label out of range, or a malformed file.</exception>
    public static (Matrix<double> Images, int[] Labels) ReadLabeledImages(string imagesPath, string labelsPath, int? classCount = null)
    {
        var images = ReadImages(imagesPath);
        var labels = ReadLabels(labelsPath);
        if (images.Rows != labels.Length)
            throw new IdxFormatException($"'{imagesPath}' holds {images.Rows} images but '{labelsPath}' holds {labels.Length} labels; they must match one to one.");
        if (classCount is { } c)
        {
            for (int i = 0; i < labels.Length; i++)
                if (labels[i] >= c)
                    throw new IdxFormatException($"'{labelsPath}': label {labels[i]} at index {i} is not below the class count {c}.");
        }

        return (images, labels);
    }

    /// <summary>Writes an IDX file of unsigned bytes; gzip-compressed when the name ends in .gz.</summary>
    /// <param name="path">Destination; overwritten.</param>
    /// <param name="array">The array.</param>
    public static void Write(string path, IdxArray array)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(array);
        using var file = File.Create(path);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            using var gz = new GZipStream(file, CompressionLevel.SmallestSize);
            Write(gz, array);
        }
        else Write(file, array);
    }

    /// <summary>Writes an uncompressed IDX array of unsigned bytes to a stream.</summary>
    /// <param name="stream">Destination.</param>
    /// <param name="array">The array.</param>
    public static void Write(Stream stream, IdxArray array)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(array);
        var header = new byte[4 + 4 * array.Shape.Count];
        header[2] = UnsignedByte;
        header[3] = (byte)array.Shape.Count;
        for (int i = 0; i < array.Shape.Count; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), array.Shape[i]);
        stream.Write(header);
        stream.Write(array.Data);
    }

    internal static long Count(IReadOnlyList<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(shape));
            count *= d;
        }

        return count;
    }

    private static IdxArray Parse(Stream source, string name)
    {
        var magic = new byte[4];
        int got = ReadUpTo(source, magic);
        if (got < 4)
            throw new IdxFormatException($"'{name}' is truncated: an IDX file starts with a 4-byte magic number, but it has only {got} byte(s).");
        if (magic[0] != 0 || magic[1] != 0)
            throw new IdxFormatException($"'{name}' is not an IDX file: the magic number must start with two zero bytes, but starts with 0x{magic[0]:x2} 0x{magic[1]:x2}.");
        if (magic[2] != UnsignedByte)
            throw new IdxFormatException($"'{name}': element type 0x{magic[2]:x2} is not supported; only 0x08 (unsigned byte, the type of MNIST and Fashion-MNIST) is.");
        int rank = magic[3];
        if (rank == 0) throw new IdxFormatException($"'{name}': the magic number declares 0 dimensions; an IDX array has at least one.");

        var dims = new byte[4 * rank];
        got = ReadUpTo(source, dims);
        if (got < dims.Length)
            throw new IdxFormatException($"'{name}' is truncated: the header declares {rank} dimension(s) ({dims.Length} bytes), but only {got} byte(s) follow the magic number.");
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(dims.AsSpan(4 * i));
            if (d > int.MaxValue) throw new IdxFormatException($"'{name}': dimension {i} is {d}, larger than {int.MaxValue}.");
            shape[i] = (int)d;
        }

        long count = Count(shape);
        if (count > Array.MaxLength)
            throw new IdxFormatException($"'{name}': shape [{string.Join(", ", shape)}] holds {count} values, more than one array can hold.");
        var data = new byte[count];
        got = ReadUpTo(source, data);
        if (got < count)
            throw new IdxFormatException($"'{name}' is truncated: shape [{string.Join(", ", shape)}] needs {count} data bytes, but only {got} follow the header.");
        if (ReadUpTo(source, stackalloc byte[1]) != 0)
            throw new IdxFormatException($"'{name}' has data after the {count} values that its shape [{string.Join(", ", shape)}] declares; the header and the data do not match.");
        return new IdxArray(shape, data);
    }

    private static int ReadUpTo(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }

        return total;
    }
}

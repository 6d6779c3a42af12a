using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace NtkDsl.IO;

/// <summary>Element types of the .npy files that <see cref="Npy"/> reads and writes.</summary>
public enum NpyDataType
{
    /// <summary>IEEE 754 binary32 (NumPy <c>float32</c>, descr <c>&lt;f4</c> or <c>&gt;f4</c>).</summary>
    Float32,

    /// <summary>IEEE 754 binary64 (NumPy <c>float64</c>, descr <c>&lt;f8</c> or <c>&gt;f8</c>).</summary>
    Float64,
}

/// <summary>A malformed or unsupported .npy file; the message says what was expected and what was found.</summary>
public sealed class NpyFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong with the file.</param>
    public NpyFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    /// <param name="message">What is wrong with the file.</param>
    /// <param name="innerException">The cause.</param>
    public NpyFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a generic message.</summary>
    public NpyFormatException() : base("Malformed .npy file.")
    {
    }
}

/// <summary>A dense array read from a .npy file: its shape, its stored element type and its values in C order.</summary>
public sealed class NpyArray
{
    /// <summary>Creates an array; <paramref name="data"/> is used as is (not copied).</summary>
    /// <param name="shape">Dimensions (empty for a scalar), each &gt;= 0.</param>
    /// <param name="dataType">The element type the values were (or will be) stored as.</param>
    /// <param name="data">Values in C (row-major) order; length = product of the dimensions.</param>
    public NpyArray(int[] shape, NpyDataType dataType, double[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        foreach (int d in shape) ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(shape));
        if (Npy.ElementCount(shape) != data.Length)
            throw new ArgumentException($"'{nameof(data)}' must have {Npy.DescribeCount(shape)} values for shape ({string.Join(", ", shape)}), but has {data.Length}.", nameof(data));
        Shape = (int[])shape.Clone();
        DataType = dataType;
        Data = data;
    }

    /// <summary>Dimensions; empty for a 0-d (scalar) array.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The element type in the file.</summary>
    public NpyDataType DataType { get; }

    /// <summary>Values in C order, widened to double (float32 values are represented exactly).</summary>
    public double[] Data { get; }

    /// <summary>
    /// The array as a matrix: a 2-D array [r, c] as is, a 1-D array [n] as a column [n, 1] (one scalar per row,
    /// e.g. targets), a 0-d array as [1, 1].
    /// </summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <exception cref="NpyFormatException">The array has more than two dimensions.</exception>
    public Matrix<T> ToMatrix<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        (int rows, int cols) = Shape.Count switch
        {
            0 => (1, 1),
            1 => (Shape[0], 1),
            2 => (Shape[0], Shape[1]),
            _ => throw new NpyFormatException($"Expected a 1-D or 2-D array (samples by features), but the file holds shape ({string.Join(", ", Shape)})."),
        };
        var values = new T[Data.Length];
        for (int i = 0; i < values.Length; i++) values[i] = T.CreateTruncating(Data[i]);
        return new Matrix<T>(rows, cols, values);
    }
}

/// <summary>
/// NumPy's .npy format (versions 1.0, 2.0 and 3.0): float32 and float64 arrays in C order, little- or
/// big-endian on read, little-endian on write, so that Python users can <c>np.load</c> what NtkDsl writes and
/// the other way round. Headers are validated; every malformed file gets an <see cref="NpyFormatException"/>
/// naming what was expected and what was found.
/// </summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    // NumPy pads the header so that the data starts at a multiple of 64 bytes.
    private const int Alignment = 64;

    /// <summary>Reads a .npy file; the file must hold exactly one array and nothing after it.</summary>
    /// <param name="path">Path of the file.</param>
    /// <exception cref="NpyFormatException">The file is not a valid float32/float64 C-order .npy file.</exception>
    public static NpyArray Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        var array = Read(stream);
        if (stream.ReadByte() != -1)
            throw new NpyFormatException($"'{path}' has bytes after the array data (shape ({string.Join(", ", array.Shape)})): not a single .npy array.");
        return array;
    }

    /// <summary>Reads one array from <paramref name="stream"/>, which is left just after its data.</summary>
    /// <param name="stream">A readable stream positioned at the magic string.</param>
    /// <exception cref="NpyFormatException">The data is not a valid float32/float64 C-order .npy array.</exception>
    public static NpyArray Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> preamble = stackalloc byte[8];
        ReadExactly(stream, preamble, "the 8-byte preamble (magic string and version)");
        if (!preamble[..6].SequenceEqual(Magic))
            throw new NpyFormatException($"Not a .npy file: expected the magic string \\x93NUMPY, found {Describe(preamble[..6])}.");
        byte major = preamble[6], minor = preamble[7];
        if (major is not (1 or 2 or 3) || minor != 0)
            throw new NpyFormatException($"Unsupported .npy format version {major}.{minor}: expected 1.0, 2.0 or 3.0.");

        int headerLength;
        if (major == 1)
        {
            Span<byte> len = stackalloc byte[2];
            ReadExactly(stream, len, "the 2-byte header length");
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(len);
        }
        else
        {
            Span<byte> len = stackalloc byte[4];
            ReadExactly(stream, len, "the 4-byte header length");
            uint l = BinaryPrimitives.ReadUInt32LittleEndian(len);
            if (l > 1 << 24) throw new NpyFormatException($"Implausible .npy header length {l} bytes (at most 16 MiB expected).");
            headerLength = (int)l;
        }

        var headerBytes = new byte[headerLength];
        ReadExactly(stream, headerBytes, $"the {headerLength}-byte header");
        string header;
        try
        {
            header = (major == 3 ? new UTF8Encoding(false, true) : Encoding.Latin1).GetString(headerBytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new NpyFormatException("The .npy header is not valid UTF-8.", e);
        }

        if (header.Length == 0 || header[^1] != '\n')
            throw new NpyFormatException($"The .npy header must end with a newline; it is {Quote(header)}.");
        var (dataType, bigEndian, shape) = ParseHeader(header);

        int size = dataType == NpyDataType.Float32 ? 4 : 8;
        string described = $"shape ({string.Join(", ", shape)}) of {Describe(dataType)}";
        if (ElementCount(shape) is not long count)
            throw new NpyFormatException(string.Create(CultureInfo.InvariantCulture,
                $"The array of {described} has more than {Array.MaxLength:N0} elements, more than a .NET array can hold."));
        // Memory is reserved only for data the file holds: a seekable stream must have every byte before anything is
        // allocated, and any other stream grows its buffer as data arrives (a header cannot make us reserve gigabytes).
        if (stream.CanSeek && stream.Length - stream.Position < count * size)
            throw Truncated(described, count * size, stream.Length - stream.Position);
        var data = new double[stream.CanSeek ? count : Math.Min(count, InitialCapacity)];
        var buffer = new byte[Math.Min(count * size, 1 << 20)];
        long done = 0;
        while (done < count)
        {
            int chunk = (int)Math.Min(count - done, buffer.Length / size);
            var span = buffer.AsSpan(0, chunk * size);
            int read = stream.ReadAtLeast(span, span.Length, throwOnEndOfStream: false);
            if (read < span.Length)
                throw Truncated(described, count * size, done * size + read);
            if (done + chunk > data.Length) Array.Resize(ref data, (int)Math.Min(count, Math.Max(2L * data.Length, done + chunk)));
            for (int i = 0; i < chunk; i++)
            {
                var bytes = span.Slice(i * size, size);
                data[done + i] = (dataType, bigEndian) switch
                {
                    (NpyDataType.Float32, false) => BinaryPrimitives.ReadSingleLittleEndian(bytes),
                    (NpyDataType.Float32, true) => BinaryPrimitives.ReadSingleBigEndian(bytes),
                    (NpyDataType.Float64, false) => BinaryPrimitives.ReadDoubleLittleEndian(bytes),
                    _ => BinaryPrimitives.ReadDoubleBigEndian(bytes),
                };
            }

            done += chunk;
        }

        return new NpyArray(shape, dataType, data);
    }

    // Elements reserved up front when the stream's length is unknown (1 MiB of doubles).
    private const int InitialCapacity = 1 << 17;

    private static NpyFormatException Truncated(string described, long needed, long found) =>
        new($"The .npy data is truncated: {described} needs {needed} bytes, found {found}.");

    /// <summary>The product of the dimensions, or null when it exceeds <see cref="Array.MaxLength"/> (never overflows).</summary>
    internal static long? ElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d == 0) return 0;
            if (d < 0 || count > Array.MaxLength / d) count = long.MaxValue;
            else count *= d;
        }

        return count <= Array.MaxLength ? count : null;
    }

    /// <summary>The product of the dimensions for a message: the number, or "more than 2,147,483,591".</summary>
    internal static string DescribeCount(ReadOnlySpan<int> shape) =>
        ElementCount(shape) is long n ? n.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"more than {Array.MaxLength:N0}");

    /// <summary>Reads a .npy file as a matrix (see <see cref="NpyArray.ToMatrix{T}"/> for 0-d and 1-D arrays).</summary>
    /// <typeparam name="T">float or double (float64 files read as float are rounded).</typeparam>
    /// <param name="path">Path of the file.</param>
    public static Matrix<T> ReadMatrix<T>(string path) where T : unmanaged, IFloatingPointIeee754<T> => Read(path).ToMatrix<T>();

    /// <summary>Writes a matrix as a 2-D .npy file in C order (float → <c>&lt;f4</c>, double → <c>&lt;f8</c>).</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="path">Destination path (overwritten).</param>
    /// <param name="matrix">The values.</param>
    public static void Write<T>(string path, Matrix<T> matrix) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(matrix);
        using var stream = File.Create(path);
        Write(stream, matrix.Data, [matrix.Rows, matrix.Cols]);
    }

    /// <summary>Writes a matrix as a 2-D .npy array to a stream.</summary>
    /// <typeparam name="T">float or double.</typeparam>
    /// <param name="stream">A writable stream.</param>
    /// <param name="matrix">The values.</param>
    public static void Write<T>(Stream stream, Matrix<T> matrix) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(matrix);
        Write(stream, matrix.Data, [matrix.Rows, matrix.Cols]);
    }

    /// <summary>
    /// Writes only the header of a .npy array of <paramref name="shape"/> (what <see cref="Write{T}(Stream, ReadOnlySpan{T}, ReadOnlySpan{int})"/>
    /// writes before the data) and returns the number of values that must follow, little-endian in C order. For
    /// writers that fill the data region out of order (tiles of a kernel).
    /// </summary>
    /// <typeparam name="T">float (<c>&lt;f4</c>) or double (<c>&lt;f8</c>).</typeparam>
    public static long WriteHeader<T>(Stream stream, ReadOnlySpan<int> shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        bool isFloat = typeof(T) == typeof(float);
        if (!isFloat && typeof(T) != typeof(double))
            throw new NotSupportedException($"Npy writes float and double arrays, not {typeof(T).Name}.");
        long count = TotalElementCount(shape);
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape.ToArray().Select(d => d.ToString(CultureInfo.InvariantCulture)));
        string dict = $"{{'descr': '{(isFloat ? "<f4" : "<f8")}', 'fortran_order': False, 'shape': ({dims}), }}";
        int major = dict.Length + 1 + 10 <= ushort.MaxValue ? 1 : 2;
        int prefix = major == 1 ? 10 : 12;
        int total = (prefix + dict.Length + 1 + Alignment - 1) / Alignment * Alignment;
        string header = dict + new string(' ', total - prefix - dict.Length - 1) + "\n";

        var head = new byte[total];
        Magic.CopyTo(head);
        head[6] = (byte)major;
        head[7] = 0;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(head.AsSpan(8), (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(head.AsSpan(8), (uint)header.Length);
        Encoding.ASCII.GetBytes(header, head.AsSpan(prefix));
        stream.Write(head);
        return count;
    }

    // The product of the dimensions in 64 bits (a file written in tiles may hold more than one .NET array).
    private static long TotalElementCount(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), d, "Dimensions must be >= 0.");
            count = checked(count * d);
        }

        return count;
    }

    /// <summary>
    /// Writes values of any shape (C order) as a .npy array: version 1.0, or 2.0 if the header does not fit in
    /// 65535 bytes; the header is padded so the data starts at a multiple of 64 bytes, as NumPy does.
    /// </summary>
    /// <typeparam name="T">float (written as <c>&lt;f4</c>) or double (<c>&lt;f8</c>).</typeparam>
    /// <param name="stream">A writable stream.</param>
    /// <param name="data">Values in C order.</param>
    /// <param name="shape">Dimensions (empty for a scalar), each &gt;= 0, whose product is the length of <paramref name="data"/>.</param>
    public static void Write<T>(Stream stream, ReadOnlySpan<T> data, ReadOnlySpan<int> shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(shape), d, "Dimensions must be >= 0.");
        }

        if (ElementCount(shape) is not long count || count != data.Length)
            throw new ArgumentException($"'{nameof(data)}' must have {DescribeCount(shape)} values for shape ({string.Join(", ", shape.ToArray())}), but has {data.Length}.", nameof(data));
        WriteHeader<T>(stream, shape);
        bool isFloat = typeof(T) == typeof(float);
        int size = isFloat ? 4 : 8;
        var buffer = new byte[Math.Min(Math.Max(count, 1) * size, 1 << 20)];
        int perChunk = buffer.Length / size;
        for (int start = 0; start < data.Length; start += perChunk)
        {
            int chunk = Math.Min(perChunk, data.Length - start);
            for (int i = 0; i < chunk; i++)
            {
                var dst = buffer.AsSpan(i * size, size);
                if (isFloat) BinaryPrimitives.WriteSingleLittleEndian(dst, float.CreateTruncating(data[start + i]));
                else BinaryPrimitives.WriteDoubleLittleEndian(dst, double.CreateTruncating(data[start + i]));
            }

            stream.Write(buffer, 0, chunk * size);
        }
    }

    // The header is a Python dict literal: {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
    private static (NpyDataType, bool BigEndian, int[] Shape) ParseHeader(string header)
    {
        var p = new HeaderParser(header);
        string? descr = null;
        bool? fortran = null;
        int[]? shape = null;
        p.SkipSpace();
        p.Expect('{');
        while (true)
        {
            p.SkipSpace();
            if (p.TryConsume('}')) break;
            string key = p.ReadString();
            p.SkipSpace();
            p.Expect(':');
            p.SkipSpace();
            switch (key)
            {
                case "descr":
                    if (descr is not null) throw p.Error("the key 'descr' appears twice");
                    descr = p.ReadString();
                    break;
                case "fortran_order":
                    if (fortran is not null) throw p.Error("the key 'fortran_order' appears twice");
                    fortran = p.ReadBool();
                    break;
                case "shape":
                    if (shape is not null) throw p.Error("the key 'shape' appears twice");
                    shape = p.ReadShape();
                    break;
                default:
                    throw p.Error($"unexpected key '{key}' (expected only 'descr', 'fortran_order' and 'shape')");
            }

            p.SkipSpace();
            if (p.TryConsume(',')) continue;
            p.SkipSpace();
            p.Expect('}');
            break;
        }

        p.SkipSpace();
        if (!p.AtEnd) throw p.Error("text after the closing '}'");
        if (descr is null) throw p.Error("the key 'descr' is missing");
        if (fortran is null) throw p.Error("the key 'fortran_order' is missing");
        if (shape is null) throw p.Error("the key 'shape' is missing");

        (NpyDataType type, bool big) = descr switch
        {
            "<f4" => (NpyDataType.Float32, false),
            ">f4" => (NpyDataType.Float32, true),
            "<f8" => (NpyDataType.Float64, false),
            ">f8" => (NpyDataType.Float64, true),
            _ => throw new NpyFormatException($"Unsupported .npy dtype '{descr}': expected float32 or float64 ('<f4', '>f4', '<f8', '>f8'). Convert with arr.astype(np.float64)."),
        };
        if (fortran.Value && shape.Count(d => d > 1) > 1)
            throw new NpyFormatException($"The .npy array of shape ({string.Join(", ", shape)}) is stored in Fortran (column-major) order; only C order is supported. Save np.ascontiguousarray(arr) instead.");
        return (type, big, shape);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string what)
    {
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read < buffer.Length)
            throw new NpyFormatException($"The .npy file ends early: expected {what}, found only {read} of {buffer.Length} bytes.");
    }

    private static string Describe(ReadOnlySpan<byte> bytes) => "bytes " + Convert.ToHexString(bytes);

    private static string Describe(NpyDataType t) => t == NpyDataType.Float32 ? "float32" : "float64";

    private static string Quote(string s) => "\"" + (s.Length > 120 ? s[..120] + "..." : s).Replace("\n", "\\n", StringComparison.Ordinal) + "\"";

    private ref struct HeaderParser(string text)
    {
        private readonly string _text = text;
        private int _pos;

        public readonly bool AtEnd => _pos >= _text.Length;

        public readonly NpyFormatException Error(string what) =>
            new($"Malformed .npy header at character {_pos}: {what}. Header: {Quote(_text)}.");

        public void SkipSpace()
        {
            while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos])) _pos++;
        }

        public bool TryConsume(char c)
        {
            if (_pos < _text.Length && _text[_pos] == c)
            {
                _pos++;
                return true;
            }

            return false;
        }

        public void Expect(char c)
        {
            if (!TryConsume(c)) throw Error($"expected '{c}', found {(AtEnd ? "the end" : $"'{_text[_pos]}'")}");
        }

        public string ReadString()
        {
            if (AtEnd || (_text[_pos] != '\'' && _text[_pos] != '"')) throw Error("expected a quoted string");
            char quote = _text[_pos++];
            int start = _pos;
            while (_pos < _text.Length && _text[_pos] != quote) _pos++;
            if (AtEnd) throw Error("unterminated string");
            return _text[start.._pos++];
        }

        public bool ReadBool()
        {
            if (string.CompareOrdinal(_text, _pos, "True", 0, 4) == 0) { _pos += 4; return true; }
            if (string.CompareOrdinal(_text, _pos, "False", 0, 5) == 0) { _pos += 5; return false; }
            throw Error("expected True or False for 'fortran_order'");
        }

        public int[] ReadShape()
        {
            Expect('(');
            var dims = new List<int>();
            while (true)
            {
                SkipSpace();
                if (TryConsume(')')) break;
                int start = _pos;
                while (_pos < _text.Length && char.IsAsciiDigit(_text[_pos])) _pos++;
                if (_pos == start) throw Error("expected a non-negative integer dimension in 'shape'");
                if (!int.TryParse(_text.AsSpan(start, _pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out int d))
                    throw Error($"dimension {_text[start.._pos]} is too large");
                dims.Add(d);
                SkipSpace();
                if (TryConsume(',')) continue;
                Expect(')');
                break;
            }

            return [.. dims];
        }
    }
}

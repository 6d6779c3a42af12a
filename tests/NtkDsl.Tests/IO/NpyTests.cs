using System.Buffers.Binary;
using System.Text;
using NtkDsl.IO;

namespace NtkDsl.Tests.IO;

/// <summary>
/// .npy read/write against byte arrays assembled by hand from NumPy's format description (magic, version,
/// little-endian header length, a Python dict literal padded with spaces and ended by a newline, raw data).
/// </summary>
public sealed class NpyTests
{
    // What np.save writes for np.arange(6, dtype=np.float64).reshape(2, 3) (NumPy >= 1.x pads to 64 bytes).
    private static byte[] HandMade(string dict, byte[] data, byte major = 1, int align = 64, bool padded = true)
    {
        int prefix = major == 1 ? 10 : 12;
        string header = dict;
        if (padded)
        {
            int total = (prefix + dict.Length + 1 + align - 1) / align * align;
            header = dict + new string(' ', total - prefix - dict.Length - 1);
        }

        header += "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0 };
        if (major == 1) bytes.AddRange([(byte)(header.Length & 0xff), (byte)(header.Length >> 8)]);
        else bytes.AddRange(BitConverter.GetBytes((uint)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }

    private static byte[] F8(params double[] v)
    {
        var b = new byte[v.Length * 8];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(i * 8), v[i]);
        return b;
    }

    private static byte[] F4(params float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), v[i]);
        return b;
    }

    private static NpyArray Read(byte[] bytes) => Npy.Read(new MemoryStream(bytes));

    [Fact]
    public void Reads_a_float64_matrix_in_C_order()
    {
        var bytes = HandMade("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", F8(0, 1, 2, 3, 4, 5));
        Assert.Equal(128, bytes.Length - 48);   // header block is 128 bytes, as np.save writes it
        var a = Read(bytes);
        Assert.Equal([2, 3], a.Shape);
        Assert.Equal(NpyDataType.Float64, a.DataType);
        var m = a.ToMatrix<double>();
        Assert.Equal(5.0, m[1, 2]);
        Assert.Equal(1.0, m[0, 1]);
    }

    [Fact]
    public void Reads_float32_vectors_big_endian_and_scalars()
    {
        var v = Read(HandMade("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", F4(1.5f, -2f, 0.1f)));
        Assert.Equal([3], v.Shape);
        Assert.Equal(NpyDataType.Float32, v.DataType);
        Assert.Equal((double)0.1f, v.Data[2]);
        var col = v.ToMatrix<float>();
        Assert.Equal((3, 1), (col.Rows, col.Cols));

        var big = new byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(big, Math.PI);
        var s = Read(HandMade("{'descr': '>f8', 'fortran_order': False, 'shape': (), }", big));
        Assert.Empty(s.Shape);
        Assert.Equal(Math.PI, s.Data[0]);
    }

    [Fact]
    public void Reads_version_2_and_unpadded_headers_and_double_quotes()
    {
        var a = Read(HandMade("{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1, 2)}", F8(7, 8), major: 2, padded: false));
        Assert.Equal([7.0, 8.0], a.Data);
    }

    [Fact]
    public void Writes_exactly_what_numpy_writes()
    {
        var m = new Matrix<double>(2, 3, [0, 1, 2, 3, 4, 5]);
        var stream = new MemoryStream();
        Npy.Write(stream, m);
        var expected = HandMade("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", F8(0, 1, 2, 3, 4, 5));
        Assert.Equal(expected, stream.ToArray());

        var s32 = new MemoryStream();
        Npy.Write<float>(s32, [1f, 2f, 3f], [3]);
        Assert.Equal(HandMade("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", F4(1, 2, 3)), s32.ToArray());
    }

    [Fact]
    public void Round_trips_through_a_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"npy-{Guid.NewGuid():N}.npy");
        try
        {
            var m = new Matrix<float>(3, 2, [1, -2, 3.25f, float.Epsilon, 1e30f, 0]);
            Npy.Write(path, m);
            var back = Npy.ReadMatrix<float>(path);
            Assert.Equal(m.Data, back.Data);
            Assert.Equal(NpyDataType.Float32, Npy.Read(path).DataType);
            Assert.Equal(0, new FileInfo(path).Length % 8);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_large_header_is_written_as_version_2()
    {
        // 30000 dimensions of size 1 make a header longer than 65535 bytes.
        var shape = Enumerable.Repeat(1, 30000).ToArray();
        var stream = new MemoryStream();
        Npy.Write<double>(stream, [42.0], shape);
        var bytes = stream.ToArray();
        Assert.Equal(2, bytes[6]);
        Assert.Equal(0, (12 + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8))) % 64);
        var back = Read(bytes);
        Assert.Equal(30000, back.Shape.Count);
        Assert.Equal(42.0, back.Data[0]);
    }

    public static TheoryData<string, byte[]> Malformed => new()
    {
        { "magic string", [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'X', 1, 0, 0, 0] },
        { "ends early", [0x93, (byte)'N', (byte)'U', (byte)'M'] },
        { "version 4.0", HandMade("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", F8(1), major: 4) },
        { "dtype '<i8'", HandMade("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", F8(1)) },
        { "Fortran", HandMade("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", F8(1, 2, 3, 4)) },
        { "truncated", HandMade("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", F8(1, 2, 3)) },
        { "'shape' is missing", HandMade("{'descr': '<f8', 'fortran_order': False, }", F8(1)) },
        { "unexpected key 'extra'", HandMade("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1}", F8(1)) },
        { "appears twice", HandMade("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", F8(1)) },
        { "non-negative integer", HandMade("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", F8(1)) },
        { "True or False", HandMade("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", F8(1)) },
        { "end with a newline", HandMade("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", F8(1))[..^9].Concat(F8(1)).ToArray() },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_files_get_a_clear_error(string expectedInMessage, byte[] bytes)
    {
        var e = Assert.Throws<NpyFormatException>(() => Read(bytes));
        Assert.Contains(expectedInMessage, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_with_trailing_bytes_is_rejected_and_3d_arrays_are_not_matrices()
    {
        string path = Path.Combine(Path.GetTempPath(), $"npy-{Guid.NewGuid():N}.npy");
        try
        {
            File.WriteAllBytes(path, [.. HandMade("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", F8(1)), 0]);
            Assert.Contains("bytes after the array", Assert.Throws<NpyFormatException>(() => Npy.Read(path)).Message, StringComparison.Ordinal);

            var cube = Read(HandMade("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 2), }", F8(1, 2)));
            Assert.Contains("1-D or 2-D", Assert.Throws<NpyFormatException>(() => cube.ToMatrix<double>()).Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private const string F8Header = "{{'descr': '<f8', 'fortran_order': False, 'shape': {0}, }}";

    [Theory]
    [InlineData("(2147483647, 2147483647, 2147483647)")]   // overflows even a 64-bit product
    [InlineData("(100000, 100000)")]                       // 1e10 elements
    [InlineData("(2147483647,)")]                          // just above Array.MaxLength
    public void An_enormous_declared_shape_is_a_format_error(string shape)
    {
        var e = Assert.Throws<NpyFormatException>(() => Read(HandMade(string.Format(F8Header, shape), F8(1))));
        Assert.Contains("more than 2,147,483,591 elements", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_zero_dimension_makes_an_empty_array_whatever_the_others()
    {
        var a = Read(HandMade(string.Format(F8Header, "(2147483647, 0)"), []));
        Assert.Empty(a.Data);
        Assert.Equal([2147483647, 0], a.Shape);
    }

    [Fact]
    public void A_file_shorter_than_its_shape_is_rejected_before_any_large_allocation()
    {
        // 50,000 x 40,000 float64 is 16 GB; the file holds 8 bytes of data.
        var bytes = HandMade(string.Format(F8Header, "(50000, 40000)"), F8(1));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<NpyFormatException>(() => Read(bytes));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.Contains("needs 16000000000 bytes, found 8", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");

        // A stream of unknown length: memory grows with the data that arrives, not with the declared shape.
        before = GC.GetAllocatedBytesForCurrentThread();
        e = Assert.Throws<NpyFormatException>(() => Npy.Read(new NonSeekable(bytes)));
        allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 4 << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public void A_stream_of_unknown_length_reads_arrays_larger_than_its_first_buffer()
    {
        var values = Enumerable.Range(0, 300_001).Select(i => Math.Sin(i) * 1e3).ToArray();   // > 2 x 131,072 initial elements
        var a = Npy.Read(new NonSeekable(HandMade(string.Format(F8Header, "(300001,)"), F8(values))));
        Assert.Equal(values, a.Data);
    }

    /// <summary>A read-only stream that cannot seek or tell its length (like a pipe or a network stream).</summary>
    private sealed class NonSeekable(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

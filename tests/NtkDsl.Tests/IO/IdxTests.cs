using System.IO.Compression;
using System.Text.Json;
using NtkDsl.Classification;
using NtkDsl.IO;

namespace NtkDsl.Tests.IO;

public sealed class IdxTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ntk-idx-" + Guid.NewGuid().ToString("N"));

    public IdxTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Header bytes written by hand: 0, 0, type, rank, then big-endian dimensions.</summary>
    private static byte[] Header(byte type, params int[] dims)
    {
        var h = new List<byte> { 0, 0, type, (byte)dims.Length };
        foreach (int d in dims) h.AddRange([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        return [.. h];
    }

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(data);
        return ms.ToArray();
    }

    private string File(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    private static readonly byte[] TwoImages = [.. Header(0x08, 2, 2, 3), 0, 1, 2, 3, 4, 5, 255, 7, 8, 9, 10, 11];

    [Fact]
    public void A_hand_made_image_file_reads_as_its_shape_and_bytes_plain_and_gzipped()
    {
        foreach (var bytes in new[] { TwoImages, Gzip(TwoImages) })
        {
            var a = Idx.Read(new MemoryStream(bytes));
            Assert.Equal([2, 2, 3], a.Shape);
            Assert.Equal(2, a.Count);
            Assert.Equal(6, a.ItemSize);
            Assert.Equal(TwoImages[16..], a.Data);
        }

        var images = Idx.ReadImages(File("img.gz", Gzip(TwoImages)));
        Assert.Equal(2, images.Rows);
        Assert.Equal(6, images.Cols);
        Assert.Equal(1.0, images[1, 0]);          // 255 / 255
        Assert.Equal(5 / 255.0, images[0, 5]);
    }

    [Fact]
    public void A_label_file_reads_as_integers_and_must_match_the_image_count()
    {
        var labels = File("labels", [.. Header(0x08, 2), 7, 3]);
        Assert.Equal([7, 3], Idx.ReadLabels(labels));
        var images = File("images", TwoImages);
        var (x, y) = Idx.ReadLabeledImages(images, labels, classCount: 10);
        Assert.Equal(2, x.Rows);
        Assert.Equal([7, 3], y);

        var three = File("three", [.. Header(0x08, 3), 1, 2, 3]);
        var e = Assert.Throws<IdxFormatException>(() => Idx.ReadLabeledImages(images, three));
        Assert.Contains("2 images", e.Message, StringComparison.Ordinal);
        Assert.Contains("3 labels", e.Message, StringComparison.Ordinal);

        var big = Assert.Throws<IdxFormatException>(() => Idx.ReadLabeledImages(images, labels, classCount: 5));
        Assert.Contains("label 7", big.Message, StringComparison.Ordinal);
        Assert.Throws<IdxFormatException>(() => Idx.ReadLabels(images));      // 3 dimensions
        Assert.Throws<IdxFormatException>(() => Idx.ReadImages(labels));      // 1 dimension
    }

    [Theory]
    [InlineData(new byte[] { 1, 0, 8, 1, 0, 0, 0, 1, 5 }, "magic number must start with two zero bytes")]
    [InlineData(new byte[] { 0x50, 0x4b, 3, 4 }, "magic number must start with two zero bytes")]
    [InlineData(new byte[] { 0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0 }, "element type 0x0d is not supported")]
    [InlineData(new byte[] { 0, 0, 8, 0 }, "0 dimensions")]
    [InlineData(new byte[] { 0, 0, 8 }, "truncated: an IDX file starts with a 4-byte magic number")]
    [InlineData(new byte[] { 0, 0, 8, 2, 0, 0, 0, 2, 0, 0 }, "truncated: the header declares 2 dimension(s)")]
    [InlineData(new byte[] { 0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5 }, "needs 6 data bytes, but only 5")]
    [InlineData(new byte[] { 0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3 }, "data after the 2 values")]
    public void Malformed_bytes_fail_with_a_message_that_says_what_is_wrong(byte[] bytes, string expected)
    {
        foreach (var variant in new[] { bytes, Gzip(bytes) })
        {
            var e = Assert.Throws<IdxFormatException>(() => Idx.Read(new MemoryStream(variant), "bad.idx"));
            Assert.Contains(expected, e.Message, StringComparison.Ordinal);
            Assert.Contains("'bad.idx'", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_truncated_gzip_stream_is_an_idx_error()
    {
        var gz = Gzip([.. Header(0x08, 1000), .. new byte[1000]]);
        var e = Assert.ThrowsAny<IdxFormatException>(() => Idx.Read(new MemoryStream(gz[..(gz.Length / 2)]), "cut.gz"));
        Assert.Contains("cut.gz", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_then_read_round_trips_plain_and_gzip()
    {
        var a = new IdxArray([3, 2], [1, 2, 3, 4, 5, 250]);
        foreach (var name in new[] { "a.idx", "a.idx.gz" })
        {
            var path = Path.Combine(_dir, name);
            Idx.Write(path, a);
            var b = Idx.Read(path);
            Assert.Equal(a.Shape, b.Shape);
            Assert.Equal(a.Data, b.Data);
        }

        Assert.Equal([0x1f, 0x8b], System.IO.File.ReadAllBytes(Path.Combine(_dir, "a.idx.gz"))[..2]);
        Assert.Equal(Header(0x08, 3, 2), System.IO.File.ReadAllBytes(Path.Combine(_dir, "a.idx"))[..12]);
    }

    [Fact]
    public void A_missing_file_or_folder_names_where_it_looked_and_the_package()
    {
        Assert.Throws<FileNotFoundException>(() => Idx.Read(Path.Combine(_dir, "none.gz")));
        var missing = Path.Combine(_dir, "no-such-folder");
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message, StringComparison.Ordinal);
        var none = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(_dir));
        Assert.Contains("has no train-images-idx3-ubyte.gz", none.Message, StringComparison.Ordinal);
        Assert.Contains("dataset-fashion-mnist", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_committed_subset_matches_the_counts_and_pixel_sums_its_python_script_recorded()
    {
        var summary = JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(Subset.Folder, "subset.json"))).RootElement.GetProperty("sets");
        var (train, test) = FashionMnist.Load(Subset.Folder);
        foreach (var (name, set) in new[] { ("train", train), ("t10k", test) })
        {
            var expected = summary.GetProperty(name);
            Assert.Equal(expected.GetProperty("count").GetInt32(), set.Count);
            Assert.Equal(784, set.Images.Cols);
            var counts = new int[10];
            foreach (int l in set.Labels) counts[l]++;
            Assert.Equal(expected.GetProperty("class_counts").EnumerateArray().Select(v => v.GetInt32()), counts);
            Assert.Equal(expected.GetProperty("first_labels").EnumerateArray().Select(v => v.GetInt32()), set.Labels[..20]);
            // Pixel bytes recovered from the [0, 1] values: the sums the script computed on the raw bytes.
            long Sum(int from, int count) => set.Images.Data.AsSpan(from, count).ToArray().Sum(v => (long)Math.Round(v * 255));
            Assert.Equal(expected.GetProperty("pixel_sum").GetInt64(), Sum(0, set.Images.Data.Length));
            Assert.Equal(expected.GetProperty("first_image_pixel_sum").GetInt64(), Sum(0, 784));
            Assert.Equal(expected.GetProperty("last_image_pixel_sum").GetInt64(), Sum(set.Images.Data.Length - 784, 784));
        }
    }
}

/// <summary>The committed Fashion-MNIST subset: data/fashion-mnist-subset beside NtkDsl.sln.</summary>
internal static class Subset
{
    public static string Folder
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (System.IO.File.Exists(Path.Combine(dir.FullName, "NtkDsl.sln"))) return Path.Combine(dir.FullName, "data", "fashion-mnist-subset");
            throw new DirectoryNotFoundException("NtkDsl.sln not found above " + AppContext.BaseDirectory);
        }
    }
}

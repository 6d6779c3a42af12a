using NtkDsl.IO;
using NtkDsl.Tiling;

namespace NtkDsl.Distributed.Tests;

/// <summary>The Tiling pieces the cluster relies on, in one process.</summary>
public class TilingTests
{
    [Fact]
    public void Infinite_width_tiles_mirrored_by_a_sink_equal_the_whole_kernel_bit_for_bit()
    {
        var x = ClusterFixture.Random<double>(17, ClusterNet.InputSize, 1);
        var whole = InfiniteWidth.Kernels(ClusterNet.Description, x);
        var plan = NtkTilePlan.Create(17, 17, 5, symmetric: true, mirrorLower: true);
        var executor = new InfiniteWidthTileExecutor(ClusterNet.Description, x, x, InfiniteWidthKernel.Nngp, symmetric: true);
        var result = new Matrix<double>(17, 17);
        var sink = new MatrixTileSink<double>(result, NtkMode.Trace, 1, 17);
        foreach (var tile in plan.Tiles)
        {
            var values = new Matrix<double>(tile.RowCount, tile.ColumnCount);
            executor.Compute(tile, values);
            sink.Write(tile, values, symmetric: true);
        }

        Assert.Equal(whole.Nngp.Data, result.Data);
    }

    [Fact]
    public void A_resumed_npy_sink_keeps_the_written_tiles_and_refuses_another_kernels_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ntkdsl-sink-{Guid.NewGuid():N}.npy");
        try
        {
            var tile = new NtkTile(0, 2, 0, 2);
            using (var sink = new NpyTileSink<double>(path, 4, 4, NtkMode.Trace, 1))
                sink.Write(tile, new Matrix<double>(2, 2, [1, 2, 3, 4]), symmetric: false);
            using (var sink = new NpyTileSink<double>(path, 4, 4, NtkMode.Trace, 1, resume: true))
                sink.Write(new NtkTile(2, 2, 2, 2), new Matrix<double>(2, 2, [5, 6, 7, 8]), symmetric: false);
            var written = Npy.ReadMatrix<double>(path);
            Assert.Equal(new double[] { 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 5, 6, 0, 0, 7, 8 }, written.Data);

            var e = Assert.Throws<NpyFormatException>(() => new NpyTileSink<double>(path, 5, 5, NtkMode.Trace, 1, resume: true));
            Assert.Contains("is not the .npy file of this kernel", e.Message);
            Assert.Contains("(5, 5)", e.Message);
            Assert.Throws<NpyFormatException>(() => new NpyTileSink<float>(path, 4, 4, NtkMode.Trace, 1, resume: true));
        }
        finally
        {
            File.Delete(path);
        }
    }
}

using NtkDsl.Cpu;
using NtkDsl.Tiling;
using NtkDsl.Tests.Networks;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Cpu;

[Network(Inputs = 8, WeightStd = 1.4, BiasStd = 0.1)]
[Dense(48), Relu]
[Dense(48), Erf]
[Dense(1)]
public partial class TiledBudgetNet;

/// <summary>The tiled NTK equals the untiled one, covers the kernel exactly once, and stays within its memory budget.</summary>
[Collection(SerialCollection.Name)]
public class TiledNtkTests
{
    public static TheoryData<NtkMode, int> Cases => new()
    {
        { NtkMode.Trace, 5 }, { NtkMode.Full, 4 }, { NtkMode.Diagonal, 6 }, { NtkMode.Trace, 100 }, { NtkMode.Full, 1 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Tiled_equals_untiled_into_destination(NtkMode mode, int tileRows)
    {
        var theta = ReluNet.InitializeParameters<double>(3);
        var x1 = TestMath.RandomMatrix(23, ReluNet.InputSize, 1);
        var x2 = TestMath.RandomMatrix(17, ReluNet.InputSize, 2);
        var options = new TiledNtkOptions { TileRows = tileRows };
        foreach (var second in new[] { x2, null })
        {
            var expected = CpuNetwork<ReluNet, double>.Ntk(theta, x1, second, mode);
            var actual = new Matrix<double>(expected.Rows, expected.Cols);
            TiledNtk.Compute<ReluNet, double>(theta, x1, second, mode, actual, options);
            Assert.True(TestMath.RelativeError(actual.Data, expected.Data) < 1e-12, $"{mode}, tile {tileRows}, x2 {(second is null ? "= x1" : "distinct")}");
            if (second is null && mode != NtkMode.Diagonal)
                for (int i = 0; i < actual.Rows; i++)
                    for (int j = 0; j < i; j++) Assert.Equal(actual[i, j], actual[j, i]);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Npy_sink_writes_the_untiled_kernel(NtkMode mode, int tileRows)
    {
        var theta = StandardNet.InitializeParameters<double>(7);
        var x1 = TestMath.RandomMatrix(13, StandardNet.InputSize, 8);
        var path = Path.Combine(Path.GetTempPath(), $"ntkdsl-tiles-{Guid.NewGuid():N}.npy");
        try
        {
            foreach (var x2 in new[] { TestMath.RandomMatrix(9, StandardNet.InputSize, 9), null })
            {
                var expected = CpuNetwork<StandardNet, double>.Ntk(theta, x1, x2, mode);
                using (var sink = new NpyTileSink<double>(path, x1.Rows, (x2 ?? x1).Rows, mode, StandardNet.OutputSize))
                    TiledNtk.Compute<StandardNet, double>(theta, x1, x2, mode, sink, new TiledNtkOptions { TileRows = tileRows });
                var written = NtkDsl.IO.Npy.ReadMatrix<double>(path);
                Assert.Equal((expected.Rows, expected.Cols), (written.Rows, written.Cols));
                Assert.True(TestMath.RelativeError(written.Data, expected.Data) < 1e-12, $"{mode}, tile {tileRows}, x2 {(x2 is null ? "= x1" : "distinct")}");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Plans_cover_every_sample_pair_once_and_mirror_only_symmetric_kernels()
    {
        foreach (var (n1, n2, tile, symmetric, mirror) in new[] { (10, 10, 4, true, true), (10, 10, 4, true, false), (10, 7, 3, false, true), (5, 9, 100, false, false), (1, 1, 1, true, true) })
        {
            var plan = NtkTilePlan.Create(n1, n2, tile, symmetric, mirror);
            var seen = new int[n1, n2];
            foreach (var t in plan.Tiles)
            {
                Assert.InRange(t.RowCount, 1, plan.TileRows);
                Assert.InRange(t.ColumnCount, 1, plan.TileColumns);
                for (int i = 0; i < t.RowCount; i++)
                    for (int j = 0; j < t.ColumnCount; j++)
                    {
                        seen[t.RowStart + i, t.ColumnStart + j]++;
                        if (plan.MirrorLower && t.ColumnStart != t.RowStart) seen[t.ColumnStart + j, t.RowStart + i]++;
                    }
            }

            foreach (int count in seen) Assert.Equal(1, count);
            // Balanced blocks: the last block is at most one sample shorter per block than the others.
            Assert.True(plan.RowBlocks * plan.TileRows - n1 < plan.RowBlocks, $"{n1} in {plan.RowBlocks} blocks of {plan.TileRows}");
        }

        Assert.Equal(TiledNtk.Plan<ReluNet, double>(50, 50, true, NtkMode.Trace), TiledNtk.Plan<ReluNet, double>(50, 50, true, NtkMode.Trace));
        Assert.False(NtkTilePlan.Create(6, 6, 2, symmetric: false, mirrorLower: true).MirrorLower);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Callback_tiles_cover_the_kernel_exactly_once(NtkMode mode, int tileRows)
    {
        var theta = StandardNet.InitializeParameters<double>(4);
        var x1 = TestMath.RandomMatrix(19, StandardNet.InputSize, 5);
        int o = StandardNet.OutputSize;
        foreach (var x2 in new[] { TestMath.RandomMatrix(11, StandardNet.InputSize, 6), null })
        {
            var expected = CpuNetwork<StandardNet, double>.Ntk(theta, x1, x2, mode);
            var seen = new int[expected.Rows, expected.Cols];
            int n1 = x1.Rows;
            TiledNtk.Compute<StandardNet, double>(theta, x1, x2, mode, (tile, values) =>
            {
                for (int i = 0; i < values.Rows; i++)
                    for (int j = 0; j < values.Cols; j++)
                    {
                        var (r, c) = mode switch
                        {
                            NtkMode.Full => (tile.RowStart * o + i, tile.ColumnStart * o + j),
                            NtkMode.Diagonal => (i / tile.RowCount * n1 + tile.RowStart + i % tile.RowCount, tile.ColumnStart + j),
                            _ => (tile.RowStart + i, tile.ColumnStart + j),
                        };
                        seen[r, c]++;
                        Assert.True(Math.Abs(values[i, j] - expected[r, c]) <= 1e-12 * (1 + Math.Abs(expected[r, c])), $"({r}, {c})");
                    }
            }, new TiledNtkOptions { TileRows = tileRows });
            foreach (int count in seen) Assert.Equal(1, count);
        }
    }

    [Fact]
    public void Peak_managed_memory_stays_within_the_budget()
    {
        const int n = 700;
        const long budget = 6L << 20;
        var theta = TiledBudgetNet.InitializeParameters<double>(1);
        var x = TestMath.RandomMatrix(n, TiledBudgetNet.InputSize, 2);
        var destination = new Matrix<double>(n, n);
        // The untiled computation would hold several N x N matrices: far beyond the budget.
        Assert.True(TiledNtk.EstimateTileBytes<TiledBudgetNet, double>(n, n, NtkMode.Trace) > 2 * budget);

        long peak = 0;
        var options = new TiledNtkOptions { MemoryBudgetBytes = budget };
        GC.Collect();
        GC.WaitForPendingFinalizers();
        long baseline = GC.GetTotalMemory(forceFullCollection: true);
        int tiles = 0;
        TiledNtk.Compute<TiledBudgetNet, double>(theta, x, x.Transpose().Transpose(), NtkMode.Trace, (tile, values) =>
        {
            // Live memory while a tile exists: the workspace, Grams and tile buffers are all allocated now.
            if (tiles++ % 3 == 0) peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true) - baseline);
            Assert.Equal(tile.RowCount, values.Rows);
        }, options);
        Assert.True(tiles > 4, $"{tiles} tiles");
        Assert.True(peak > 0 && peak <= budget, $"peak {peak} bytes, budget {budget}");

        // The destination overload under the same budget agrees with the untiled kernel.
        TiledNtk.Compute<TiledBudgetNet, double>(theta, x, null, NtkMode.Trace, destination, options);
        var expected = CpuNetwork<TiledBudgetNet, double>.Ntk(theta, x);
        Assert.True(TestMath.RelativeError(destination.Data, expected.Data) < 1e-12);
    }

    [Fact]
    public void Too_small_budget_and_bad_arguments_are_rejected()
    {
        var theta = ReluNet.InitializeParameters<double>(1);
        var x = TestMath.RandomMatrix(5, ReluNet.InputSize, 2);
        var destination = new Matrix<double>(5, 5);
        Assert.Throws<ArgumentException>(() => TiledNtk.Compute<ReluNet, double>(theta, x, null, NtkMode.Trace, destination, new TiledNtkOptions { MemoryBudgetBytes = 1000 }));
        Assert.Throws<ArgumentException>(() => TiledNtk.Compute<ReluNet, double>(theta, x, null, NtkMode.Full, destination));
        Assert.Throws<ArgumentException>(() => TiledNtk.Compute<ReluNet, double>(theta, TestMath.RandomMatrix(5, 2, 1), null, NtkMode.Trace, destination));
        x[0, 0] = double.NaN;
        Assert.Throws<ArgumentException>(() => TiledNtk.Compute<ReluNet, double>(theta, x, null, NtkMode.Trace, destination));
    }

    [Fact]
    public void A_parameter_vector_of_the_wrong_length_or_with_NaN_is_named_with_the_expected_length_or_the_index()
    {
        var x = TestMath.RandomMatrix(5, ReluNet.InputSize, 2);
        var destination = new Matrix<double>(5, 5);
        var shortTheta = new double[ReluNet.ParameterCount - 1];
        var nanTheta = ReluNet.InitializeParameters<double>(1);
        nanTheta[7] = double.NaN;
        var checks = new (Action Call, string Name, string Says)[]
        {
            (() => TiledNtk.Compute<ReluNet, double>(shortTheta, x, null, NtkMode.Trace, destination), "parameters",
                $"must have length ParameterCount = {ReluNet.ParameterCount} ({ReluNet.Description.Name}), but has length {ReluNet.ParameterCount - 1}"),
            (() => TiledNtk.Compute<ReluNet, double>(nanTheta, x, null, NtkMode.Trace, destination), "parameters", "contains NaN at index 7"),
            (() => _ = new LinearizedModel<ReluNet, double>(shortTheta), "initialParameters", $"but has length {ReluNet.ParameterCount - 1}"),
            (() => _ = new LinearizedModel<ReluNet, double>(nanTheta), "initialParameters", "contains NaN at index 7"),
        };
        foreach (var (call, name, says) in checks)
        {
            var e = Assert.Throws<ArgumentException>(call);
            Assert.Equal(name, e.ParamName);
            Assert.Contains(says, e.Message);
        }
    }
}

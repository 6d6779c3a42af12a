namespace NtkDsl.Tests.Cpu;

/// <summary>The tiled Cholesky and solves against the dense factorization of <see cref="CpuLinearAlgebra"/>.</summary>
public sealed class TiledSymmetricMatrixTests
{
    /// <summary>A random symmetric positive-definite matrix B B^T / m + 0.05 I (condition number ~1e2..1e3).</summary>
    private static Matrix<double> RandomSpd(int n, int seed)
    {
        var rng = new Random(seed);
        int m = n + 3;
        var b = new Matrix<double>(n, m);
        for (int i = 0; i < b.Data.Length; i++) b.Data[i] = rng.NextDouble() * 2 - 1;
        var a = CpuLinearAlgebra.Multiply(b, false, b, true);
        for (int i = 0; i < a.Data.Length; i++) a.Data[i] /= m;
        for (int i = 0; i < n; i++) a[i, i] += 0.05;
        // Exactly symmetric (the product's two triangles may differ in the last bit).
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++) a[i, j] = a[j, i];
        return a;
    }

    private static TiledSymmetricMatrix Tiled(Matrix<double> a, int tile)
    {
        var t = new TiledSymmetricMatrix(a.Rows, tile);
        for (int i = 0; i < t.TileCount; i++)
            for (int j = i; j < t.TileCount; j++)
            {
                var dst = t.Tile(i, j);
                int cols = t.Extent(j);
                for (int r = 0; r < t.Extent(i); r++)
                    for (int c = 0; c < cols; c++) dst[r * cols + c] = a[i * t.TileSize + r, j * t.TileSize + c];
            }

        return t;
    }

    public static TheoryData<int, int> Sizes => new()
    {
        { 1, 1 }, { 7, 3 }, { 37, 5 }, { 37, 8 }, { 37, 37 }, { 37, 50 }, { 131, 17 }, { 203, 64 }, { 301, 96 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Stores_the_matrix_and_counts_its_bytes(int n, int tile)
    {
        var a = RandomSpd(n, seed: n + tile);
        var t = Tiled(a, tile);
        Assert.Equal(a.Data, t.ToDense().Data);
        Assert.Equal(TiledSymmetricMatrix.BytesFor(n, tile), t.StoredBytes);
        Assert.Equal(Enumerable.Range(0, n).Sum(i => a[i, i]), t.Trace(), 1e-12);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Factor_and_solve_match_the_dense_Cholesky(int n, int tile)
    {
        var a = RandomSpd(n, seed: 100 + n + tile);
        var dense = CpuLinearAlgebra.TryCholesky(a, out int denseFailed);
        Assert.Equal(-1, denseFailed);
        var t = Tiled(a, tile);
        var steps = new List<double>();
        Assert.Equal(-1, t.TryFactor(onStep: steps.Add));
        Assert.True(t.IsFactored);
        Assert.Equal(t.TileCount, steps.Count);
        Assert.Equal(1.0, steps[^1], 1e-12);

        // U = L^T entry by entry (different blockings round differently: 1e-10 relative to the largest entry).
        var upper = dense!.Lower().Transpose();
        double scale = upper.Data.Max(Math.Abs);
        var tiledUpper = t.ToDense();
        for (int i = 0; i < upper.Data.Length; i++) Assert.True(Math.Abs(upper.Data[i] - tiledUpper.Data[i]) <= 1e-10 * scale, $"U entry {i}: {upper.Data[i]} vs {tiledUpper.Data[i]}");
        Assert.Equal(dense.Diagonal(), t.FactorDiagonal(), (x, y) => Math.Abs(x - y) <= 1e-10 * scale);

        var rng = new Random(n);
        var b = new Matrix<double>(n, 3);
        for (int i = 0; i < b.Data.Length; i++) b.Data[i] = rng.NextDouble() - 0.5;
        var x = t.Solve(b);
        var expected = dense.Solve(b);
        double xScale = expected.Data.Max(Math.Abs);
        for (int i = 0; i < x.Data.Length; i++) Assert.True(Math.Abs(x.Data[i] - expected.Data[i]) <= 1e-9 * xScale, $"X entry {i}: {x.Data[i]} vs {expected.Data[i]}");
        // And the residual A X - B itself, independent of the dense factor.
        var residual = CpuLinearAlgebra.Multiply(a, false, x, false);
        for (int i = 0; i < b.Data.Length; i++) Assert.True(Math.Abs(residual.Data[i] - b.Data[i]) <= 1e-9, $"residual {i}");
    }

    [Theory]
    [InlineData(37, 5, 23)]
    [InlineData(37, 8, 0)]
    [InlineData(50, 16, 49)]
    [InlineData(50, 16, 32)]
    public void A_matrix_that_is_not_positive_definite_fails_at_the_dense_pivot(int n, int tile, int bad)
    {
        // Make pivot 'bad' fail: row/column 'bad' becomes a copy of an earlier one (or a negative diagonal for 0).
        var a = RandomSpd(n, seed: 7);
        if (bad == 0) a[0, 0] = -1;
        else
        {
            for (int j = 0; j < n; j++) a[bad, j] = a[j, bad] = a[bad - 1, j];
            a[bad, bad] = a[bad - 1, bad - 1] - 1e-3;
        }

        _ = CpuLinearAlgebra.TryCholesky(a, out int denseFailed);
        Assert.Equal(bad, denseFailed);
        var t = Tiled(a, tile);
        Assert.Equal(bad, t.TryFactor());
        Assert.False(t.IsFactored);
        Assert.True(t.PivotValue(bad) <= 0);
        Assert.Throws<InvalidOperationException>(() => t.Solve(new Matrix<double>(n, 1)));
    }

    [Fact]
    public void A_pivot_below_the_floor_counts_as_a_failure()
    {
        var a = RandomSpd(20, seed: 3);
        var t = Tiled(a, 6);
        Assert.Equal(0, t.TryFactor(pivotFloor: 1e6));
    }

    [Fact]
    public void Bad_arguments_are_named()
    {
        Assert.Equal("size", Assert.Throws<ArgumentOutOfRangeException>(() => new TiledSymmetricMatrix(0, 4)).ParamName);
        Assert.Equal("tileSize", Assert.Throws<ArgumentOutOfRangeException>(() => new TiledSymmetricMatrix(4, 0)).ParamName);
        var t = Tiled(RandomSpd(10, seed: 1), 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Tile(2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.AddToDiagonal(double.NaN));
        Assert.Equal(-1, t.TryFactor());
        var e = Assert.Throws<ArgumentException>(() => t.Solve(new Matrix<double>(9, 2)));
        Assert.Contains("10 rows", e.Message);
        var nan = new Matrix<double>(10, 1);
        nan.Data[3] = double.NaN;
        Assert.Throws<ArgumentException>(() => t.Solve(nan));
        Assert.Throws<InvalidOperationException>(() => t.TryFactor());
        Assert.Throws<InvalidOperationException>(() => t.AddToDiagonal(1));
    }
}

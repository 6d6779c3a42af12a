using System.Numerics;
using NtkDsl.Cpu.Gemm;
using NtkDsl.Cpu.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra;
using MathNetMatrix = MathNet.Numerics.LinearAlgebra.Matrix<double>;

namespace NtkDsl.Tests.Cpu;

/// <summary>
/// <see cref="CpuLinearAlgebra"/> (recursive Cholesky, TRSM, blocked tridiagonalization + QL + WY back-transformation)
/// against explicit identities computed here with plain loops in double (L L^T = A, A X = B, A V = V diag(l),
/// V^T V = I) and against MathNet's managed LAPACK ports, on sizes around every block boundary (leaf 64, panel 32,
/// back-transformation blocks of 96, rotation chunks of 512), ill-conditioned and rank-deficient matrices, float32 and
/// float64. Tolerances are c n eps ||A|| (backward-stable algorithms), with c = 4 and the size included.
/// </summary>
[Collection(SerialCollection.Name)]
public class LinearAlgebraTests
{
    public static TheoryData<int> Sizes => new() { 1, 2, 3, 7, 33, 64, 65, 97, 131, 301, 530 };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Cholesky_reproduces_the_matrix_and_solves_many_right_hand_sides(int n)
    {
        var a = Spd(n, seed: n, logCondition: 3);
        var factor = CpuLinearAlgebra.TryCholesky(a, out int failed);
        Assert.Equal(-1, failed);
        Assert.NotNull(factor);
        var l = factor.Lower();
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) Assert.Equal(0.0, l[i, j]);
        double scale = MaxAbs(a.Data);
        Assert.True(MaxDiff(Mul(l, T(l)), a) <= 4 * n * Eps * scale, $"L L^T - A too large at n = {n}");

        // 300 right-hand sides: more than one column chunk of the unblocked solve.
        var b = Random(n, 300, seed: 7);
        var x = factor.Solve(b);
        double residual = MaxDiff(Mul(a, x), b);
        double bound = 4 * n * Eps * scale * MaxAbs(x.Data) * n;
        Assert.True(residual <= bound, $"A X - B = {residual:G3} > {bound:G3} at n = {n}");
    }

    [Theory]
    [InlineData(97)]
    [InlineData(530)]
    public void Disposed_factor_throws_and_its_reused_storage_gives_exact_factors(int n)
    {
        // The storage of a disposed factor goes back to the array pool with its entries (both triangles) still set; a
        // later factorization that gets it must not read them. Each factor is compared with one of the same matrix
        // factored in storage that no factor used before (rented while the other factors are alive).
        var a = Spd(n, seed: 3, logCondition: 6);
        var b = Spd(n, seed: 4, logCondition: 2);
        var first = CpuLinearAlgebra.TryCholesky(a, out _)!;
        var fresh = CpuLinearAlgebra.TryCholesky(b, out _)!;
        var expected = fresh.Lower();
        var rhs = Random(n, 5, seed: 9);
        var expectedSolve = fresh.Solve(rhs);
        first.Dispose();
        first.Dispose(); // idempotent
        Assert.Equal(n, first.Size);
        Assert.Throws<ObjectDisposedException>(() => first.Lower());
        Assert.Throws<ObjectDisposedException>(() => first.Diagonal());
        Assert.Throws<ObjectDisposedException>(() => first.Solve(rhs));

        for (int round = 0; round < 3; round++)
        {
            using var again = CpuLinearAlgebra.TryCholesky(b, out int failed)!;
            Assert.Equal(-1, failed);
            Assert.Equal(expected.Data, again.Lower().Data);
            Assert.Equal(expectedSolve.Data, again.Solve(rhs).Data);
        }

        // A failed factorization hands its storage back too, and a later success is unaffected.
        var indefinite = new Matrix<double>(n, n, (double[])b.Data.Clone());
        indefinite[n / 2, n / 2] = -1;
        Assert.Null(CpuLinearAlgebra.TryCholesky(indefinite, out int pivot));
        Assert.InRange(pivot, 0, n / 2);
        using var after = CpuLinearAlgebra.TryCholesky(b, out _)!;
        Assert.Equal(expected.Data, after.Lower().Data);
        fresh.Dispose();
    }

    [Theory]
    [InlineData(65)]
    [InlineData(301)]
    public void Cholesky_matches_MathNet(int n)
    {
        var a = Spd(n, seed: 3, logCondition: 2);
        var ours = CpuLinearAlgebra.TryCholesky(a, out _)!.Lower();
        var theirs = MathNetMatrix.Build.DenseOfRowMajor(n, n, a.Data).Cholesky().Factor;
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                Assert.True(Math.Abs(ours[i, j] - theirs[i, j]) <= 1e-10 * Math.Sqrt(MaxAbs(a.Data)), $"L[{i}, {j}]");
    }

    [Theory]
    [InlineData(5, 0)]
    [InlineData(130, 0)]
    [InlineData(130, 77)]
    [InlineData(301, 200)]
    public void Failed_cholesky_reports_the_first_non_positive_pivot(int n, int k)
    {
        // The leading k x k block stays positive definite; lowering a[k, k] below its Schur complement makes pivot k negative.
        var a = Spd(n, seed: 11, logCondition: 1);
        a[k, k] -= 10 * MaxAbs(a.Data) + 10;
        Assert.Null(CpuLinearAlgebra.TryCholesky(a, out int failed));
        Assert.Equal(k, failed);
    }

    [Fact]
    public void Rank_deficient_matrix_fails_cholesky_at_or_after_its_rank()
    {
        int n = 150, rank = 90;
        var g = Random(n, rank, seed: 5);
        var a = Mul(g, T(g));
        Symmetrize(a);
        var factor = CpuLinearAlgebra.TryCholesky(a, out int failed);
        if (factor is null) Assert.InRange(failed, rank, n - 1);
        else Assert.True(factor.Diagonal()[rank..].Min() < 1e-6 * factor.Diagonal()[..rank].Min(), "no tiny pivot past the rank");
    }

    // The task-parallel tile Cholesky (two threads, small tiles so that odd sizes give many tiles and a short last one).
    [Theory]
    [InlineData(37, 12)]
    [InlineData(301, 48)]
    [InlineData(530, 96)]
    [InlineData(701, 288)]   // the float64 tile of large n: updates of depth 288 (one depth block of the GEMM, up to 320)
    [InlineData(577, 288)]   // two tiles of 288 and a last one of a single row
    [InlineData(1001, 192)]  // the default tile from n = 960 (five tile rows of 192 and a short one)
    public void Tiled_cholesky_reproduces_the_matrix_matches_MathNet_and_does_not_depend_on_the_schedule(int n, int tile)
    {
        var a = Spd(n, seed: 21 + n, logCondition: 6);
        var (factor, failed) = WithTiles(tile, () => (CpuLinearAlgebra.TryCholesky(a, out int f), f));
        Assert.Equal(-1, failed);
        var l = factor!.Lower();
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) Assert.Equal(0.0, l[i, j]);
        double scale = MaxAbs(a.Data);
        Assert.True(MaxDiff(Mul(l, T(l)), a) <= 4 * n * Eps * scale, $"L L^T - A too large at n = {n}");
        var theirs = MathNetMatrix.Build.DenseOfRowMajor(n, n, a.Data).Cholesky().Factor;
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                Assert.True(Math.Abs(l[i, j] - theirs[i, j]) <= 1e-8 * Math.Sqrt(scale), $"L[{i}, {j}] differs from MathNet's");
        // Every tile takes its updates one panel at a time in panel order: repeated runs agree to the last bit.
        for (int run = 0; run < 3; run++)
            Assert.Equal(l.Data, WithTiles(tile, () => CpuLinearAlgebra.TryCholesky(a, out _)!.Lower()).Data);
        var b = Random(n, 70, seed: 8);
        var x = factor.Solve(b);
        Assert.True(MaxDiff(Mul(a, x), b) <= 4 * n * Eps * scale * MaxAbs(x.Data) * n, "A X - B");
    }

    [Theory]
    [InlineData(301, 48, 0)]
    [InlineData(301, 48, 47)]
    [InlineData(301, 48, 48)]
    [InlineData(301, 48, 200)]
    [InlineData(301, 48, 300)]
    [InlineData(701, 288, 287)]
    [InlineData(701, 288, 600)]
    public void Tiled_cholesky_reports_the_first_non_positive_pivot_and_its_schur_complement(int n, int tile, int k)
    {
        var a = Spd(n, seed: 11, logCondition: 1);
        // The Schur complement of the leading k x k block at (k, k), computed by the recursive (one-tile) factorization.
        double schur = SchurPivot(a, k);
        a[k, k] -= schur + 1;
        var (factor, failed) = WithTiles(tile, () => (CpuLinearAlgebra.TryCholesky(a, out int f), f));
        Assert.Null(factor);
        Assert.Equal(k, failed);
        a[k, k] += 2;   // now the pivot is +1: the factorization goes through
        Assert.NotNull(WithTiles(tile, () => CpuLinearAlgebra.TryCholesky(a, out _)));
    }

    [Fact]
    public void Tiled_cholesky_of_a_rank_deficient_matrix_fails_at_or_after_its_rank()
    {
        int n = 301, rank = 150;
        var g = Random(n, rank, seed: 5);
        var a = Mul(g, T(g));
        Symmetrize(a);
        var (factor, failed) = WithTiles(48, () => (CpuLinearAlgebra.TryCholesky(a, out int f), f));
        if (factor is null) Assert.InRange(failed, rank, n - 1);
        else Assert.True(factor.Diagonal()[rank..].Min() < 1e-6 * factor.Diagonal()[..rank].Min(), "no tiny pivot past the rank");
    }

    [Theory]
    [InlineData(97, 24)]
    [InlineData(301, 96)]
    [InlineData(1001, 384)]   // the float32 tile of large n (two K blocks per update, a short last tile)
    [InlineData(769, 384)]    // two tiles of 384 and a last one of a single row
    [InlineData(1001, 192)]   // the default tile from n = 960
    public void Tiled_float32_cholesky_satisfies_L_LT_equals_A(int n, int tile)
    {
        var a64 = Spd(n, seed: 4, logCondition: 2);
        var a = new Matrix<float>(n, n, a64.Data.Select(v => (float)v).ToArray());
        int failed = -2;
        var l = WithTiles(tile, () => NtkDsl.Cpu.LinearAlgebra.Cholesky<float>.TileOverride = tile, () => CpuLinearAlgebra.TryCholesky(a, out failed))!.Lower();
        Assert.Equal(-1, failed);
        var l64 = new Matrix<double>(n, n, l.Data.Select(v => (double)v).ToArray());
        var af = new Matrix<double>(n, n, a.Data.Select(v => (double)v).ToArray());
        Assert.True(MaxDiff(Mul(l64, T(l64)), af) <= 4 * n * 1.2e-7 * MaxAbs(af.Data));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Eigendecomposition_satisfies_A_V_equals_V_diag_l_and_V_is_orthonormal(int n)
        => CheckEigen(Spd(n, seed: 100 + n, logCondition: 4), 60);

    [Theory]
    [InlineData(131)]
    [InlineData(302)]
    public void Eigendecomposition_is_right_on_every_symmetric_product_kernel_and_thread_split(int n)
    {
        // The tridiagonalization's A v takes rows four at a time in AVX-512 or Vector256 registers (the rest one by one)
        // and splits the rows between threads only above ParallelMatVecBytes: here every kernel, with and without the split.
        var a = Spd(n, seed: 7 + n, logCondition: 5);
        var a32 = new Matrix<float>(n, n, a.Data.Select(v => (float)v).ToArray());
        var af = new Matrix<double>(n, n, a32.Data.Select(v => (double)v).ToArray());
        long threshold = SymmetricEigensolver<double>.ParallelMatVecBytes;
        foreach (bool avx2 in new[] { false, true })
        foreach (bool split in new[] { false, true })
        {
            PackedGemm<double>.ForceAvx2Kernel = PackedGemm<float>.ForceAvx2Kernel = avx2;
            SymmetricEigensolver<double>.ParallelMatVecBytes = SymmetricEigensolver<float>.ParallelMatVecBytes = split ? 0 : long.MaxValue;
            try
            {
                CheckEigen(a, 60);
                var (values, vectors) = CpuLinearAlgebra.SymmetricEigen(a32);
                CheckEigenIdentities(af, values.Select(v => (double)v).ToArray(),
                    new Matrix<double>(n, n, vectors.Data.Select(v => (double)v).ToArray()), 60 * n * 1.2e-7, 60 * n * 1.2e-7);
            }
            finally
            {
                PackedGemm<double>.ForceAvx2Kernel = PackedGemm<float>.ForceAvx2Kernel = false;
                SymmetricEigensolver<double>.ParallelMatVecBytes = SymmetricEigensolver<float>.ParallelMatVecBytes = threshold;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Factored_eigenvectors_multiply_like_the_formed_eigenvectors(int n)
    {
        // X M and X^T M from the factors Q Z (reflector blocks of 96, both directions) against plain-loop products with the
        // formed V, which the identities check; X^T (X M) = M checks the two directions against each other.
        var a = Spd(n, seed: 200 + n, logCondition: 4);
        var (values, v) = CpuLinearAlgebra.SymmetricEigen(a);
        CheckEigenIdentities(a, values, v, 60 * n * Eps, 60 * n * Eps);
        var (factoredValues, factored) = CpuLinearAlgebra.SymmetricEigenFactored(a);
        Assert.Equal(values, factoredValues);
        Assert.True(factored.IsFactored);
        foreach (int k in new[] { 1, 3, 130 })
        {
            var m = Random(n, k, seed: k);
            var xm = Product(factored, m, transpose: false);
            var xtm = Product(factored, m, transpose: true);
            double tol = 60 * n * Eps * MaxAbs(m.Data);
            Assert.True(MaxDiff(xm, Mul(v, m)) <= tol, $"X M at n = {n}, k = {k}: {MaxDiff(xm, Mul(v, m)):G3}");
            Assert.True(MaxDiff(xtm, Mul(T(v), m)) <= tol, $"X^T M at n = {n}, k = {k}: {MaxDiff(xtm, Mul(T(v), m)):G3}");
            Assert.True(MaxDiff(Product(factored, xm, transpose: true), m) <= tol, $"X^T X M - M at n = {n}, k = {k}");
        }

        Assert.True(MaxDiff(new Matrix<double>(n, n, factored.Expand()), v) <= 60 * n * Eps, $"expanded X at n = {n}");
        Assert.False(factored.IsFactored);
        Assert.Throws<InvalidOperationException>(() => Product(factored, Random(n, 1, seed: 1), transpose: false));
    }

    [Fact]
    public void Float32_factored_eigenvectors_multiply_like_the_formed_eigenvectors()
    {
        int n = 205;
        var a = Spd(n, seed: 21, logCondition: 2);
        var a32 = new Matrix<float>(n, n, a.Data.Select(x => (float)x).ToArray());
        var (_, v) = CpuLinearAlgebra.SymmetricEigen(a32);
        var (_, factored) = CpuLinearAlgebra.SymmetricEigenFactored(a32);
        var m = Random(n, 5, seed: 3);
        var m32 = m.Data.Select(x => (float)x).ToArray();
        var v64 = new Matrix<double>(n, n, v.Data.Select(x => (double)x).ToArray());
        var xm = factored.Multiply(new Matrix<float>(n, 5, m32)).Data;
        var xtm = factored.TransposeMultiply(new Matrix<float>(n, 5, m32)).Data;
        var m64 = new Matrix<double>(n, 5, m32.Select(x => (double)x).ToArray());
        double tol = 60 * n * 1.2e-7;
        Assert.True(MaxDiff(new Matrix<double>(n, 5, xm.Select(x => (double)x).ToArray()), Mul(v64, m64)) <= tol);
        Assert.True(MaxDiff(new Matrix<double>(n, 5, xtm.Select(x => (double)x).ToArray()), Mul(T(v64), m64)) <= tol);
    }

    [Fact]
    public void A_decomposition_multiplies_in_factored_form_until_forming_the_eigenvectors_is_cheaper()
    {
        // 2 n^2 k multiply-adds per factored product against n^3 to form V: a few narrow products stay factored, a wide one
        // (or the sum of many) forms V first; every result equals the product with the formed V.
        int n = 120;
        var a = Spd(n, seed: 5, logCondition: 3);
        var decomposition = CpuKernelLinearAlgebra.Instance.SymmetricEigen(a);
        Assert.True(decomposition.IsFactored);
        var narrow = Random(n, 4, seed: 2);
        var wide = Random(n, n / 2, seed: 4);
        var narrowProduct = decomposition.MultiplyEigenvectors(narrow, transpose: true, CpuKernelLinearAlgebra.Instance);
        Assert.True(decomposition.IsFactored);
        var wideProduct = decomposition.MultiplyEigenvectors(wide, transpose: false, CpuKernelLinearAlgebra.Instance);
        Assert.False(decomposition.IsFactored);
        var v = decomposition.Eigenvectors;
        CheckEigenIdentities(a, decomposition.Values, v, 60 * n * Eps, 60 * n * Eps);
        Assert.True(MaxDiff(narrowProduct, Mul(T(v), narrow)) <= 60 * n * Eps);
        Assert.True(MaxDiff(wideProduct, Mul(v, wide)) <= 60 * n * Eps);
        Assert.Throws<ArgumentException>(() => decomposition.MultiplyEigenvectors(Random(n + 1, 1, seed: 1), false, CpuKernelLinearAlgebra.Instance));
    }

    [Fact]
    public void A_decomposition_shared_between_threads_gives_every_caller_the_same_products()
    {
        // Narrow products (factored), wide ones (which form V) and reads of Eigenvectors race on one decomposition.
        int n = 150;
        var a = Spd(n, seed: 8, logCondition: 3);
        var (_, v) = CpuLinearAlgebra.SymmetricEigen(a);
        var decomposition = CpuKernelLinearAlgebra.Instance.SymmetricEigen(a);
        var operands = Enumerable.Range(0, 16).Select(i => Random(n, i % 4 == 3 ? n / 2 : 2, seed: 30 + i)).ToArray();
        var results = new Matrix<double>[operands.Length];
        Parallel.For(0, operands.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            if (i % 5 == 4) _ = decomposition.Eigenvectors;
            results[i] = decomposition.MultiplyEigenvectors(operands[i], transpose: i % 2 == 1, CpuKernelLinearAlgebra.Instance);
        });
        for (int i = 0; i < operands.Length; i++)
        {
            var expected = i % 2 == 1 ? Mul(T(v), operands[i]) : Mul(v, operands[i]);
            Assert.True(MaxDiff(results[i], expected) <= 60 * n * Eps, $"product {i}: {MaxDiff(results[i], expected):G3}");
        }

        Assert.False(decomposition.IsFactored);
    }

    private static Matrix<double> Product(FactoredEigenvectors<double> x, Matrix<double> m, bool transpose)
        => transpose ? x.TransposeMultiply(m) : x.Multiply(m);

    [Fact]
    public void Eigendecomposition_allocates_one_n_by_n_workspace_beyond_its_output()
    {
        // Every allocation counts (all threads; this collection runs alone), so this bounds the peak too: the output
        // (V and l), the input copy, and O(n) buffers (panels of 32 to 288 rows in the three stages, 1000 n in all here).
        int n = 1200;
        var a = Spd(n, seed: 9, logCondition: 3);
        CpuLinearAlgebra.SymmetricEigen(Spd(40, seed: 1, logCondition: 1));   // pools, JIT
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var (values, vectors) = CpuLinearAlgebra.SymmetricEigen(a);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        long bound = 8L * (2L * n * n + 1000L * n);
        Assert.True(allocated <= bound, $"allocated {allocated / 1e6:F1} MB > {bound / 1e6:F1} MB (2 n^2 + 1000 n doubles)");
        Assert.True(values[0] > 0 && vectors.Rows == n);
    }

    [Fact]
    public void Factored_eigendecomposition_and_its_products_stay_within_that_workspace()
    {
        // The factored form keeps the input copy (its reflectors) beside Z instead of forming V: the same 2 n^2 bound; a
        // product with k columns adds its operand-sized buffers, O(n k + 96 n).
        int n = 1200, k = 20;
        var a = Spd(n, seed: 10, logCondition: 3);
        var warm = CpuLinearAlgebra.SymmetricEigenFactored(Spd(40, seed: 1, logCondition: 1)).Eigenvectors;   // pools, JIT
        warm.Multiply(Random(40, 3, seed: 1));
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var (values, factored) = CpuLinearAlgebra.SymmetricEigenFactored(a);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        long bound = 8L * (2L * n * n + 1000L * n);
        Assert.True(allocated <= bound, $"allocated {allocated / 1e6:F1} MB > {bound / 1e6:F1} MB (2 n^2 + 1000 n doubles)");
        var m = Random(n, k, seed: 2);
        before = GC.GetTotalAllocatedBytes(precise: true);
        factored.Multiply(m);
        factored.TransposeMultiply(m);
        allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        bound = 8L * (4L * n * k + 1000L * n);
        Assert.True(allocated <= bound, $"products allocated {allocated / 1e6:F1} MB > {bound / 1e6:F1} MB (4 n k + 1000 n doubles)");
        Assert.True(values[0] > 0 && factored.IsFactored);
    }

    [Theory]
    [InlineData(97)]
    [InlineData(300)]
    public void Eigendecomposition_of_indefinite_ill_conditioned_and_rank_deficient_matrices(int n)
    {
        var rng = new Random(n);
        // Indefinite with a 1e-14 spread of magnitudes.
        var q = Orthogonal(n, seed: 1);
        var values = Enumerable.Range(0, n).Select(i => (i % 2 == 0 ? 1 : -1) * Math.Pow(10, -14.0 * i / n)).ToArray();
        CheckEigen(Congruence(q, values), 60, values);
        // Rank-deficient (rank n/3): a 2n/3-fold zero eigenvalue.
        var g = Random(n, n / 3, seed: 2);
        var a = Mul(g, T(g));
        Symmetrize(a);
        CheckEigen(a, 60);
        // Repeated eigenvalues (identity plus a rank-one term) and an exactly diagonal matrix.
        var u = Random(n, 1, seed: 3);
        var b = Mul(u, T(u));
        for (int i = 0; i < n; i++) b[i, i] += 2;
        CheckEigen(b, 60);
        var diag = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++) diag[i, i] = rng.Next(-3, 4);
        CheckEigen(diag, 60);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(301)]
    public void Eigenvalues_match_MathNet(int n)
    {
        var a = Spd(n, seed: 9, logCondition: 6);
        var ours = CpuLinearAlgebra.SymmetricEigen(a).Eigenvalues;
        var theirs = MathNetMatrix.Build.DenseOfRowMajor(n, n, a.Data).Evd(Symmetricity.Symmetric).EigenValues
            .Select(c => c.Real).Order().ToArray();
        double scale = theirs.Max(Math.Abs);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(ours[i] - theirs[i]) <= 1e-12 * n * scale, $"l[{i}] {ours[i]} vs {theirs[i]}");
        // Eigenvalues only run implicit QL, with vectors divide and conquer: both backward stable, so they agree to n eps ||A||.
        var valuesOnly = CpuLinearAlgebra.SymmetricEigenvalues(a);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(ours[i] - valuesOnly[i]) <= 4 * n * Eps * scale, $"values-only l[{i}]");
    }

    public static TheoryData<int> TridiagonalSizes => new() { 1, 2, 3, 31, 33, 64, 65, 129, 301 };

    /// <summary>
    /// Spectra that stress divide and conquer's deflation and secular equation, given as already-tridiagonal (and
    /// diagonal) matrices so the tridiagonal solver sees them as they are: the 1-2-1 Toeplitz matrix (eigenvalues
    /// 2 - 2 cos(k pi / (n + 1)), a closed form), Wilkinson's W (pairs of eigenvalues equal to ~1e-14 relative), copies of
    /// W glued by 1e-10 (tight clusters), a graded diagonal plus tiny coupling, and a diagonal with repeated entries;
    /// eigenvalues checked against MathNet.
    /// </summary>
    [Theory]
    [MemberData(nameof(TridiagonalSizes))]
    public void Tridiagonal_eigensolver_handles_closed_form_clustered_and_repeated_spectra(int n)
    {
        var toeplitz = Tridiagonal(Enumerable.Repeat(2.0, n).ToArray(), Enumerable.Repeat(-1.0, n - 1).ToArray());
        CheckEigen(toeplitz, 60, Enumerable.Range(1, n).Select(k => 2 - 2 * Math.Cos(k * Math.PI / (n + 1))).ToArray());

        var wilkinson = Tridiagonal(Enumerable.Range(0, n).Select(i => Math.Abs(i - (n - 1) / 2.0)).ToArray(), Enumerable.Repeat(1.0, n - 1).ToArray());
        CheckEigen(wilkinson, 60, MathNetValues(wilkinson));

        const int Block = 21;
        var glued = Tridiagonal(
            Enumerable.Range(0, n).Select(i => (double)Math.Abs(i % Block - Block / 2)).ToArray(),
            Enumerable.Range(0, n - 1).Select(i => i % Block == Block - 1 ? 1e-10 : 1.0).ToArray());
        CheckEigen(glued, 60, MathNetValues(glued));

        var graded = Tridiagonal(Enumerable.Range(0, n).Select(i => Math.Pow(10, -12.0 * i / Math.Max(1, n - 1))).ToArray(),
            Enumerable.Range(0, n - 1).Select(i => 1e-13 * Math.Sin(i + 1)).ToArray());
        CheckEigen(graded, 60, MathNetValues(graded));

        var repeated = Tridiagonal(Enumerable.Range(0, n).Select(i => (double)(i % 3 - 1)).ToArray(), new double[Math.Max(0, n - 1)]);
        CheckEigen(repeated, 60, repeated.Data.Where((_, i) => i / n == i % n).ToArray());
    }

    [Theory]
    [InlineData(65)]
    [InlineData(257)]
    public void Eigendecomposition_of_clustered_spectra(int n)
    {
        // Two clusters of width 1e-12 and 1e-6 and a 5-fold repeated value, in a random basis (dense input).
        var values = Enumerable.Range(0, n).Select(i => i % 3 == 0 ? 1 + 1e-12 * i : i % 3 == 1 ? -0.5 + 1e-6 * i : i < 15 ? 0.25 : 2.0 * i / n).ToArray();
        CheckEigen(Congruence(Orthogonal(n, seed: 21), values), 60, values);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(65)]
    [InlineData(301)]
    public void Float32_eigendecomposition_of_clustered_and_rank_deficient_matrices(int n)
    {
        var g = Random(n, Math.Max(1, n / 3), seed: 8);
        var rankDeficient = Mul(g, T(g));
        Symmetrize(rankDeficient);
        var wilkinson = Tridiagonal(Enumerable.Range(0, n).Select(i => Math.Abs(i - (n - 1) / 2.0)).ToArray(), Enumerable.Repeat(1.0, n - 1).ToArray());
        foreach (var a64 in new[] { rankDeficient, wilkinson })
        {
            var a = new Matrix<float>(n, n, a64.Data.Select(v => (float)v).ToArray());
            var (values, vectors) = CpuLinearAlgebra.SymmetricEigen(a);
            var af = new Matrix<double>(n, n, a.Data.Select(v => (double)v).ToArray());
            CheckEigenIdentities(af, values.Select(v => (double)v).ToArray(),
                new Matrix<double>(n, n, vectors.Data.Select(v => (double)v).ToArray()), 60 * n * 1.2e-7, 60 * n * 1.2e-7);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(67)]
    [InlineData(301)]
    public void Float32_factorizations_satisfy_the_identities_to_float_precision(int n)
    {
        var a64 = Spd(n, seed: 4, logCondition: 2);
        var a = new Matrix<float>(n, n, a64.Data.Select(v => (float)v).ToArray());
        var l = CpuLinearAlgebra.TryCholesky(a, out int failed)!.Lower();
        Assert.Equal(-1, failed);
        var l64 = new Matrix<double>(n, n, l.Data.Select(v => (double)v).ToArray());
        var af = new Matrix<double>(n, n, a.Data.Select(v => (double)v).ToArray());
        double scale = MaxAbs(af.Data);
        Assert.True(MaxDiff(Mul(l64, T(l64)), af) <= 4 * n * 1.2e-7 * scale);

        // 85 right-hand sides: one full 64-column strip of the float32 unblocked solve and a partial one (whole vectors
        // and a scalar remainder).
        const int r = 85;
        var b64 = Random(n, r, seed: 12);
        var x = CpuLinearAlgebra.TryCholesky(a, out _)!.Solve(new Matrix<float>(n, r, b64.Data.Select(v => (float)v).ToArray()));
        var x64 = new Matrix<double>(n, r, x.Data.Select(v => (double)v).ToArray());
        double residual = MaxDiff(Mul(af, x64), new Matrix<double>(n, r, b64.Data.Select(v => (double)(float)v).ToArray()));
        Assert.True(residual <= 4 * n * 1.2e-7 * scale * MaxAbs(x64.Data) * n, $"float32 A X - B = {residual:G3} at n = {n}");

        var (values, vectors) = CpuLinearAlgebra.SymmetricEigen(a);
        CheckEigenIdentities(af, values.Select(v => (double)v).ToArray(),
            new Matrix<double>(n, n, vectors.Data.Select(v => (double)v).ToArray()), 4 * n * 1.2e-7, 4 * n * 1.2e-7);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Multiply_handles_every_transpose(bool ta, bool tb)
    {
        var a = Random(ta ? 37 : 29, ta ? 29 : 37, seed: 1);
        var b = Random(tb ? 41 : 37, tb ? 37 : 41, seed: 2);
        var expected = Mul(ta ? T(a) : a, tb ? T(b) : b);
        Assert.True(MaxDiff(CpuLinearAlgebra.Multiply(a, ta, b, tb), expected) <= 1e-13);
    }

    [Fact]
    public void Bad_input_is_rejected_by_argument_name()
    {
        var rect = new Matrix<double>(3, 4);
        Assert.Equal("symmetric", Assert.Throws<ArgumentException>(() => CpuLinearAlgebra.SymmetricEigen(rect)).ParamName);
        var asym = Spd(4, 1, 1);
        asym[0, 3] += 1;
        var e = Assert.Throws<ArgumentException>(() => CpuLinearAlgebra.TryCholesky(asym, out _));
        Assert.Equal("symmetric", e.ParamName);
        Assert.Contains("(0, 3)", e.Message);
        var nan = Spd(4, 1, 1);
        nan[2, 1] = double.NaN;
        e = Assert.Throws<ArgumentException>(() => CpuLinearAlgebra.SymmetricEigenvalues(nan));
        Assert.Contains("NaN", e.Message);
        var inf = Spd(3, 1, 1);
        inf[1, 1] = double.PositiveInfinity;
        Assert.Equal("symmetric", Assert.Throws<ArgumentException>(() => CpuLinearAlgebra.TryCholesky(inf, out _)).ParamName);
        var factor = CpuLinearAlgebra.TryCholesky(Spd(3, 1, 1), out _)!;
        Assert.Equal("rightHandSide", Assert.Throws<ArgumentException>(() => factor.Solve(new Matrix<double>(4, 1))).ParamName);
    }

    // The vectorized symmetry scan works in blocks of 64 (float) / 32 (double), full blocks transposed in registers, edge
    // blocks element by element (vector part and scalar tail of each block row): a bad entry anywhere, above or below the
    // diagonal, is named with its position, in both precisions.
    [Theory]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(70)]
    [InlineData(130)]
    public void Symmetry_and_finiteness_checks_find_every_bad_entry(int n)
    {
        var a64 = Spd(n, seed: n, logCondition: 1);
        var a32 = new Matrix<float>(n, n, a64.Data.Select(v => (float)v).ToArray());
        double tolerance = CpuLinearAlgebra.SymmetryTolerance * MaxAbs(a64.Data);
        foreach (var (i, j) in new[] { (0, 0), (0, n - 1), (n - 1, 0), (n / 2, n / 3), (n - 1, n - 1), (1, n - 2) })
        {
            foreach (double bad in new[] { double.NaN, double.NegativeInfinity })
            {
                var e = Assert.Throws<ArgumentException>(() => CpuLinearAlgebra.TryCholesky(With(a64, i, j, bad), out _));
                Assert.Equal("symmetric", e.ParamName);
                Assert.Contains($"at ({i}, {j})", e.Message);
                e = Assert.Throws<ArgumentException>(() => CpuLinearAlgebra.TryCholesky(With(a32, i, j, (float)bad), out _));
                Assert.Contains($"at ({i}, {j})", e.Message);
            }

            if (i == j) continue;
            var (lo, hi) = (Math.Min(i, j), Math.Max(i, j));
            var asym = With(a64, i, j, a64[i, j] + 2 * tolerance);
            var message = Assert.Throws<ArgumentException>(() => CpuLinearAlgebra.TryCholesky(asym, out _)).Message;
            Assert.Contains($"element ({lo}, {hi})", message);
            Assert.Throws<ArgumentException>(() => CpuLinearAlgebra.SymmetricEigenvalues(asym));
            var asym32 = With(a32, i, j, a32[i, j] + (float)(4 * tolerance));
            Assert.Contains($"element ({lo}, {hi})", Assert.Throws<ArgumentException>(() => CpuLinearAlgebra.TryCholesky(asym32, out _)).Message);
            // Within the tolerance: accepted, and the factor is that of the upper triangle.
            var within = With(a64, hi, lo, a64[hi, lo] + tolerance / 2);
            var l = CpuLinearAlgebra.TryCholesky(within, out _)!.Lower();
            Assert.Equal(CpuLinearAlgebra.TryCholesky(a64, out _)!.Lower().Data, l.Data);
        }
    }

    // Float32 tiles of 384 (the default at large n): the first non-positive pivot is reported on either side of a tile edge.
    [Theory]
    [InlineData(383)]
    [InlineData(384)]
    [InlineData(900)]
    public void Tiled_float32_cholesky_reports_the_first_non_positive_pivot(int k)
    {
        int n = 1001;
        var a64 = Spd(n, seed: 12, logCondition: 1);
        a64[k, k] -= 10 * MaxAbs(a64.Data) + 10;
        var a = new Matrix<float>(n, n, a64.Data.Select(v => (float)v).ToArray());
        int failed = -2;
        var factor = WithTiles(384, () => NtkDsl.Cpu.LinearAlgebra.Cholesky<float>.TileOverride = 384, () => CpuLinearAlgebra.TryCholesky(a, out failed));
        Assert.Null(factor);
        Assert.Equal(k, failed);
    }

    private static Matrix<TValue> With<TValue>(Matrix<TValue> a, int i, int j, TValue value) where TValue : unmanaged, IFloatingPointIeee754<TValue>
    {
        var copy = new Matrix<TValue>(a.Rows, a.Cols, (TValue[])a.Data.Clone());
        copy[i, j] = value;
        return copy;
    }

    // ---- helpers ----

    // Runs f with the tile Cholesky on two threads and tiles of the given side (float64 unless set otherwise by the caller).
    private static TResult WithTiles<TResult>(int tile, Func<TResult> f) => WithTiles(tile, () => NtkDsl.Cpu.LinearAlgebra.Cholesky<double>.TileOverride = tile, f);

    private static TResult WithTiles<TResult>(int tile, Action set, Func<TResult> f)
    {
        int threads = NtkDsl.Cpu.CpuSettings.MaxDegreeOfParallelism;
        try
        {
            NtkDsl.Cpu.CpuSettings.MaxDegreeOfParallelism = 2;
            set();
            return f();
        }
        finally
        {
            NtkDsl.Cpu.LinearAlgebra.Cholesky<double>.TileOverride = 0;
            NtkDsl.Cpu.LinearAlgebra.Cholesky<float>.TileOverride = 0;
            NtkDsl.Cpu.CpuSettings.MaxDegreeOfParallelism = threads;
        }
    }

    // a[k, k] - a[k, :k] A11^-1 a[:k, k], by plain Gaussian elimination in double.
    private static double SchurPivot(Matrix<double> a, int k)
    {
        int n = k + 1;
        var m = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) m[i, j] = a[i, j];
        for (int p = 0; p < k; p++)
            for (int i = p + 1; i < n; i++)
            {
                double f = m[i, p] / m[p, p];
                for (int j = p; j < n; j++) m[i, j] -= f * m[p, j];
            }

        return m[k, k];
    }

    private const double Eps = 2.220446049250313e-16;

    private static void CheckEigen(Matrix<double> a, double c, double[]? expectedValues = null)
    {
        int n = a.Rows;
        var (values, vectors) = CpuLinearAlgebra.SymmetricEigen(a);
        for (int i = 1; i < n; i++) Assert.True(values[i] >= values[i - 1], "eigenvalues not ascending");
        CheckEigenIdentities(a, values, vectors, c * n * Eps, c * n * Eps);
        if (expectedValues is not null)
        {
            var sorted = expectedValues.Order().ToArray();
            double scale = sorted.Max(Math.Abs);
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(values[i] - sorted[i]) <= c * n * Eps * scale, $"l[{i}]");
        }
    }

    private static void CheckEigenIdentities(Matrix<double> a, double[] l, Matrix<double> v, double residualTol, double orthoTol)
    {
        int n = a.Rows;
        double norm = Math.Max(l.Max(Math.Abs), MaxAbs(a.Data));
        var av = Mul(a, v);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                Assert.True(Math.Abs(av[i, j] - v[i, j] * l[j]) <= residualTol * norm, $"(A V - V diag(l))[{i}, {j}] at n = {n}");
        var vtv = Mul(T(v), v);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                Assert.True(Math.Abs(vtv[i, j] - (i == j ? 1 : 0)) <= orthoTol, $"(V^T V - I)[{i}, {j}] = {vtv[i, j] - (i == j ? 1 : 0):G3} at n = {n}");
    }

    /// <summary>Q diag(l) Q^T with a random orthogonal Q: eigenvalues spread over 10^-logCondition..1.</summary>
    private static Matrix<double> Spd(int n, int seed, double logCondition)
    {
        var values = Enumerable.Range(0, n).Select(i => Math.Pow(10, -logCondition * i / Math.Max(1, n - 1))).ToArray();
        return Congruence(Orthogonal(n, seed), values);
    }

    private static Matrix<double> Congruence(Matrix<double> q, double[] values)
    {
        int n = q.Rows;
        var qd = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) qd[i, j] = q[i, j] * values[j];
        var a = Mul(qd, T(q));
        Symmetrize(a);
        return a;
    }

    // Modified Gram-Schmidt on a Gaussian matrix (twice, for orthogonality to working precision).
    private static Matrix<double> Orthogonal(int n, int seed)
    {
        var q = Random(n, n, seed);
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < n; j++)
            {
                for (int k = 0; k < j; k++)
                {
                    double dot = 0;
                    for (int i = 0; i < n; i++) dot += q[i, k] * q[i, j];
                    for (int i = 0; i < n; i++) q[i, j] -= dot * q[i, k];
                }

                double norm = 0;
                for (int i = 0; i < n; i++) norm += q[i, j] * q[i, j];
                norm = Math.Sqrt(norm);
                for (int i = 0; i < n; i++) q[i, j] /= norm;
            }

        return q;
    }

    private static Matrix<double> Random(int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        var m = new Matrix<double>(rows, cols);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = 2 * rng.NextDouble() - 1;
        return m;
    }

    private static Matrix<double> Mul(Matrix<double> a, Matrix<double> b)
    {
        var c = new Matrix<double>(a.Rows, b.Cols);
        for (int i = 0; i < a.Rows; i++)
            for (int k = 0; k < a.Cols; k++)
            {
                double aik = a.Data[i * a.Cols + k];
                for (int j = 0; j < b.Cols; j++) c.Data[i * b.Cols + j] += aik * b.Data[k * b.Cols + j];
            }

        return c;
    }

    private static Matrix<double> T(Matrix<double> a) => a.Transpose();

    private static Matrix<double> Tridiagonal(double[] diagonal, double[] offDiagonal)
    {
        int n = diagonal.Length;
        var a = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++) a[i, i] = diagonal[i];
        for (int i = 0; i + 1 < n; i++) a[i, i + 1] = a[i + 1, i] = offDiagonal[i];
        return a;
    }

    private static double[] MathNetValues(Matrix<double> a)
        => MathNetMatrix.Build.DenseOfRowMajor(a.Rows, a.Cols, a.Data).Evd(Symmetricity.Symmetric).EigenValues.Select(c => c.Real).Order().ToArray();

    private static void Symmetrize(Matrix<double> a)
    {
        for (int i = 0; i < a.Rows; i++)
            for (int j = i + 1; j < a.Rows; j++) a[i, j] = a[j, i] = 0.5 * (a[i, j] + a[j, i]);
    }

    private static double MaxAbs(double[] d) => d.Length == 0 ? 0 : d.Max(Math.Abs);

    private static double MaxDiff(Matrix<double> a, Matrix<double> b)
    {
        double m = 0;
        for (int i = 0; i < a.Data.Length; i++) m = Math.Max(m, Math.Abs(a.Data[i] - b.Data[i]));
        return m;
    }
}

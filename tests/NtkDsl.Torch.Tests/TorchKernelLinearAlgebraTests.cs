namespace NtkDsl.Torch.Tests;

/// <summary>
/// The torch.linalg adapter of <see cref="IKernelLinearAlgebra"/> against MathNet (an independent provider):
/// the factorizations themselves, and the closed-form dynamics built on them.
/// </summary>
/// <remarks>
/// Both providers work in float64 with backward-stable algorithms (LAPACK syevd / potrf in libtorch,
/// MathNet's managed ports), so on kernels with condition number ~1e3 their results agree to ~1e-13;
/// 1e-10 relative (to the largest entry of the compared quantity) leaves room for the different
/// algorithms while still catching any layout, transpose or ordering error, which would be O(1).
/// </remarks>
public sealed class TorchKernelLinearAlgebraTests
{
    private const double Tolerance = 1e-10;

    private static readonly TorchKernelLinearAlgebra Torch = TorchKernelLinearAlgebra.Cpu;
    private static readonly MathNetLinearAlgebra MathNet = MathNetLinearAlgebra.Instance;

    [Fact]
    public void Eigendecomposition_matches_MathNet_and_reconstructs_the_kernel()
    {
        var k = Kernel(40, 3, seed: 1);
        var t = Torch.SymmetricEigen(k);
        var m = MathNet.SymmetricEigen(k);
        Assert.Equal(40, t.Eigenvalues.Count);
        AssertClose(m.Eigenvalues.ToArray(), t.Eigenvalues.ToArray(), "eigenvalues");
        for (int i = 1; i < 40; i++) Assert.True(t.Eigenvalues[i] >= t.Eigenvalues[i - 1]);

        // Eigenvectors are unique up to sign (the eigenvalues here are distinct): V diag(l) V^T must equal K
        // and V^T V the identity, whatever the signs.
        var v = t.Eigenvectors;
        var vtv = MathNet.Multiply(v, true, v, false);
        AssertClose(Identity(40).Data, vtv.Data, "V^T V");
        var vl = new Matrix<double>(40, 40);
        for (int i = 0; i < 40; i++)
            for (int j = 0; j < 40; j++)
                vl.Data[i * 40 + j] = v.Data[i * 40 + j] * t.Eigenvalues[j];
        AssertClose(k.Data, MathNet.Multiply(vl, false, v, true).Data, "V diag(l) V^T");
    }

    [Fact]
    public void A_disposed_factor_refuses_to_solve_and_Dispose_is_idempotent()
    {
        var k = Kernel(20, 2, seed: 9);
        var rhs = Random(20, 2, seed: 10);
        var factor = Torch.TryCholesky(k, out _)!;
        AssertClose(MathNet.TryCholesky(k, out _)!.Solve(rhs).Data, factor.Solve(rhs).Data, "solve before Dispose");
        factor.Dispose();
        factor.Dispose();
        Assert.Throws<ObjectDisposedException>(() => factor.Solve(rhs));
    }

    [Fact]
    public void Cholesky_solves_like_MathNet_and_reports_indefinite_matrices_as_null()
    {
        var k = Kernel(30, 2, seed: 2);
        var rhs = Random(30, 3, seed: 3);
        var t = Torch.TryCholesky(k, out _);
        var m = MathNet.TryCholesky(k, out _);
        Assert.NotNull(t);
        Assert.NotNull(m);
        Assert.Equal(30, t.Size);
        AssertClose(m.PivotDiagonal.ToArray(), t.PivotDiagonal.ToArray(), "diag(L)");
        AssertClose(m.Solve(rhs).Data, t.Solve(rhs).Data, "K^-1 B");

        var indefinite = Kernel(10, 1, seed: 4);
        indefinite.Data[5 * 10 + 5] = -1.0;
        Assert.Null(Torch.TryCholesky(indefinite, out int pivot));
        Assert.Equal(5, pivot);   // the leading 5 x 5 block is positive definite, pivot 5 is not
        Assert.Null(MathNet.TryCholesky(indefinite, out _));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Multiply_matches_MathNet_for_every_transpose_combination(bool transposeA, bool transposeB)
    {
        var a = transposeA ? Random(5, 7, seed: 5) : Random(7, 5, seed: 5);
        var b = transposeB ? Random(3, 5, seed: 6) : Random(5, 3, seed: 6);
        var t = Torch.Multiply(a, transposeA, b, transposeB);
        var m = MathNet.Multiply(a, transposeA, b, transposeB);
        Assert.Equal((7, 3), (t.Rows, t.Cols));
        AssertClose(m.Data, t.Data, "op(a) op(b)");
        Assert.Throws<ArgumentException>(() => Torch.Multiply(a, !transposeA, b, transposeB));
    }

    [Fact]
    public void Inputs_are_not_modified()
    {
        var k = Kernel(12, 1, seed: 7);
        var copy = (double[])k.Data.Clone();
        _ = Torch.SymmetricEigen(k);
        _ = Torch.TryCholesky(k, out _)!.Solve(Random(12, 1, seed: 8));
        _ = Torch.Multiply(k, true, k, false);
        Assert.Equal(copy, k.Data);
    }

    [Fact]
    public void The_factor_stays_usable_across_garbage_collections_and_pinned_operands_are_released()
    {
        var k = Kernel(25, 2, seed: 13);
        var rhs = Random(25, 4, seed: 14);
        var factor = Torch.TryCholesky(k, out int pivot)!;
        Assert.Equal(-1, pivot);
        var expected = MathNet.TryCholesky(k, out _)!.Solve(rhs);
        for (int round = 0; round < 3; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            AssertClose(expected.Data, factor.Solve(rhs).Data, $"K^-1 B after collection {round}");
        }

        // Operands are wrapped, not copied, for the duration of a call only: the arrays can be written afterwards.
        var product = Torch.Multiply(k, false, rhs, false);
        k.Data[0] += 1;
        rhs.Data[0] += 1;
        AssertClose(MathNet.Multiply(k, false, rhs, false).Data, Torch.Multiply(k, false, rhs, false).Data, "after writing the operands");
        Assert.NotEqual(product.Data[0], Torch.Multiply(k, false, rhs, false).Data[0]);
    }

    [Theory]
    [InlineData(KernelLayout.Shared)]
    [InlineData(KernelLayout.Full)]
    public void Gradient_descent_predictions_match_MathNet(KernelLayout layout)
    {
        const int n = 50, nTest = 20, outputs = 2;
        int m = layout == KernelLayout.Full ? n * outputs : n;
        int mt = layout == KernelLayout.Full ? nTest * outputs : nTest;
        var features = Random(m + mt, 8, seed: 9);
        // One joint kernel over train and test points (so the test-train block is consistent), plus a diagonal.
        var joint = MathNet.Multiply(features, false, features, true);
        var k = new Matrix<double>(m, m);
        var kt = new Matrix<double>(mt, m);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                k.Data[i * m + j] = joint.Data[i * (m + mt) + j] + (i == j ? 0.5 : 0.0);
        for (int i = 0; i < mt; i++)
            for (int j = 0; j < m; j++)
                kt.Data[i * m + j] = joint.Data[(m + i) * (m + mt) + j];
        var y = Random(n, outputs, seed: 10);
        var f0 = Random(n, outputs, seed: 11, scale: 0.1);
        var f0Test = Random(nTest, outputs, seed: 12, scale: 0.1);
        double[] times = [0.0, 0.5, 3.0, 40.0, 1e4, double.PositiveInfinity];

        var viaMathNet = new GradientDescentMse(k, y, learningRate: 0.7, diagReg: 1e-4, linearAlgebra: MathNet).Predict(times, f0, f0Test, kt);
        var torchDynamics = new GradientDescentMse(k, y, learningRate: 0.7, diagReg: 1e-4, linearAlgebra: Torch);
        var viaTorch = torchDynamics.Predict(times, f0, f0Test, kt);
        Assert.Equal(layout, torchDynamics.Layout);
        for (int i = 0; i < times.Length; i++)
        {
            AssertClose(viaMathNet[i].Train.Data, viaTorch[i].Train.Data, $"train outputs at t = {times[i]}");
            AssertClose(viaMathNet[i].Test!.Data, viaTorch[i].Test!.Data, $"test outputs at t = {times[i]}");
        }

        double lrMathNet = GradientDescentMse.MaxLearningRate(k, y, linearAlgebra: MathNet);
        double lrTorch = GradientDescentMse.MaxLearningRate(k, y, linearAlgebra: Torch);
        Assert.True(Math.Abs(lrMathNet - lrTorch) <= Tolerance * lrMathNet, $"max learning rate {lrMathNet} vs {lrTorch}");
    }

    // A symmetric positive definite matrix F F^T / cols + 0.1 I with distinct eigenvalues.
    private static Matrix<double> Kernel(int n, int rank, int seed)
    {
        var f = Random(n, Math.Max(rank, n / 2), seed);
        var k = MathNet.Multiply(f, false, f, true);
        for (int i = 0; i < n; i++)
        {
            k.Data[i * n + i] += 0.1;
            for (int j = 0; j < i; j++) k.Data[i * n + j] = k.Data[j * n + i]; // exactly symmetric
        }

        return k;
    }

    private static Matrix<double> Random(int rows, int cols, int seed, double scale = 1.0)
        => Matrix<double>.FromArray(TestSupport.Random(rows, cols, seed, scale));

    private static Matrix<double> Identity(int n)
    {
        var m = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++) m.Data[i * n + i] = 1.0;
        return m;
    }

    private static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Length == 0 ? 1.0 : Math.Max(1.0, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance * scale,
                $"{what}: element {i} is {actual[i]}, expected {expected[i]} (tolerance {Tolerance} x {scale}).");
    }
}

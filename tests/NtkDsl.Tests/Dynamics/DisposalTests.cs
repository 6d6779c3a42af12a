using NtkDsl;
using Xunit;

namespace NtkDsl.Tests.Dynamics;

/// <summary>
/// Disposal of what holds a Cholesky factor: a disposed factor refuses to solve (rather than reading released
/// storage), Dispose is idempotent, and the dynamics / inference classes refuse predictions once disposed.
/// </summary>
public sealed class DisposalTests
{
    // A well-conditioned SPD kernel G G^T / d + I and targets.
    private static (Matrix<double> K, Matrix<double> Y) Problem(int n, int seed)
    {
        var rng = new Random(seed);
        var g = H.Gaussian(rng, n, 5);
        var k = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < 5; p++) s += g[i, p] * g[j, p];
                k.Data[i * n + j] = s / 5 + (i == j ? 1 : 0);
            }

        var y = new Matrix<double>(n, 2);
        for (int i = 0; i < y.Data.Length; i++) y.Data[i] = H.Normal(rng);
        return (k, y);
    }

    public static TheoryData<string> Providers => new() { "cpu", "mathnet" };

    private static IKernelLinearAlgebra Provider(string name) => name == "cpu" ? CpuKernelLinearAlgebra.Instance : MathNetLinearAlgebra.Instance;

    [Theory]
    [MemberData(nameof(Providers))]
    public void A_disposed_factor_refuses_to_solve_and_Dispose_is_idempotent(string provider)
    {
        var (k, y) = Problem(17, seed: 1);
        var factor = Provider(provider).TryCholesky(k, out int pivot)!;
        Assert.Equal(-1, pivot);
        var x = factor.Solve(y);
        var residual = CpuKernelLinearAlgebra.Instance.Multiply(k, false, x, false);
        for (int i = 0; i < y.Data.Length; i++) Assert.Equal(y.Data[i], residual.Data[i], 1e-10);

        factor.Dispose();
        factor.Dispose();
        Assert.Throws<ObjectDisposedException>(() => factor.Solve(y));
        Assert.Equal(17, factor.Size);
    }

    [Fact]
    public void GradientDescentMse_refuses_predictions_after_Dispose_and_keeps_its_properties()
    {
        var (k, y) = Problem(12, seed: 2);
        var dynamics = new GradientDescentMse(k, y);
        var converged = dynamics.PredictTrain(double.PositiveInfinity);   // kernel regression: the Cholesky path
        for (int i = 0; i < y.Data.Length; i++) Assert.Equal(y.Data[i], converged.Data[i], 1e-9);

        dynamics.Dispose();
        dynamics.Dispose();
        Assert.Throws<ObjectDisposedException>(() => dynamics.Predict(1.0));
        Assert.Throws<ObjectDisposedException>(() => dynamics.PredictTrain(double.PositiveInfinity));
        Assert.Equal(12, dynamics.TrainSamples);
    }

    [Fact]
    public void GpInference_and_the_ensemble_refuse_predictions_after_Dispose()
    {
        var (k, y) = Problem(10, seed: 3);
        var (kt, _) = Problem(10, seed: 4);
        var testTrain = new KernelPair(kt, kt);

        var gp = new GpInference(new KernelPair(k, k), y);
        Assert.Equal(10, gp.Predict(PosteriorKind.Ntk, testTrain).Mean.Rows);
        gp.Dispose();
        gp.Dispose();
        Assert.Throws<ObjectDisposedException>(() => gp.Predict(PosteriorKind.Ntk, testTrain));
        Assert.Throws<ObjectDisposedException>(() => gp.PredictTrain(PosteriorKind.Nngp));

        var ensemble = new GradientDescentMseEnsemble(new KernelPair(k, k), y);
        Assert.Equal(10, ensemble.Predict(double.PositiveInfinity, PosteriorKind.Ntk, testTrain).Mean.Rows);
        ensemble.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ensemble.Predict(2.0, PosteriorKind.Ntk, testTrain));
        Assert.Throws<ObjectDisposedException>(() => ensemble.PredictTrain(double.PositiveInfinity, PosteriorKind.Ntk));
    }
}

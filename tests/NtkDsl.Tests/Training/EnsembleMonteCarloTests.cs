using NtkDsl.Tests.Networks;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Training;

/// <summary>
/// The infinite ensemble of gradient-descent-trained networks (neural-tangents' gradient_descent_mse_ensemble)
/// against Monte Carlo over many independently initialized, trained linearized networks of width 1024.
/// </summary>
public class EnsembleMonteCarloTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData(5.0)]
    [InlineData(double.PositiveInfinity)]
    public void Ensemble_mean_and_covariance_match_trained_linearized_networks(double time)
    {
        // One hidden layer: the prior covariance of f0 is the NNGP at any width, so what remains is the NTK's
        // O(1/width) fluctuation (~0.1% here) and Monte Carlo error: the covariance of 3 test outputs from
        // 8000 draws has relative error ~sqrt(2/8000) = 1.6% per entry. Measured 2026-12-01 with the test's seeds (10000+):
        // mean 0.65% / 0.07% and covariance 2.3% / 2.0% at t = 5 / infinity; over three more seed blocks (20000+, 30000+,
        // 40000+) mean at most 1.8%, covariance at most 2.5%. Bounds: mean 4%, covariance 5% (2x the worst block).
        var xTrain = TestMath.RandomMatrix(6, ErfWide1024.InputSize, 31);
        var xTest = TestMath.RandomMatrix(3, ErfWide1024.InputSize, 32);
        var yTrain = TestMath.RandomMatrix(6, 1, 33);
        const double learningRate = 1.0;
        const int samples = 8000;

        var mean = new double[3];
        var second = new double[9];
        for (int s = 0; s < samples; s++)
        {
            // Each member: its own initialization, its linearization trained in closed form (exact for the
            // linearized model; LinearizedDynamicsTests check it against discrete gradient descent).
            var theta0 = ErfWide1024.InitializeParameters<double>(10_000 + s);
            var dynamics = new GradientDescentMse(ErfWide1024.Ntk(theta0, xTrain), yTrain, learningRate);
            var f = dynamics.PredictTest(time, ErfWide1024.Forward(theta0, xTrain), ErfWide1024.Forward(theta0, xTest),
                ErfWide1024.Ntk(theta0, xTest, xTrain));
            for (int i = 0; i < 3; i++)
            {
                mean[i] += f.Data[i] / samples;
                for (int j = 0; j < 3; j++) second[i * 3 + j] += f.Data[i] * f.Data[j] / samples;
            }
        }

        var covariance = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) covariance[i * 3 + j] = (second[i * 3 + j] - mean[i] * mean[j]) * samples / (samples - 1);

        var trainTrain = ErfWide1024.InfiniteWidth(xTrain);
        var testTrain = ErfWide1024.InfiniteWidth(xTest, xTrain);
        var testTest = ErfWide1024.InfiniteWidth(xTest);
        var ensemble = new GradientDescentMseEnsemble(new KernelPair(trainTrain.Nngp, trainTrain.Ntk), yTrain, learningRate)
            .Predict(time, PosteriorKind.Ntk, new KernelPair(testTrain.Nngp, testTrain.Ntk), testTest.Nngp);

        double meanError = Relative(mean, ensemble.Mean.Data);
        double covarianceError = Relative(covariance, ensemble.Covariance!.Data);
        output.WriteLine($"t = {time}: mean error {meanError:P2}, covariance error {covarianceError:P2}");
        Assert.True(meanError < 0.04, $"mean: {meanError:P2}");
        Assert.True(covarianceError < 0.05, $"covariance: {covarianceError:P2}");
    }

    private static double Relative(double[] actual, double[] expected)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        return Math.Sqrt(diff / norm);
    }
}

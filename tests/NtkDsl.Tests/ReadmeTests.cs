using NtkDsl.Tests.Support;
using Xunit.Abstractions;
using WideNet = NtkDsl.Tests.Networks.ErfWide1024;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests;

/// <summary>The README's code, as written there (on a small ReLU/erf network), so the README stays true.</summary>
public partial class ReadmeTests(ITestOutputHelper output)
{
    [Network(Inputs = 2, WeightStd = 1.5, BiasStd = 0.1)]
    [Dense(64), Relu]
    [Dense(64), Erf]
    [Dense(1)]
    public partial class TwoLayerNet;

    private static readonly Matrix<double> xTrain = TestMath.RandomMatrix(8, 2, 1);
    private static readonly Matrix<double> xTest = TestMath.RandomMatrix(3, 2, 2);
    private static readonly Matrix<double> yTrain = TestMath.RandomMatrix(8, 1, 3);

    [Fact]
    public void Quick_tour_members()
    {
        var x = xTrain;
        var (x1, x2) = (xTrain, xTest);
        var cotangent = TestMath.RandomMatrix(8, 1, 4);
        var tangent = TestMath.RandomVector(TwoLayerNet.ParameterCount, 5);
        var theta = TwoLayerNet.InitializeParameters<double>(seed: 0);
        var y = TwoLayerNet.Forward(theta, x);
        var grad = TwoLayerNet.Vjp(theta, x, cotangent);
        var jvp = TwoLayerNet.Jvp(theta, x, tangent);
        var theta12 = TwoLayerNet.Ntk(theta, x1, x2, NtkMode.Full);
        Assert.Equal((8, 1), (y.Rows, y.Cols));
        Assert.Equal(TwoLayerNet.ParameterCount, grad.Length);
        Assert.Equal((8, 1), (jvp.Rows, jvp.Cols));
        Assert.Equal((8, 3), (theta12.Rows, theta12.Cols));
    }

    [Fact]
    public void Infinite_width_section()
    {
        var k = TwoLayerNet.InfiniteWidth(xTrain, xTest);
        var d = TwoLayerNet.InfiniteWidthDiagonal(xTrain);
        var loose = TwoLayerNet.InfiniteWidth(xTrain, options: new InfiniteWidthOptions { QuadratureTolerance = 1e-6 });
        Assert.Equal((8, 3), (k.Ntk.Rows, k.Ntk.Cols));
        Assert.Equal(loose.Ntk[2, 2], d.Ntk[2], 12);
    }

    [Fact]
    public void Dynamics_section()
    {
        var theta0 = TwoLayerNet.InitializeParameters<double>(0);
        var ntk = TwoLayerNet.Ntk(theta0, xTrain);
        var dynamics = new GradientDescentMse(ntk, yTrain, learningRate: 0.1, diagReg: 1e-6);
        var at10 = dynamics.Predict(10.0, TwoLayerNet.Forward(theta0, xTrain), TwoLayerNet.Forward(theta0, xTest),
                                    TwoLayerNet.Ntk(theta0, xTest, xTrain));
        Assert.Equal((8, 1), (at10.Train.Rows, at10.Train.Cols));
        Assert.Equal((3, 1), (at10.Test!.Rows, at10.Test.Cols));
    }

    // The training section's snippet, at width 1024 here (the README's width 4096 takes longer).
    [Fact]
    public void Training_section_runs_and_agrees_with_the_ntk_prediction()
    {
        var xTrain = Gaussian(16, 4, seed: 81);
        var xTest = Gaussian(8, 4, seed: 82);
        var yTrain = SmoothTarget(xTrain);

        // --- README snippet (verbatim from here) ---
        var theta0 = WideNet.InitializeParameters<double>(seed: 0);
        var ntk = WideNet.Ntk(theta0, xTrain);                                  // empirical NTK at initialization
        double lr = 0.1 * GradientDescentMse.MaxLearningRate(ntk);
        var theta = (double[])theta0.Clone();                                   // trained in place
        var trainer = new Trainer<double>(new NetworkModel<WideNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(lr));
        trainer.Train(theta, xTrain, yTrain, new TrainingOptions<double> { Epochs = 200 });   // 200 full-batch GD steps
        var predicted = new GradientDescentMse(ntk, yTrain, lr).PredictTest(200, WideNet.Forward(theta0, xTrain),
            WideNet.Forward(theta0, xTest), WideNet.Ntk(theta0, xTest, xTrain));  // closed-form NTK dynamics after 200 steps
        var trained = WideNet.Forward(theta, xTest);
        // --- end of snippet ---

        double err = MaxAbsDiff(trained, predicted), moved = MaxAbsDiff(trained, WideNet.Forward(theta0, xTest));
        output.WriteLine($"width 1024: max |trained - predicted| = {err:E2} on test outputs that moved by up to {moved:F3}");
        Assert.True(err < 2e-2 && moved > 0.1, $"error {err:E2}, moved {moved:F3}");
    }
}

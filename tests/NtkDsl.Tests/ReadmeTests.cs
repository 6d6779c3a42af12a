using NtkDsl.Tests.Support;

namespace NtkDsl.Tests;

/// <summary>The README's code, as written there (on a small ReLU/erf network), so the README stays true.</summary>
public partial class ReadmeTests
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
        var slow = TwoLayerNet.InfiniteWidth(xTrain, options: new InfiniteWidthOptions { QuadratureDegree = 50 });
        Assert.Equal((8, 3), (k.Ntk.Rows, k.Ntk.Cols));
        Assert.Equal(slow.Ntk[2, 2], d.Ntk[2], 12);
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
}

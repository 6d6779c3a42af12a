using NtkDsl.Tests.Networks;
using NtkDsl.Tests.Support;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests.Training;

/// <summary>LinearizedModel against the explicit Jacobian (plain loops over CpuNetwork.Jacobian).</summary>
public sealed class LinearizedModelTests
{
    [Fact]
    public void Linearized_outputs_and_gradients_match_the_explicit_jacobian()
    {
        // f_lin = f(theta0) + J (theta - theta0) and J^T c with J [N O, P] formed explicitly: identities, 1e-12 relative.
        var x = Gaussian(7, 3, seed: 31);
        var theta0 = TinyClassifier.InitializeParameters<double>(seed: 12);
        var lin = new LinearizedModel<TinyClassifier, double>(theta0);
        var theta = theta0.Zip(TestMath.RandomVector(theta0.Length, 5), (a, d) => a + 0.3 * d).ToArray();

        var j = TinyClassifier.Jacobian(theta0, x);
        var f0 = TinyClassifier.Forward(theta0, x);
        var expected = new Matrix<double>(7, 3);
        for (int r = 0; r < j.Rows; r++)
        {
            double s = f0.Data[r];
            for (int p = 0; p < j.Cols; p++) s += j[r, p] * (theta[p] - theta0[p]);
            expected.Data[r] = s;
        }
        double err = TestMath.RelativeError(lin.Forward(theta, x), expected);
        Assert.True(err < 1e-12, $"f_lin relative error {err:E2}");
        Assert.Equal(f0.Data, lin.Forward(theta0, x).Data);     // at theta0, f_lin = f exactly (J 0 = 0)

        var c = Gaussian(7, 3, seed: 32);
        var g = new double[theta.Length];
        lin.Vjp(theta, x, c, g);
        var jtc = new double[theta.Length];
        for (int p = 0; p < j.Cols; p++)
            for (int r = 0; r < j.Rows; r++) jtc[p] += j[r, p] * c.Data[r];
        err = TestMath.RelativeError(g, jtc);
        Assert.True(err < 1e-12, $"J^T c relative error {err:E2}");

        // Training the original array does not move the linearization point (theta0 is copied).
        theta0[0] += 1;
        Assert.Equal(f0.Data, lin.Forward(lin.CopyInitialParameters(), x).Data);
    }

    [Fact]
    public void Float_linearized_model_matches_double()
    {
        var x = Gaussian(5, 3, seed: 33);
        var theta0 = TinyClassifier.InitializeParameters<double>(seed: 2);
        var theta = theta0.Select((v, i) => v + 0.1 * Math.Sin(i)).ToArray();
        var d = new LinearizedModel<TinyClassifier, double>(theta0).Forward(theta, x);
        var f = new LinearizedModel<TinyClassifier, float>(theta0.Select(v => (float)v).ToArray())
            .Forward(theta.Select(v => (float)v).ToArray(), x.Convert<float>());
        Assert.True(TestMath.RelativeError(f.Convert<double>(), d) < 1e-5);
    }
}

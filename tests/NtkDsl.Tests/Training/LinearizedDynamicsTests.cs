using MathNet.Numerics.LinearAlgebra;
using NtkDsl.Tests.Support;
using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Tests.Networks;
using Xunit.Abstractions;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests.Training;

/// <summary>
/// The linearized model trained by discrete full-batch gradient descent on the 1/2-mean MSE against the exact
/// solution of that recursion.
/// </summary>
/// <remarks>
/// What is exact: for f_lin, one GD step maps residuals r = f - y to (I - (eta / n_y) Theta) r with Theta = J J^T the
/// empirical NTK at theta0 (full over outputs), and test outputs by f*_{s+1} = f*_s - (eta / n_y) Theta(X*, X) r_s.
/// So after t steps r_t = (I - (eta / n_y) Theta)^t r_0 exactly, for any eta; the continuous-time closed form
/// (GradientDescentMse at time t) differs from it by O(t (eta l / n_y)^2) per eigenmode. The continuous form reproduces
/// the discrete one exactly with the kernel Theta' = V diag(l') V^T, l' = -(n_y / eta) log(1 - eta l / n_y), and test
/// kernel Theta(X*, X) V diag(l' / l) V^T (same eigenvectors; expm1(-l' eta t / n_y) = (1 - eta l / n_y)^t - 1).
/// Two references, both float64, tolerance 1e-12 relative (measured 2026-12-01: at most 1.3e-14, round-off of t = 60 steps;
/// the bound leaves a factor ~80):
/// (a) the recursion with the explicitly formed Jacobian (plain loops, no VJP/JVP); (b) GradientDescentMse with
/// Theta', i.e. the library's closed-form dynamics.
/// </remarks>
public sealed class LinearizedDynamicsTests(ITestOutputHelper output)
{
    [Fact]
    public void Linearized_gd_matches_the_exact_discrete_dynamics_single_output() => Check<ErfWide64>(4, 12, 6);

    [Fact]
    public void Linearized_gd_matches_the_exact_discrete_dynamics_three_outputs_full_kernel() => Check<TinyClassifier>(3, 10, 5);

    private void Check<TNet>(int d, int n, int nTest) where TNet : INetwork<TNet>
    {
        const int steps = 60;
        int o = TNet.OutputSize, ny = n * o;
        var x = Gaussian(n, d, seed: 41);
        var xTest = Gaussian(nTest, d, seed: 42);
        var y = Gaussian(n, o, seed: 43);
        var theta0 = CpuNetwork<TNet, double>.InitializeParameters(seed: 44);

        var k = CpuNetwork<TNet, double>.Ntk(theta0, x, null, NtkMode.Full);
        var kt = CpuNetwork<TNet, double>.Ntk(theta0, xTest, x, NtkMode.Full);
        double eta = 0.4 * GradientDescentMse.MaxLearningRate(k, y);   // large: discrete and continuous differ a lot here

        // Train the linearized model through the generic trainer.
        var lin = new LinearizedModel<TNet, double>(theta0);
        var theta = lin.CopyInitialParameters();
        new Trainer<double>(lin, TrainingLosses.MeanSquaredError, new Sgd<double>(eta))
            .Train(theta, x, y, new TrainingOptions<double> { Epochs = steps });
        var fTrain = lin.Forward(theta, x);
        var fTest = lin.Forward(theta, xTest);

        // (a) explicit-Jacobian recursion.
        var f0 = CpuNetwork<TNet, double>.Forward(theta0, x);
        var f0Test = CpuNetwork<TNet, double>.Forward(theta0, xTest);
        var j = CpuNetwork<TNet, double>.Jacobian(theta0, x);
        var jt = CpuNetwork<TNet, double>.Jacobian(theta0, xTest);
        var kk = TestMath.TimesTranspose(j, j);
        var kkt = TestMath.TimesTranspose(jt, j);
        var r = Add(f0, y, -1).Data;
        var refTest = (double[])f0Test.Data.Clone();
        for (int s = 0; s < steps; s++)
        {
            var kr = MatVec(kk, r);
            var ktr = MatVec(kkt, r);
            for (int i = 0; i < r.Length; i++) r[i] -= eta / ny * kr[i];
            for (int i = 0; i < refTest.Length; i++) refTest[i] -= eta / ny * ktr[i];
        }
        var refTrain = Add(y, new Matrix<double>(n, o, r));
        double errTrainA = TestMath.RelativeError(fTrain, refTrain), errTestA = TestMath.RelativeError(fTest.Data, refTest);

        // (b) closed form with the discrete-equivalent kernel.
        var km = MB.DenseOfArray(k.ToArray());
        var evd = km.Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
        var l = evd.EigenValues.Real().ToArray();
        var v = evd.EigenVectors;
        // l' / l = -log(1 - a) / a with a = eta l / n_y, which tends to 1 for the (round-off) zero modes of a singular kernel.
        var ratio = l.Select(li => { double a = eta * li / ny; return Math.Abs(a) < 1e-300 ? 1.0 : -double.LogP1(-a) / a; }).ToArray();
        var lPrime = l.Zip(ratio, (li, q) => li * q).ToArray();
        var kPrime = v * MB.DiagonalOfDiagonalArray(lPrime) * v.Transpose();
        var ktPrime = MB.DenseOfArray(kt.ToArray()) * v
            * MB.DiagonalOfDiagonalArray(ratio) * v.Transpose();
        var closed = new GradientDescentMse(NtkDsl.Matrix<double>.FromArray(kPrime.ToArray()), y, eta)
            .Predict(steps, f0, f0Test, NtkDsl.Matrix<double>.FromArray(ktPrime.ToArray()));
        double errTrainB = TestMath.RelativeError(fTrain, closed.Train), errTestB = TestMath.RelativeError(fTest, closed.Test!);

        // For scale: the plain continuous-time prediction at t = steps (what is NOT exact for discrete GD).
        var continuous = new GradientDescentMse(k, y, eta).Predict(steps, f0, f0Test, kt);
        double contGap = TestMath.RelativeError(fTest, continuous.Test!);
        double moved = MaxAbsDiff(fTest, f0Test) / MaxAbs(f0Test);

        output.WriteLine($"{TNet.Description.Name}: eta = 0.4 max_lr = {eta:G4}, {steps} steps; train/test rel. err vs explicit-J recursion "
            + $"{errTrainA:E2}/{errTestA:E2}, vs GradientDescentMse(Theta') {errTrainB:E2}/{errTestB:E2}; "
            + $"continuous closed form (not exact for discrete GD) differs by {contGap:E2}; test outputs moved {moved:F2} x max|f0*|");
        Assert.True(Math.Max(errTrainA, errTestA) < 1e-12, $"vs explicit-J recursion {Math.Max(errTrainA, errTestA):E2}");
        Assert.True(Math.Max(errTrainB, errTestB) < 1e-12, $"vs GradientDescentMse(Theta') {Math.Max(errTrainB, errTestB):E2}");
        Assert.True(contGap > 1e-4, "the test should be sensitive to the discrete/continuous difference");
    }

    private static MatrixBuilder<double> MB => MathNet.Numerics.LinearAlgebra.Matrix<double>.Build;

    private static double[] MatVec(Matrix<double> a, double[] x)
    {
        var y = new double[a.Rows];
        for (int i = 0; i < a.Rows; i++)
        {
            double s = 0;
            for (int p = 0; p < a.Cols; p++) s += a[i, p] * x[p];
            y[i] = s;
        }
        return y;
    }
}

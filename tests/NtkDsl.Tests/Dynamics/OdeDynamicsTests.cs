using NtkDsl;
using Xunit;

namespace NtkDsl.Tests.Dynamics;

public class OdeDynamicsTests
{
    [Fact]
    public void DormandPrince_HarmonicOscillatorAndDecay_MatchExactSolutions_ErrorFollowsTolerance()
    {
        // y'' = -y (y = cos t) and z' = -3 z (z = e^{-3t}) on [0, 10].
        static void F(double t, ReadOnlySpan<double> y, Span<double> d) { d[0] = y[1]; d[1] = -y[0]; d[2] = -3 * y[2]; }
        var times = new[] { 1.0, 5.0, 10.0 };
        double Err(double rtol)
        {
            var sol = DormandPrince45.Integrate(F, 0, [1.0, 0.0, 1.0], times, new OdeOptions { RelativeTolerance = rtol, AbsoluteTolerance = rtol * 1e-3 });
            double e = 0;
            for (int i = 0; i < times.Length; i++)
            {
                e = Math.Max(e, Math.Abs(sol.States[i][0] - Math.Cos(times[i])));
                e = Math.Max(e, Math.Abs(sol.States[i][1] + Math.Sin(times[i])));
                e = Math.Max(e, Math.Abs(sol.States[i][2] - Math.Exp(-3 * times[i])));
            }
            return e;
        }
        double loose = Err(1e-6), tight = Err(1e-11);
        Assert.True(tight < 1e-9, $"tight {tight:E2}");
        Assert.True(loose < 1e-4, $"loose {loose:E2}");
        Assert.True(tight < loose / 100, $"tight {tight:E2} loose {loose:E2}");
    }

    [Fact]
    public void DormandPrince_TooFewSteps_FailsClearly()
    {
        static void F(double t, ReadOnlySpan<double> y, Span<double> d) => d[0] = -1000 * y[0];
        var ex = Assert.Throws<InvalidOperationException>(() =>
            DormandPrince45.Integrate(F, 0, [1.0], [100.0], new OdeOptions { MaxSteps = 50 }));
        Assert.Contains("MaxSteps", ex.Message);
    }

    [Fact]
    public void SoftmaxCrossEntropyGradient_MatchesCentralFiniteDifferences()
    {
        // Tolerance 1e-7 relative: central differences with h = 1e-5 have O(h^2) ~ 1e-10 truncation error.
        var rng = new Random(31);
        int n = 4, o = 3;
        var f = H.Flat(H.Gaussian(rng, n, o, 2.0));
        var y = new double[n * o];
        for (int i = 0; i < n; i++) y[i * o + rng.Next(o)] = 1.0;
        y[0] = 0.3; y[1] = 0.7; y[2] = 0.0;   // one soft-label row
        var g = new double[n * o];
        Losses.SoftmaxCrossEntropyGradient(f, y, n, o, g);
        double h = 1e-5;
        for (int i = 0; i < f.Length; i++)
        {
            var fp = (double[])f.Clone(); fp[i] += h;
            var fm = (double[])f.Clone(); fm[i] -= h;
            double fd = (Losses.SoftmaxCrossEntropy(fp, y, n, o) - Losses.SoftmaxCrossEntropy(fm, y, n, o)) / (2 * h);
            Assert.True(Math.Abs(fd - g[i]) < 1e-7 * Math.Max(1, Math.Abs(fd)), $"{i}: fd {fd} vs {g[i]}");
        }
        Losses.MseGradient(f, y, n, o, g);
        Assert.Equal(f[5] - y[5], g[5]);
        Assert.Equal(0.5 * f.Zip(y, (a, b) => (a - b) * (a - b)).Sum(), Losses.Mse(f, y), 1e-12);
    }

    [Fact]
    public void CrossEntropyDynamics_MatchIndependentFixedStepRk4()
    {
        // df/dt = -(eta / n_y) K (softmax(f) - y) for one-hot y, written out independently here.
        var rng = new Random(32);
        int n = 5, o = 3, nt = 2;
        var (k, kt, _, _) = H.FeatureKernel(rng, n, nt, 10);
        var y = new double[n, o];
        for (int i = 0; i < n; i++) y[i, i % o] = 1;
        var f0 = H.Gaussian(rng, n, o, 0.5);
        var f0t = H.Gaussian(rng, nt, o, 0.5);
        double eta = 3.0;
        var ode = new OdeDynamics(H.M(k), H.M(y), Losses.SoftmaxCrossEntropyGradient, eta,
            options: new OdeOptions { RelativeTolerance = 1e-12, AbsoluteTolerance = 1e-14 });
        var times = new[] { 2.0, 20.0, 80.0 };
        var traj = ode.Solve(times, H.M(f0), H.M(f0t), H.M(kt));
        double rate = eta / (n * o);
        double[] F(double[] s)
        {
            var g = new double[n * o];
            for (int i = 0; i < n; i++)
            {
                double mx = double.NegativeInfinity, z = 0;
                for (int a = 0; a < o; a++) mx = Math.Max(mx, s[i * o + a]);
                for (int a = 0; a < o; a++) z += Math.Exp(s[i * o + a] - mx);
                for (int a = 0; a < o; a++) g[i * o + a] = Math.Exp(s[i * o + a] - mx) / z - y[i, a];
            }
            var d = new double[s.Length];
            for (int i = 0; i < n + nt; i++)
                for (int a = 0; a < o; a++)
                {
                    double acc = 0;
                    for (int j = 0; j < n; j++) acc += (i < n ? k[i, j] : kt[i - n, j]) * g[j * o + a];
                    d[i * o + a] = -rate * acc;
                }
            return d;
        }
        var start = H.Flat(f0).Concat(H.Flat(f0t)).ToArray();
        for (int i = 0; i < times.Length; i++)
        {
            var r = H.Rk4(F, start, times[i], 0.01);
            Assert.True(H.RelErr(traj.States[i].Train, H.Unflat(r, 0, n, o)) < 1e-8, $"train t={times[i]}");
            Assert.True(H.RelErr(traj.States[i].Test!, H.Unflat(r, n * o, nt, o)) < 1e-8, $"test t={times[i]}");
        }
        // Training lowers the loss monotonically along the trajectory.
        double prev = Losses.SoftmaxCrossEntropy(H.Flat(f0), H.Flat(y), n, o);
        foreach (var s in traj.States)
        {
            double l = Losses.SoftmaxCrossEntropy(s.Train.Data, H.Flat(y), n, o);
            Assert.True(l < prev);
            prev = l;
        }
    }

    /// <summary>
    /// Heavy-ball momentum on a linear model f = J theta (theta p x O), loss 1/(2 n_y) ||f - y||^2, in parameter space:
    /// v &lt;- mu v - eta grad, theta &lt;- theta + v. Returns f and the per-step change of f after k steps.
    /// </summary>
    private static (double[,] F, double[,] Df) DiscreteMomentum(double[,] j, double[,] y, double[,] theta0, double eta, double mu, int steps)
    {
        int ny = y.Length;
        var theta = (double[,])theta0.Clone();
        var v = new double[theta.GetLength(0), theta.GetLength(1)];
        var f = H.Mul(j, theta);
        var df = new double[f.GetLength(0), f.GetLength(1)];
        for (int k = 0; k < steps; k++)
        {
            var grad = H.Scale(H.Mul(H.T(j), H.Add(f, y, -1)), 1.0 / ny);
            v = H.Add(H.Scale(v, mu), grad, -eta);
            theta = H.Add(theta, v);
            var fNew = H.Mul(j, theta);
            df = H.Add(fNew, f, -1);
            f = fNew;
        }
        return (f, df);
    }

    [Fact]
    public void MomentumOde_MatchesSmallStepDiscreteMomentumGd()
    {
        // Continuous limit: eta -> 0 with (1 - mu) / sqrt(eta) = 0.5 fixed, t = tau / sqrt(eta) steps, tau = 4.
        // The discrete scheme is a first-order (in sqrt(eta)) discretization, so the error must shrink ~10x when
        // sqrt(eta) does. Measured: 2.5e-3, 2.5e-4, 2.5e-5 at sqrt(eta) = 1e-2, 1e-3, 1e-4; tolerance 1e-4 at 1e-4.
        var rng = new Random(33);
        int n = 5, o = 2, p = 9;
        var j = H.Gaussian(rng, n, p, 1.0 / Math.Sqrt(p));
        var k = H.Mul(j, H.T(j));
        var y = H.Gaussian(rng, n, o);
        var theta0 = H.Gaussian(rng, p, o, 0.3);
        var f0 = H.Mul(j, theta0);
        double tau = 4.0;
        double Err(double sqrtEta, out double velocityErr)
        {
            double eta = sqrtEta * sqrtEta, mu = 1 - 0.5 * sqrtEta;
            int steps = (int)Math.Round(tau / sqrtEta);
            var (fd, dfd) = DiscreteMomentum(j, y, theta0, eta, mu, steps);
            var ode = new OdeDynamics(H.M(k), H.M(y), Losses.MseGradient, eta, momentum: mu,
                options: new OdeOptions { RelativeTolerance = 1e-11, AbsoluteTolerance = 1e-13 });
            var s = ode.Solve(steps, H.M(f0));
            velocityErr = H.RelErr(s.MomentumTrain!, H.Scale(dfd, 1 / sqrtEta));
            return H.RelErr(s.Train, fd);
        }
        double coarse = Err(1e-3, out _), fine = Err(1e-4, out double vErr);
        Assert.True(fine < 1e-4, $"fine {fine:E2}");
        Assert.True(fine < coarse / 5, $"fine {fine:E2} coarse {coarse:E2}");
        Assert.True(vErr < 1e-4, $"velocity {vErr:E2}");
    }

    [Fact]
    public void MomentumOde_TestOutputsFollowTheSameSecondOrderDynamics()
    {
        // For MSE, d^2 f*/dtau^2 is driven by the train residual only, so f* - f0* = K* K^-1 (f - f0) at all times
        // when K is invertible (both solve the same linear second-order ODE from rest).
        var rng = new Random(34);
        var (k, kt, _, _) = H.FeatureKernel(rng, 5, 3, 12);
        var y = H.Gaussian(rng, 5, 1);
        var f0 = H.Gaussian(rng, 5, 1, 0.4);
        var f0t = H.Gaussian(rng, 3, 1, 0.4);
        var ode = new OdeDynamics(H.M(k), H.M(y), Losses.MseGradient, 0.01, momentum: 0.9,
            options: new OdeOptions { RelativeTolerance = 1e-12, AbsoluteTolerance = 1e-14 });
        var s = ode.Solve(300, H.M(f0), H.M(f0t), H.M(kt));
        var expected = H.Add(f0t, H.Mul(H.Mul(kt, H.Inverse(k)), H.Add(H.A(s.Train), f0, -1)));
        Assert.True(H.RelErr(s.Test!, expected) < 1e-8, $"{H.RelErr(s.Test!, expected):E2}");
        Assert.NotNull(s.MomentumTest);
    }

    [Fact]
    public void BadInputs_AreRejectedWithNames()
    {
        var rng = new Random(35);
        var (k, kt, _, _) = H.FeatureKernel(rng, 4, 2, 8);
        var y = H.Gaussian(rng, 4, 2);
        var ode = new OdeDynamics(H.M(k), H.M(y), Losses.MseGradient);
        Assert.Equal("t", Assert.Throws<ArgumentOutOfRangeException>(() => ode.Solve(double.PositiveInfinity)).ParamName);
        Assert.Equal("times[1]", Assert.Throws<ArgumentOutOfRangeException>(() => ode.Solve([2.0, 1.0])).ParamName);
        Assert.Equal("t", Assert.Throws<ArgumentOutOfRangeException>(() => ode.Solve(-1.0)).ParamName);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new OdeDynamics(H.M(k), H.M(y), Losses.MseGradient, 1, 1.0)).ParamName);
        var ex = Assert.Throws<ArgumentException>(() => ode.Solve(1.0, null, null, new Matrix<double>(2, 3)));
        Assert.Equal("kTestTrain", ex.ParamName);
        Assert.Contains("2 x 3", ex.Message);
        Assert.Equal("kTrainTrain", Assert.Throws<ArgumentException>(() => new OdeDynamics(new Matrix<double>(3, 3), H.M(y), Losses.MseGradient)).ParamName);
        var nanLoss = new OdeDynamics(H.M(k), H.M(y), (f, t, r, c, g) => g.Fill(double.NaN));
        Assert.Contains("lossGradient", Assert.Throws<InvalidOperationException>(() => nanLoss.Solve(1.0)).Message);
        Assert.Equal(3, ode.Solve([0.0, 0.0, 1.0], null, null, H.M(kt)).States.Count);
    }
}

using NtkDsl;
using NtkDsl.Tests.Support;
using Xunit;

namespace NtkDsl.Tests.Dynamics;

public class GradientDescentMseTests
{
    // Setup shared by most tests: n = 6 train, 3 test samples, O = 2 outputs, kernel J J^T with J 6 x 12 (PD).
    private static (double[,] K, double[,] Kt, double[,] Y, double[,] F0, double[,] F0t) Problem(int seed, int n = 6, int nTest = 3, int o = 2, int p = 12)
    {
        var rng = new Random(seed);
        var (k, kt, _, _) = H.FeatureKernel(rng, n, nTest, p);
        return (k, kt, H.Gaussian(rng, n, o), H.Gaussian(rng, n, o, 0.5), H.Gaussian(rng, nTest, o, 0.5));
    }

    /// <summary>Independent reference: fixed-step RK4 of d[f; f*]/dt = -(eta / n_y) [K; K*] (f - y) per output column.</summary>
    private static (double[,] Train, double[,] Test) Rk4Reference(double[,] k, double[,] kt, double[,] y, double[,] f0, double[,] f0t, double eta, double t, double h)
    {
        int n = y.GetLength(0), o = y.GetLength(1), nt = kt.GetLength(0);
        double rate = eta / (n * o);
        var y0 = H.Flat(f0).Concat(H.Flat(f0t)).ToArray();
        double[] F(double[] s)
        {
            var d = new double[s.Length];
            for (int i = 0; i < n; i++)
                for (int a = 0; a < o; a++)
                {
                    double g = 0;
                    for (int j = 0; j < n; j++) g += k[i, j] * (s[j * o + a] - y[j, a]);
                    d[i * o + a] = -rate * g;
                }
            for (int i = 0; i < nt; i++)
                for (int a = 0; a < o; a++)
                {
                    double g = 0;
                    for (int j = 0; j < n; j++) g += kt[i, j] * (s[j * o + a] - y[j, a]);
                    d[n * o + i * o + a] = -rate * g;
                }
            return d;
        }
        var r = H.Rk4(F, y0, t, h);
        return (H.Unflat(r, 0, n, o), H.Unflat(r, n * o, nt, o));
    }

    [Fact]
    public void ClosedForm_MatchesIndependentFixedStepRk4_AtSeveralTimes()
    {
        // Tolerance 1e-8 relative: RK4 with eta*lambda_max/n_y*h ~ 2e-3 has global error ~1e-11.
        var (k, kt, y, f0, f0t) = Problem(1);
        double eta = 0.7;
        var gd = new GradientDescentMse(H.M(k), H.M(y), eta);
        foreach (var t in new[] { 0.5, 3.0, 25.0, 120.0 })
        {
            var p = gd.Predict(t, H.M(f0), H.M(f0t), H.M(kt));
            var (rTrain, rTest) = Rk4Reference(k, kt, y, f0, f0t, eta, t, 0.02);
            Assert.True(H.RelErr(p.Train, rTrain) < 1e-8, $"train t={t}: {H.RelErr(p.Train, rTrain):E2}");
            Assert.True(H.RelErr(p.Test!, rTest) < 1e-8, $"test t={t}: {H.RelErr(p.Test!, rTest):E2}");
        }
    }

    [Fact]
    public void ClosedForm_MatchesLibraryRk45_WithTightTolerance()
    {
        var (k, kt, y, f0, f0t) = Problem(2);
        double eta = 1.3;
        var gd = new GradientDescentMse(H.M(k), H.M(y), eta);
        var ode = new OdeDynamics(H.M(k), H.M(y), Losses.MseGradient, eta,
            options: new OdeOptions { RelativeTolerance = 1e-12, AbsoluteTolerance = 1e-14 });
        var times = new[] { 0.0, 1.0, 10.0, 60.0, 200.0 };
        var traj = ode.Solve(times, H.M(f0), H.M(f0t), H.M(kt));
        for (int i = 0; i < times.Length; i++)
        {
            var p = gd.Predict(times[i], H.M(f0), H.M(f0t), H.M(kt));
            Assert.True(H.RelErr(traj.States[i].Train, p.Train) < 1e-8, $"train t={times[i]}: {H.RelErr(traj.States[i].Train, p.Train):E2}");
            Assert.True(H.RelErr(traj.States[i].Test!, p.Test!) < 1e-8, $"test t={times[i]}: {H.RelErr(traj.States[i].Test!, p.Test!):E2}");
        }
    }

    [Fact]
    public void ClosedForm_MatchesMatrixExponentialFormula()
    {
        // f(t) = y + e^{-K s}(f0 - y), f*(t) = f0* + K* K^-1 (e^{-K s} - I)(f0 - y), s = eta t / n_y; e^{.} by Taylor scaling-squaring.
        var (k, kt, y, f0, f0t) = Problem(3);
        double eta = 0.9, t = 17;
        double s = eta * t / (6 * 2);
        var e = H.Expm(H.Scale(k, -s));
        var r = H.Add(f0, y, -1);
        var train = H.Add(y, H.Mul(e, r));
        var test = H.Add(f0t, H.Mul(H.Mul(kt, H.Inverse(k)), H.Mul(H.Add(e, H.Eye(6), -1), r)));
        var p = new GradientDescentMse(H.M(k), H.M(y), eta).Predict(t, H.M(f0), H.M(f0t), H.M(kt));
        Assert.True(H.RelErr(p.Train, train) < 1e-9, $"{H.RelErr(p.Train, train):E2}");
        Assert.True(H.RelErr(p.Test!, test) < 1e-8, $"{H.RelErr(p.Test!, test):E2}");
    }

    [Fact]
    public void FullKernelLayout_KroneckerOfSharedKernel_GivesSameOutputs()
    {
        // The full (nO x nO) path flattens outputs sample-major; K (x) I must reproduce the shared path (1e-12).
        var (k, kt, y, f0, f0t) = Problem(4, o: 3);
        var shared = new GradientDescentMse(H.M(k), H.M(y), 0.5);
        var full = new GradientDescentMse(H.M(H.KronEye(k, 3)), H.M(y), 0.5);
        Assert.Equal(KernelLayout.Shared, shared.Layout);
        Assert.Equal(KernelLayout.Full, full.Layout);
        foreach (var t in new[] { 2.0, 40.0, double.PositiveInfinity })
        {
            var a = shared.Predict(t, H.M(f0), H.M(f0t), H.M(kt));
            var b = full.Predict(t, H.M(f0), H.M(f0t), H.M(H.KronEye(kt, 3)));
            Assert.True(H.RelErr(b.Train, a.Train) < 1e-12);
            Assert.True(H.RelErr(b.Test!, a.Test!) < 1e-12);
        }
    }

    [Fact]
    public void FullKernel_WithCrossOutputBlocks_MatchesRk4()
    {
        // A genuinely full kernel (output-coupled): reference RK4 on the flattened system.
        var rng = new Random(5);
        int n = 4, o = 2, nt = 2, m = n * o;
        var (kf, ktf, _, _) = H.FeatureKernel(rng, m, nt * o, 14);
        var y = H.Gaussian(rng, n, o);
        var f0 = H.Gaussian(rng, n, o, 0.3);
        var f0t = H.Gaussian(rng, nt, o, 0.3);
        var gd = new GradientDescentMse(H.M(kf), H.M(y), 1.0);
        var p = gd.Predict(30, H.M(f0), H.M(f0t), H.M(ktf));
        // Treat as one output over m "samples": same ODE because n_y = m either way.
        var (rTrain, rTest) = Rk4Reference(kf, ktf, Reshape(y, m, 1), Reshape(f0, m, 1), Reshape(f0t, nt * o, 1), 1.0, 30, 0.02);
        Assert.True(H.RelErr(H.A(p.Train), Reshape(rTrain, n, o)) < 1e-8);
        Assert.True(H.RelErr(H.A(p.Test!), Reshape(rTest, nt, o)) < 1e-8);
    }

    private static double[,] Reshape(double[,] a, int rows, int cols) => H.Unflat(H.Flat(a), 0, rows, cols);

    [Fact]
    public void TimeZero_ReturnsInitialOutputs()
    {
        var (k, kt, y, f0, f0t) = Problem(6);
        var p = new GradientDescentMse(H.M(k), H.M(y), 2.0, diagReg: 1e-3).Predict(0.0, H.M(f0), H.M(f0t), H.M(kt));
        Assert.True(H.RelErr(p.Train, f0) < 1e-15);
        Assert.True(H.RelErr(p.Test!, f0t) < 1e-15);
    }

    [Fact]
    public void LargeTime_MatchesCholeskyKernelRegression_AndExplicitInverse()
    {
        var (k, kt, y, f0, f0t) = Problem(7);
        var gd = new GradientDescentMse(H.M(k), H.M(y), 1.0);
        double lMin = gd.Eigenvalues[0];
        double tLarge = 40 * gd.TargetCount / lMin;          // e^{-lambda_min s} = e^{-40} ~ 4e-18
        var big = gd.Predict(tLarge, H.M(f0), H.M(f0t), H.M(kt));
        var inf = gd.Predict(double.PositiveInfinity, H.M(f0), H.M(f0t), H.M(kt));
        var explicitTest = H.Add(f0t, H.Mul(H.Mul(kt, H.Inverse(k)), H.Add(y, f0, -1)));
        Assert.True(H.RelErr(inf.Train, y) == 0);
        Assert.True(H.RelErr(inf.Test!, explicitTest) < 1e-9, $"{H.RelErr(inf.Test!, explicitTest):E2}");
        Assert.True(H.RelErr(big.Train, y) < 1e-9, $"{H.RelErr(big.Train, y):E2}");
        Assert.True(H.RelErr(big.Test!, inf.Test!) < 1e-8, $"{H.RelErr(big.Test!, inf.Test!):E2}");
    }

    [Fact]
    public void TimeArray_EqualsPerTimeCalls()
    {
        var (k, kt, y, f0, f0t) = Problem(8);
        var gd = new GradientDescentMse(H.M(k), H.M(y), 0.3, diagReg: 1e-4);
        var times = new[] { 5.0, 0.0, double.PositiveInfinity, 1e3, 0.25 };
        var all = gd.Predict(times, H.M(f0), H.M(f0t), H.M(kt));
        for (int i = 0; i < times.Length; i++)
        {
            var one = gd.Predict(times[i], H.M(f0), H.M(f0t), H.M(kt));
            Assert.Equal(times[i], all[i].Time);
            Assert.True(H.RelErr(all[i].Train, one.Train) <= 1e-15);
            Assert.True(H.RelErr(all[i].Test!, one.Test!) <= 1e-15);
        }
        Assert.True(H.RelErr(gd.PredictTrain(5.0, H.M(f0)), all[0].Train) <= 1e-15);
        Assert.True(H.RelErr(gd.PredictTest(5.0, H.M(f0), H.M(f0t), H.M(kt)), all[0].Test!) <= 1e-15);
    }

    [Fact]
    public void SingularKernel_ZeroEigenvalues_GiveFiniteValuesMatchingTheOde()
    {
        // Rank-3 kernel on 6 points: three eigenvalues are 0 up to round-off (some slightly negative).
        // The test kernel is not in the span, so the l -> 0 limit (-eta t / n_y) really drives a linear drift.
        var rng = new Random(9);
        var (k, _, _, _) = H.FeatureKernel(rng, 6, 3, 3);
        var kt = H.Gaussian(rng, 3, 6, 0.3);
        var y = H.Gaussian(rng, 6, 2);
        var f0 = H.Gaussian(rng, 6, 2, 0.5);
        var f0t = H.Gaussian(rng, 3, 2, 0.5);
        var gd = new GradientDescentMse(H.M(k), H.M(y), 1.0);
        Assert.True(Math.Abs(gd.Eigenvalues[0]) < 1e-14 && Math.Abs(gd.Eigenvalues[2]) < 1e-14, $"{gd.Eigenvalues[0]:E2} {gd.Eigenvalues[2]:E2}");
        foreach (var t in new[] { 1.0, 50.0, 400.0 })
        {
            var p = gd.Predict(t, H.M(f0), H.M(f0t), H.M(kt));
            Assert.All(p.Train.Data.Concat(p.Test!.Data), v => Assert.True(double.IsFinite(v)));
            var (rTrain, rTest) = Rk4Reference(k, kt, y, f0, f0t, 1.0, t, 0.05);
            Assert.True(H.RelErr(p.Train, rTrain) < 1e-8, $"train t={t}: {H.RelErr(p.Train, rTrain):E2}");
            Assert.True(H.RelErr(p.Test!, rTest) < 1e-8, $"test t={t}: {H.RelErr(p.Test!, rTest):E2}");
        }
    }

    [Fact]
    public void ExactlyZeroKernel_LeavesTrainFixedAndMovesTestLinearly()
    {
        // All eigenvalues exactly 0: train outputs never move; test outputs follow the l -> 0 limit exactly.
        var k = new double[3, 3];
        var kt = new double[,] { { 1, 2, 0 } };
        var y = new double[,] { { 1 }, { -1 }, { 2 } };
        var gd = new GradientDescentMse(H.M(k), H.M(y), 0.6);
        var p = gd.Predict(5, null, null, H.M(kt));
        Assert.Equal(new double[3], p.Train.Data);
        // df*/dt = -(eta / n_y) K* (f - y) = (0.6 / 3) * (1*1 + 2*(-1)) = -0.2 per step.
        Assert.Equal(-1.0, p.Test!.Data[0], 1e-14);

        // Eigenvalues 2, 0 and a round-off negative -1e-17 (clamped to 0, limit -s used, not 0 or NaN).
        // s = eta t / n_y = 0.6 * 5 / 3 = 1; f* = 0.5 expm1(-2)/2 (0 - 1) + 1 (-1)(0 + 1) + 1 (-1)(0 - 2).
        var diag = new double[,] { { 2, 0, 0 }, { 0, 0, 0 }, { 0, 0, -1e-17 } };
        var p2 = new GradientDescentMse(H.M(diag), H.M(y), 0.6).Predict(5, null, null, H.M(new double[,] { { 0.5, 1, 1 } }));
        Assert.Equal(0.5 * (Math.Exp(-2) - 1) / 2 * -1 - 1 + 2, p2.Test!.Data[0], 1e-14);
        Assert.Equal(-(Math.Exp(-2) - 1), p2.Train.Data[0], 1e-14);
        Assert.Equal(0.0, p2.Train.Data[1]);
        Assert.Equal(0.0, p2.Train.Data[2]);
    }

    [Fact]
    public void DiagReg_RelativeAndAbsolute_ShiftTheDiagonalAsDocumented()
    {
        var (k, kt, y, f0, f0t) = Problem(10);
        double trace = 0;
        for (int i = 0; i < 6; i++) trace += k[i, i];
        double shift = 0.05 * trace / 6;
        var rel = new GradientDescentMse(H.M(k), H.M(y), 1.0, diagReg: 0.05);
        var abs = new GradientDescentMse(H.M(k), H.M(y), 1.0, diagReg: shift, diagRegAbsoluteScale: true);
        var plain = new GradientDescentMse(H.M(H.Add(k, H.Eye(6, shift))), H.M(y), 1.0);
        var unreg = new GradientDescentMse(H.M(k), H.M(y), 1.0);
        Assert.Equal(shift, rel.DiagonalShift, 1e-15);
        Assert.Equal(shift, abs.DiagonalShift, 1e-15);
        for (int i = 0; i < 6; i++) Assert.Equal(unreg.Eigenvalues[i] + shift, rel.Eigenvalues[i], 1e-12);
        foreach (var t in new[] { 3.0, double.PositiveInfinity })
        {
            var a = rel.Predict(t, H.M(f0), H.M(f0t), H.M(kt));
            var b = abs.Predict(t, H.M(f0), H.M(f0t), H.M(kt));
            var c = plain.Predict(t, H.M(f0), H.M(f0t), H.M(kt));
            Assert.True(H.RelErr(a.Train, c.Train) < 1e-12 && H.RelErr(b.Train, c.Train) < 1e-12);
            Assert.True(H.RelErr(a.Test!, c.Test!) < 1e-12 && H.RelErr(b.Test!, c.Test!) < 1e-12);
        }
        // Ridge regression at t = infinity: f* = f0* + K* (K + shift I)^-1 (y - f0).
        var ridge = H.Add(f0t, H.Mul(H.Mul(kt, H.Inverse(H.Add(k, H.Eye(6, shift)))), H.Add(y, f0, -1)));
        Assert.True(H.RelErr(rel.PredictTest(double.PositiveInfinity, H.M(f0), H.M(f0t), H.M(kt)), ridge) < 1e-10);
    }

    [Fact]
    public void MaxLearningRate_IsTwoNyOverLambdaMax_AndSeparatesConvergentFromDivergentDiscreteGd()
    {
        var (k, _, y, f0, _) = Problem(11);
        var gd = new GradientDescentMse(H.M(k), H.M(y));
        int ny = 12;
        double lMax = gd.Eigenvalues[^1];
        double lr = GradientDescentMse.MaxLearningRate(H.M(k), H.M(y));
        Assert.Equal(2.0 * ny / (lMax + 1e-12), lr, 1e-12);
        Assert.Equal(2.0 * 1.9 * ny / (lMax + 1e-12), GradientDescentMse.MaxLearningRate(H.M(k), H.M(y), momentum: 0.9), 1e-12);
        // Discrete GD on 1/(2 n_y) ||f - y||^2 in function space: f <- f - (eta / n_y) K (f - y).
        double Residual(double eta)
        {
            var f = (double[,])f0.Clone();
            for (int step = 0; step < 3000; step++)
                f = H.Add(f, H.Mul(k, H.Add(f, y, -1)), -eta / ny);
            return H.RelErr(f, y);
        }
        Assert.True(Residual(0.98 * lr) < 1e-3);
        Assert.True(Residual(1.02 * lr) > 1e3);
    }

    [Fact]
    public void BadShapes_NameTheArgumentAndBothShapes()
    {
        var (k, kt, y, f0, f0t) = Problem(12);
        var ex = Assert.Throws<ArgumentException>(() => new GradientDescentMse(new Matrix<double>(5, 5), H.M(y)));
        Assert.Equal("kTrainTrain", ex.ParamName);
        Assert.Contains("6 x 6", ex.Message);
        Assert.Contains("5 x 5", ex.Message);

        var gd = new GradientDescentMse(H.M(k), H.M(y));
        ex = Assert.Throws<ArgumentException>(() => gd.Predict(1.0, new Matrix<double>(6, 3)));
        Assert.Equal("fTrain0", ex.ParamName);
        Assert.Contains("6 x 2", ex.Message);
        Assert.Contains("6 x 3", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => gd.Predict(1.0, H.M(f0), null, new Matrix<double>(3, 5)));
        Assert.Equal("kTestTrain", ex.ParamName);
        Assert.Contains("3 x 5", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => gd.Predict(1.0, H.M(f0), new Matrix<double>(4, 2), H.M(kt)));
        Assert.Equal("fTest0", ex.ParamName);
        Assert.Contains("3 x 2", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => gd.Predict(1.0, H.M(f0), H.M(f0t)));
        Assert.Equal("kTestTrain", ex.ParamName);

        var asym = (double[,])k.Clone();
        asym[0, 1] += 1.0;
        ex = Assert.Throws<ArgumentException>(() => new GradientDescentMse(H.M(asym), H.M(y)));
        Assert.Equal("kTrainTrain", ex.ParamName);
        Assert.Contains("symmetric", ex.Message);
        Assert.Contains("(0, 1)", ex.Message);
    }

    [Fact]
    public void NaNAndInfinity_AreRejected()
    {
        var (k, kt, y, f0, _) = Problem(13);
        var badK = (double[,])k.Clone();
        badK[2, 3] = double.NaN;
        var ex = Assert.Throws<ArgumentException>(() => new GradientDescentMse(H.M(badK), H.M(y)));
        Assert.Equal("kTrainTrain", ex.ParamName);
        Assert.Contains("NaN", ex.Message);
        Assert.Contains("(2, 3)", ex.Message);

        var badY = (double[,])y.Clone();
        badY[1, 1] = double.PositiveInfinity;
        ex = Assert.Throws<ArgumentException>(() => new GradientDescentMse(H.M(k), H.M(badY)));
        Assert.Equal("yTrain", ex.ParamName);

        var gd = new GradientDescentMse(H.M(k), H.M(y));
        var badF = (double[,])f0.Clone();
        badF[0, 0] = double.NaN;
        Assert.Equal("fTrain0", Assert.Throws<ArgumentException>(() => gd.Predict(1.0, H.M(badF))).ParamName);
        var badKt = (double[,])kt.Clone();
        badKt[0, 0] = double.NegativeInfinity;
        Assert.Equal("kTestTrain", Assert.Throws<ArgumentException>(() => gd.Predict(1.0, H.M(f0), null, H.M(badKt))).ParamName);
        Assert.Equal("t", Assert.Throws<ArgumentOutOfRangeException>(() => gd.Predict(double.NaN, H.M(f0))).ParamName);
        Assert.Equal("t", Assert.Throws<ArgumentOutOfRangeException>(() => gd.Predict(-1.0, H.M(f0))).ParamName);
        Assert.Equal("learningRate", Assert.Throws<ArgumentOutOfRangeException>(() => new GradientDescentMse(H.M(k), H.M(y), double.NaN)).ParamName);
        Assert.Equal("diagReg", Assert.Throws<ArgumentOutOfRangeException>(() => new GradientDescentMse(H.M(k), H.M(y), 1, double.NaN)).ParamName);
    }

    [Fact]
    public void SingularKernel_AtInfinity_FailsWithDiagRegHint_AndTheHintWorks()
    {
        var rng = new Random(14);
        var (k, kt, _, _) = H.FeatureKernel(rng, 6, 2, 3);   // rank 3 of 6
        var y = H.Gaussian(rng, 6, 1);
        var gd = new GradientDescentMse(H.M(k), H.M(y));
        var ex = Assert.Throws<KernelConditioningException>(() => gd.Predict(double.PositiveInfinity, null, null, H.M(kt)));
        Assert.Equal("kTrainTrain", ex.ParamName);
        Assert.Contains("diagReg", ex.Message);
        Assert.True(ex.SuggestedDiagReg > 0 && ex.SuggestedDiagReg < 1e-6, $"suggested {ex.SuggestedDiagReg}");
        var fixedGd = new GradientDescentMse(H.M(k), H.M(y), diagReg: ex.SuggestedDiagReg);
        var p = fixedGd.Predict(double.PositiveInfinity, null, null, H.M(kt));
        Assert.All(p.Test!.Data, v => Assert.True(double.IsFinite(v)));
        // Finite times stay available without regularization.
        Assert.All(gd.Predict(10.0, null, null, H.M(kt)).Test!.Data, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void IndefiniteMatrix_IsRejectedWithDiagRegHint()
    {
        var k = new double[,] { { 1, 0, 0 }, { 0, -0.5, 0 }, { 0, 0, 2 } };
        var gd = new GradientDescentMse(H.M(k), H.M(new double[,] { { 1 }, { 2 }, { 3 } }));
        var ex = Assert.Throws<KernelConditioningException>(() => gd.Predict(1.0));
        Assert.Contains("positive semidefinite", ex.Message);
        Assert.Contains("diagReg", ex.Message);
        var ok = new GradientDescentMse(H.M(k), H.M(new double[,] { { 1 }, { 2 }, { 3 } }), diagReg: ex.SuggestedDiagReg);
        Assert.All(ok.Predict(1.0).Train.Data, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void MaxLearningRate_of_a_shared_kernel_counts_every_output()
    {
        // Issue 11 item 7: a trace (shared) kernel with O = 2 allows twice the single-output rate; the targets fix n_y.
        var (k, _, y, f0, _) = Problem(21);
        double two = GradientDescentMse.MaxLearningRate(H.M(k), H.M(y));
        var firstColumn = new Matrix<double>(6, 1, Enumerable.Range(0, 6).Select(i => y[i, 0]).ToArray());
        Assert.Equal(2 * GradientDescentMse.MaxLearningRate(H.M(k), firstColumn), two, 1e-12);
        // Discrete GD on both outputs converges just below the limit and diverges just above it.
        double Residual(double eta)
        {
            var f = (double[,])f0.Clone();
            for (int step = 0; step < 3000; step++) f = H.Add(f, H.Mul(k, H.Add(f, y, -1)), -eta / 12);
            return H.RelErr(f, y);
        }
        Assert.True(Residual(0.98 * two) < 1e-3);
        Assert.True(Residual(1.02 * two) > 1e3);
        // A kernel that fits neither layout of the targets is rejected by name.
        var wrong = new Matrix<double>(5, 1);
        Assert.Equal("kTrainTrain", Assert.Throws<ArgumentException>(() => GradientDescentMse.MaxLearningRate(H.M(k), wrong)).ParamName);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void All_zero_kernel_says_why_diag_reg_cannot_help_instead_of_suggesting_zero(bool absolute)
    {
        // Issue 11 item 17: a relative diag_reg multiplies the mean diagonal (0 here), so no relative value can fix it.
        var y = H.M(new double[,] { { 1 }, { 2 }, { 3 } });
        var gd = new GradientDescentMse(new Matrix<double>(3, 3), y, diagRegAbsoluteScale: absolute);
        var ex = Assert.Throws<KernelConditioningException>(() => gd.Predict(double.PositiveInfinity));
        Assert.Equal(0, ex.FailedPivot);
        Assert.DoesNotContain("to about 0", ex.Message);
        if (absolute)
        {
            Assert.True(ex.SuggestedDiagReg > 0, $"suggested {ex.SuggestedDiagReg}");
            var ok = new GradientDescentMse(new Matrix<double>(3, 3), y, diagReg: ex.SuggestedDiagReg, diagRegAbsoluteScale: true);
            Assert.All(ok.Predict(double.PositiveInfinity, null, null, new Matrix<double>(2, 3)).Test!.Data, v => Assert.Equal(0.0, v));
        }
        else
        {
            Assert.True(double.IsNaN(ex.SuggestedDiagReg));
            Assert.Contains("diagRegAbsoluteScale: true", ex.Message);
        }
    }

    [Fact]
    public void Failed_cholesky_reports_the_pivot_and_a_diag_reg_that_fixes_it()
    {
        // Rank 3 of 6 with the CPU default: the factorization breaks down at or after pivot 3.
        var rng = new Random(14);
        var (k, kt, _, _) = H.FeatureKernel(rng, 6, 2, 3);
        var y = H.Gaussian(rng, 6, 1);
        var ex = Assert.Throws<KernelConditioningException>(() => new GradientDescentMse(H.M(k), H.M(y)).Predict(double.PositiveInfinity, null, null, H.M(kt)));
        Assert.NotNull(ex.FailedPivot);
        Assert.InRange(ex.FailedPivot!.Value, 3, 5);
        Assert.Contains($"at pivot {ex.FailedPivot} of 6", ex.Message);
        var fixedGd = new GradientDescentMse(H.M(k), H.M(y), diagReg: ex.SuggestedDiagReg);
        Assert.All(fixedGd.Predict(double.PositiveInfinity, null, null, H.M(kt)).Test!.Data, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void Default_cpu_linear_algebra_agrees_with_MathNet_through_the_dynamics()
    {
        var (k, kt, y, f0, f0t) = Problem(31, n: 40, nTest: 7, o: 3, p: 80);   // full rank, condition ~1e2
        double[] times = [0, 0.3, 5, 100, double.PositiveInfinity];
        var viaCpu = new GradientDescentMse(H.M(k), H.M(y), 0.9, diagReg: 1e-6).Predict(times, H.M(f0), H.M(f0t), H.M(kt));
        var viaMathNet = new GradientDescentMse(H.M(k), H.M(y), 0.9, diagReg: 1e-6, linearAlgebra: MathNetLinearAlgebra.Instance)
            .Predict(times, H.M(f0), H.M(f0t), H.M(kt));
        for (int i = 0; i < times.Length; i++)
        {
            Assert.True(TestMath.RelativeError(viaCpu[i].Train, viaMathNet[i].Train) < 1e-10, $"train at t = {times[i]}");
            Assert.True(TestMath.RelativeError(viaCpu[i].Test!, viaMathNet[i].Test!) < 1e-10, $"test at t = {times[i]}");
        }
    }

    [Theory]
    [InlineData(false, 3)]
    [InlineData(true, 3)]
    [InlineData(false, 1)]
    public void Chebyshev_route_agrees_with_the_eigendecomposition_route(bool full, int outputs)
    {
        var rng = new Random(41);
        int n = 30, nTest = 5, m = full ? n * outputs : n, mt = full ? nTest * outputs : nTest;
        // Rank 20 < m: zero eigenvalues exercise the l -> 0 limit of expm1(-l s) / l.
        var (k, kt, _, _) = H.FeatureKernel(rng, m, mt, 20);
        var y = H.Gaussian(rng, n, outputs);
        var f0 = H.Gaussian(rng, n, outputs, 0.3);
        var f0t = H.Gaussian(rng, nTest, outputs, 0.3);
        double[] times = [0, 0.5, 7, 300];
        var eigen = new GradientDescentMse(H.M(k), H.M(y), 0.8) { ForcedRoute = DynamicsRoute.Eigen };
        var cheb = new GradientDescentMse(H.M(k), H.M(y), 0.8) { ForcedRoute = DynamicsRoute.Chebyshev };
        var a = eigen.Predict(times, H.M(f0), H.M(f0t), H.M(kt));
        var b = cheb.Predict(times, H.M(f0), H.M(f0t), H.M(kt));
        Assert.Equal(DynamicsRoute.Chebyshev, cheb.LastRoute);
        for (int i = 0; i < times.Length; i++)
        {
            Assert.True(TestMath.RelativeError(b[i].Train, a[i].Train) < 1e-11, $"train at t = {times[i]}");
            Assert.True(TestMath.RelativeError(b[i].Test!, a[i].Test!) < 1e-11, $"test at t = {times[i]}");
        }
    }

    [Fact]
    public void Cost_model_picks_chebyshev_for_a_few_early_times_and_the_eigendecomposition_otherwise()
    {
        var rng = new Random(42);
        var (k, kt, _, _) = H.FeatureKernel(rng, 200, 10, 300);
        var y = H.Gaussian(rng, 200, 1);
        var few = new GradientDescentMse(H.M(k), H.M(y));
        few.Predict([1.0, 2.0], null, null, H.M(kt));
        Assert.Equal(DynamicsRoute.Chebyshev, few.LastRoute);
        var many = new GradientDescentMse(H.M(k), H.M(y));
        many.Predict(Enumerable.Range(0, 100).Select(i => Math.Pow(10, i / 20.0)).ToArray(), null, null, H.M(kt));
        Assert.Equal(DynamicsRoute.Eigen, many.LastRoute);
        // Once decomposed, the cached eigendecomposition serves every later time.
        many.Predict([1.0], null, null, H.M(kt));
        Assert.Equal(DynamicsRoute.Eigen, many.LastRoute);
        // Single-time calls add up: after enough of them the kernel is decomposed once and the calls stay on it.
        var repeated = new GradientDescentMse(H.M(k), H.M(y));
        var routes = Enumerable.Range(0, 60).Select(i => { repeated.Predict(1.0 + i, null, null, H.M(kt)); return repeated.LastRoute; }).ToList();
        Assert.Equal(DynamicsRoute.Chebyshev, routes[0]);
        int first = routes.IndexOf(DynamicsRoute.Eigen);
        Assert.True(first > 0, "never switched to the eigendecomposition");
        Assert.All(routes.Skip(first), r => Assert.Equal(DynamicsRoute.Eigen, r));
    }

    [Fact]
    public void Chebyshev_route_still_rejects_an_indefinite_kernel()
    {
        var k = new double[,] { { 1, 0, 0 }, { 0, -0.5, 0 }, { 0, 0, 2 } };
        var gd = new GradientDescentMse(H.M(k), H.M(new double[,] { { 1 }, { 2 }, { 3 } })) { ForcedRoute = DynamicsRoute.Chebyshev };
        Assert.Throws<KernelConditioningException>(() => gd.Predict(1.0));
        Assert.Equal(DynamicsRoute.Eigen, gd.LastRoute);
    }
}

using NtkDsl;
using Xunit;

namespace NtkDsl.Tests.Dynamics;

public class GpInferenceAndEnsembleTests
{
    /// <summary>
    /// Joint kernels over n train + nt test points from features: NNGP K = A A^T, NTK Theta = J J^T + K
    /// (the NTK contains the NNGP as its last-layer term), so the two genuinely differ.
    /// </summary>
    private sealed record Blocks(double[,] Kdd, double[,] Ktd, double[,] Ktt, double[,] Tdd, double[,] Ttd, double[,] Ttt,
        double[,] A, double[,] J, double[,] Y, int N, int NT);

    private static Blocks Make(int seed, int n = 5, int nt = 3, int o = 2, int pa = 9, int pj = 11)
    {
        var rng = new Random(seed);
        var a = H.Gaussian(rng, n + nt, pa, 1.0 / Math.Sqrt(pa));
        var j = H.Gaussian(rng, n + nt, pj, 1.0 / Math.Sqrt(pj));
        var k = H.Mul(a, H.T(a));
        var th = H.Add(H.Mul(j, H.T(j)), k);
        double[,] Sub(double[,] m, int r0, int r1, int c0, int c1)
        {
            var s = new double[r1 - r0, c1 - c0];
            for (int r = r0; r < r1; r++)
                for (int c = c0; c < c1; c++)
                    s[r - r0, c - c0] = m[r, c];
            return s;
        }
        int all = n + nt;
        return new Blocks(Sub(k, 0, n, 0, n), Sub(k, n, all, 0, n), Sub(k, n, all, n, all),
            Sub(th, 0, n, 0, n), Sub(th, n, all, 0, n), Sub(th, n, all, n, all), a, j, H.Gaussian(rng, n, o), n, nt);
    }

    private static KernelPair Pair(double[,] nngp, double[,] ntk) => new(H.M(nngp), H.M(ntk));

    [Fact]
    public void Nngp_MeanAndCovariance_MatchExplicitInverse()
    {
        var b = Make(21);
        var gp = new GpInference(Pair(b.Kdd, b.Tdd), H.M(b.Y));
        var p = gp.Predict(PosteriorKind.Nngp, Pair(b.Ktd, b.Ttd), H.M(b.Ktt));
        var inv = H.Inverse(b.Kdd);
        var mean = H.Mul(H.Mul(b.Ktd, inv), b.Y);
        var cov = H.Add(b.Ktt, H.Mul(H.Mul(b.Ktd, inv), H.T(b.Ktd)), -1);
        Assert.True(H.RelErr(p.Mean, mean) < 1e-9, $"{H.RelErr(p.Mean, mean):E2}");
        Assert.True(H.RelErr(p.Covariance!, cov, 1e-3) < 1e-8, $"{H.RelErr(p.Covariance!, cov):E2}");
    }

    [Fact]
    public void Ntk_MeanAndCovariance_MatchExplicitInverse()
    {
        var b = Make(22);
        var gp = new GpInference(Pair(b.Kdd, b.Tdd), H.M(b.Y));
        var p = gp.Predict(PosteriorKind.Ntk, Pair(b.Ktd, b.Ttd), H.M(b.Ktt));
        var aMat = H.Mul(b.Ttd, H.Inverse(b.Tdd));                  // A = Theta_td Theta_dd^-1
        var mean = H.Mul(aMat, b.Y);
        var akdt = H.Mul(aMat, H.T(b.Ktd));
        var cov = H.Add(H.Add(b.Ktt, H.Mul(H.Mul(aMat, b.Kdd), H.T(aMat))), H.Add(akdt, H.T(akdt)), -1);
        Assert.True(H.RelErr(p.Mean, mean) < 1e-9);
        Assert.True(H.RelErr(p.Covariance!, cov, 1e-3) < 1e-8, $"{H.RelErr(p.Covariance!, cov):E2}");
    }

    [Fact]
    public void NtkGp_AndDiagReg_MatchExplicitInverse()
    {
        var b = Make(23);
        double trace = 0;
        for (int i = 0; i < b.N; i++) trace += b.Tdd[i, i];
        double shift = 0.01 * trace / b.N;
        var gp = new GpInference(Pair(b.Kdd, b.Tdd), H.M(b.Y), diagReg: 0.01);
        var p = gp.Predict(PosteriorKind.NtkGp, Pair(b.Ktd, b.Ttd), H.M(b.Ttt));
        var inv = H.Inverse(H.Add(b.Tdd, H.Eye(b.N, shift)));
        Assert.True(H.RelErr(p.Mean, H.Mul(H.Mul(b.Ttd, inv), b.Y)) < 1e-9);
        Assert.True(H.RelErr(p.Covariance!, H.Add(b.Ttt, H.Mul(H.Mul(b.Ttd, inv), H.T(b.Ttd)), -1)) < 1e-8);
        // Mean only when no test-test kernel is given.
        Assert.Null(gp.Predict(PosteriorKind.Ntk, Pair(b.Ktd, b.Ttd)).Covariance);
    }

    [Fact]
    public void TrainSetPrediction_IsTargetsWithZeroCovariance()
    {
        var b = Make(24);
        var p = new GpInference(Pair(b.Kdd, b.Tdd), H.M(b.Y)).PredictTrain(PosteriorKind.Ntk, computeCovariance: true);
        Assert.Equal(H.Flat(b.Y), p.Mean.Data);
        Assert.All(p.Covariance!.Data, v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void MissingKernels_AreNamed()
    {
        var b = Make(25);
        var nngpOnly = new GpInference(new KernelPair(H.M(b.Kdd), null), H.M(b.Y));
        var ex = Assert.Throws<ArgumentException>(() => nngpOnly.Predict(PosteriorKind.Ntk, Pair(b.Ktd, b.Ttd)));
        Assert.Equal("trainTrain.Ntk", ex.ParamName);
        var full = new GpInference(Pair(b.Kdd, b.Tdd), H.M(b.Y));
        ex = Assert.Throws<ArgumentException>(() => full.Predict(PosteriorKind.Ntk, new KernelPair(null, H.M(b.Ttd)), H.M(b.Ktt)));
        Assert.Equal("testTrain.Nngp", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => full.Predict(PosteriorKind.Nngp, Pair(b.Ktd, b.Ttd), new Matrix<double>(2, 2)));
        Assert.Equal("kTestTest", ex.ParamName);
        Assert.Contains("3 x 3", ex.Message);
    }

    [Fact]
    public void Ensemble_AtInfinity_EqualsGpInference_AndLargeTimeConverges()
    {
        var b = Make(26);
        var ens = new GradientDescentMseEnsemble(Pair(b.Kdd, b.Tdd), H.M(b.Y), learningRate: 0.5);
        var gp = new GpInference(Pair(b.Kdd, b.Tdd), H.M(b.Y));
        foreach (var kind in new[] { PosteriorKind.Nngp, PosteriorKind.Ntk })
        {
            var inf = ens.Predict(double.PositiveInfinity, kind, Pair(b.Ktd, b.Ttd), H.M(b.Ktt));
            var g = gp.Predict(kind, Pair(b.Ktd, b.Ttd), H.M(b.Ktt));
            Assert.True(H.RelErr(inf.Mean, g.Mean) < 1e-14 && H.RelErr(inf.Covariance!, g.Covariance!) < 1e-14);
            // e^{-lambda_min s} ~ e^{-60}: the eigen path must agree with the Cholesky path.
            double lMin = new GradientDescentMse(H.M(kind == PosteriorKind.Nngp ? b.Kdd : b.Tdd), H.M(b.Y)).Eigenvalues[0];
            double t = 60 * ens.TargetCount / (0.5 * lMin);
            var big = ens.Predict(t, kind, Pair(b.Ktd, b.Ttd), H.M(b.Ktt));
            Assert.True(H.RelErr(big.Mean, g.Mean) < 1e-8, $"{kind} mean {H.RelErr(big.Mean, g.Mean):E2}");
            Assert.True(H.RelErr(big.Covariance!, g.Covariance!, 1e-3) < 1e-7, $"{kind} cov {H.RelErr(big.Covariance!, g.Covariance!):E2}");
        }
    }

    [Fact]
    public void Ensemble_AtTimeZero_IsThePrior_AndMeanMatchesZeroInitTraining()
    {
        var b = Make(27);
        var ens = new GradientDescentMseEnsemble(Pair(b.Kdd, b.Tdd), H.M(b.Y), learningRate: 2.0);
        var p0 = ens.Predict(0, PosteriorKind.Ntk, Pair(b.Ktd, b.Ttd), H.M(b.Ktt));
        Assert.All(p0.Mean.Data, v => Assert.Equal(0.0, v));
        Assert.True(H.RelErr(p0.Covariance!, b.Ktt) < 1e-13);
        var tr0 = ens.PredictTrain(0, PosteriorKind.Nngp, computeCovariance: true);
        Assert.True(H.RelErr(tr0.Covariance!, b.Kdd) < 1e-12);

        // The ensemble mean is the trajectory started at f0 = 0.
        var gd = new GradientDescentMse(H.M(b.Tdd), H.M(b.Y), 2.0);
        var times = new[] { 1.0, 7.0, 50.0 };
        var many = ens.Predict(times, PosteriorKind.Ntk, Pair(b.Ktd, b.Ttd));
        for (int i = 0; i < times.Length; i++)
        {
            Assert.True(H.RelErr(many[i].Mean, gd.PredictTest(times[i], null, null, H.M(b.Ttd))) < 1e-12);
            Assert.True(H.RelErr(ens.PredictTrain(times[i], PosteriorKind.Ntk).Mean, gd.PredictTrain(times[i])) < 1e-12);
        }
    }

    [Fact]
    public void Ensemble_FiniteTime_MatchesMonteCarloOverSampledLinearModels()
    {
        // Linear model: f(x) = a(x).w + j(x).u with w ~ N(0, I) frozen and u trained from 0 by gradient flow on
        // 1/2-mean MSE. Then f0 ~ N(0, K = A A^T) and the tangent kernel of u is J J^T. The "NTK" case trains with
        // Theta = J J^T + K (u and w both trained, w from its random init), the "NNGP" case trains w only (Theta = K).
        // Each sample's trajectory is exact (closed form checked against RK4 elsewhere); 20000 samples give
        // ~1% sampling error, tolerance 5% of the largest entry.
        var b = Make(28, n: 5, nt: 3, o: 1);
        int samples = 20000;
        double eta = 1.0, t = 8.0;
        var ens = new GradientDescentMseEnsemble(Pair(b.Kdd, b.Tdd), H.M(b.Y), eta);
        var rng = new Random(99);
        foreach (var kind in new[] { PosteriorKind.Ntk, PosteriorKind.Nngp })
        {
            var gd = new GradientDescentMse(H.M(kind == PosteriorKind.Ntk ? b.Tdd : b.Kdd), H.M(b.Y), eta);
            var kt = H.M(kind == PosteriorKind.Ntk ? b.Ttd : b.Ktd);
            var sumTest = new double[b.NT];
            var sumTest2 = new double[b.NT, b.NT];
            var sumTrain = new double[b.N];
            var sumTrain2 = new double[b.N, b.N];
            var w = new double[b.A.GetLength(1), 1];
            for (int s = 0; s < samples; s++)
            {
                for (int i = 0; i < w.GetLength(0); i++) w[i, 0] = H.Normal(rng);
                var f0All = H.Mul(b.A, w);
                var f0 = H.Unflat(H.Flat(f0All), 0, b.N, 1);
                var f0t = H.Unflat(H.Flat(f0All), b.N, b.NT, 1);
                var p = gd.Predict(t, H.M(f0), H.M(f0t), kt);
                Accumulate(p.Test!.Data, sumTest, sumTest2);
                Accumulate(p.Train.Data, sumTrain, sumTrain2);
            }
            var exact = ens.Predict(t, kind, Pair(b.Ktd, b.Ttd), H.M(b.Ktt));
            var exactTrain = ens.PredictTrain(t, kind, computeCovariance: true);
            CheckMc(sumTest, sumTest2, samples, exact, $"{kind} test");
            CheckMc(sumTrain, sumTrain2, samples, exactTrain, $"{kind} train");
        }
    }

    [Fact]
    public void Ensemble_FiniteTime_MatchesMatrixExponentialFormulas()
    {
        // Exact propagation of f0 ~ N(0, K) through f_t = f0 + (e^{-G s} - I)(f0 - y), f*_t = f0* + G_td G^-1 (e^{-G s} - I)(f0 - y),
        // with e^{.} by Taylor scaling-squaring and an explicit inverse (no eigendecomposition): 1e-8 relative.
        var b = Make(30, o: 2);
        double eta = 0.8, t = 6;
        double s = eta * t / (b.N * 2);
        var ens = new GradientDescentMseEnsemble(Pair(b.Kdd, b.Tdd), H.M(b.Y), eta);
        foreach (var kind in new[] { PosteriorKind.Nngp, PosteriorKind.Ntk })
        {
            var g = kind == PosteriorKind.Nngp ? b.Kdd : b.Tdd;
            var gtd = kind == PosteriorKind.Nngp ? b.Ktd : b.Ttd;
            var e = H.Expm(H.Scale(g, -s));
            var iMinusE = H.Add(H.Eye(b.N), e, -1);
            var a = H.Mul(H.Mul(gtd, H.Inverse(g)), iMinusE);                // f*_t = f0* - a f0 + a y
            // Train: f_t = e f0 + (I - e) y.
            var meanTrain = H.Mul(iMinusE, b.Y);
            var covTrain = H.Mul(H.Mul(e, b.Kdd), H.T(e));
            var meanTest = H.Mul(a, b.Y);
            var cross = H.Mul(a, H.T(b.Ktd));
            var covTest = H.Add(H.Add(b.Ktt, H.Mul(H.Mul(a, b.Kdd), H.T(a))), H.Add(cross, H.T(cross)), -1);
            var pt = ens.PredictTrain(t, kind, computeCovariance: true);
            var p = ens.Predict(t, kind, Pair(b.Ktd, b.Ttd), H.M(b.Ktt));
            Assert.True(H.RelErr(pt.Mean, meanTrain) < 1e-9, $"{kind} train mean {H.RelErr(pt.Mean, meanTrain):E2}");
            Assert.True(H.RelErr(pt.Covariance!, covTrain) < 1e-9, $"{kind} train cov {H.RelErr(pt.Covariance!, covTrain):E2}");
            Assert.True(H.RelErr(p.Mean, meanTest) < 1e-8, $"{kind} test mean {H.RelErr(p.Mean, meanTest):E2}");
            Assert.True(H.RelErr(p.Covariance!, covTest) < 1e-8, $"{kind} test cov {H.RelErr(p.Covariance!, covTest):E2}");
        }
    }

    private static void Accumulate(double[] v, double[] sum, double[,] sum2)
    {
        for (int i = 0; i < v.Length; i++)
        {
            sum[i] += v[i];
            for (int j = 0; j < v.Length; j++) sum2[i, j] += v[i] * v[j];
        }
    }

    private static void CheckMc(double[] sum, double[,] sum2, int count, GaussianPrediction exact, string what)
    {
        int m = sum.Length;
        var mean = new double[m, 1];
        var cov = new double[m, m];
        for (int i = 0; i < m; i++) mean[i, 0] = sum[i] / count;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                cov[i, j] = sum2[i, j] / count - mean[i, 0] * mean[j, 0];
        double meanErr = H.RelErr(exact.Mean, mean), covErr = H.RelErr(exact.Covariance!, cov);
        Assert.True(meanErr < 0.05, $"{what} mean: {meanErr:E2}");
        Assert.True(covErr < 0.05, $"{what} covariance: {covErr:E2}");
    }

    [Fact]
    public void Ensemble_RejectsNtkGpAndMissingNngpForCovariance()
    {
        var b = Make(29);
        var ntkOnly = new GradientDescentMseEnsemble(new KernelPair(null, H.M(b.Tdd)), H.M(b.Y));
        Assert.Equal("kind", Assert.Throws<ArgumentOutOfRangeException>(() => ntkOnly.PredictTrain(1, PosteriorKind.NtkGp)).ParamName);
        Assert.Equal("trainTrain.Nngp", Assert.Throws<ArgumentException>(() => ntkOnly.PredictTrain(1, PosteriorKind.Ntk, true)).ParamName);
        var ok = ntkOnly.Predict(1, PosteriorKind.Ntk, new KernelPair(null, H.M(b.Ttd)));
        Assert.Null(ok.Covariance);
        Assert.Equal("t", Assert.Throws<ArgumentOutOfRangeException>(() => ntkOnly.PredictTrain(double.NaN, PosteriorKind.Ntk)).ParamName);
    }
}

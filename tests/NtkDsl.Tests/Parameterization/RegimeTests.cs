using NtkDsl.Backends;
using NtkDsl.Cpu;
using Xunit.Abstractions;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests.Parameterizations;

/// <summary>
/// The two regimes side by side on the same declared network ([Dense(W), Relu][Dense(1)], W_std 1.4, b_std 0.1, widths
/// 64..2048): after 100 full-batch GD steps on 16 points (eta = 0.3 of the largest stable rate of the NTK at
/// initialization, which includes the per-layer rates), the empirical NTK and the last hidden layer's kernel move less
/// and less with width under NTK parameterization and by a width-independent amount under maximal-update and mean-field
/// parameterization; and the best learning rate over a sweep stays put under muP but moves with width under standard
/// parameterization. Numbers and tolerances are in each test's remarks.
/// </summary>
public sealed class RegimeTests(ITestOutputHelper output)
{
    private const int Steps = 100;
    private static readonly int[] Seeds = [.. (Environment.GetEnvironmentVariable("NTKDSL_REGIME_SEEDS") ?? "1,2,3").Split(',').Select(int.Parse)];

    private static readonly Matrix<double> X = Gaussian(16, 4, seed: 71);
    private static readonly Matrix<double> Y = SmoothTarget(X);

    /// <remarks>
    /// Measured 2026-12-01 (log-log slopes against width of the NTK change / feature-kernel change, seed triples 1-3, 4-6,
    /// 7-9): NTK -0.77 / -1.07, -0.85 / -1.14, -0.80 / -0.95; muP 0.00 / 0.02, -0.02 / 0.02, 0.12 / 0.06; MF 0.02 / 0.01,
    /// 0.03 / 0.00, 0.09 / 0.03. At width 2048 the NTK moves 0.4-0.6% under NTK parameterization, 32-34% under muP and
    /// 46-53% under MF; the centered alignment of the last hidden layer's kernel with the targets rises by 0.000-0.001
    /// (NTK), 0.23-0.24 (muP) and 0.09-0.10 (MF). Assertions: NTK slopes below -0.6 (NTK change) and -0.7 (features),
    /// muP and MF slopes within +-0.25 of 0 with changes above 0.1 at the widest net, alignment gains above 0.15 (muP)
    /// and 0.05 (MF) at every width and below 0.01 for NTK at width 2048.
    /// </remarks>
    [Fact]
    public void Kernel_and_feature_changes_vanish_with_width_under_ntk_and_stay_under_mup_and_mean_field()
    {
        var ntk = Sweep(Measure<NtkRelu64>, Measure<NtkRelu128>, Measure<NtkRelu256>, Measure<NtkRelu512>, Measure<NtkRelu1024>, Measure<NtkRelu2048>);
        var mup = Sweep(Measure<MupRelu64>, Measure<MupRelu128>, Measure<MupRelu256>, Measure<MupRelu512>, Measure<MupRelu1024>, Measure<MupRelu2048>);
        var mf = Sweep(Measure<MfRelu64>, Measure<MfRelu128>, Measure<MfRelu256>, Measure<MfRelu512>, Measure<MfRelu1024>, Measure<MfRelu2048>);
        foreach (var (name, rows) in new[] { ("NTK", ntk), ("muP", mup), ("MF", mf) })
        {
            foreach (var r in rows)
                output.WriteLine($"{name} width {r.Width,5}: NTK change {r.KernelChange:E3}, feature-kernel change {r.FeatureKernelChange:E3}, alignment {r.InitialAlignment:F3} -> {r.FinalAlignment:F3}, loss {r.InitialLoss:F4} -> {r.FinalLoss:F4}");
            output.WriteLine($"{name} slopes: NTK change {Slope(rows, r => r.KernelChange):F3}, feature-kernel change {Slope(rows, r => r.FeatureKernelChange):F3}");
        }

        Assert.True(Slope(ntk, r => r.KernelChange) < -0.6, $"NTK parameterization: NTK change slope {Slope(ntk, r => r.KernelChange):F3}");
        Assert.True(Slope(ntk, r => r.FeatureKernelChange) < -0.7, $"NTK parameterization: feature-kernel change slope {Slope(ntk, r => r.FeatureKernelChange):F3}");
        Assert.True(Math.Abs(ntk[^1].AlignmentChange) < 0.01, $"NTK parameterization at width 2048: alignment change {ntk[^1].AlignmentChange:F4}");
        foreach (var (name, rows, gain) in new[] { ("muP", mup, 0.15), ("MF", mf, 0.05) })
        {
            Assert.InRange(Slope(rows, r => r.KernelChange), -0.25, 0.25);
            Assert.InRange(Slope(rows, r => r.FeatureKernelChange), -0.25, 0.25);
            Assert.True(rows[^1].KernelChange > 0.1 && rows[^1].FeatureKernelChange > 0.1, $"{name} at width 2048: changes {rows[^1].KernelChange:F3}, {rows[^1].FeatureKernelChange:F3}");
            Assert.All(rows, r => Assert.True(r.AlignmentChange > gain, $"{name} width {r.Width}: alignment change {r.AlignmentChange:F3}"));
        }
    }

    /// <remarks>
    /// Training loss after 50 full-batch GD steps (seed 1 initialization, same data) over eta = 2^-14 .. 2^3, widths 64,
    /// 256, 1024, 2048. Measured 2026-12-01 (seeds 4 and 7): the best eta under standard parameterization is 2^-4, 2^-6,
    /// 2^-8, 2^-9 (it follows the largest stable rate, which falls as 1/width: the output layer's NTK term grows with
    /// width), under muP 2^0 at every width. Assertions: the SP optimum moves by at least 2^3 from width 64 to 2048, the
    /// muP optima are all within a factor 2 of each other.
    /// </remarks>
    [Fact]
    public void Best_learning_rate_transfers_across_widths_under_mup_but_not_under_standard_parameterization()
    {
        double[] rates = [.. Enumerable.Range(-14, 18).Select(k => Math.Pow(2, k))];
        var sp = new[] { Sweep<SpRelu64>(rates), Sweep<SpRelu256>(rates), Sweep<SpRelu1024>(rates), Sweep<SpRelu2048>(rates) };
        var mup = new[] { Sweep<MupRelu64>(rates), Sweep<MupRelu256>(rates), Sweep<MupRelu1024>(rates), Sweep<MupRelu2048>(rates) };
        double Best(double[] losses) => Math.Log2(rates[Array.IndexOf(losses, losses.Min())]);
        foreach (var (name, table) in new[] { ("SP", sp), ("muP", mup) })
            foreach (var losses in table)
                output.WriteLine($"{name}: " + string.Join(" ", losses.Select(l => l.ToString("E2"))) + $"  best log2 eta {Best(losses)}");

        Assert.True(Best(sp[0]) - Best(sp[^1]) >= 3, $"SP best log2 eta: {string.Join(", ", sp.Select(Best))}");
        Assert.True(mup.Max(Best) - mup.Min(Best) <= 1, $"muP best log2 eta: {string.Join(", ", mup.Select(Best))}");
    }

    private static double[] Sweep<TNet>(double[] rates) where TNet : INetwork<TNet>
    {
        var theta0 = CpuNetwork<TNet, double>.InitializeParameters(Seeds[0]);
        return [.. rates.Select(eta => FeatureLearning.LossAfterTraining<TNet>(theta0, X, Y, eta, 50))];
    }

    private static List<RegimeMeasurement> Sweep(params Func<RegimeMeasurement>[] measures) => [.. measures.Select(m => m())];

    private static RegimeMeasurement Measure<TNet>() where TNet : INetwork<TNet>
    {
        var runs = Seeds.Select(seed =>
        {
            var theta0 = CpuNetwork<TNet, double>.InitializeParameters(seed);
            double eta = 0.3 * GradientDescentMse.MaxLearningRate(CpuNetwork<TNet, double>.Ntk(theta0, X), Y);
            return FeatureLearning.Measure<TNet>(theta0, X, Y, eta, Steps);
        }).ToList();
        return new RegimeMeasurement(runs[0].Width, runs.Average(r => r.KernelChange), runs.Average(r => r.FeatureKernelChange),
            runs.Average(r => r.InitialAlignment), runs.Average(r => r.FinalAlignment), runs.Average(r => r.InitialLoss), runs.Average(r => r.FinalLoss));
    }

    /// <summary>Least-squares slope of log(value) against log(width).</summary>
    private static double Slope(IEnumerable<RegimeMeasurement> rows, Func<RegimeMeasurement, double> value)
    {
        var p = rows.Select(r => (X: Math.Log(r.Width), Y: Math.Log(Math.Abs(value(r))))).ToList();
        double mx = p.Average(q => q.X), my = p.Average(q => q.Y);
        return p.Sum(q => (q.X - mx) * (q.Y - my)) / p.Sum(q => (q.X - mx) * (q.X - mx));
    }
}

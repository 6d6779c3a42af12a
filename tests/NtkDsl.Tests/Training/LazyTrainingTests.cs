using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Tests.Networks;
using Xunit.Abstractions;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests.Training;

/// <summary>
/// Lazy training: as width grows, the empirical NTK moves less during training and the network stays closer to its
/// linearization trained identically. Lee et al. 2019 bound both by O(1/sqrt(width)); Dyer and Gur-Ari 2019 show the
/// actual rate is O(1/width) (measured slopes here are about -0.8 to -0.96), while the relative parameter change is
/// O(1/sqrt(width)) (measured about -0.5).
/// </summary>
/// <remarks>
/// Widths 64..2048 of [Dense(W), Erf][Dense(1)] (W_std 1.2, b_std 0.05), 16 train points, 8 more probe points;
/// full-batch GD on the 1/2-mean MSE at 0.3 max_learning_rate for 100 steps (outputs move by ||f - f0|| ~ 3-5 on the probe);
/// every measure averaged over 3 initialization seeds, then the log-log slope against width fitted by least squares.
/// Measured 2026-12-01 (slopes NTK change / parameter change / ||f - f_lin||): seeds 1-3 (the test's) -0.84 / -0.47 / -0.80;
/// four more seed triples (4-6 ... 13-15) -0.89 to -0.96 / -0.50 to -0.52 / -0.77 to -0.91.
/// Assertions: slope &lt; -0.65 for the NTK change and for ||f - f_lin|| (steeper than the O(1/sqrt(width)) bound's -1/2 by
/// more than twice the spread over seeds, ~0.06), parameter change slope in [-0.65, -0.35] (theory -1/2).
/// </remarks>
public sealed class LazyTrainingTests(ITestOutputHelper output)
{
    private const int Steps = 100;
    private static readonly int[] Seeds = [1, 2, 3];

    [Fact]
    public void Ntk_drift_and_distance_to_the_linearized_model_shrink_with_width()
    {
        var rows = new List<(int Width, double Kernel, double Parameters, double Gap, double Change)>
        {
            Measure<ErfWide64>(),
            Measure<ErfWide128>(),
            Measure<ErfWide256>(),
            Measure<ErfWide512>(),
            Measure<ErfWide1024>(),
            Measure<ErfWide2048>(),
        };
        foreach (var r in rows)
            output.WriteLine($"width {r.Width,5}: NTK change {r.Kernel:E3}, parameter change {r.Parameters:E3}, ||f - f_lin|| {r.Gap:E3} (||f - f0|| {r.Change:F3})");

        double kernelSlope = Slope(rows.Select(r => (r.Width, r.Kernel)));
        double paramSlope = Slope(rows.Select(r => (r.Width, r.Parameters)));
        double gapSlope = Slope(rows.Select(r => (r.Width, r.Gap)));
        output.WriteLine($"log-log slopes vs width: NTK change {kernelSlope:F3}, parameter change {paramSlope:F3}, ||f - f_lin|| {gapSlope:F3}");
        Assert.True(kernelSlope < -0.65, $"NTK change slope {kernelSlope:F3}");
        Assert.True(gapSlope < -0.65, $"||f - f_lin|| slope {gapSlope:F3}");
        Assert.InRange(paramSlope, -0.65, -0.35);
    }

    private static (int Width, double Kernel, double Parameters, double Gap, double Change) Measure<TNet>() where TNet : INetwork<TNet>
    {
        var x = Gaussian(16, 4, seed: 61);
        var probe = new Matrix<double>(24, 4, [.. x.Data, .. Gaussian(8, 4, seed: 62).Data]);
        var y = SmoothTarget(x);
        double kernel = 0, parameters = 0, gap = 0, change = 0;
        foreach (int seed in Seeds)
        {
            var theta0 = CpuNetwork<TNet, double>.InitializeParameters(seed);
            double eta = 0.3 * GradientDescentMse.MaxLearningRate(CpuNetwork<TNet, double>.Ntk(theta0, x), y);
            var drift = new DriftTracker<TNet, double>(theta0, probe, every: Steps);

            TrainNetworkAndLinearization<TNet>(theta0, x, y, eta, Steps, drift.ObserveNetwork, drift.ObserveLinearized);

            var s = Assert.Single(drift.Samples);
            Assert.Equal(Steps, s.Step);
            kernel += s.KernelChange / Seeds.Length;
            parameters += s.ParameterChange / Seeds.Length;
            gap += s.OutputGap / Seeds.Length;
            change += s.OutputChange / Seeds.Length;
        }
        return (TNet.Description.DenseLayers.First().Width, kernel, parameters, gap, change);
    }

    /// <summary>Least-squares slope of log(value) against log(width).</summary>
    private static double Slope(IEnumerable<(int Width, double Value)> points)
    {
        var p = points.Select(q => (X: Math.Log(q.Width), Y: Math.Log(q.Value))).ToList();
        double mx = p.Average(q => q.X), my = p.Average(q => q.Y);
        return p.Sum(q => (q.X - mx) * (q.Y - my)) / p.Sum(q => (q.X - mx) * (q.X - mx));
    }
}

using NtkDsl.Backends;
using NtkDsl.Cpu;
using ScottPlot;
using Spectre.Console;
using static NtkDsl.Samples.Report;
using Color = ScottPlot.Color;

namespace NtkDsl.Samples;

// One hidden ReLU layer (w_std 1.4, b_std 0.1) at widths 64..2048 in three parameterizations: the same declaration,
// only Parameterization changes. One hidden layer keeps the whole section at a few seconds.
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1)][Dense(64), Relu][Dense(1)] public partial class NtkP64;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1)][Dense(256), Relu][Dense(1)] public partial class NtkP256;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Relu][Dense(1)] public partial class NtkP1024;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1)][Dense(2048), Relu][Dense(1)] public partial class NtkP2048;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(64), Relu][Dense(1)] public partial class StdP64;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(256), Relu][Dense(1)] public partial class StdP256;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(1024), Relu][Dense(1)] public partial class StdP1024;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(2048), Relu][Dense(1)] public partial class StdP2048;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(64), Relu][Dense(1)] public partial class MupP64;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(256), Relu][Dense(1)] public partial class MupP256;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(1024), Relu][Dense(1)] public partial class MupP1024;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(2048), Relu][Dense(1)] public partial class MupP2048;

/// <summary>
/// Tour section f: lazy vs feature learning. The same declared network under NTK, standard and maximal-update
/// parameterization: how far the NTK and the last hidden layer's kernel move in training as the width grows, and the
/// muTransfer picture (training loss after a fixed budget over a learning-rate sweep, per width).
/// </summary>
internal static class ParameterizationTourSection
{
    private static readonly int[] Widths = [64, 256, 1024, 2048];

    public static void Run(IAnsiConsole console, Report report, Plots plots, IDictionary<string, double> results, TourOptions options)
    {
        console.Heading("g  Beyond the kernel regime: NTK vs maximal-update parameterization");
        var x = Gaussian(16, 4, options.Seed);
        var y = new Matrix<double>(16, 1);
        for (int r = 0; r < 16; r++) y[r, 0] = Math.Sin(0.7 * x[r, 0] + 0.4 * x[r, 1] - 0.1 * x[r, 3]) + 0.5 * Math.Cos(x[r, 2]);
        int seeds = options.Quick ? 1 : 3, steps = 100;

        // 1. Drift and feature learning against width, at 0.3 of each network's largest stable rate.
        var ntk = new[] { Drift<NtkP64>(x, y, seeds, steps, options.Seed), Drift<NtkP256>(x, y, seeds, steps, options.Seed), Drift<NtkP1024>(x, y, seeds, steps, options.Seed), Drift<NtkP2048>(x, y, seeds, steps, options.Seed) };
        var mup = new[] { Drift<MupP64>(x, y, seeds, steps, options.Seed), Drift<MupP256>(x, y, seeds, steps, options.Seed), Drift<MupP1024>(x, y, seeds, steps, options.Seed), Drift<MupP2048>(x, y, seeds, steps, options.Seed) };
        report.Section("mup", "g. Beyond the kernel regime: NTK vs maximal-update parameterization",
            $"[Dense(n), Relu][Dense(1)] on {x.Rows} points in 4 dimensions, declared three times with only Parameterization changed. " +
            $"{steps} full-batch gradient-descent steps at 0.3 of the largest stable learning rate of the NTK at initialization (which includes muP's per-layer rates), " +
            $"{seeds} initialization(s) per width. Under NTK parameterization the network trains lazily: its NTK and the kernel of its hidden layer freeze as n grows. " +
            "Under muP (Yang & Hu 2021) they move by the same amount at every width, and the hidden layer's kernel turns towards the targets (its centered alignment with y y^T rises).");
        var table = new SummaryTable($"g. Kernel changes after {steps} steps", "width n",
            "NTK: ||dTheta|| / ||Theta_0||", "NTK: ||dK|| / ||K_0||", "NTK: alignment", "muP: ||dTheta|| / ||Theta_0||", "muP: ||dK|| / ||K_0||", "muP: alignment");
        for (int i = 0; i < Widths.Length; i++)
            table.Add(Widths[i].ToString(), F(ntk[i].KernelChange, "e"), F(ntk[i].FeatureKernelChange, "e"), $"{F(ntk[i].InitialAlignment, "F3")} -> {F(ntk[i].FinalAlignment, "F3")}",
                F(mup[i].KernelChange, "e"), F(mup[i].FeatureKernelChange, "e"), $"{F(mup[i].InitialAlignment, "F3")} -> {F(mup[i].FinalAlignment, "F3")}");
        var slopes = new Dictionary<string, double>
        {
            ["ntk.kernel"] = Slope(ntk.Select(m => m.KernelChange)), ["ntk.features"] = Slope(ntk.Select(m => m.FeatureKernelChange)),
            ["mup.kernel"] = Slope(mup.Select(m => m.KernelChange)), ["mup.features"] = Slope(mup.Select(m => m.FeatureKernelChange)),
        };
        table.Add("fitted slope (log-log)", F(slopes["ntk.kernel"], "F2"), F(slopes["ntk.features"], "F2"), "", F(slopes["mup.kernel"], "F2"), F(slopes["mup.features"], "F2"), "");
        foreach (var (k, v) in slopes) results[$"mup.slope.{k}"] = v;
        results["mup.alignment_gain.ntk_widest"] = ntk[^1].AlignmentChange;
        results["mup.alignment_gain.mup_widest"] = mup[^1].AlignmentChange;
        console.Write(table.ToSpectre());
        report.Table(table);

        var dp = Plots.New("Kernel change in training vs width (log-log)", "width n (log scale)", "relative change (log scale)");
        var lw = Plots.Log10(Widths.Select(w => (double)w));
        void Series(IEnumerable<double> values, Color color, MarkerShape shape, string label)
        {
            var s = dp.Add.Scatter(lw, Plots.Log10(values));
            s.Color = color;
            s.MarkerShape = shape;
            s.MarkerSize = 9;
            s.LegendText = label;
        }

        Series(ntk.Select(m => m.KernelChange), Plots.Palette[0], MarkerShape.FilledCircle, $"NTK param.: NTK change (slope {slopes["ntk.kernel"]:F2})");
        Series(ntk.Select(m => m.FeatureKernelChange), Plots.Palette[0], MarkerShape.OpenSquare, $"NTK param.: hidden kernel change (slope {slopes["ntk.features"]:F2})");
        Series(mup.Select(m => m.KernelChange), Plots.Palette[1], MarkerShape.FilledCircle, $"muP: NTK change (slope {slopes["mup.kernel"]:F2})");
        Series(mup.Select(m => m.FeatureKernelChange), Plots.Palette[1], MarkerShape.OpenSquare, $"muP: hidden kernel change (slope {slopes["mup.features"]:F2})");
        Plots.LogAxis(dp.Axes.Left);
        Plots.LogAxis(dp.Axes.Bottom);
        dp.ShowLegend(Alignment.LowerLeft);
        report.Figure(plots.Save(dp, "g-kernel-change-vs-width"),
            "Relative change of the empirical NTK (filled) and of the last hidden layer's kernel (open) after training: it falls with width under NTK parameterization and stays put under muP.");

        // 2. The muTransfer picture: loss after a fixed budget against the learning rate, per width.
        int budget = 50;
        double[] rates = [.. Enumerable.Range(options.Quick ? -12 : -14, options.Quick ? 15 : 18).Select(k => Math.Pow(2, k))];
        var sp = new[] { Sweep<StdP64>(x, y, rates, budget, options.Seed), Sweep<StdP256>(x, y, rates, budget, options.Seed), Sweep<StdP1024>(x, y, rates, budget, options.Seed), Sweep<StdP2048>(x, y, rates, budget, options.Seed) };
        var mu = new[] { Sweep<MupP64>(x, y, rates, budget, options.Seed), Sweep<MupP256>(x, y, rates, budget, options.Seed), Sweep<MupP1024>(x, y, rates, budget, options.Seed), Sweep<MupP2048>(x, y, rates, budget, options.Seed) };
        double Best(double[] losses) => rates[Array.IndexOf(losses, losses.Min())];
        var best = new SummaryTable($"g. Best learning rate after {budget} steps (grid 2^{Math.Log2(rates[0]):F0} .. 2^{Math.Log2(rates[^1]):F0})",
            "width n", "standard: best eta", "standard: loss", "muP: best eta", "muP: loss");
        for (int i = 0; i < Widths.Length; i++)
            best.Add(Widths[i].ToString(), $"2^{Math.Log2(Best(sp[i])):F0}", F(sp[i].Min(), "e"), $"2^{Math.Log2(Best(mu[i])):F0}", F(mu[i].Min(), "e"));
        results["mup.best_log2_eta_shift.standard"] = Math.Log2(Best(sp[0])) - Math.Log2(Best(sp[^1]));
        results["mup.best_log2_eta_spread.mup"] = mu.Max(l => Math.Log2(Best(l))) - mu.Min(l => Math.Log2(Best(l)));
        console.Write(best.ToSpectre());
        report.Paragraph("Learning-rate transfer (Yang et al. 2022): the training loss after a fixed budget of full-batch steps, over a sweep of learning rates, " +
            "for each width from the same seed. Under standard parameterization the output layer's NTK term grows like n, so the best (and the largest stable) " +
            "rate falls like 1/n; under muP the NTK is O(1) at every width and the best rate stays put, so it can be tuned on the narrow network. Diverged runs are left out of the curves.");
        report.Table(best);

        // One loss axis for both figures (losses above 10, runs near divergence, are off the chart).
        var shown = sp.Concat(mu).SelectMany(l => l).Where(double.IsFinite).ToArray();
        double lo = Math.Log10(shown.Min()) - 0.2, hi = Math.Log10(Math.Min(10, shown.Max())) + 0.2;
        foreach (var (name, table2, title) in new[] { ("g-lr-standard", sp, "Standard parameterization"), ("g-lr-mup", mu, "Maximal-update parameterization (muP)") })
        {
            var plt = Plots.New($"{title}: loss after {budget} steps vs learning rate", "learning rate eta (log2)", "training loss (log scale)");
            for (int i = 0; i < Widths.Length; i++)
            {
                var finite = rates.Select((r, k) => (R: r, L: table2[i][k])).Where(p => double.IsFinite(p.L)).ToArray();
                var s = plt.Add.Scatter(finite.Select(p => Math.Log2(p.R)).ToArray(), Plots.Log10(finite.Select(p => p.L)));
                s.Color = Plots.Palette[i];
                s.MarkerSize = 6;
                s.LegendText = $"n = {Widths[i]}";
            }
            Plots.LogAxis(plt.Axes.Left);
            plt.Axes.SetLimits(Math.Log2(rates[0]) - 0.5, Math.Log2(rates[^1]) + 0.5, lo, hi);
            plt.ShowLegend(Alignment.LowerLeft);
            report.Figure(plots.Save(plt, name), $"{title}: training loss after {budget} full-batch steps against the learning rate, one curve per width (diverged runs left out, losses above 10 off the chart).");
        }

        string note = $"Slopes of the NTK change against width: {F(slopes["ntk.kernel"], "F2")} (NTK parameterization) vs {F(slopes["mup.kernel"], "F2")} (muP); " +
                      $"the best learning rate moves by 2^{results["mup.best_log2_eta_shift.standard"]:F0} from n = 64 to 2048 under standard parameterization " +
                      $"and its spread over widths is 2^{results["mup.best_log2_eta_spread.mup"]:F0} under muP. tests/NtkDsl.Tests/Parameterization/RegimeTests.cs asserts the same on six widths and three seeds.";
        console.MarkupLine(Markup.Escape(note));
        report.Paragraph(note);
        report.EndSection();
    }

    private static RegimeMeasurement Drift<TNet>(Matrix<double> x, Matrix<double> y, int seeds, int steps, int seed) where TNet : INetwork<TNet>
    {
        var runs = Enumerable.Range(0, seeds).Select(s =>
        {
            var theta0 = CpuNetwork<TNet, double>.InitializeParameters(Seeds.Of(seed, 0, 300 + s));
            double eta = 0.3 * GradientDescentMse.MaxLearningRate(CpuNetwork<TNet, double>.Ntk(theta0, x), y);
            return FeatureLearning.Measure<TNet>(theta0, x, y, eta, steps);
        }).ToList();
        return new RegimeMeasurement(runs[0].Width, runs.Average(r => r.KernelChange), runs.Average(r => r.FeatureKernelChange),
            runs.Average(r => r.InitialAlignment), runs.Average(r => r.FinalAlignment), runs.Average(r => r.InitialLoss), runs.Average(r => r.FinalLoss));
    }

    private static double[] Sweep<TNet>(Matrix<double> x, Matrix<double> y, double[] rates, int steps, int seed) where TNet : INetwork<TNet>
    {
        var theta0 = CpuNetwork<TNet, double>.InitializeParameters(Seeds.Of(seed, 0, 400));
        return [.. rates.Select(eta => FeatureLearning.LossAfterTraining<TNet>(theta0, x, y, eta, steps))];
    }

    private static double Slope(IEnumerable<double> values) => Tour.FitLogLog(Widths.Select(w => (double)w), values).Slope;

    private static Matrix<double> Gaussian(int rows, int cols, int seed)
    {
        var g = new GaussianSource(seed, 77);
        var m = new Matrix<double>(rows, cols);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = g.Next();
        return m;
    }
}

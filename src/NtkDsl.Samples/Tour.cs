using System.Diagnostics;
using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu;
using ScottPlot;
using Color = ScottPlot.Color;
using Spectre.Console;
using static NtkDsl.Samples.Report;

namespace NtkDsl.Samples;

/// <summary>What a tour run does: sizes differ between the default run and --quick.</summary>
internal sealed record TourOptions(string OutDir, bool Quick, int Seed)
{
    public int GridPoints => Quick ? 25 : 41;
    public int Inits500 => Quick ? 3 : 8;
    public int InitsWide => Quick ? 1 : 2;
    public int JacotSteps => 4;
    public int DriftSteps => Quick ? 20 : 40;
    public int DynamicsSteps => Quick ? 60 : 150;
}

/// <summary>The runnable tour: sections a-d of issue 6, with tables, plots and report.html.</summary>
internal sealed class Tour(IAnsiConsole console, TourOptions options)
{
    private readonly Report _report = new();
    private readonly Plots _plots = new(options.OutDir);
    private readonly List<(string Section, double Seconds)> _timings = [];
    private readonly SortedDictionary<string, double> _results = new(StringComparer.Ordinal);   // headline numbers, written to results.json
    private static readonly double[] TrainAngles = [-2.7, -2.0, -1.2, -0.5, 0.3, 1.0, 1.8, 2.5];

    public int Run()
    {
        var total = Stopwatch.StartNew();
        Directory.CreateDirectory(options.OutDir);
        console.Heading("NtkDsl tour: the neural tangent kernel, computed");
        console.MarkupLine($"Mode [bold]{(options.Quick ? "quick" : "default")}[/], seed {options.Seed}, {Markup.Escape(KernelBackend.Describe())}, output [link]{Markup.Escape(Path.GetFullPath(options.OutDir))}[/]");

        Timed("0  first look", FirstLook);
        Timed("a  Jacot et al. Fig. 1", JacotFigure);
        Timed("b  lazy training vs width", LazyTraining);
        Timed("c+d  dynamics, narrow vs wide", DynamicsAndTradeOff);
        Timed("e  Fashion-MNIST subset", () => FashionTourSection.Run(console, _report, options));
        Timed("f  residual blocks", () => ResidualTourSection.Run(console, _report, options));
        Timed("g  lazy vs feature learning (muP)", () => ParameterizationTourSection.Run(console, _report, _plots, _results, options));

        var summary = new SummaryTable("Run summary", "section", "wall time (s)");
        foreach (var (s, t) in _timings) summary.Add(s, F(t, "F1"));
        summary.Add("total", F(total.Elapsed.TotalSeconds, "F1"));
        console.Write(summary.ToSpectre());
        _report.Section("summary", "Run summary", "Wall-clock time of each section in this run, and the files written.");
        _report.Table(summary);
        _report.Paragraph("Files: " + string.Join(", ", _plots.Files.Select(Path.GetFileName)) + ".");
        _report.EndSection();

        File.WriteAllText(Path.Combine(options.OutDir, "results.json"), System.Text.Json.JsonSerializer.Serialize(
            new { quick = options.Quick, seed = options.Seed, results = _results },
            new System.Text.Json.JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        string reportPath = Path.Combine(options.OutDir, "report.html");
        _report.Write(reportPath, "NtkDsl tour: the neural tangent kernel, computed",
            $"{(options.Quick ? "Quick" : "Default")} run, seed {options.Seed}, {KernelBackend.Describe()}, {DateTime.Now:yyyy-MM-dd HH:mm}. Every number below was computed in this run.");
        console.MarkupLine($"Wrote {_plots.Files.Count} plot files and [bold]{Markup.Escape(reportPath)}[/] in {total.Elapsed.TotalSeconds:F1} s.");
        return 0;
    }

    private void Timed(string name, Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        _timings.Add((name, sw.Elapsed.TotalSeconds));
    }

    /// <summary>
    /// Runs <paramref name="body"/> (which calls its argument once per unit of work) under a live progress bar on an
    /// interactive console; elsewhere (redirected output) prints the description once instead.
    /// </summary>
    private void WithProgress(string description, int total, Action<Action> body)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            console.WriteLine(description + " ...");
            body(() => { });
            return;
        }

        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(description), maxValue: total);
                body(() => task.Increment(1));
                task.Value = task.MaxValue;
            });
    }

    private void Show(SummaryTable table)
    {
        console.Write(table.ToSpectre());
        _report.Table(table);
    }

    // ---------------------------------------------------------------- 0: the first look

    private void FirstLook()
    {
        console.Heading("0  A declared network and its NTK");
        var theta = TwoLayerNet.InitializeParameters<double>(seed: options.Seed);
        var x = Matrix<double>.FromArray(new double[,] { { 1, 0 }, { 0.6, 0.8 }, { -1, 0.5 }, { 0.1, -0.9 } });
        var ntk = TwoLayerNet.Ntk(theta, x);
        var jacobian = TwoLayerNet.Jacobian(theta, x);
        double maxRelative = 0, scale = ntk.Data.Max(Math.Abs);
        for (int i = 0; i < x.Rows; i++)
            for (int j = 0; j < x.Rows; j++)
            {
                double explicitEntry = 0;
                for (int p = 0; p < TwoLayerNet.ParameterCount; p++) explicitEntry += jacobian[i, p] * jacobian[j, p];
                maxRelative = Math.Max(maxRelative, Math.Abs(ntk[i, j] - explicitEntry) / scale);
            }

        var lines = new List<string>
        {
            $"Network     {TwoLayerNet.Description}",
            $"Parameters  {TwoLayerNet.ParameterCount:N0}",
            $"Empirical NTK Theta(X, X) for {x.Rows} points on the CPU backend (float64):",
        };
        for (int i = 0; i < ntk.Rows; i++) lines.Add("  " + string.Join("  ", ntk.Row(i).ToArray().Select(v => v.ToString("F6").PadLeft(10))));
        lines.Add($"Max relative difference from explicit J J^T: {maxRelative:E2}");
        _results["first_look.ntk_vs_jjt_max_relative"] = maxRelative;
        foreach (var l in lines) console.WriteLine(l);

        _report.Section("first-look", "0. A declared network and its NTK",
            "The README network (two hidden layers of 512, ReLU then erf). Its empirical NTK is assembled layer by layer by generated code; here it is checked against the explicit product J J^T of its per-sample Jacobians.");
        _report.Preformatted(string.Join("\n", lines));
        _report.EndSection();
    }

    // ---------------------------------------------------------------- a: Jacot et al. Fig. 1

    private sealed record JacotRun(int Width, List<double[]> RowsInit, List<double[]> RowsTrained, double[] Spectrum,
        List<double> DeviationInit, List<double> DeviationTrained, List<double> KernelChange, List<double> Loss0, List<double> Loss1);

    private void JacotFigure()
    {
        console.Heading("a  Jacot et al. (2018) Fig. 1: the NTK concentrates as the width grows");
        var gammas = Data.Angles(options.GridPoints);
        int i0 = options.GridPoints / 2;                  // gamma = 0, x0 = (1, 0)
        var grid = Data.Circle(gammas);
        var xTrain = Data.Circle(TrainAngles);
        var yTrain = Data.Targets(TrainAngles);

        var limit = InfiniteWidth.Kernels(Jacot500.Description, grid).Ntk;                // width-independent
        var limitTrain = InfiniteWidth.Kernels(Jacot500.Description, xTrain).Ntk;
        double lr = 0.5 * GradientDescentMse.MaxLearningRate(limitTrain, yTrain);
        var limitRow = limit.Row(i0).ToArray();
        var limitSpectrum = MathNetLinearAlgebra.Instance.SymmetricEigen(limit).Eigenvalues.Reverse().ToArray();

        int wideWidth = options.Quick ? 2000 : 10000;
        int totalWork = (options.Inits500 + options.InitsWide) * (options.JacotSteps + 2);
        JacotRun small = null!, wide = null!;
        WithProgress($"a: {options.Inits500} x width 500, {options.InitsWide} x width {wideWidth}", totalWork, tick =>
        {
            small = Jacot<Jacot500, double>(500, options.Inits500, grid, i0, xTrain, yTrain, lr, limit, tick);
            wide = options.Quick
                ? Jacot<Jacot2000, float>(2000, options.InitsWide, grid, i0, xTrain, yTrain, lr, limit, tick)
                : Jacot<Jacot10000, float>(10000, options.InitsWide, grid, i0, xTrain, yTrain, lr, limit, tick);
        });

        _report.Section("jacot", "a. Jacot et al. (2018), Fig. 1: convergence of the NTK",
            $"Depth 4 (three hidden ReLU layers of width n, one linear output), NTK parameterization, weights N(0, 1), bias scale beta = 0.1, inputs x(gamma) = (cos gamma, sin gamma) on the unit circle, x0 = (1, 0). " +
            $"Theta(x0, x(gamma)) of independent initializations at widths 500 and {wideWidth} (float32 at the large width), against the analytic infinite-width kernel; then after {options.JacotSteps} full-batch gradient-descent steps " +
            $"(learning rate {F(lr)} = half the largest stable one for the limiting kernel) on {TrainAngles.Length} points of f*(gamma) = sin 2 gamma + 0.4 cos 3 gamma.");

        var table = new SummaryTable("a. Theta(x0, x(gamma)) against the infinite-width limit",
            "width n", "inits", "dev. t=0", "dev. t=T", "kernel change", "loss t=0", "loss t=T");
        foreach (var r in new[] { small, wide })
        {
            table.Add(r.Width.ToString(), r.RowsInit.Count.ToString(), F(r.DeviationInit.Average(), "P1"), F(r.DeviationTrained.Average(), "P1"),
                F(r.KernelChange.Average(), "P1"), F(r.Loss0.Average(), "F3"), F(r.Loss1.Average(), "F3"));
        }

        Show(table);
        foreach (var (r, name) in new[] { (small, "narrow"), (wide, "wide") })
        {
            _results[$"jacot.{name}.width"] = r.Width;
            _results[$"jacot.{name}.deviation_init"] = r.DeviationInit.Average();
            _results[$"jacot.{name}.kernel_change"] = r.KernelChange.Average();
        }
        string note = $"dev. = sqrt(mean over gamma of (Theta(x0, x) - Theta_inf(x0, x))^2) / Theta_inf(x0, x0), mean over initializations (Theta_inf(x0, x0) = {F(limitRow[i0])}); " +
            $"kernel change = ||Theta_T - Theta_0||_F / ||Theta_0||_F on the grid; loss = training loss before and after the T = {options.JacotSteps} steps; " +
            $"{Jacot500.ParameterCount:N0} parameters at width 500, {(options.Quick ? Jacot2000.ParameterCount : Jacot10000.ParameterCount):N0} at width {wideWidth}. " +
            $"Fluctuations of order n^-1/2 would make the width-500 deviation {F(Math.Sqrt(wideWidth / 500.0), "F2")} times the width-{wideWidth} one; measured {F(small.DeviationInit.Average() / wide.DeviationInit.Average(), "F2")} (few initializations, so a rough check).";
        console.MarkupLine(Markup.Escape(note));
        _report.Paragraph(note);

        // Kernel curves.
        var plt = Plots.New("Theta(x0, x(gamma)): depth-4 ReLU net, beta = 0.1 (Jacot et al. Fig. 1)", "gamma (radians)", "Theta(x0, x(gamma))");
        // Solid patterns only: Skia's SVG canvas cannot draw dashes.
        void Curves(JacotRun r, Color init, Color trained, string label)
        {
            for (int s = 0; s < r.RowsInit.Count; s++)
            {
                var a = plt.Add.ScatterLine(gammas, r.RowsInit[s]);
                a.Color = init;
                a.LineWidth = 1.3f;
                if (s == 0) a.LegendText = $"n = {label}, at initialization";
            }

            for (int s = 0; s < r.RowsTrained.Count; s++)
            {
                var b = plt.Add.ScatterLine(gammas, r.RowsTrained[s]);
                b.Color = trained;
                b.LineWidth = 1.3f;
                if (s == 0) b.LegendText = $"n = {label}, after {options.JacotSteps} GD steps";
            }
        }

        Curves(small, Color.FromHex("#9ecae1"), Color.FromHex("#2171b5"), "500");
        Curves(wide, Color.FromHex("#fcae91"), Color.FromHex("#cb181d"), wideWidth.ToString());
        var lim = plt.Add.ScatterLine(gammas, limitRow);
        lim.Color = Colors.Black;
        lim.LineWidth = 2.5f;
        lim.LegendText = "n = infinity (analytic)";
        plt.ShowLegend(Alignment.UpperRight);
        _report.Figure(_plots.Save(plt, "a-kernel-curves"), "Empirical NTK rows at initialization (light) and after training (dark) for several initializations, against the analytic limit (black).");

        // Heatmap of the limiting kernel on the grid.
        var hmPlot = Plots.New("Infinite-width NTK Theta_inf(x(gamma), x(gamma')) on the unit circle", "gamma (radians)", "gamma' (radians)");
        var values = new double[gammas.Length, gammas.Length];
        for (int r = 0; r < gammas.Length; r++)
            for (int c = 0; c < gammas.Length; c++) values[gammas.Length - 1 - r, c] = limit[r, c];   // row 0 is drawn on top
        var hm = hmPlot.Add.Heatmap(values);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.Extent = new CoordinateRect(-Math.PI, Math.PI, -Math.PI, Math.PI);
        var cb = hmPlot.Add.ColorBar(hm);
        cb.Label = "Theta_inf";
        _report.Figure(_plots.Save(hmPlot, "a-kernel-heatmap", 760, 640), "The analytic NTK on the circle depends only on gamma - gamma' (rotation invariance of the inputs' Gram matrix).");

        // Eigenvalue spectrum.
        var sp = Plots.New("Eigenvalues of Theta on the gamma grid (descending)", "index k", "eigenvalue lambda_k (log scale)");
        void Spectrum(double[] ev, Color color, string label, bool line)
        {
            var idx = new List<double>();
            var val = new List<double>();
            for (int k = 0; k < ev.Length; k++)
            {
                if (ev[k] <= 1e-12 * ev[0]) continue;
                idx.Add(k + 1);
                val.Add(Math.Log10(ev[k]));
            }

            var s = sp.Add.Scatter(idx.ToArray(), val.ToArray());
            s.Color = color;
            s.LegendText = label;
            s.LineWidth = line ? 2 : 0;
            s.MarkerSize = line ? 0 : 7;
        }

        Spectrum(limitSpectrum, Colors.Black, "n = infinity (analytic)", true);
        Spectrum(small.Spectrum, Plots.Palette[0], "n = 500, one initialization", false);
        Spectrum(wide.Spectrum, Plots.Palette[1], $"n = {wideWidth}, one initialization", false);
        Plots.LogAxis(sp.Axes.Left);
        sp.ShowLegend(Alignment.UpperRight);
        _report.Figure(_plots.Save(sp, "a-eigenvalue-spectrum"), "The kernel's spectrum sets the speed of each mode under gradient descent (eigenvalues below 1e-12 of the largest are omitted).");

        var eig = new SummaryTable("a. Top eigenvalues of Theta on the grid", "kernel", "lambda_1", "lambda_2", "lambda_3", "lambda_5", "lambda_10");
        foreach (var (name, ev) in new[] { ("infinite width", limitSpectrum), ("n = 500 (init 1)", small.Spectrum), ($"n = {wideWidth} (init 1)", wide.Spectrum) })
            eig.Add(name, F(ev[0]), F(ev[1]), F(ev[2]), F(ev[4]), F(ev[9]));
        Show(eig);
        _report.EndSection();
    }

    private JacotRun Jacot<TNet, T>(int width, int inits, Matrix<double> grid, int i0, Matrix<double> xTrain, Matrix<double> yTrain,
        double lr, Matrix<double> limit, Action tick)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var run = new JacotRun(width, [], [], [], [], [], [], [], []);
        var gridT = grid.Convert<T>();
        var xT = xTrain.Convert<T>();
        var yT = yTrain.Convert<T>();
        double scale = limit[i0, i0];
        double[] spectrum = [];
        for (int s = 0; s < inits; s++)
        {
            var theta = CpuNetwork<TNet, T>.InitializeParameters(Seeds.Of(options.Seed, width, s));
            var k0 = KernelBackend.Ntk<TNet, T>(theta, gridT);
            tick();
            if (s == 0) spectrum = MathNetLinearAlgebra.Instance.SymmetricEigen(Symmetrize(k0)).Eigenvalues.Reverse().ToArray();
            var trainer = new Trainer<T>(new NetworkModel<TNet, T>(), TrainingLosses.MeanSquaredError, new Sgd<T>(lr));
            run.Loss0.Add(trainer.Evaluate(theta, xT, yT));
            trainer.Train(theta, xT, yT, new TrainingOptions<T> { Epochs = options.JacotSteps, OnEpoch = _ => tick() });
            run.Loss1.Add(trainer.Evaluate(theta, xT, yT));
            var k1 = KernelBackend.Ntk<TNet, T>(theta, gridT);
            tick();
            var r0 = k0.Row(i0).ToArray();
            var r1 = k1.Row(i0).ToArray();
            run.RowsInit.Add(r0);
            run.RowsTrained.Add(r1);
            var limitRow = limit.Row(i0);
            run.DeviationInit.Add(Rms(r0, limitRow) / scale);
            run.DeviationTrained.Add(Rms(r1, limitRow) / scale);
            run.KernelChange.Add(Distance(k1.Data, k0.Data) / Norm(k0.Data));
            theta = null;
            trainer = null;
            if (width >= 2000) GC.Collect();
        }

        return run with { Spectrum = spectrum };
    }

    // ---------------------------------------------------------------- b: lazy training

    private sealed record DriftPoint(int Width, int Seeds, double KernelChange, double OutputGap, double ParameterChange);

    private void LazyTraining()
    {
        console.Heading("b  Lazy training: how far the network moves, against its width");
        var xTrain = Data.Circle(TrainAngles);
        var yTrain = Data.Targets(TrainAngles);
        var probe = Data.Stack(xTrain, Data.Circle(Data.Angles(12, -3.0, 3.0)));
        var limitTrain = InfiniteWidth.Kernels(Relu64.Description, xTrain).Ntk;     // same limit for every width
        double lr = 0.5 * GradientDescentMse.MaxLearningRate(limitTrain, yTrain);
        int steps = options.DriftSteps;

        var plan = new List<(int Width, int Seeds, Func<int, DriftSample> Run)>
        {
            (32, 4, s => Drift<Relu32>(s, xTrain, yTrain, probe, lr, steps)),
            (64, 4, s => Drift<Relu64>(s, xTrain, yTrain, probe, lr, steps)),
            (128, 3, s => Drift<Relu128>(s, xTrain, yTrain, probe, lr, steps)),
            (256, 3, s => Drift<Relu256>(s, xTrain, yTrain, probe, lr, steps)),
            (512, 2, s => Drift<Relu512>(s, xTrain, yTrain, probe, lr, steps)),
        };
        if (!options.Quick)
        {
            plan.Add((1024, 2, s => Drift<Relu1024>(s, xTrain, yTrain, probe, lr, steps)));
            plan.Add((2048, 1, s => Drift<Relu2048>(s, xTrain, yTrain, probe, lr, steps)));
        }
        else
        {
            plan = plan.Select(p => (p.Width, Math.Min(p.Seeds, 2), p.Run)).ToList();
        }

        var points = new List<DriftPoint>();
        WithProgress($"b: {plan.Count} widths, {plan.Sum(p => p.Seeds)} trainings (network and its linearization)", plan.Sum(p => p.Seeds), tick =>
        {
            foreach (var (width, seeds, runOne) in plan)
            {
                var samples = Enumerable.Range(0, seeds).Select(s => { var r = runOne(Seeds.Of(options.Seed, width, 100 + s)); tick(); return r; }).ToList();
                points.Add(new DriftPoint(width, seeds, samples.Average(d => d.KernelChange), samples.Average(d => d.OutputGap / d.OutputChange),
                    samples.Average(d => d.ParameterChange)));
            }
        });

        var (kSlope, kIntercept) = FitLogLog(points.Select(p => (double)p.Width), points.Select(p => p.KernelChange));
        var (gSlope, gIntercept) = FitLogLog(points.Select(p => (double)p.Width), points.Select(p => p.OutputGap));
        var (pSlope, _) = FitLogLog(points.Select(p => (double)p.Width), points.Select(p => p.ParameterChange));

        _report.Section("lazy", "b. Lazy training: drift against width",
            $"Two hidden ReLU layers of width n (w_std = sqrt 2, b_std = 0.1), {steps} full-batch gradient-descent steps with learning rate {F(lr)} (half the largest stable one for the limiting kernel) on {TrainAngles.Length} points. " +
            "The network and its linearization f_lin(x; theta) = f(x; theta0) + J(x; theta0)(theta - theta0) are trained side by side from the same theta0; " +
            "drift is measured on the training points plus 12 test points.");
        var table = new SummaryTable("b. Drift after training, mean over initializations",
            "width n", "inits", "||Theta_T - Theta_0|| / ||Theta_0||", "||f_T - f_lin,T|| / ||f_T - f_0||", "||theta_T - theta_0|| / ||theta_0||");
        foreach (var p in points) table.Add(p.Width.ToString(), p.Seeds.ToString(), F(p.KernelChange, "e"), F(p.OutputGap, "e"), F(p.ParameterChange, "e"));
        table.Add("fitted slope (log-log)", "", F(kSlope, "F2"), F(gSlope, "F2"), F(pSlope, "F2"));
        (_results["lazy.kernel_slope"], _results["lazy.gap_slope"], _results["lazy.parameter_slope"]) = (kSlope, gSlope, pSlope);
        Show(table);
        string note = $"Least-squares slopes of log drift against log width: kernel {F(kSlope, "F2")}, distance to the linearized model {F(gSlope, "F2")}, parameters {F(pSlope, "F2")} " +
            "(theory for the NTK parameterization: the first two are O(n^-1/2) (Jacot et al. 2018, Lee et al. 2019); ||theta_T - theta_0|| stays O(1) while ||theta_0|| grows like n, so the last is O(n^-1)).";
        console.MarkupLine(Markup.Escape(note));
        _report.Paragraph(note);

        var plt = Plots.New("Lazy training: drift from initialization vs width (log-log)", "width n (log scale)", "relative change (log scale)");
        var lw = Plots.Log10(points.Select(p => (double)p.Width));
        void Series(IEnumerable<double> ys, double slope, double intercept, Color color, string label, MarkerShape shape)
        {
            var s = plt.Add.Scatter(lw, Plots.Log10(ys));
            s.Color = color;
            s.LineWidth = 0;
            s.MarkerSize = 9;
            s.MarkerShape = shape;
            s.LegendText = label;
            var fit = plt.Add.ScatterLine(new[] { lw[0], lw[^1] }, new[] { intercept + slope * lw[0], intercept + slope * lw[^1] });
            fit.Color = color.WithAlpha(0.7);
            fit.LineWidth = 1.5f;
            fit.LegendText = $"fit: slope {slope:F2}";
        }

        Series(points.Select(p => p.KernelChange), kSlope, kIntercept, Plots.Palette[0], "||Theta_T - Theta_0|| / ||Theta_0||", MarkerShape.FilledCircle);
        Series(points.Select(p => p.OutputGap), gSlope, gIntercept, Plots.Palette[1], "||f_T - f_lin,T|| / ||f_T - f_0||", MarkerShape.FilledSquare);
        Plots.LogAxis(plt.Axes.Left);
        Plots.LogAxis(plt.Axes.Bottom);
        plt.ShowLegend(Alignment.UpperRight);
        _report.Figure(_plots.Save(plt, "b-drift-vs-width"), "Relative NTK change and distance to the linearized model after training, with least-squares fits in log-log coordinates.");
        _report.EndSection();
    }

    private DriftSample Drift<TNet>(int seed, Matrix<double> x, Matrix<double> y, Matrix<double> probe, double lr, int steps)
        where TNet : INetwork<TNet>
    {
        var theta0 = CpuNetwork<TNet, double>.InitializeParameters(seed);
        var tracker = new DriftTracker<TNet, double>(theta0, probe, every: steps);
        var theta = (double[])theta0.Clone();
        new Trainer<double>(new NetworkModel<TNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(lr))
            .Train(theta, x, y, new TrainingOptions<double> { Epochs = steps, OnStep = tracker.ObserveNetwork });
        var linear = new LinearizedModel<TNet, double>(theta0);
        var thetaLin = linear.CopyInitialParameters();
        new Trainer<double>(linear, TrainingLosses.MeanSquaredError, new Sgd<double>(lr))
            .Train(thetaLin, x, y, new TrainingOptions<double> { Epochs = steps, OnStep = tracker.ObserveLinearized });
        return tracker.Samples[^1];
    }

    // ---------------------------------------------------------------- c + d: dynamics, narrow vs wide

    private sealed record Trajectory(int Width, int[] Steps, List<double[]> Outputs, List<DriftSample> Drift, Matrix<double> Ntk0, Matrix<double> F0,
        double Loss, double LinearLoss, double[] LinearOutputs);

    private void DynamicsAndTradeOff()
    {
        console.Heading("c  Dynamics: a wide network under gradient descent against the closed-form NTK prediction");
        var trainAngles = TrainAngles;
        var testAngles = Data.Angles(options.Quick ? 31 : 61);
        int nTrain = trainAngles.Length, nTest = testAngles.Length;
        var xTrain = Data.Circle(trainAngles);
        var yTrain = Data.Targets(trainAngles);
        var probe = Data.Stack(xTrain, Data.Circle(testAngles));
        int steps = options.DynamicsSteps;
        int wideWidth = options.Quick ? 512 : 1024;
        const int narrowWidth = 16;

        var limit = InfiniteWidth.Kernels(Relu64.Description, probe).Ntk;
        var limitTT = Block(limit, 0, nTrain, 0, nTrain);
        var limitST = Block(limit, nTrain, nTest, 0, nTrain);

        // One learning rate for both widths: 0.15 times the smallest of their (and the limit's) largest stable rates.
        var wideTheta0 = options.Quick ? CpuNetwork<Relu512, double>.InitializeParameters(Seeds.Of(options.Seed, wideWidth, 7))
                                       : CpuNetwork<Relu1024, double>.InitializeParameters(Seeds.Of(options.Seed, wideWidth, 7));
        var narrowTheta0 = CpuNetwork<Relu16, double>.InitializeParameters(Seeds.Of(options.Seed, narrowWidth, 7));
        var wideK = options.Quick ? CpuNetwork<Relu512, double>.Ntk(wideTheta0, xTrain) : CpuNetwork<Relu1024, double>.Ntk(wideTheta0, xTrain);
        var narrowK = CpuNetwork<Relu16, double>.Ntk(narrowTheta0, xTrain);
        double lr = 0.15 * new[] { wideK, narrowK, limitTT }.Min(k => GradientDescentMse.MaxLearningRate(k, yTrain));

        Trajectory wide = null!, narrow = null!;
        WithProgress($"c, d: width {wideWidth} and width {narrowWidth}, {steps} steps each (network and linearization)", 4 * steps, tick =>
        {
            wide = options.Quick
                ? Train<Relu512>(wideWidth, wideTheta0, xTrain, yTrain, probe, lr, steps, tick)
                : Train<Relu1024>(wideWidth, wideTheta0, xTrain, yTrain, probe, lr, steps, tick);
            narrow = Train<Relu16>(narrowWidth, narrowTheta0, xTrain, yTrain, probe, lr, steps, tick);
        });

        // Closed-form predictions from the empirical NTK at initialization (what the linearized network does in
        // continuous time) and from the analytic limit, both starting from the network's own f0.
        var times = wide.Steps.Select(s => (double)s).Append(double.PositiveInfinity).ToArray();
        var f0Train = Data.Rows(wide.F0, 0, nTrain);
        var f0Test = Data.Rows(wide.F0, nTrain, nTest);
        var k0 = wide.Ntk0;
        using var empirical = new GradientDescentMse(Block(k0, 0, nTrain, 0, nTrain), yTrain, lr);
        using var analytic = new GradientDescentMse(limitTT, yTrain, lr);
        var emp = empirical.Predict(times, f0Train, f0Test, Block(k0, nTrain, nTest, 0, nTrain));
        var inf = analytic.Predict(times, f0Train, f0Test, limitST);
        var regression = analytic.Predict(double.PositiveInfinity, null, null, limitST);   // mean predictor, f0 = 0

        double[] Closed(IReadOnlyList<MsePrediction> p, int k) => [.. p[k].Train.Data, .. p[k].Test!.Data];
        int last = wide.Steps.Length - 1;
        var netT = wide.Outputs[last];
        var empT = Closed(emp, last);
        var infT = Closed(inf, last);
        double yScale = Math.Sqrt(yTrain.Data.Average(v => v * v));
        double MaxAbs(double[] a, double[] b, int from, int count) => Enumerable.Range(from, count).Max(i => Math.Abs(a[i] - b[i]));
        double TestRmse(IReadOnlyList<double> f, int offset) => Math.Sqrt(Enumerable.Range(0, nTest).Average(i => Math.Pow(f[offset + i] - Data.Target(testAngles[i]), 2)));
        double TrainLoss(IReadOnlyList<double> f) => 0.5 * Enumerable.Range(0, nTrain).Average(i => Math.Pow(f[i] - yTrain.Data[i], 2));

        _report.Section("dynamics", "c. Dynamics: gradient descent against the closed-form NTK prediction",
            $"A two-hidden-layer ReLU network of width {wideWidth} trained by full-batch gradient descent ({steps} steps, learning rate {F(lr)}) on {nTrain} points of f* on the circle; " +
            $"outputs on the training points and on {nTest} test points at every recorded step, beside the closed-form linear dynamics f(t) = f0 + (expm1(-eta t Theta / n) ...) computed from one eigendecomposition " +
            "of the empirical NTK at initialization Theta_0 and of the analytic limit Theta_inf, from the same f0. t = infinity is kernel regression.");
        var table = new SummaryTable($"c. Width {wideWidth} after {steps} steps: network against closed-form predictions",
            "quantity", "value");
        table.Add("max |f_net - f_closed(Theta_0)|, train / test", $"{F(MaxAbs(netT, empT, 0, nTrain), "e")} / {F(MaxAbs(netT, empT, nTrain, nTest), "e")}");
        table.Add("max |f_net - f_closed(Theta_inf)|, train / test", $"{F(MaxAbs(netT, infT, 0, nTrain), "e")} / {F(MaxAbs(netT, infT, nTrain, nTest), "e")}");
        table.Add("RMS target on the training points", F(yScale, "F3"));
        table.Add("train loss: network / linearized network / closed form Theta_0", $"{F(wide.Loss, "e")} / {F(wide.LinearLoss, "e")} / {F(TrainLoss(empT), "e")}");
        table.Add("test RMSE vs f*: network at T / closed form Theta_0 at T", $"{F(TestRmse(netT, nTrain), "F4")} / {F(TestRmse(empT, nTrain), "F4")}");
        table.Add("test RMSE vs f*: t = infinity, Theta_0 from f0 / Theta_inf from f0 / Theta_inf mean (f0 = 0)",
            $"{F(TestRmse(Closed(emp, last + 1), nTrain), "F4")} / {F(TestRmse(Closed(inf, last + 1), nTrain), "F4")} / {F(TestRmse(regression.Test!.Data, 0), "F4")}");
        Show(table);
        _results["dynamics.target_rms"] = yScale;
        _results["dynamics.net_vs_closed_empirical_max_abs"] = MaxAbs(netT, empT, 0, nTrain + nTest);
        _results["dynamics.net_vs_closed_infinite_max_abs"] = MaxAbs(netT, infT, 0, nTrain + nTest);

        // Trajectories of a few train and test points.
        var plt = Plots.New($"Width {wideWidth}: outputs during gradient descent vs closed-form NTK prediction", "gradient-descent step t", "f(x, t)");
        var tracked = new (int Index, string Label)[] { (1, $"train gamma = {trainAngles[1]:F1}"), (4, $"train gamma = {trainAngles[4]:F1}"), (6, $"train gamma = {trainAngles[6]:F1}"),
            (nTrain + nTest / 4, $"test gamma = {testAngles[nTest / 4]:F2}"), (nTrain + 3 * nTest / 4 + 1, $"test gamma = {testAngles[3 * nTest / 4 + 1]:F2}") };
        double[] stepAxis = wide.Steps.Select(s => (double)s).ToArray();
        for (int j = 0; j < tracked.Length; j++)
        {
            var (index, label) = tracked[j];
            var color = Plots.Palette[j];
            var line = plt.Add.ScatterLine(stepAxis, Enumerable.Range(0, stepAxis.Length).Select(k => Closed(emp, k)[index]).ToArray());
            line.Color = color;
            line.LineWidth = 2;
            line.LegendText = label + (j == 0 ? ", closed form from Theta_0" : "");
            var dashed = plt.Add.ScatterLine(stepAxis, Enumerable.Range(0, stepAxis.Length).Select(k => Closed(inf, k)[index]).ToArray());
            dashed.Color = color.WithAlpha(0.45);
            dashed.LineWidth = 1;
            if (j == 0) dashed.LegendText = "closed form from Theta_inf (thin)";
            var marks = plt.Add.ScatterPoints(stepAxis, wide.Outputs.Select(o => o[index]).ToArray());
            marks.Color = color;
            marks.MarkerSize = 5;
            marks.MarkerShape = MarkerShape.OpenCircle;
            if (j == 0) marks.LegendText = "network, gradient descent (circles)";
        }

        plt.ShowLegend(Edge.Right);
        _report.Figure(_plots.Save(plt, "c-trajectories", 1100, 560), "Thick lines: closed form from the empirical NTK at initialization; thin: from the infinite-width NTK; circles: the trained network.");

        var fn = Plots.New($"Width {wideWidth}: function on the circle after training", "gamma (radians)", "f(x(gamma))");
        void Curve(IEnumerable<double> ys, Color color, string label, float width = 2, bool marks = false)
        {
            var s = fn.Add.ScatterLine(testAngles, ys.ToArray());
            s.Color = color;
            s.LineWidth = width;
            s.LegendText = label;
            if (marks)
            {
                s.MarkerShape = MarkerShape.OpenCircle;
                s.MarkerSize = 5;
            }
        }

        Curve(testAngles.Select(Data.Target), Colors.Gray.WithAlpha(0.8), "target f*", 4);
        Curve(wide.F0.Data.Skip(nTrain), Plots.Palette[3], "network at t = 0", 1.5f);
        Curve(netT.Skip(nTrain), Plots.Palette[0], $"network at t = {steps}", 2);
        Curve(empT.Skip(nTrain), Plots.Palette[1], $"closed form Theta_0 at t = {steps}", 1.2f, marks: true);
        Curve(regression.Test!.Data, Plots.Palette[2], "kernel regression Theta_inf (mean), t = infinity", 2);
        var pts = fn.Add.ScatterPoints(trainAngles, yTrain.Data);
        pts.Color = Colors.Black;
        pts.MarkerSize = 9;
        pts.LegendText = "training points";
        fn.ShowLegend(Alignment.UpperRight);
        _report.Figure(_plots.Save(fn, "c-function"), "The trained network, its closed-form prediction and infinite-time kernel regression on the test grid.");
        _report.EndSection();

        // ---------------------------------------------------------------- d
        console.Heading("d  The trade-off: a narrow network leaves the kernel regime, a wide one stays");
        _report.Section("tradeoff", "d. Narrow vs wide: leaving the kernel regime",
            $"The same task, learning rate and number of steps for widths {narrowWidth} and {wideWidth}. The wide network's NTK barely moves and it tracks its linearization; " +
            "the narrow one's kernel changes during training (it learns features), so the NTK closed form no longer describes it.");
        var d = new SummaryTable($"d. Width {narrowWidth} vs width {wideWidth} after {steps} steps", "quantity", $"n = {narrowWidth}", $"n = {wideWidth}");
        var nd = narrow.Drift[^1];
        var wd = wide.Drift[^1];
        d.Add("parameters", Relu16.ParameterCount.ToString("N0"), (options.Quick ? Relu512.ParameterCount : Relu1024.ParameterCount).ToString("N0"));
        d.Add("||Theta_T - Theta_0|| / ||Theta_0||", F(nd.KernelChange, "P2"), F(wd.KernelChange, "P2"));
        d.Add("||f_T - f_lin,T|| / ||f_T - f_0|| (probe)", F(nd.OutputGap / nd.OutputChange, "P2"), F(wd.OutputGap / wd.OutputChange, "P2"));
        d.Add("||theta_T - theta_0|| / ||theta_0||", F(nd.ParameterChange, "P2"), F(wd.ParameterChange, "P2"));
        d.Add("train loss: network / linearized", $"{F(narrow.Loss, "e")} / {F(narrow.LinearLoss, "e")}", $"{F(wide.Loss, "e")} / {F(wide.LinearLoss, "e")}");
        d.Add("test RMSE vs f*: network / linearized", $"{F(TestRmse(narrow.Outputs[^1], nTrain), "F4")} / {F(TestRmse(narrow.LinearOutputs, nTrain), "F4")}",
            $"{F(TestRmse(wide.Outputs[^1], nTrain), "F4")} / {F(TestRmse(wide.LinearOutputs, nTrain), "F4")}");
        Show(d);
        (_results["tradeoff.narrow.kernel_change"], _results["tradeoff.wide.kernel_change"]) = (nd.KernelChange, wd.KernelChange);

        var tp = Plots.New($"NTK drift during training: width {narrowWidth} vs width {wideWidth}", "gradient-descent step t", "relative change (log scale)");
        void DriftSeries(Trajectory t, Color color, MarkerShape shape, MarkerShape open)
        {
            var samples = t.Drift.Where(s => s.Step > 0).ToList();
            var xs = samples.Select(s => (double)s.Step).ToArray();
            var k = tp.Add.Scatter(xs, Plots.Log10(samples.Select(s => s.KernelChange)));
            k.Color = color;
            k.MarkerShape = shape;
            k.LegendText = $"n = {t.Width}: ||Theta_t - Theta_0|| / ||Theta_0||";
            var g = tp.Add.Scatter(xs, Plots.Log10(samples.Select(s => Math.Max(s.OutputGap / s.OutputChange, 1e-12))));
            g.Color = color.WithAlpha(0.6);
            g.MarkerShape = open;
            g.LineWidth = 1;
            g.LegendText = $"n = {t.Width}: ||f_t - f_lin,t|| / ||f_t - f_0||";
        }

        DriftSeries(narrow, Plots.Palette[1], MarkerShape.FilledSquare, MarkerShape.OpenSquare);
        DriftSeries(wide, Plots.Palette[0], MarkerShape.FilledCircle, MarkerShape.OpenCircle);
        Plots.LogAxis(tp.Axes.Left);
        tp.ShowLegend(Alignment.LowerRight);
        _report.Figure(_plots.Save(tp, "d-narrow-vs-wide"), "Relative change of the empirical NTK (filled markers) and distance to the linearized model (open markers) during training, on the training and test points.");
        _report.EndSection();
    }

    private Trajectory Train<TNet>(int width, double[] theta0, Matrix<double> x, Matrix<double> y, Matrix<double> probe, double lr, int steps, Action tick)
        where TNet : INetwork<TNet>
    {
        int every = Math.Max(1, steps / 30);
        var tracker = new DriftTracker<TNet, double>(theta0, probe, every);
        var ntk0 = CpuNetwork<TNet, double>.Ntk(theta0, probe);
        var f0 = CpuNetwork<TNet, double>.Forward(theta0, probe);
        var recorded = new List<int> { 0 };
        var outputs = new List<double[]> { (double[])f0.Data.Clone() };
        var scratch = new Matrix<double>(probe.Rows, 1);
        var theta = (double[])theta0.Clone();
        var trainer = new Trainer<double>(new NetworkModel<TNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(lr));
        trainer.Train(theta, x, y, new TrainingOptions<double>
        {
            Epochs = steps,
            OnStep = s =>
            {
                tracker.ObserveNetwork(s);
                if (s.Step <= 10 || s.Step % every == 0 || s.IsLast)
                {
                    CpuNetwork<TNet, double>.Forward(s.Parameters, probe, scratch);
                    recorded.Add(s.Step);
                    outputs.Add((double[])scratch.Data.Clone());
                }

                tick();
                tick();
            },
        });
        double loss = trainer.Evaluate(theta, x, y);
        var linear = new LinearizedModel<TNet, double>(theta0);
        var thetaLin = linear.CopyInitialParameters();
        var linTrainer = new Trainer<double>(linear, TrainingLosses.MeanSquaredError, new Sgd<double>(lr));
        linTrainer.Train(thetaLin, x, y, new TrainingOptions<double>
        {
            Epochs = steps,
            OnStep = s =>
            {
                tracker.ObserveLinearized(s);
                tick();
                tick();
            },
        });
        double linLoss = linTrainer.Evaluate(thetaLin, x, y);
        var linOut = linear.Forward(thetaLin, probe).Data;
        return new Trajectory(width, [.. recorded], outputs, [.. tracker.Samples], ntk0, f0, loss, linLoss, linOut);
    }

    // ---------------------------------------------------------------- helpers

    private static Matrix<double> Block(Matrix<double> m, int r0, int rows, int c0, int cols)
    {
        var b = new Matrix<double>(rows, cols);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) b[r, c] = m[r0 + r, c0 + c];
        return b;
    }

    private static Matrix<double> Symmetrize(Matrix<double> m)
    {
        var s = new Matrix<double>(m.Rows, m.Cols);
        for (int r = 0; r < m.Rows; r++)
            for (int c = 0; c < m.Cols; c++) s[r, c] = 0.5 * (m[r, c] + m[c, r]);
        return s;
    }

    private static double Rms(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        return Math.Sqrt(s / a.Length);
    }

    private static double Norm(double[] a) => Math.Sqrt(a.Sum(v => v * v));

    private static double Distance(double[] a, double[] b) => Math.Sqrt(a.Zip(b, (u, v) => (u - v) * (u - v)).Sum());

    /// <summary>Least squares of log10 y on log10 x: (slope, intercept).</summary>
    public static (double Slope, double Intercept) FitLogLog(IEnumerable<double> x, IEnumerable<double> y)
    {
        var lx = x.Select(Math.Log10).ToArray();
        var ly = y.Select(Math.Log10).ToArray();
        double mx = lx.Average(), my = ly.Average();
        double sxy = 0, sxx = 0;
        for (int i = 0; i < lx.Length; i++)
        {
            sxy += (lx[i] - mx) * (ly[i] - my);
            sxx += (lx[i] - mx) * (lx[i] - mx);
        }

        double slope = sxy / sxx;
        return (slope, my - slope * mx);
    }
}

/// <summary>Reproducible seeds per (run seed, width, index).</summary>
internal static class Seeds
{
    public static int Of(int seed, int width, int index) => unchecked((int)(((uint)seed * 1_000_003u) ^ ((uint)width * 7919u) ^ ((uint)index * 104_729u)) & 0x7fffffff);
}

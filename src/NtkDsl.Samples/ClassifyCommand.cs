using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using NtkDsl.Backends;
using NtkDsl.Classification;
using NtkDsl.Cpu;
using NtkDsl.Torch;
using Spectre.Console;
using Spectre.Console.Cli;
using static NtkDsl.Samples.Report;

namespace NtkDsl.Samples;

/// <summary>Settings of the classify command.</summary>
public sealed class ClassifySettings : CommandSettings
{
    /// <summary>--data.</summary>
    [CommandOption("-d|--data <DIR>")]
    [Description("Folder with the four Fashion-MNIST IDX files (.gz or plain); 'subset' is the 2,000 + 1,000 image subset committed in data/.")]
    [DefaultValue(FashionMnist.DefaultFolder)]
    public string Data { get; init; } = FashionMnist.DefaultFolder;

    /// <summary>--train-sizes.</summary>
    [CommandOption("-n|--train-sizes <LIST>")]
    [Description("Training set sizes, comma separated (stratified samples of the training set), e.g. 1000,2000,5000.")]
    [DefaultValue("1000")]
    public string TrainSizes { get; init; } = "1000";

    /// <summary>--test-size.</summary>
    [CommandOption("--test-size <N>")]
    [Description("Test images (a stratified sample of the test set); 0 = all.")]
    [DefaultValue(0)]
    public int TestSize { get; init; }

    /// <summary>--network.</summary>
    [CommandOption("--network <NAME>")]
    [Description("Declared network whose kernels are used and which is trained by SGD: mlp-relu (784-512-512-10, ReLU) or mlp-erf (784-1024-10, erf).")]
    [DefaultValue("mlp-relu")]
    public string Network { get; init; } = "mlp-relu";

    /// <summary>--kernels.</summary>
    [CommandOption("-k|--kernels <LIST>")]
    [Description("Methods, comma separated: nngp, ntk (infinite width), empirical-ntk (at the initialization), rbf, linear, network (SGD).")]
    [DefaultValue("nngp,ntk,rbf,linear,network")]
    public string Kernels { get; init; } = "nngp,ntk,rbf,linear,network";

    /// <summary>--diag-reg.</summary>
    [CommandOption("--diag-reg <VALUE>")]
    [Description("diag_reg relative to the mean kernel diagonal, or 'auto': the best of 1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1 on a held-out 20% of the training set.")]
    [DefaultValue("auto")]
    public string DiagReg { get; init; } = "auto";

    /// <summary>--times.</summary>
    [CommandOption("--times <LIST>")]
    [Description("Gradient-descent times for the kernels, comma separated: 'inf' = kernel regression (Cholesky); numbers and 'net' (the SGD network's gradient-flow time, to compare it with its kernels at the same time) need an eigendecomposition (slow for large N).")]
    [DefaultValue("inf")]
    public string Times { get; init; } = "inf";

    /// <summary>--epochs.</summary>
    [CommandOption("--epochs <N>")]
    [Description("SGD epochs of the finite-width network.")]
    [DefaultValue(20)]
    public int Epochs { get; init; } = 20;

    /// <summary>--linalg.</summary>
    [CommandOption("--linalg <KIND>")]
    [Description("Linear algebra of the dense kernel solves: cpu (NtkDsl's blocked Cholesky and eigensolver), torch (torch.linalg) or mathnet (managed, slow beyond a few thousand samples). The tiled path always uses NtkDsl's tiled Cholesky.")]
    [DefaultValue("cpu")]
    public string LinearAlgebra { get; init; } = "cpu";

    /// <summary>--memory-budget.</summary>
    [CommandOption("--memory-budget <MB>")]
    [Description("Working memory of one kernel tile, in MiB (the kernel matrices themselves are not counted).")]
    [DefaultValue(256)]
    public int MemoryBudgetMiB { get; init; } = 256;

    /// <summary>--dense-memory.</summary>
    [CommandOption("--dense-memory <MB>")]
    [Description("Memory in MiB up to which a kernel family is solved densely (its K(train, train) and K(test, train) matrices and the solver's copies); beyond it, with --times inf, the tiled path: K(train, train) as one triangle of tiles factored in place, K(test, train) streamed (kernel + O(tile) memory).")]
    [DefaultValue(4096)]
    public int DenseMemoryMiB { get; init; } = 4096;

    /// <summary>--diag-reg-subset.</summary>
    [CommandOption("--diag-reg-subset <N>")]
    [Description("Tiled path: diag_reg is chosen on the held-out 20% of a stratified sample of this many training images (its dense kernel computed first).")]
    [DefaultValue(5000)]
    public int DiagRegSubset { get; init; } = 5000;

    /// <summary>--threads.</summary>
    [CommandOption("--threads <N>")]
    [Description("Threads (0 = all cores).")]
    [DefaultValue(0)]
    public int Threads { get; init; }

    /// <summary>--seed.</summary>
    [CommandOption("--seed <SEED>")]
    [Description("Seed of the samples, the held-out split and the network's initialization.")]
    [DefaultValue(0)]
    public int Seed { get; init; }

    /// <summary>--out.</summary>
    [CommandOption("-o|--out <DIR>")]
    [Description("Folder for classify.json, the plots (PNG and SVG) and classify.html.")]
    [DefaultValue("classify-output")]
    public string Out { get; init; } = "classify-output";

    /// <inheritdoc/>
    public override ValidationResult Validate()
    {
        try
        {
            _ = ToOptions();
        }
        catch (ArgumentException e)
        {
            return ValidationResult.Error(e.Message);
        }

        return ValidationResult.Success();
    }

    internal ClassifyOptions ToOptions()
    {
        var sizes = ParseList(TrainSizes, "--train-sizes", s => int.Parse(s, CultureInfo.InvariantCulture));
        if (sizes.Any(s => s < 10)) throw new ArgumentException($"--train-sizes must be >= 10 each, got '{TrainSizes}'.");
        // 'net' is NaN here: the network's time, known once it is trained.
        var times = ParseList(Times, "--times", s => s.ToLowerInvariant() switch
        {
            "inf" => double.PositiveInfinity,
            "net" => double.NaN,
            _ => double.Parse(s, CultureInfo.InvariantCulture),
        });
        if (times.Any(t => !(t >= 0) && !double.IsNaN(t))) throw new ArgumentException($"--times must be >= 0, 'inf' or 'net', got '{Times}'.");
        var methods = ParseList(Kernels, "--kernels", s => s.ToLowerInvariant());
        if (times.Any(double.IsNaN) && !methods.Contains("network")) throw new ArgumentException("--times net needs the network in --kernels.");
        foreach (var m in methods)
            if (!ClassifyOptions.AllMethods.Contains(m))
                throw new ArgumentException($"Unknown method '{m}' in --kernels; choose from {string.Join(", ", ClassifyOptions.AllMethods)}.");
        if (!ClassifyNetworks.All.ContainsKey(Network))
            throw new ArgumentException($"Unknown network '{Network}'. Choose one of: {string.Join(", ", ClassifyNetworks.All.Keys)}.");
        double[] regs = DiagReg.Equals("auto", StringComparison.OrdinalIgnoreCase)
            ? [.. new KernelClassifierOptions().DiagRegCandidates]
            : [ParseList(DiagReg, "--diag-reg", s => double.Parse(s, CultureInfo.InvariantCulture)).Single()];
        if (regs.Any(r => !(r >= 0) || !double.IsFinite(r))) throw new ArgumentException($"--diag-reg must be 'auto' or a finite value >= 0, got '{DiagReg}'.");
        string linearAlgebra = LinearAlgebra.ToLowerInvariant();
        if (!ClassifyOptions.LinearAlgebraKinds.Contains(linearAlgebra))
            throw new ArgumentException($"--linalg must be one of {string.Join(", ", ClassifyOptions.LinearAlgebraKinds)}, got '{LinearAlgebra}'.");
        if (Epochs < 1) throw new ArgumentException($"--epochs must be >= 1, got {Epochs}.");
        if (TestSize < 0) throw new ArgumentException($"--test-size must be >= 0, got {TestSize}.");
        if (Threads < 0) throw new ArgumentException($"--threads must be >= 0, got {Threads}.");
        if (MemoryBudgetMiB < 1) throw new ArgumentException($"--memory-budget must be >= 1 MiB, got {MemoryBudgetMiB}.");
        if (DenseMemoryMiB < 0) throw new ArgumentException($"--dense-memory must be >= 0 MiB, got {DenseMemoryMiB}.");
        if (DiagRegSubset < 10) throw new ArgumentException($"--diag-reg-subset must be >= 10, got {DiagRegSubset}.");
        return new ClassifyOptions(Data, [.. sizes.Distinct().Order()], TestSize, Network.ToLowerInvariant(), methods, regs, times, Epochs,
            linearAlgebra, MemoryBudgetMiB * (1L << 20), Seed, Out,
            DenseMemoryMiB * (1L << 20), DiagRegSubset);
    }

    private static T[] ParseList<T>(string text, string option, Func<string, T> parse)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException($"{option} needs at least one value.");
        try
        {
            return parts.Select(parse).ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{option}: '{text}' is not a comma-separated list of numbers.");
        }
    }
}

/// <summary>Classifies Fashion-MNIST with the kernels of a declared network, standard kernels and the trained network.</summary>
public sealed class ClassifyCommand : Command<ClassifySettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, ClassifySettings settings, CancellationToken cancellationToken)
    {
        CpuSettings.MaxDegreeOfParallelism = settings.Threads;
        var options = settings.ToOptions();
        if (options.TorchLinearAlgebra)
        {
            TorchRuntime.EnsureLoaded();
            if (settings.Threads > 0) TorchSharp.torch.set_num_threads(settings.Threads);
        }

        var run = new ClassifyRun(AnsiConsole.Console, options);
        var results = run.Execute();
        run.WriteOutputs(results);
        return 0;
    }
}

/// <summary>What one classify run does (parsed and validated options).</summary>
internal sealed record ClassifyOptions(string Data, int[] TrainSizes, int TestSize, string Network, string[] Methods, double[] DiagRegs,
    double[] Times, int Epochs, string LinearAlgebra, long MemoryBudgetBytes, int Seed, string OutDir, long DenseMemoryBytes = 4L << 30,
    int DiagRegSubset = 5000)
{
    /// <summary>Tile side of the tiled path: what the tile budget allows, at most 1024 (larger tiles gain little GEMM speed, hold more working memory per kernel evaluation and waste half a diagonal tile each).</summary>
    public int TiledTileSize(ClassifierKernel kernel) => Math.Min(1024, KernelTiles.TileSize(kernel, MemoryBudgetBytes));

    public static readonly string[] AllMethods = ["nngp", "ntk", "empirical-ntk", "rbf", "linear", "network"];

    /// <summary>The --linalg choices, the default first.</summary>
    public static readonly string[] LinearAlgebraKinds = ["cpu", "torch", "mathnet"];

    public bool TorchLinearAlgebra => LinearAlgebra == "torch";

    /// <summary>The dense path's solver and how reports name it.</summary>
    public (IKernelLinearAlgebra Solver, string Name) DenseLinearAlgebra() => LinearAlgebra switch
    {
        "torch" => (TorchKernelLinearAlgebra.Cpu, "torch.linalg (TorchKernelLinearAlgebra)"),
        "mathnet" => (MathNetLinearAlgebra.Instance, "MathNet (managed)"),
        _ => (CpuKernelLinearAlgebra.Instance, "NtkDsl CPU (CpuKernelLinearAlgebra)"),
    };

    /// <summary>The folder of the committed subset, copied beside the samples app.</summary>
    public static string SubsetFolder => Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-subset");

    public string DataFolder => Data.Equals("subset", StringComparison.OrdinalIgnoreCase) ? SubsetFolder : Data;
}

/// <summary>One (training size, method) result; Solver says how (dense, tiled with its tile size, SGD), LoadAverage is /proc/loadavg's 1/5/15-minute load when the row ended.</summary>
internal sealed record ClassifyRow(int TrainSize, int TestSize, string Method, double Time, double Accuracy, double? DiagReg,
    IReadOnlyList<DiagRegTrial> Trials, double[] PerClassAccuracy, int[][] Confusion, double Seconds, long PeakBytes, string Solver, string LoadAverage);

/// <summary>Everything a run produced.</summary>
internal sealed record ClassifyResults(ClassifyOptions Options, string DataFolder, string NetworkDescription, IReadOnlyList<ClassifyRow> Rows,
    string LinearAlgebra, string PeakMemoryNote);

/// <summary>The classify pipeline, shared by the command and the tour.</summary>
internal sealed class ClassifyRun(IAnsiConsole console, ClassifyOptions options)
{
    public ClassifyResults Execute()
    {
        var net = ClassifyNetworks.All[options.Network];
        var (la, linearAlgebraName) = options.DenseLinearAlgebra();
        var (train, test) = FashionMnist.Load(options.DataFolder);
        int largest = options.TrainSizes[^1];
        if (largest > train.Count)
            throw new ArgumentException($"Training size {largest} is larger than the {train.Count} training images in '{options.DataFolder}'.");
        if (options.TestSize > test.Count)
            throw new ArgumentException($"Test size {options.TestSize} is larger than the {test.Count} test images in '{options.DataFolder}'.");
        if (options.TestSize > 0) test = test.Subset(Stratified.Sample(test.Labels, options.TestSize, options.Seed));

        console.MarkupLine($"Fashion-MNIST from [bold]{Markup.Escape(Path.GetFullPath(options.DataFolder))}[/]: {train.Count} train, {test.Count} test images; network {Markup.Escape(net.Description.ToString())}; dense linear algebra {Markup.Escape(linearAlgebraName)}.");
        var rows = new List<ClassifyRow>();
        foreach (int n in options.TrainSizes)
        {
            var (xTrain, trainLabels, xTest) = Standardized(train, test, n);
            console.Heading($"training size {n}");
            // The network first, so that 'net' in --times can be its gradient-flow time.
            var network = options.Methods.Contains("network") ? RunNetwork(net, n, xTrain, xTest, trainLabels, test.Labels) : null;
            double[] times = [.. options.Times.Select(t => double.IsNaN(t) ? network!.Time : t).Distinct()];
            foreach (var family in Families(net, xTrain))
                rows.AddRange(UseTiled(family.Kernel, n, test.Count, times)
                    ? RunTiled(family, n, xTrain, xTest, trainLabels, test.Labels)
                    : RunKernels(family, n, xTrain, xTest, trainLabels, test.Labels, la, times));
            if (network is not null) rows.Add(network);
        }

        return new ClassifyResults(options, Path.GetFullPath(options.DataFolder), net.Description.ToString(), rows,
            linearAlgebraName, PeakMemory.Note);
    }

    /// <summary>The stratified training sample of size n and the test set, standardized on the sample (the unstandardized sample is not kept: at 60,000 images it is 0.4 GB).</summary>
    private (Matrix<double> XTrain, int[] TrainLabels, Matrix<double> XTest) Standardized(LabeledImages train, LabeledImages test, int n)
    {
        var subset = train.Subset(Stratified.Sample(train.Labels, n, options.Seed));
        var scaler = Standardizer.Fit(subset.Images);
        return (scaler.Transform(subset.Images), subset.Labels, scaler.Transform(test.Images));
    }

    private IEnumerable<(string Label, ClassifierKernel Kernel, string[] Wanted)> Families(ClassifyNetwork net, Matrix<double> xTrain)
    {
        var infinite = options.Methods.Where(m => m is "nngp" or "ntk").ToArray();
        if (infinite.Length > 0) yield return ("infinite-width NNGP/NTK", new InfiniteWidthKernel(net.Description), infinite);
        if (options.Methods.Contains("empirical-ntk"))
            yield return ("empirical NTK", net.Empirical(options.Seed, new TiledNtkOptions { MemoryBudgetBytes = options.MemoryBudgetBytes }), ["empirical-ntk"]);
        if (options.Methods.Contains("rbf")) yield return ("RBF (median bandwidth)", new RbfKernel(RbfKernel.MedianBandwidth(xTrain, seed: options.Seed)), ["rbf"]);
        if (options.Methods.Contains("linear")) yield return ("linear", new LinearKernel(), ["linear"]);
    }

    /// <summary>
    /// Whether a family goes the tiled way: only at t = infinity, and when its dense path would hold more than
    /// --dense-memory: K(train, train) and K(test, train) of every member, plus the dense solver's three n x n copies
    /// (symmetrized, regularized, factor) and the held-out split's blocks.
    /// </summary>
    private bool UseTiled(ClassifierKernel kernel, int n, int nTest, double[] times) =>
        times is [double.PositiveInfinity] && DenseBytes(kernel.Names.Count, n, nTest) > options.DenseMemoryBytes;

    internal static long DenseBytes(int kernels, long n, long nTest) => 8 * (kernels * (n * n + nTest * n) + 4 * n * n);

    private List<ClassifyRow> RunTiled((string Label, ClassifierKernel Kernel, string[] Wanted) family, int n, Matrix<double> xTrain, Matrix<double> xTest,
        int[] trainLabels, int[] testLabels)
    {
        int tile = options.TiledTileSize(family.Kernel);
        var rows = new List<ClassifyRow>();
        console.MarkupLine($"  [grey]{Markup.Escape(family.Label)}: tiled path (dense would need {DenseBytes(family.Kernel.Names.Count, n, testLabels.Length) / 1e9:F1} GB > --dense-memory): "
            + $"K(train, train) as {TiledSymmetricMatrix.BytesFor(n, tile) / 1e9:F2} GB of {tile} x {tile} tiles, one kernel at a time[/]");
        foreach (string name in family.Wanted)
        {
            ReleaseMemory();
            PeakMemory.Reset();
            var sw = Stopwatch.StartNew();
            KernelClassification result = default!;
            NewProgress().Start(ctx =>
                {
                    var tasks = new Dictionary<TiledStage, ProgressTask>
                    {
                        [TiledStage.DiagReg] = ctx.AddTask(Markup.Escape($"{name}: diag_reg on a {Math.Min(n, options.DiagRegSubset)}-image subset"), maxValue: 1),
                        [TiledStage.Kernel] = ctx.AddTask(Markup.Escape($"{name}: K(train, train) tiles"), autoStart: false, maxValue: 1),
                        [TiledStage.Factor] = ctx.AddTask(Markup.Escape($"{name}: tiled Cholesky (flops)"), autoStart: false, maxValue: 1),
                        [TiledStage.Predict] = ctx.AddTask(Markup.Escape($"{name}: solves, K(test, train) alpha tiles"), autoStart: false, maxValue: 1),
                    };
                    result = KernelClassifier.ClassifyTiled(family.Kernel, name, xTrain, xTest, trainLabels, testLabels, FashionMnist.ClassCount,
                        new KernelClassifierOptions
                        {
                            DiagRegCandidates = options.DiagRegs,
                            Seed = options.Seed,
                            TileSize = tile,
                            DiagRegSubset = options.DiagRegSubset,
                            LinearAlgebra = CpuKernelLinearAlgebra.Instance,
                            OnProgress = (stage, fraction) =>
                            {
                                LogProgress(name, stage, fraction, sw);
                                foreach (var (s, t) in tasks)
                                    if (s < stage && !t.IsFinished) t.Value = t.MaxValue;
                                if (!tasks[stage].IsStarted) tasks[stage].StartTask();
                                tasks[stage].Value = fraction;
                            },
                        });
                    foreach (var t in tasks.Values) t.Value = t.MaxValue;
                });
            var r = result.Results[0];
            var row = Row(n, testLabels.Length, name, r.Time, r.Metrics, result.DiagReg, result.Trials, sw.Elapsed.TotalSeconds, PeakMemory.Read(), $"tiled ({tile})");
            PrintRow(row);
            rows.Add(row);
        }

        return rows;
    }

    private (TiledStage Stage, int Percent) _logged = (TiledStage.Kernel, -1);

    /// <summary>Without a live display (output redirected to a log), a timestamped line per percent of each stage, so a long run's rate can be read off.</summary>
    private void LogProgress(string name, TiledStage stage, double fraction, Stopwatch sw)
    {
        if (console.Profile.Capabilities.Interactive) return;
        int percent = (int)(fraction * 100);
        if ((stage, percent) == _logged || (stage == _logged.Stage && percent < _logged.Percent)) return;
        _logged = (stage, percent);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{DateTime.UtcNow:HH:mm:ss} UTC, {sw.Elapsed.TotalSeconds:F0} s] {name} {stage}: {percent}%"));
    }

    private List<ClassifyRow> RunKernels((string Label, ClassifierKernel Kernel, string[] Wanted) family, int n, Matrix<double> xTrain, Matrix<double> xTest,
        int[] trainLabels, int[] testLabels, IKernelLinearAlgebra la, double[] times)
    {
        ReleaseMemory();
        PeakMemory.Reset();
        var sw = Stopwatch.StartNew();
        Matrix<double>?[] kTrain = [], kTest = [];
        double kernelSeconds = 0;
        var classified = new List<(string Name, KernelClassification Result, double Seconds)>();
        NewProgress().Start(ctx =>
            {
                var trainTask = ctx.AddTask(Markup.Escape($"{family.Label}: K(train, train) tiles"));
                kTrain = [.. KernelTiles.Compute(family.Kernel, xTrain, null, options.MemoryBudgetBytes, (done, total) => Report(trainTask, done, total))];
                var testTask = ctx.AddTask(Markup.Escape($"{family.Label}: K(test, train) tiles"));
                kTest = [.. KernelTiles.Compute(family.Kernel, xTest, xTrain, options.MemoryBudgetBytes, (done, total) => Report(testTask, done, total))];
                kernelSeconds = sw.Elapsed.TotalSeconds;
                for (int index = 0; index < kTrain.Length; index++)
                {
                    string name = family.Kernel.Names[index];
                    if (!family.Wanted.Contains(name))
                    {
                        kTrain[index] = kTest[index] = null;
                        continue;
                    }

                    var solve = Stopwatch.StartNew();
                    var task = ctx.AddTask(Markup.Escape($"{name}: diag_reg on the held-out split, then the fit"));
                    var result = KernelClassifier.Classify(kTrain[index]!, kTest[index]!, trainLabels, testLabels, FashionMnist.ClassCount,
                        new KernelClassifierOptions
                        {
                            DiagRegCandidates = options.DiagRegs,
                            Times = times,
                            Seed = options.Seed,
                            LinearAlgebra = la,
                            OnCandidate = (done, total) => Report(task, done, total + 1),
                        });
                    task.Value = task.MaxValue;
                    // The kernel matrices are shared by the family: each member gets its share of their time.
                    classified.Add((name, result, kernelSeconds / family.Wanted.Length + solve.Elapsed.TotalSeconds));
                    kTrain[index] = kTest[index] = null;   // only the kernels still to be solved stay alive
                    ReleaseMemory();
                }
            });

        console.MarkupLine($"  [grey]{Markup.Escape(family.Label)}: kernels {kernelSeconds:F1} s (tiles of at most {KernelTiles.TileSize(family.Kernel, options.MemoryBudgetBytes)} samples), solves {sw.Elapsed.TotalSeconds - kernelSeconds:F1} s[/]");
        long peak = PeakMemory.Read();
        var rows = new List<ClassifyRow>();
        foreach (var (name, result, seconds) in classified)
            foreach (var r in result.Results)
                rows.Add(Row(n, testLabels.Length, name, r.Time, r.Metrics, result.DiagReg, result.Trials, seconds, peak, "dense"));
        foreach (var row in rows) PrintRow(row);
        return rows;
    }

    private ClassifyRow RunNetwork(ClassifyNetwork net, int n, Matrix<double> xTrain, Matrix<double> xTest, int[] trainLabels, int[] testLabels)
    {
        ReleaseMemory();
        PeakMemory.Reset();
        var sw = Stopwatch.StartNew();
        NetworkTraining trained = default!;
        NewProgress().Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape($"network: SGD, {options.Epochs} epochs"), maxValue: options.Epochs);
                trained = net.Train(options.Seed, xTrain, Labels.OneHot(trainLabels, FashionMnist.ClassCount), xTest, options.Epochs, () => task.Increment(1));
            });
        var predicted = Labels.ArgMax(trained.TestOutputs);
        var metrics = ClassificationMetrics.Compute(predicted, testLabels, FashionMnist.ClassCount);
        var row = Row(n, testLabels.Length, "network", trained.GradientFlowTime, metrics, null, [], sw.Elapsed.TotalSeconds, PeakMemory.Read(), "SGD");
        PrintRow(row);
        console.MarkupLine($"  [grey]SGD: batch {NetworkTraining.BatchSize}, momentum {NetworkTraining.Momentum}, learning rate {F(trained.LearningRate)} (half the MSE limit of a batch's NTK), {trained.Steps} steps (gradient-flow time {F(trained.GradientFlowTime)}: --times net gives the kernels at that time), final loss {F(trained.FinalLoss)}[/]");
        return row;
    }

    private Progress NewProgress() => console.Progress()
        .AutoClear(false)
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn());

    /// <summary>A full compacting collection, so that the peak memory of a row reflects what it holds, not garbage of the previous one.</summary>
    private static void ReleaseMemory()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    private static void Report(ProgressTask task, int done, int total)
    {
        task.MaxValue = total;
        task.Value = done;
    }

    private static ClassifyRow Row(int n, int nTest, string method, double time, ClassificationMetrics m, double? diagReg, IReadOnlyList<DiagRegTrial> trials, double seconds, long peak,
        string solver)
    {
        int c = m.Confusion.GetLength(0);
        var confusion = Enumerable.Range(0, c).Select(i => Enumerable.Range(0, c).Select(j => m.Confusion[i, j]).ToArray()).ToArray();
        return new ClassifyRow(n, nTest, method, time, m.Accuracy, diagReg, trials, [.. m.PerClassAccuracy], confusion, seconds, peak, solver, LoadAverage());
    }

    /// <summary>The 1, 5 and 15 minute load averages of /proc/loadavg ("" where there is none): how shared the machine was.</summary>
    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private void PrintRow(ClassifyRow r) =>
        console.MarkupLine($"  [bold]{Markup.Escape(r.Method)}[/]{(r.Method == "network" ? "" : $" t = {TimeText(r.Time)}")}: accuracy [bold]{r.Accuracy:F4}[/]{(r.DiagReg is { } d ? $", diag_reg {F(d)}" : "")}, {Markup.Escape(r.Solver)}, {r.Seconds:F1} s, peak {r.PeakBytes / 1e6:F0} MB, load {r.LoadAverage}");

    internal static string TimeText(double t) => double.IsPositiveInfinity(t) ? "inf" : F(t);

    /// <summary>The results table, one row per (training size, method, time).</summary>
    public static SummaryTable Table(ClassifyResults results, string title)
    {
        var table = new SummaryTable(title, "train", "method", "t", "accuracy", "diag_reg", "solver", "wall time (s)", "peak memory (MB)", "load (1/5/15 min)");
        foreach (var r in results.Rows)
            table.Add(r.TrainSize.ToString(CultureInfo.InvariantCulture), r.Method, r.Method == "network" ? "SGD" : TimeText(r.Time), F(r.Accuracy, "F4"),
                r.DiagReg is { } d ? F(d) : "-", r.Solver, F(r.Seconds, "F1"), F(r.PeakBytes / 1e6, "F0"), r.LoadAverage);
        return table;
    }

    /// <summary>Per-class accuracy of every method at the largest training size.</summary>
    public static SummaryTable PerClassTable(ClassifyResults results)
    {
        int largest = results.Rows.Max(r => r.TrainSize);
        var rows = results.Rows.Where(r => r.TrainSize == largest).ToList();
        var table = new SummaryTable($"Per-class accuracy, training size {largest}", ["class", .. rows.Select(r => r.Method == "network" || rows.Count(o => o.Method == r.Method) == 1 ? r.Method : $"{r.Method} t={TimeText(r.Time)}")]);
        for (int k = 0; k < FashionMnist.ClassCount; k++)
            table.Add([FashionMnist.ClassNames[k], .. rows.Select(r => F(r.PerClassAccuracy[k], "F3"))]);
        return table;
    }

    public void WriteOutputs(ClassifyResults results)
    {
        Directory.CreateDirectory(options.OutDir);
        var table = Table(results, "Fashion-MNIST test accuracy");
        var perClass = PerClassTable(results);
        console.Write(table.ToSpectre());
        console.Write(perClass.ToSpectre());

        string json = Path.Combine(options.OutDir, "classify.json");
        File.WriteAllText(json, JsonSerializer.Serialize(results, JsonOptions));

        var plots = new Plots(options.OutDir);
        string accuracySvg = ClassifyPlots.AccuracyVsSize(plots, results);
        var best = results.Rows.Where(r => r.TrainSize == results.Rows.Max(o => o.TrainSize)).MaxBy(r => r.Accuracy)!;
        string confusionSvg = ClassifyPlots.Confusion(plots, best);

        var report = new Report();
        report.Section("classify", "Fashion-MNIST: kernels of a declared network, standard kernels and the trained network",
            $"Data {results.DataFolder}; network {results.NetworkDescription}; every kernel solved by {results.LinearAlgebra} with the same split. {results.PeakMemoryNote}");
        report.Table(table);
        report.Table(perClass);
        report.Figure(accuracySvg, "Test accuracy against the training set size");
        report.Figure(confusionSvg, $"Confusion matrix of {best.Method} at training size {best.TrainSize} (rows: true class, columns: predicted)");
        report.EndSection();
        string html = Path.Combine(options.OutDir, "classify.html");
        report.Write(html, "NtkDsl: Fashion-MNIST classification", $"Seed {options.Seed}, {DateTime.Now:yyyy-MM-dd HH:mm}. Every number was computed in this run.");
        console.MarkupLine($"Wrote [bold]{Markup.Escape(json)}[/], [bold]{Markup.Escape(html)}[/] and {plots.Files.Count} plot files.");
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

/// <summary>The process's peak resident memory between <see cref="Reset"/> and <see cref="Read"/> (Linux: VmHWM, reset through /proc/self/clear_refs).</summary>
internal static class PeakMemory
{
    private static bool _resettable = OperatingSystem.IsLinux();

    public static string Note => _resettable
        ? "Peak memory: the process's resident-set high-water mark during each row (reset before it), .NET runtime and libtorch included."
        : "Peak memory: the process's peak working set since start (this system cannot reset it per row).";

    public static void Reset()
    {
        if (!_resettable) return;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _resettable = false;
        }
    }

    public static long Read()
    {
        if (_resettable)
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }

        return Process.GetCurrentProcess().PeakWorkingSet64;
    }
}

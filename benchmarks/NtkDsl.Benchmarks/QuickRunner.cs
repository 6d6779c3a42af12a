using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Torch;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Benchmarks;

/// <summary>Options of the quick mode (see <see cref="QuickRunner.Parse"/> for the command line).</summary>
public sealed record QuickOptions
{
    /// <summary>Tiny sizes and a single call per implementation: checks that the harness works, in seconds.</summary>
    public bool Tiny { get; init; }

    /// <summary>Where to write the JSON array (null: nowhere).</summary>
    public string? JsonPath { get; init; }

    /// <summary>Threads for libtorch and for NtkDsl (CpuSettings and InfiniteWidthOptions).</summary>
    public int Threads { get; init; } = 2;

    /// <summary>Case names to run (null: all).</summary>
    public IReadOnlySet<string>? Only { get; init; }

    /// <summary>Run the autograd baseline where feasible (it takes ~15-30 s at full size).</summary>
    public bool Autograd { get; init; } = true;

    /// <summary>Print the table (and progress) to the console.</summary>
    public bool Print { get; init; } = true;

    /// <summary>Sample count for the conv cases' trace runs (ntk-cnn-small, ntk-resnet-small, cntk-gap); null: each case's default.</summary>
    public int? Samples { get; init; }

    /// <summary>cntk-gap only: run just these competitors besides ntkdsl_cpu (the reference), e.g. none at N = 128, where the torch recursion takes most of an hour.</summary>
    public IReadOnlySet<string>? CntkCompetitors { get; init; }
}

/// <summary>
/// The quick mode: every case's competitors side by side in this one process, medians, achieved GFLOP/s from
/// <see cref="CostModel"/>, libtorch GEMM throughput at a comparable size, peak memory, cross-checked results.
/// </summary>
public static class QuickRunner
{
    /// <summary>Every case name, in run order.</summary>
    public static readonly string[] CaseNames =
        ["ntk-mlp-small", "ntk-mlp-large", "ntk-mlp-multi", "ntk-cnn-small", "ntk-resnet-small", "forward", "infinite", "infinite-tanh", "cntk-gap", "cholesky", "eigh", "dynamics", "kernel-regression"];

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>Command line: <c>quick [--json FILE] [--tiny] [--threads N] [--only a,b] [--no-autograd]</c>.</summary>
    public static QuickOptions Parse(IReadOnlyList<string> args)
    {
        var options = new QuickOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--json" => options with { JsonPath = Next() },
                "--tiny" => options with { Tiny = true },
                "--threads" => options with { Threads = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--only" => options with { Only = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet() },
                "--no-autograd" => options with { Autograd = false },
                "--quiet" => options with { Print = false },
                "--samples" => options with { Samples = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--cntk-competitors" => options with { CntkCompetitors = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).Where(c => c != "none").ToHashSet() },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Usage: quick [--json FILE] [--tiny] [--threads N] [--only {string.Join(',', CaseNames)}] [--no-autograd] [--quiet] [--samples N] [--cntk-competitors a,b|none]"),
            };
        }

        if (options.Threads < 1) throw new ArgumentException("--threads must be >= 1.");
        if (options.Samples is < 1) throw new ArgumentException("--samples must be >= 1.");
        if (options.Only is not null && options.Only.Except(CaseNames).FirstOrDefault() is { } unknown)
            throw new ArgumentException($"Unknown case '{unknown}'; cases: {string.Join(", ", CaseNames)}.");
        return options;
    }

    private static int _interopConfigured;

    /// <summary>Sets libtorch's and NtkDsl's thread counts; returns what libtorch reports.</summary>
    public static int ConfigureThreads(int threads)
    {
        TorchRuntime.EnsureLoaded();
        torch.set_num_threads(threads);
        // libtorch accepts the inter-op pool size once per process, before any parallel work; a second call aborts
        // the process (a native c10::Error, not catchable), so only the first configuration sets it.
        if (Interlocked.Exchange(ref _interopConfigured, 1) == 0) torch.set_num_interop_threads(threads);

        CpuSettings.MaxDegreeOfParallelism = threads;
        return torch.get_num_threads();
    }

    /// <summary>Runs the cases, writes the JSON, prints the table; returns the JSON array.</summary>
    public static JsonArray Run(QuickOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int torchThreads = ConfigureThreads(options.Threads);
        var started = DateTime.UtcNow;
        var context = new Context(options, torchThreads, LoadAverage());
        var results = new JsonArray();
        foreach (var name in CaseNames)
        {
            if (options.Only is not null && !options.Only.Contains(name)) continue;
            foreach (var result in RunCase(name, context))
            {
                results.Add(result);
                if (options.JsonPath is not null) Write(options.JsonPath, results); // partial results survive a crash
            }
        }

        if (options.JsonPath is not null) Write(options.JsonPath, results);
        if (options.Print) PrintTable(results, options, DateTime.UtcNow - started);
        return results;
    }

    private sealed record Context(QuickOptions Options, int TorchThreads, string LoadAverage)
    {
        public double AutogradRate { get; set; } // executed GFLOP/s of the autograd baseline, once measured
    }

    private static IEnumerable<JsonObject> RunCase(string name, Context ctx)
    {
        bool tiny = ctx.Options.Tiny;
        switch (name)
        {
            case "ntk-mlp-small":
                yield return Ntk<SmallMlp, double>(name, tiny ? 16 : 512, NtkMode.Trace, ctx, autogradFeasible: true);
                break;
            case "ntk-mlp-large":
                yield return Ntk<LargeMlp, float>(name, tiny ? 16 : 2048, NtkMode.Trace, ctx, autogradFeasible: tiny);
                yield return Ntk<LargeMlp, double>(name, tiny ? 16 : 2048, NtkMode.Trace, ctx, autogradFeasible: tiny);
                break;
            case "ntk-mlp-multi":
                yield return Ntk<MultiMlp, double>(name, tiny ? 8 : 256, NtkMode.Full, ctx, autogradFeasible: tiny);
                break;
            case "ntk-cnn-small":
                // Full mode at N = 64: its cotangent step holds W^T D for N O rows, [N O, C_in kh kw H W] (see README).
                yield return NtkCnn<double>(name, ctx.Options.Samples ?? (tiny ? 4 : 256), NtkMode.Trace, ctx);
                yield return NtkCnn<float>(name, ctx.Options.Samples ?? (tiny ? 4 : 256), NtkMode.Trace, ctx);
                yield return NtkCnn<double>(name, tiny ? 2 : 64, NtkMode.Full, ctx);
                yield return NtkCnn<float>(name, tiny ? 2 : 64, NtkMode.Full, ctx);
                break;
            case "ntk-resnet-small":
                // Issue 16 asks N = 128; the quick run takes N = 32 (minutes, not an hour, with the autograd baseline on a shared machine).
                yield return NtkResNet<double>(name, ctx.Options.Samples ?? (tiny ? 4 : ResNetQuickN), ctx);
                yield return NtkResNet<float>(name, ctx.Options.Samples ?? (tiny ? 4 : ResNetQuickN), ctx);
                break;
            case "forward":
                yield return Forward<float>(name, tiny ? 16 : 1024, ctx);
                yield return Forward<double>(name, tiny ? 16 : 1024, ctx);
                break;
            case "infinite":
                yield return Infinite(name, tiny ? 64 : 4096, ctx);
                break;
            case "infinite-tanh":
                yield return InfiniteTanh(name, tiny ? 4 : 64, ctx);
                break;
            case "cntk-gap":
                yield return CntkGap(name, ctx.Options.Samples ?? (tiny ? 2 : CntkGapN), tiny ? 6 : 28, ctx);
                break;
            case "cholesky" or "eigh":
                var kind = name == "cholesky" ? Factorization.Cholesky : Factorization.Eigh;
                foreach (int n in tiny ? [24] : new[] { 1000, 2000, 4000 })
                {
                    yield return FactorizationCase<double>(name, kind, n, ctx);
                    yield return FactorizationCase<float>(name, kind, n, ctx);
                }

                break;
            case "dynamics":
                foreach (int n in tiny ? [40] : new[] { 1000, 4000 })
                    yield return Dynamics(name, n, tiny ? 10 : 500, tiny ? 5 : 100, ctx);
                break;
            case "kernel-regression":
                yield return KernelRegression(name, tiny ? 64 : 10_000, tiny ? 8 : 1000, ctx);
                break;
        }
    }

    // ---- cases -------------------------------------------------------------------------------------------

    private static JsonObject Ntk<TNet, T>(string name, int n, NtkMode mode, Context ctx, bool autogradFeasible)
        where TNet : INetwork<TNet>
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = TNet.Description;
        var dense = net.DenseLayers.ToArray();
        int width = dense[0].Width, bytes = typeof(T) == typeof(float) ? 4 : 8, o = net.Outputs;
        var dtype = TorchConvert.DTypeOf<T>();
        var json = Header(name, n, width, dense.Length - 1, o, Dtype<T>(), ctx);
        json["mode"] = mode.ToString();
        json["input_dim"] = net.Inputs;
        json["parameters"] = net.ParameterCount;
        bool runAutograd = autogradFeasible && ctx.Options.Autograd;

        var flops = new Dictionary<string, double>
        {
            ["ntkdsl_cpu"] = CostModel.StructuredNtkFlops(net, n, mode),
            ["ntkdsl_torch"] = CostModel.StructuredNtkFlops(net, n, mode),
            ["torch_layerwise"] = CostModel.StructuredNtkFlops(net, n, mode),
            ["torch_autograd"] = CostModel.AutogradNtkFlops(net, n),
        };
        double structuredMb = CostModel.StructuredNtkMegabytes(net, n, mode, bytes);
        double autogradMb = CostModel.AutogradMegabytes(net, n, bytes);
        json["model_mb"] = new JsonObject
        {
            ["ntkdsl_cpu"] = Round(structuredMb), ["ntkdsl_torch"] = Round(structuredMb),
            ["torch_layerwise"] = Round(structuredMb), ["torch_autograd"] = Round(autogradMb),
        };
        json["flops_executed"] = new JsonObject
        {
            ["ntkdsl_cpu"] = CostModel.StructuredNtkFlopsWithSyrk(net, n, mode),
            ["torch_autograd"] = CostModel.AutogradNtkFlopsExecuted(net, n),
        };

        var skipped = new Dictionary<string, string>();
        if (!runAutograd)
        {
            double executed = CostModel.AutogradNtkFlopsExecuted(net, n);
            string estimate = ctx.AutogradRate > 0
                ? $"~{executed / (ctx.AutogradRate * 1e9):F0} s at the {ctx.AutogradRate:F1} GFLOP/s the baseline achieved on ntk-mlp-small"
                : $"{executed / 1e12:F1} TFLOP executed";
            skipped["torch_autograd"] = !ctx.Options.Autograd
                ? "disabled (--no-autograd)"
                : $"infeasible here: J alone is N O x P = {(double)n * o:F0} x {net.ParameterCount} = {autogradMb / 1e3:F1} GB ({Dtype<T>()}) and would take {estimate}";
        }

        using var work = new NtkWorkload<TNet, T>(n, mode);
        var impls = work.Implementations.Where(kv => !skipped.ContainsKey(kv.Key)).ToDictionary();
        var measurements = MeasureAll(impls, ctx, () => new NtkWorkload<TNet, T>(4, mode), expensive: n >= 1024,
            slow: new HashSet<string> { "torch_autograd" });
        var diffs = Differences(work, impls.Keys);
        Fill(json, measurements, flops, skipped, diffs);

        if (measurements.TryGetValue("torch_autograd", out var ag) && n >= 256)
            ctx.AutogradRate = CostModel.AutogradNtkFlopsExecuted(net, n) / ag.Median / 1e9;

        var hidden = dense.Length > 1 ? dense[1] : dense[0];
        json["gemm_shape"] = $"[{n}, {hidden.Inputs}] x [{hidden.Inputs}, {n}] {Dtype<T>()}";
        Gemm(json, n, hidden.Inputs, n, dtype);
        NtkDslGemm<T>(json, n, hidden.Inputs, n, ctx);
        if (measurements.TryGetValue("ntkdsl_cpu", out var cpu))
            json["gflops_executed"] = new JsonObject { ["ntkdsl_cpu"] = Round(CostModel.StructuredNtkFlopsWithSyrk(net, n, mode) / cpu.Median / 1e9) };
        Targets(json, name);
        Log(ctx, json);
        return json;
    }

    // The conv NTK: NtkDsl on the CPU and on the Torch backend (the same structured algorithm in torch ops) against the
    // autograd J J^T baseline, in this process; executed GFLOP/s against the GEMM rate, peak memory against J's size.
    private static JsonObject NtkCnn<T>(string name, int n, NtkMode mode, Context ctx) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = SmallCnn.Description;
        int bytes = typeof(T) == typeof(float) ? 4 : 8, o = net.Outputs;
        var json = Header(name, n, 32, 2, o, Dtype<T>(), ctx);
        json["mode"] = mode.ToString();
        json["input_shape"] = "[1, 28, 28]";
        json["parameters"] = net.ParameterCount;
        double executed = CostModel.ConvNtkFlops(net, n, mode);
        var flops = new Dictionary<string, double> { ["ntkdsl_cpu"] = executed, ["ntkdsl_torch"] = executed, ["torch_autograd"] = CostModel.AutogradNtkFlops(net, n) };
        json["j_mb"] = Round((double)n * o * net.ParameterCount * bytes / 1e6, 1);
        json["ntkdsl_workspace_mb"] = Round(SmallCnn.NtkWorkspaceElements(n, n, true, mode, default(CpuBackend<T>).TraceOutputGroupLimit) * (double)bytes / 1e6, 1);
        var skipped = new Dictionary<string, string> { ["torch_layerwise"] = "not written for conv layers: ntkdsl_torch is the structured algorithm in torch ops" };
        if (!ctx.Options.Autograd) skipped["torch_autograd"] = "disabled (--no-autograd)";
        using var work = new NtkWorkload<SmallCnn, T>(n, mode);
        var impls = work.Implementations.Where(kv => !skipped.ContainsKey(kv.Key)).ToDictionary();
        var measurements = MeasureAll(impls, ctx, () => new NtkWorkload<SmallCnn, T>(2, mode), expensive: true, slow: new HashSet<string> { "torch_autograd" });
        Fill(json, measurements, flops, skipped, Differences(work, impls.Keys));
        json["gemm_shape"] = $"[1024, 1024] x [1024, 1024] {Dtype<T>()} (the machine's GEMM rate)";
        Gemm(json, 1024, 1024, 1024, TorchConvert.DTypeOf<T>());
        NtkDslGemm<T>(json, 1024, 1024, 1024, ctx);
        json["flops_note"] = "ntkdsl: CostModel.ConvNtkFlops (executed); torch_autograd: the algorithmic N O (4 P) + 2 (N O)^2 P";
        double? S(string k) => json["seconds"]?[k]?.GetValue<double>();
        AddTargets(json,
            ("torch_autograd / ntkdsl_cpu time >= 10", S("torch_autograd") / S("ntkdsl_cpu"), 10, true),
            ("ntkdsl_torch / ntkdsl_cpu time >= 1", S("ntkdsl_torch") / S("ntkdsl_cpu"), 1, true),
            ("ntkdsl_cpu gflops / gemm_gflops >= 0.5", json["gflops"]?["ntkdsl_cpu"]?.GetValue<double>() / json["gemm_gflops"]!.GetValue<double>(), 0.5, true));
        Log(ctx, json);
        return json;
    }

    private const int ResNetQuickN = 32;

    // The residual conv net in trace mode: NtkDsl CPU and Torch (the generated structured NTK) vs TorchAutogradNtk, side by side.
    private static JsonObject NtkResNet<T>(string name, int n, Context ctx) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = ResNetSmall.Description;
        int bytes = typeof(T) == typeof(float) ? 4 : 8;
        var json = Header(name, n, 16, net.Layers.OfType<ConvLayer>().Count(), net.Outputs, Dtype<T>(), ctx);
        json["mode"] = nameof(NtkMode.Trace);
        json["input_shape"] = "[1, 28, 28]";
        json["parameters"] = net.ParameterCount;
        double executed = CostModel.ConvNtkFlops(net, n, NtkMode.Trace);
        var flops = new Dictionary<string, double> { ["ntkdsl_cpu"] = executed, ["ntkdsl_torch"] = executed, ["torch_autograd"] = CostModel.AutogradNtkFlops(net, n) };
        json["j_mb"] = Round((double)n * net.Outputs * net.ParameterCount * bytes / 1e6, 1);
        json["ntkdsl_workspace_mb"] = Round(ResNetSmall.NtkWorkspaceElements(n, n, true, NtkMode.Trace, default(CpuBackend<T>).TraceOutputGroupLimit) * (double)bytes / 1e6, 1);
        var skipped = new Dictionary<string, string> { ["torch_layerwise"] = "not written for residual conv nets: ntkdsl_torch is the structured algorithm in torch ops" };
        if (!ctx.Options.Autograd) skipped["torch_autograd"] = "disabled (--no-autograd)";
        using var work = new NtkWorkload<ResNetSmall, T>(n, NtkMode.Trace);
        var impls = work.Implementations.Where(kv => !skipped.ContainsKey(kv.Key)).ToDictionary();
        var measurements = MeasureAll(impls, ctx, () => new NtkWorkload<ResNetSmall, T>(2, NtkMode.Trace), expensive: true, slow: new HashSet<string> { "torch_autograd" });
        Fill(json, measurements, flops, skipped, Differences(work, impls.Keys));
        json["gemm_shape"] = $"[1024, 1024] x [1024, 1024] {Dtype<T>()} (the machine's GEMM rate)";
        Gemm(json, 1024, 1024, 1024, TorchConvert.DTypeOf<T>());
        json["flops_note"] = "ntkdsl: CostModel.ConvNtkFlops (executed; joins and activations not counted); torch_autograd: the algorithmic N O (4 P) + 2 (N O)^2 P";
        Log(ctx, json);
        return json;
    }

    private static JsonObject Forward<T>(string name, int batch, Context ctx) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var net = ForwardMlp.Description;
        var json = Header(name, batch, 1024, net.DenseLayers.Count(), net.Outputs, Dtype<T>(), ctx);
        json["input_dim"] = net.Inputs;
        json["parameters"] = net.ParameterCount;
        double f = CostModel.ForwardFlops(net, batch);
        int bytes = typeof(T) == typeof(float) ? 4 : 8;
        double mb = bytes * (net.ParameterCount + 3.0 * batch * 1024) / 1e6; // weights + input + two activations
        using var work = new ForwardWorkload<T>(batch);
        var flops = work.Implementations.Keys.ToDictionary(k => k, _ => f);
        json["model_mb"] = new JsonObject(work.Implementations.Keys.Select(k => KeyValuePair.Create(k, (JsonNode?)Round(mb))));
        var measurements = MeasureAll(work.Implementations, ctx, () => new ForwardWorkload<T>(4), expensive: false, slow: new HashSet<string>());
        Fill(json, measurements, flops, [], Differences(work, work.Implementations.Keys));
        json["gemm_shape"] = $"[{batch}, 1024] x [1024, 1024] {Dtype<T>()}";
        Gemm(json, batch, 1024, 1024, TorchConvert.DTypeOf<T>());
        NtkDslGemm<T>(json, batch, 1024, 1024, ctx);
        var (linear, linearBest) = Timing.NtkDslLinearGflops<T>(batch, 1024, 1024, ctx.Options.Threads);
        json["ntkdsl_linear_gflops"] = Round(linear);
        json["ntkdsl_linear_gflops_best"] = Round(linearBest);
        Targets(json, name);
        Log(ctx, json);
        return json;
    }

    private static JsonObject Infinite(string name, int n, Context ctx)
    {
        var net = DeepReluMlp.Description;
        var json = Header(name, n, null, net.Layers.OfType<ActivationLayer>().Count(), 1, "float64", ctx);
        json["input_dim"] = net.Inputs;
        using var work = new InfiniteWorkload(n, ctx.Options.Threads);
        double f = CostModel.InfiniteFlops(net, n);
        var flops = work.Implementations.Keys.ToDictionary(k => k, _ => f);
        // NtkDsl keeps NNGP and NTK (and q11/q22 vectors); the torch recursion ~6 N x N temporaries per step.
        json["model_mb"] = new JsonObject { ["ntkdsl_cpu"] = Round(3 * 8.0 * n * n / 1e6), ["torch_layerwise"] = Round(8 * 8.0 * n * n / 1e6) };
        var skipped = new Dictionary<string, string> { ["ntkdsl_torch"] = "not implemented: the generated InfiniteWidth member runs on the CPU (KernelState) only" };
        var measurements = MeasureAll(work.Implementations, ctx, () => new InfiniteWorkload(16, ctx.Options.Threads), expensive: n >= 2048, slow: new HashSet<string>());
        Fill(json, measurements, flops, skipped, Differences(work, work.Implementations.Keys));
        json["gemm_shape"] = "[1024, 1024] x [1024, 1024] float64 (hardware proxy; the recursion is elementwise, not GEMM-bound)";
        Gemm(json, 1024, 1024, 1024, ScalarType.Float64);
        json["flops_note"] = $"nominal: 2 N^2 d + {CostModel.InfinitePerEntryPerLayer} N^2 per ReLU layer (a transcendental counts as 1)";
        Log(ctx, json);
        return json;
    }

    // N images for cntk-gap: issue 15 asks N = 128 at 28 x 28 (8,256 pairs, ~8.7e11 flop-equivalents, hours here); the
    // quick run takes a size whose time is minutes, and reports the per-pair rate that extrapolates to N = 128.
    private const int CntkGapN = 8;

    private static JsonObject CntkGap(string name, int n, int size, Context ctx)
    {
        var json = Header(name, n, null, CntkGapWorkload.Depth, 1, "float64", ctx);
        json["image"] = $"1 x {size} x {size}";
        using var work = new CntkGapWorkload(n, size, ctx.Options.Threads);
        double f = CntkGapWorkload.Flops(n, size);
        var flops = work.Implementations.Keys.ToDictionary(k => k, _ => f);
        double entries = Math.Pow(size, 4);
        json["position_pairs_per_sample_pair"] = entries;
        json["sample_pairs"] = CntkGapWorkload.Pairs(n);
        // Untiled, the state of one layer for every sample pair would be N^2 P^2 doubles for each of Sigma and Theta.
        json["untiled_state_mb_n128"] = Round(2 * 8.0 * 128 * 128 * entries / 1e6);
        json["tile_budget_mb"] = 256 * 1.048576;
        var only = ctx.Options.CntkCompetitors;
        var impls = work.Implementations.Where(kv => kv.Key == "ntkdsl_cpu" || only is null || only.Contains(kv.Key)).ToDictionary();
        var skipped = work.Implementations.Keys.Except(impls.Keys).ToDictionary(k => k, _ => "left out by --cntk-competitors");
        var measurements = MeasureAll(impls, ctx, () => new CntkGapWorkload(2, 4, ctx.Options.Threads), expensive: true,
            slow: new HashSet<string>(impls.Keys));
        Fill(json, measurements, flops, skipped, Differences(work, impls.Keys));
        var perPair = new JsonObject();
        var extrapolated = new JsonObject();
        foreach (var (key, m) in measurements)
        {
            double seconds = m.Median / (CntkGapWorkload.Pairs(n) + n);
            perPair[key] = Round(seconds, 6);
            extrapolated[key] = Round(seconds * (CntkGapWorkload.Pairs(128) + 128), 0);
        }

        json["seconds_per_sample_pair"] = perPair;
        json["extrapolated_seconds_n128"] = extrapolated;
        json["gemm_shape"] = "[1024, 1024] x [1024, 1024] float64 (hardware proxy; the recursion is adds, gathers and arc-cosines, not GEMM)";
        Gemm(json, 1024, 1024, 1024, ScalarType.Float64);
        json["flops_note"] = $"nominal: {CntkGapWorkload.FlopsPerEntry} flop-equivalents per position pair and sample pair (a transcendental counts as 1)";
        Log(ctx, json);
        return json;
    }

    // Quadrature moments (Tanh has no closed form) through the issue-13 net: kernel entries per second (wall clock and
    // process CPU time) with the Mehler series (the default), with nested adaptive quadrature only (MehlerSeries = false,
    // the algorithm before it: "before"), and at a loose tolerance; on unit-scale inputs and on inputs scaled so that the
    // first layer's pre-activation variances are log-uniform in [10, 100]. Medians of 3 calls after a warm-up on 16 points;
    // the series alone also at a larger N, where the per-point Hermite coefficients are amortized over more entries.
    private static JsonObject InfiniteTanh(string name, int n, Context ctx)
    {
        var json = Header(name, n, 32, 2, 1, "float64", ctx);
        json["input_dim"] = TanhMlp.InputSize;
        var unit = Workload.RandomInputs<double>(n, TanhMlp.InputSize, 1);
        var wide = ScaleToFirstLayerVariance(unit, 10, 100, 3);
        var warmUp = Workload.RandomInputs<double>(ctx.Options.Tiny ? 2 : 16, TanhMlp.InputSize, 2); // tiered JIT of the series' loops
        var seconds = new JsonObject();
        var rates = new JsonObject();
        var cpuRates = new JsonObject();
        var diffs = new JsonObject();
        var variances = new JsonObject();
        var runs = new (string Key, Matrix<double> X, double Tolerance, bool Series)[]
        {
            ("ntkdsl_cpu", unit, ActivationMoments.DefaultQuadratureTolerance, true),
            ("ntkdsl_cpu_adaptive", unit, ActivationMoments.DefaultQuadratureTolerance, false),
            ("ntkdsl_cpu_1e-6", unit, 1e-6, true),
            ("ntkdsl_cpu_q10-100", wide, ActivationMoments.DefaultQuadratureTolerance, true),
            ("ntkdsl_cpu_adaptive_q10-100", wide, ActivationMoments.DefaultQuadratureTolerance, false),
        };
        var references = new Dictionary<Matrix<double>, double[]>();
        foreach (var (key, x, tolerance, series) in runs)
        {
            var options = new InfiniteWidthOptions { MaxDegreeOfParallelism = ctx.Options.Threads, QuadratureTolerance = tolerance, MehlerSeries = series };
            _ = TanhMlp.InfiniteWidth(warmUp, null, options);
            var (wall, cpu, ntk) = TimeInfiniteTanh(x, options, ctx.Options.Tiny ? 1 : 3);
            long entries = 2L * x.Rows * (x.Rows + 1) / 2; // each Tanh layer integrates the upper triangle, diagonal included
            seconds[key] = Round(wall, 6);
            rates[key] = Round(entries / wall, 0);
            cpuRates[key] = Round(entries / cpu, 0);
            if (!references.TryGetValue(x, out var reference)) references[x] = reference = ntk;
            double max = 0, scale = 0;
            for (int i = 0; i < ntk.Length; i++)
            {
                max = Math.Max(max, Math.Abs(ntk[i] - reference[i]));
                scale = Math.Max(scale, Math.Abs(reference[i]));
            }

            diffs[key] = max / scale;
        }

        // The series alone at 8 N (the adaptive path would take ~64x its N = 64 time there).
        int large = ctx.Options.Tiny ? 8 : 8 * n;
        var largeX = Workload.RandomInputs<double>(large, TanhMlp.InputSize, 4);
        var (largeWall, largeCpu, _) = TimeInfiniteTanh(largeX, new InfiniteWidthOptions { MaxDegreeOfParallelism = ctx.Options.Threads }, 1);
        long largeEntries = 2L * large * (large + 1) / 2;
        json["large_n"] = new JsonObject
        {
            ["n"] = large,
            ["seconds"] = Round(largeWall, 6),
            ["entries_per_second"] = Round(largeEntries / largeWall, 0),
            ["entries_per_cpu_second"] = Round(largeEntries / largeCpu, 0),
        };
        json["first_layer_variance"] = new JsonObject
        {
            ["unit"] = VarianceRange(unit),
            ["q10-100"] = VarianceRange(wide),
        };
        json["seconds"] = seconds;
        json["entries_per_second"] = rates;
        json["entries_per_cpu_second"] = cpuRates;
        json["entries"] = 2L * n * (n + 1) / 2;
        json["max_rel_diff_vs_ntkdsl_cpu"] = diffs;
        json["note"] = "entries = moments per call (2 Tanh layers x N(N+1)/2); ntkdsl_cpu = Mehler series where its bound proves " +
            "QuadratureTolerance 1e-10, adaptive quadrature elsewhere (the default); _adaptive = MehlerSeries off: nested adaptive " +
            "quadrature for every entry (the algorithm before the series); _1e-6 = QuadratureTolerance 1e-6; _q10-100 = inputs scaled " +
            "so that the first layer's variances are log-uniform in [10, 100] (the second layer's stay ~1-2.3: tanh saturates); " +
            "each input set's diffs are against its own ntkdsl_cpu run; entries_per_cpu_second uses the process CPU time";
        Log(ctx, json);
        return json;
    }

    private static (double Wall, double Cpu, double[] Ntk) TimeInfiniteTanh(Matrix<double> x, InfiniteWidthOptions options, int repeats)
    {
        var walls = new List<double>();
        var cpus = new List<double>();
        double[] ntk = [];
        var process = Process.GetCurrentProcess();
        for (int r = 0; r < repeats; r++)
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            ntk = TanhMlp.InfiniteWidth(x, null, options).Ntk.Data.ToArray();
            walls.Add(sw.Elapsed.TotalSeconds);
            process.Refresh();
            cpus.Add((process.TotalProcessorTime - cpu0).TotalSeconds);
        }

        walls.Sort();
        cpus.Sort();
        return (walls[walls.Count / 2], Math.Max(cpus[cpus.Count / 2], 1e-6), ntk);
    }

    // Rows scaled so that the first layer's variance WeightStd^2 |x|^2 / d + BiasStd^2 is log-uniform in [lo, hi].
    private static Matrix<double> ScaleToFirstLayerVariance(Matrix<double> x, double lo, double hi, int seed)
    {
        var rng = new Random(seed);
        var scaled = new Matrix<double>(x.Rows, x.Cols);
        for (int i = 0; i < x.Rows; i++)
        {
            var row = x.Data.AsSpan(i * x.Cols, x.Cols);
            double target = lo * Math.Pow(hi / lo, rng.NextDouble());
            double current = FirstLayerVariance(row);
            double factor = Math.Sqrt((target - TanhBiasVariance) / (current - TanhBiasVariance));
            for (int j = 0; j < x.Cols; j++) scaled.Data[i * x.Cols + j] = factor * row[j];
        }

        return scaled;
    }

    private static readonly DenseLayer TanhFirstLayer = TanhMlp.Description.Layers.OfType<DenseLayer>().First();
    private static readonly double TanhBiasVariance = TanhFirstLayer.BiasStd * TanhFirstLayer.BiasStd;

    private static double FirstLayerVariance(ReadOnlySpan<double> row)
    {
        double sum = 0;
        foreach (double v in row) sum += v * v;
        return TanhFirstLayer.WeightStd * TanhFirstLayer.WeightStd * sum / row.Length + TanhBiasVariance;
    }

    private static JsonArray VarianceRange(Matrix<double> x)
    {
        double min = double.PositiveInfinity, max = 0;
        for (int i = 0; i < x.Rows; i++)
        {
            double q = FirstLayerVariance(x.Data.AsSpan(i * x.Cols, x.Cols));
            min = Math.Min(min, q);
            max = Math.Max(max, q);
        }

        return [Round(min, 3), Round(max, 3)];
    }

    private static JsonObject Dynamics(string name, int n, int m, int times, Context ctx)
    {
        var json = Header(name, n, null, null, 1, "float64", ctx);
        json["test_points"] = m;
        json["times"] = times;
        json["implementations"] = "ntkdsl_cpu = GradientDescentMse with CpuKernelLinearAlgebra (the default); ntkdsl_mathnet = with MathNetLinearAlgebra (n <= 1000); ntkdsl_torch = with TorchKernelLinearAlgebra; torch_layerwise = the same formulas in plain torch ops; each includes the eigendecomposition";
        using var work = new DynamicsWorkload(n, m, times, ctx.Options.Threads);
        double f = CostModel.DynamicsFlops(n, m, 1, times);
        var flops = work.Implementations.Keys.ToDictionary(k => k, _ => f);
        double mb = 8.0 * (3.0 * n * n + 2.0 * m * n) / 1e6; // K, V, a copy; Theta* and Theta* V
        json["model_mb"] = new JsonObject(work.Implementations.Keys.Select(k => KeyValuePair.Create(k, (JsonNode?)Round(mb))));
        var measurements = MeasureAll(work.Implementations, ctx, () => new DynamicsWorkload(12, 4, 3, 1), expensive: n >= 1000, slow: new HashSet<string>());
        Fill(json, measurements, flops, [], Differences(work, work.Implementations.Keys));
        json["gemm_shape"] = $"[{n}, {n}] x [{n}, {n}] float64";
        Gemm(json, n, n, n, ScalarType.Float64);
        json["flops_note"] = "nominal: 9 n^3 for the symmetric EVD plus the products (see CostModel.DynamicsFlops)";
        NtkDslGemm<double>(json, n, n, n, ctx);
        var skipped = new Dictionary<string, string>();
        if (!work.Implementations.ContainsKey("ntkdsl_mathnet"))
            skipped["ntkdsl_mathnet"] = $"MathNet's managed EVD takes ~3 s at n = 1000 and grows as n^3 ({(double)n / 1000:F0}^3 times that here)";
        AddSkipped(json, skipped);
        double? S(string k) => json["seconds"]?[k]?.GetValue<double>();
        AddTargets(json,
            ("ntkdsl_cpu / torch_layerwise time <= 1.5 (without libtorch)", S("ntkdsl_cpu") / S("torch_layerwise"), 1.5, false),
            ("ntkdsl_torch / torch_layerwise time <= 1.2 (the adapter)", S("ntkdsl_torch") / S("torch_layerwise"), 1.2, false));
        Log(ctx, json);
        return json;
    }

    private static JsonObject FactorizationCase<T>(string name, Factorization kind, int n, Context ctx)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var json = Header(name, n, null, null, 1, Dtype<T>(), ctx);
        json["implementations"] = "ntkdsl_cpu = CpuLinearAlgebra (packed GEMM, no native code); ntkdsl_torch = TorchKernelLinearAlgebra (the IKernelLinearAlgebra adapter, float64); torch_linalg = torch.linalg on a tensor; mathnet = MathNet's managed provider";
        using var work = new FactorizationWorkload<T>(kind, n);
        // Cholesky n^3 / 3 multiply-adds; eigh the nominal 9 n^3 of symmetric QR with vectors (as CostModel.DynamicsFlops).
        double f = kind == Factorization.Cholesky ? (double)n * n * n / 3 : 9.0 * n * n * n;
        var flops = work.Implementations.Keys.ToDictionary(k => k, _ => f);
        int bytes = typeof(T) == typeof(float) ? 4 : 8;
        json["model_mb"] = Round(bytes * 2.0 * n * n / 1e6);   // the matrix and its factor / eigenvectors
        var measurements = MeasureAll(work.Implementations, ctx, () => new FactorizationWorkload<T>(kind, 8), expensive: n >= 2000, slow: new HashSet<string>());
        var skipped = work.Skipped();
        Fill(json, measurements, flops, skipped, Differences(work, work.Implementations.Keys));
        json["gemm_shape"] = $"[{n}, {n}] x [{n}, {n}] {Dtype<T>()}";
        Gemm(json, n, n, n, TorchConvert.DTypeOf<T>());
        NtkDslGemm<T>(json, n, n, n, ctx);
        json["flops_note"] = kind == Factorization.Cholesky ? "n^3 / 3" : "nominal 9 n^3 (symmetric QR with vectors)";
        double? S(string k) => json["seconds"]?[k]?.GetValue<double>();
        double gemm = json["gemm_gflops"]!.GetValue<double>();
        if (kind == Factorization.Cholesky)
            AddTargets(json,
                ("ntkdsl_cpu / torch_linalg time <= 1.2 (N >= 2000)", S("ntkdsl_cpu") / S("torch_linalg"), 1.2, false),
                ("ntkdsl_cpu gflops / gemm_gflops >= 0.7", json["gflops"]?["ntkdsl_cpu"]?.GetValue<double>() / gemm, 0.7, true));
        else
            AddTargets(json, ("ntkdsl_cpu / torch_linalg time <= 2 (N = 2000, 4000)", S("ntkdsl_cpu") / S("torch_linalg"), 2, false));
        Log(ctx, json);
        return json;
    }

    private static JsonObject KernelRegression(string name, int n, int m, Context ctx)
    {
        var json = Header(name, n, null, null, 10, "float32", ctx);
        json["test_points"] = m;
        json["implementations"] = "Cholesky of K + 1e-3 mean-diagonal I, solve for 10 target columns, K* alpha: ntkdsl_cpu = CpuLinearAlgebra; torch_linalg = linalg.cholesky + cholesky_solve + mm";
        using var work = new KernelRegressionWorkload(n, m);
        var flops = work.Implementations.Keys.ToDictionary(k => k, _ => work.Flops);
        json["model_mb"] = Round(4 * (2.0 * n * n + m * n) / 1e6);
        var measurements = MeasureAll(work.Implementations, ctx, () => new KernelRegressionWorkload(16, 4), expensive: true, slow: new HashSet<string>());
        Fill(json, measurements, flops, new Dictionary<string, string> { ["ntkdsl_torch"] = "IKernelLinearAlgebra (and so its torch adapter) is float64" },
            Differences(work, work.Implementations.Keys));
        json["gemm_shape"] = $"[{Math.Min(n, 4000)}, {Math.Min(n, 4000)}] x [{Math.Min(n, 4000)}, {Math.Min(n, 4000)}] float32";
        Gemm(json, Math.Min(n, 4000), Math.Min(n, 4000), Math.Min(n, 4000), ScalarType.Float32);
        NtkDslGemm<float>(json, Math.Min(n, 4000), Math.Min(n, 4000), Math.Min(n, 4000), ctx);
        Log(ctx, json);
        return json;
    }

    private static void AddSkipped(JsonObject json, Dictionary<string, string> skipped)
    {
        if (skipped.Count == 0) return;
        var obj = json["skipped"] as JsonObject ?? new JsonObject();
        foreach (var (k, v) in skipped)
        {
            obj[k] = v;
            json["seconds"]![k] = null;
        }

        json["skipped"] = obj;
    }

    private static void AddTargets(JsonObject json, params (string What, double? Value, double Threshold, bool AtLeast)[] targets)
    {
        var array = new JsonArray();
        foreach (var (what, value, threshold, atLeast) in targets)
            array.Add(new JsonObject
            {
                ["target"] = what,
                ["value"] = Round(value, 3),
                ["met"] = value is { } x ? (atLeast ? x >= threshold : x <= threshold) : null,
            });
        json["targets"] = array;
    }

    // ---- measuring -------------------------------------------------------------------------------------------

    // Warms every implementation up on a tiny instance (35 calls, so that tiered JIT promotes the hot methods).
    // Then one full-size call per implementation with the memory high-water mark reset before it (peak_mb; this
    // call is also the warm-up), and then the timed calls, interleaved round-robin across implementations so that
    // load from other processes on this shared machine falls on all competitors alike: each implementation gets as
    // many calls (1 to 25) as fit in a 2.5 s budget (4 s for expensive cases) judging by its warm-up call. The slow
    // autograd baseline gets a single call, which serves as memory pass and measurement at once.
    private const int MaxReps = 25;

    private static Dictionary<string, Measurement> MeasureAll(IReadOnlyDictionary<string, Action> impls, Context ctx,
        Func<Workload> tinyFactory, bool expensive, IReadOnlySet<string> slow)
    {
        bool tiny = ctx.Options.Tiny;
        if (!tiny)
        {
            using var small = tinyFactory();
            foreach (var (key, action) in small.Implementations)
                if (impls.ContainsKey(key))
                    for (int i = 0; i < 35; i++) action();
            Thread.Sleep(200); // let the background tier-1 compilations finish
        }

        double budget = expensive ? 4 : 2.5;
        var memory = new Dictionary<string, (double Peak, double Delta, double First)>();
        var reps = new Dictionary<string, int>();
        var times = impls.Keys.ToDictionary(k => k, _ => new List<double>());
        var allocated = impls.Keys.ToDictionary(k => k, _ => 0L);
        foreach (var (key, action) in impls)
        {
            if (ctx.Options.Print) AnsiConsole.MarkupLine($"  [grey]{Markup.Escape(key)}...[/]");
            double before = Memory.Begin();
            long alloc = GC.GetTotalAllocatedBytes(precise: true);
            long start = Stopwatch.GetTimestamp();
            action();
            double first = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double peak = Memory.Peak();
            memory[key] = (peak, peak - before, first);
            bool single = tiny || slow.Contains(key);
            if (single)
            {
                times[key].Add(first);
                allocated[key] = GC.GetTotalAllocatedBytes(precise: true) - alloc;
            }

            reps[key] = single ? 0 : (int)Math.Clamp(Math.Floor(budget / Math.Max(first, 1e-6)), 1, MaxReps);
        }

        for (int round = 0; round < MaxReps; round++)
        {
            foreach (var (key, action) in impls)
            {
                if (round >= reps[key]) continue;
                long alloc = GC.GetTotalAllocatedBytes(precise: true);
                long start = Stopwatch.GetTimestamp();
                action();
                times[key].Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
                allocated[key] += GC.GetTotalAllocatedBytes(precise: true) - alloc;
            }
        }

        return impls.Keys.ToDictionary(k => k, k => new Measurement(times[k].ToArray(), memory[k].Peak, memory[k].Delta,
            allocated[k] / 1e6 / times[k].Count));
    }

    private static Dictionary<string, double> Differences(Workload work, IEnumerable<string> impls)
    {
        var reference = work.Result("ntkdsl_cpu");
        double scale = reference.Max(Math.Abs);
        var diffs = new Dictionary<string, double>();
        foreach (var key in impls)
        {
            if (key == "ntkdsl_cpu") continue;
            var other = work.Result(key);
            if (other.Length != reference.Length) throw new InvalidOperationException($"{key} returned {other.Length} values, ntkdsl_cpu {reference.Length}.");
            double max = 0;
            for (int i = 0; i < other.Length; i++) max = Math.Max(max, Math.Abs(other[i] - reference[i]));
            diffs[key] = max / (scale > 0 ? scale : 1);
        }

        return diffs;
    }

    // ---- JSON ----------------------------------------------------------------------------------------------

    private static JsonObject Header(string name, int n, int? width, int? depth, int outputs, string dtype, Context ctx) => new()
    {
        ["case"] = name,
        ["n"] = n,
        ["width"] = width,
        ["depth"] = depth,
        ["outputs"] = outputs,
        ["dtype"] = dtype,
        ["threads"] = new JsonObject { ["ntkdsl"] = ctx.Options.Threads, ["torch"] = ctx.TorchThreads },
        ["tiny"] = ctx.Options.Tiny,
        ["load_average_at_start"] = ctx.LoadAverage,
    };

    private static void Fill(JsonObject json, Dictionary<string, Measurement> m, Dictionary<string, double> flops,
        Dictionary<string, string> skipped, Dictionary<string, double> diffs)
    {
        var seconds = new JsonObject();
        var gflops = new JsonObject();
        var peak = new JsonObject();
        var delta = new JsonObject();
        var alloc = new JsonObject();
        var runs = new JsonObject();
        var flopCounts = new JsonObject();
        foreach (var (key, meas) in m)
        {
            seconds[key] = Round(meas.Median, 6);
            runs[key] = new JsonArray(meas.Seconds.Select(s => (JsonNode?)Round(s, 6)).ToArray());
            if (flops.TryGetValue(key, out var f))
            {
                gflops[key] = Round(f / meas.Median / 1e9);
                flopCounts[key] = f;
            }

            peak[key] = Round(meas.PeakMb, 1);
            delta[key] = Round(meas.PeakDeltaMb, 1);
            alloc[key] = Round(meas.AllocatedMbPerCall, 3);
        }

        foreach (var key in skipped.Keys)
        {
            seconds[key] = null;
            gflops[key] = null;
            if (flops.TryGetValue(key, out var f)) flopCounts[key] = f;
        }

        json["seconds"] = seconds;
        json["gflops"] = gflops;
        json["flops"] = flopCounts;
        json["peak_mb"] = peak;
        json["peak_mb_measure"] = Memory.Description;
        json["peak_delta_mb"] = delta;
        json["managed_alloc_mb_per_call"] = alloc;
        json["runs"] = runs;
        json["max_rel_diff_vs_ntkdsl_cpu"] = new JsonObject(diffs.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        if (skipped.Count > 0) json["skipped"] = new JsonObject(skipped.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        var ratios = new JsonObject();
        if (m.TryGetValue("ntkdsl_cpu", out var cpu))
            foreach (var (key, meas) in m)
                if (key != "ntkdsl_cpu") ratios[$"{key}/ntkdsl_cpu"] = Round(meas.Median / cpu.Median, 3);
        json["time_ratios"] = ratios;
    }

    private static void Gemm(JsonObject json, int m, int k, int n, ScalarType dtype)
    {
        var (median, best) = Timing.TorchGemmGflops(m, k, n, dtype);
        // Six decimals: a tiny (--tiny) product on a busy machine can run below 0.005 GFLOP/s, which two
        // decimals would report as 0.
        json["gemm_gflops"] = Round(median, 6);
        json["gemm_gflops_best"] = Round(best, 6);
    }

    // NtkDsl's own CPU GEMM at the same shape: separates kernel throughput from everything around it.
    private static void NtkDslGemm<T>(JsonObject json, int m, int k, int n, Context ctx) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var (median, best) = Timing.NtkDslGemmGflops<T>(m, k, n, ctx.Options.Threads);
        json["ntkdsl_gemm_gflops"] = Round(median);
        json["ntkdsl_gemm_gflops_best"] = Round(best);
    }

    private static void Targets(JsonObject json, string name)
    {
        double? S(string k) => json["seconds"]?[k]?.GetValue<double>();
        var targets = new JsonArray();
        void Add(string what, double? value, double threshold, bool atLeast)
        {
            targets.Add(new JsonObject
            {
                ["target"] = what,
                ["value"] = Round(value, 3),
                ["met"] = value is { } x ? (atLeast ? x >= threshold : x <= threshold) : null,
            });
        }

        switch (name)
        {
            case "ntk-mlp-small":
                Add("torch_autograd / ntkdsl_cpu time >= 200", S("torch_autograd") / S("ntkdsl_cpu"), 200, atLeast: true);
                Add("ntkdsl_torch / ntkdsl_cpu time >= 1 (CPU no slower than Torch backend)", S("ntkdsl_torch") / S("ntkdsl_cpu"), 1, atLeast: true);
                break;
            case "ntk-mlp-large":
                double gemm = json["gemm_gflops"]!.GetValue<double>();
                Add("ntkdsl_cpu gflops / gemm_gflops >= 0.6", json["gflops"]?["ntkdsl_cpu"]?.GetValue<double>() / gemm, 0.6, atLeast: true);
                Add("ntkdsl_cpu gflops_executed (Grams counted as SYRK) / gemm_gflops >= 0.6", json["gflops_executed"]?["ntkdsl_cpu"]?.GetValue<double>() / gemm, 0.6, atLeast: true);
                Add("ntkdsl_cpu peak_mb < 1500", json["peak_mb"]?["ntkdsl_cpu"]?.GetValue<double>(), 1500, atLeast: false);
                break;
            case "forward":
                Add("ntkdsl_cpu / torch_sequential time <= 1.25", S("ntkdsl_cpu") / S("torch_sequential"), 1.25, atLeast: false);
                break;
        }

        if (targets.Count > 0) json["targets"] = targets;
    }

    private static void Write(string path, JsonArray results)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        File.WriteAllText(path, results.ToJsonString(JsonOptions) + Environment.NewLine);
    }

    // ---- printing ------------------------------------------------------------------------------------------

    private static void Log(Context ctx, JsonObject json)
    {
        if (!ctx.Options.Print) return;
        var seconds = json["seconds"]!.AsObject().Select(kv => $"{kv.Key} {(kv.Value is null ? "-" : Fmt(kv.Value.GetValue<double>()))}");
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape($"{json["case"]} {json["dtype"]} N={json["n"]}")}[/]: {Markup.Escape(string.Join(", ", seconds))}");
    }

    /// <summary>Prints one row per case and implementation, then the targets.</summary>
    public static void PrintTable(JsonArray results, QuickOptions options, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(options);
        if (Console.IsOutputRedirected || AnsiConsole.Profile.Width < 150) AnsiConsole.Profile.Width = 150; // keep rows on one line in logs
        var table = new Table().Border(TableBorder.Markdown);
        foreach (var column in new[] { "case", "dtype", "N", "implementation", "median s", "x ntkdsl_cpu", "GFLOP/s", "% torch GEMM", "peak MB", "peak delta MB", "max rel diff" })
            table.AddColumn(new TableColumn(column));
        foreach (var node in results)
        {
            var r = node!.AsObject();
            double gemm = r["gemm_gflops"]?.GetValue<double>() ?? double.NaN;
            double? cpu = r["seconds"]?["ntkdsl_cpu"]?.GetValue<double>();
            foreach (var (impl, value) in r["seconds"]!.AsObject())
            {
                double? s = value?.GetValue<double>();
                double? g = r["gflops"]?[impl]?.GetValue<double>();
                double? peak = r["peak_mb"]?[impl]?.GetValue<double>();
                double? diff = r["max_rel_diff_vs_ntkdsl_cpu"]?[impl]?.GetValue<double>();
                table.AddRow(
                    Markup.Escape(r["case"]!.ToString()), r["dtype"]!.ToString(), r["n"]!.ToString(), Markup.Escape(impl),
                    s is { } sv ? Fmt(sv) : "skipped",
                    s is { } s2 && cpu is { } c ? (s2 / c).ToString("F2", CultureInfo.InvariantCulture) : "-",
                    g is { } gv ? gv.ToString("F1", CultureInfo.InvariantCulture) : "-",
                    g is { } g2 && gemm > 0 && GemmBound(r["case"]!.ToString())
                        ? (100 * g2 / gemm).ToString("F0", CultureInfo.InvariantCulture) + "%" : "-",
                    peak is { } p ? p.ToString("F0", CultureInfo.InvariantCulture) : "-",
                    r["peak_delta_mb"]?[impl]?.GetValue<double>() is { } pd ? pd.ToString("F0", CultureInfo.InvariantCulture) : "-",
                    diff is { } d ? d.ToString("0.0e+0", CultureInfo.InvariantCulture) : impl == "ntkdsl_cpu" ? "(reference)" : "-");
            }
        }

        AnsiConsole.Write(table);
        foreach (var node in results)
        {
            var r = node!.AsObject();
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape($"{r["case"]} {r["dtype"]}: torch GEMM {r["gemm_gflops"]} GFLOP/s median, {r["gemm_gflops_best"]} best, at {r["gemm_shape"]}{(r["ntkdsl_gemm_gflops"] is null ? "" : $"; NtkDsl CPU MatMul {r["ntkdsl_gemm_gflops"]} median, {r["ntkdsl_gemm_gflops_best"]} best")}{(r["ntkdsl_linear_gflops"] is null ? "" : $"; NtkDsl CPU Linear (x W^T + b) {r["ntkdsl_linear_gflops"]} median, {r["ntkdsl_linear_gflops_best"]} best")}")}[/]");
            if (r["skipped"] is JsonObject skipped)
                foreach (var (impl, why) in skipped)
                    AnsiConsole.MarkupLine($"[grey]{Markup.Escape($"  {impl} skipped: {why}")}[/]");
            if (r["targets"] is JsonArray targets)
                foreach (var t in targets)
                {
                    var met = t!["met"]?.GetValue<bool>();
                    string verdict = met switch { true => "[green]met[/]", false => "[red]NOT met[/]", null => "[yellow]not measured[/]" };
                    AnsiConsole.MarkupLine($"  target {Markup.Escape($"{r["case"]} {r["dtype"]}: {t["target"]} -> {t["value"]?.ToString() ?? "-"}")} {verdict}");
                }
        }

        AnsiConsole.MarkupLine($"[grey]{Markup.Escape($"threads: NtkDsl {options.Threads}, torch {torch.get_num_threads()}; peak MB = {Memory.Description}; total {elapsed.TotalSeconds:F0} s")}[/]");
    }

    private static bool GemmBound(string name) => name.StartsWith("ntk", StringComparison.Ordinal) || name == "forward";

    private static string Fmt(double seconds) => seconds >= 1
        ? seconds.ToString("F2", CultureInfo.InvariantCulture) + " s"
        : (seconds * 1e3).ToString("F1", CultureInfo.InvariantCulture) + " ms";

    private static string Dtype<T>() => typeof(T) == typeof(float) ? "float32" : "float64";

    // Rounded for readability; null for NaN / infinity (JSON has no such numbers).
    private static JsonNode? Round(double v, int digits = 2) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, digits)) : null;

    private static JsonNode? Round(double? v, int digits = 2) => v is { } x ? Round(x, digits) : null;

    private static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}

using System.Text.Json.Nodes;

namespace NtkDsl.Benchmarks.Tests;

/// <summary>
/// The quick benchmark harness on tiny sizes (one call per implementation): every case is produced with the
/// fields the issue asks for, every competitor computes the same numbers, and the command line parses.
/// No wall-clock time is asserted.
/// </summary>
public sealed class QuickModeTests
{
    private static readonly Lazy<(JsonArray Results, string Json)> TinyRun = new(() =>
    {
        string path = Path.Combine(Path.GetTempPath(), $"ntkdsl-quick-tiny-{Environment.ProcessId}.json");
        try
        {
            var results = QuickRunner.Run(new QuickOptions { Tiny = true, JsonPath = path, Print = false });
            return (results, File.ReadAllText(path));
        }
        finally
        {
            File.Delete(path);
        }
    });

    [Fact]
    public void Tiny_run_writes_a_json_array_with_one_object_per_case_and_dtype()
    {
        var (results, json) = TinyRun.Value;
        var parsed = JsonNode.Parse(json)!.AsArray();
        Assert.Equal(results.Count, parsed.Count);
        var cases = parsed.Select(r => (r!["case"]!.GetValue<string>(), r["dtype"]!.GetValue<string>())).ToList();
        Assert.Equal(
        [
            ("ntk-mlp-small", "float64"), ("ntk-mlp-large", "float32"), ("ntk-mlp-large", "float64"), ("ntk-mlp-multi", "float64"),
            ("ntk-cnn-small", "float64"), ("ntk-cnn-small", "float32"), ("ntk-cnn-small", "float64"), ("ntk-cnn-small", "float32"),
            ("ntk-resnet-small", "float64"), ("ntk-resnet-small", "float32"),
            ("forward", "float32"), ("forward", "float64"), ("infinite", "float64"), ("infinite-tanh", "float64"),
            ("cntk-gap", "float64"),
            ("cholesky", "float64"), ("cholesky", "float32"), ("eigh", "float64"), ("eigh", "float32"),
            ("dynamics", "float64"), ("kernel-regression", "float32"),
        ], cases);
    }

    [Fact]
    public void Every_case_has_the_required_fields()
    {
        foreach (var node in TinyRun.Value.Results)
        {
            var r = node!.AsObject();
            string name = r["case"]!.GetValue<string>();
            if (r.ContainsKey("entries_per_second"))
            {
                // A rate case (infinite-tanh): NtkDsl alone at two quadrature tolerances, no competitor, no FLOP count.
                foreach (var (impl, value) in r["seconds"]!.AsObject())
                {
                    Assert.True(value!.GetValue<double>() > 0, $"{name}: {impl} seconds");
                    Assert.True(r["entries_per_second"]![impl]!.GetValue<double>() > 0, $"{name}: {impl} entries per second");
                }

                Assert.True(r["seconds"]!.AsObject().ContainsKey("ntkdsl_cpu"), name);
                continue;
            }

            foreach (var field in new[] { "case", "n", "width", "depth", "outputs", "dtype", "seconds", "gflops", "gemm_gflops", "peak_mb", "peak_mb_measure", "threads" })
                Assert.True(r.ContainsKey(field), $"{name}: missing '{field}'");
            Assert.True(r["n"]!.GetValue<int>() > 0);
            Assert.True(r["gemm_gflops"]!.GetValue<double>() > 0, $"{name}: gemm_gflops");
            Assert.Equal(2, r["threads"]!["ntkdsl"]!.GetValue<int>());
            Assert.Equal(2, r["threads"]!["torch"]!.GetValue<int>());

            var seconds = r["seconds"]!.AsObject();
            Assert.True(seconds.ContainsKey("ntkdsl_cpu"), name);
            Assert.True(seconds.ContainsKey("ntkdsl_torch"), name);
            // cntk-gap's plain-torch recursion is the runtime's TorchInfiniteWidth (ntkdsl_torch), not a separate one.
            Assert.True(seconds.ContainsKey("torch_layerwise") || seconds.ContainsKey("torch_sequential") || seconds.ContainsKey("torch_linalg") || name == "cntk-gap", name);
            foreach (var (impl, value) in seconds)
            {
                if (value is null)
                {
                    Assert.True(r["skipped"]?[impl] is not null, $"{name}: {impl} has no time and no reason");
                    continue;
                }

                Assert.True(value.GetValue<double>() > 0, $"{name}: {impl} seconds");
                Assert.True(r["gflops"]![impl]!.GetValue<double>() >= 0, $"{name}: {impl} gflops");
                Assert.True(r["peak_mb"]![impl]!.GetValue<double>() > 0, $"{name}: {impl} peak_mb");
            }
        }
    }

    [Fact]
    public void Competitors_compute_the_same_numbers()
    {
        foreach (var node in TinyRun.Value.Results)
        {
            var r = node!.AsObject();
            bool float32 = r["dtype"]!.GetValue<string>() == "float32";
            bool infinite = r["case"]!.GetValue<string>() is "infinite" or "cntk-gap";
            bool looseQuadrature = r["case"]!.GetValue<string>() == "infinite-tanh";   // tolerance 1e-6 vs 1e-10 per moment
            // float32: ~1e-6 rounding; the arc-cosine recursion loses ~sqrt(eps) = 1e-8 near the diagonal
            // (arccos is not Lipschitz at 1); everything else agrees to float64 round-off.
            double tolerance = float32 ? 1e-4 : infinite ? 1e-6 : looseQuadrature ? 1e-5 : 1e-10;
            foreach (var (impl, diff) in r["max_rel_diff_vs_ntkdsl_cpu"]!.AsObject())
                Assert.True(diff!.GetValue<double>() <= tolerance, $"{r["case"]} {r["dtype"]}: {impl} differs by {diff} (relative)");
        }
    }

    [Fact]
    public void Autograd_runs_where_feasible_and_the_large_case_says_why_not_at_full_size()
    {
        var small = TinyRun.Value.Results.First(r => r!["case"]!.GetValue<string>() == "ntk-mlp-small")!;
        Assert.NotNull(small["seconds"]!["torch_autograd"]);
        Assert.NotNull(small["targets"]);
    }

    [Fact]
    public void Command_line_parses_and_rejects_unknown_input()
    {
        var o = QuickRunner.Parse(["--json", "out.json", "--tiny", "--threads", "3", "--only", "forward,dynamics", "--no-autograd"]);
        Assert.Equal("out.json", o.JsonPath);
        Assert.True(o.Tiny);
        Assert.Equal(3, o.Threads);
        Assert.False(o.Autograd);
        Assert.Equal(new HashSet<string> { "forward", "dynamics" }, o.Only!.ToHashSet());
        Assert.Throws<ArgumentException>(() => QuickRunner.Parse(["--only", "nope"]));
        Assert.Throws<ArgumentException>(() => QuickRunner.Parse(["--bogus"]));
        Assert.Throws<ArgumentException>(() => QuickRunner.Parse(["--json"]));
    }

    [Fact]
    public void Cost_model_counts_match_hand_computed_values()
    {
        // ntk-mlp-small: d 64 -> 512 -> 512 -> 1, N = 512, trace (O = 1).
        double n = 512;
        double forward = 2 * n * (64 * 512 + 512 * 512 + 512 * 1);
        double backward = 2 * n * (512 * 512 + 1 * 512);
        double activationGrams = 2 * n * n * (64 + 512 + 512);
        double cotangentGrams = 2 * n * n * (512 + 512 + 1);
        double hadamard = 3 * 3 * n * n;
        Assert.Equal(forward + backward + activationGrams + cotangentGrams + hadamard,
            CostModel.StructuredNtkFlops(SmallMlp.Description, 512, NtkMode.Trace));

        // Autograd, algorithmic: N O (4 P) + 2 (N O)^2 P.
        double p = SmallMlp.ParameterCount;
        Assert.Equal(n * 4 * p + 2 * n * n * p, CostModel.AutogradNtkFlops(SmallMlp.Description, 512));

        // Full mode with O = 10 stacks the seeds: cotangent Grams 2 (N O)^2 n_l.
        double full = CostModel.StructuredNtkFlops(MultiMlp.Description, 256, NtkMode.Full);
        double trace = CostModel.StructuredNtkFlops(MultiMlp.Description, 256, NtkMode.Trace);
        Assert.True(full > trace);
    }
}

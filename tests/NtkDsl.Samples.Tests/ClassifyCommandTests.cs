using System.Text.Json;

namespace NtkDsl.Samples.Tests;

[Collection("tour")]
public sealed class ClassifyCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ntk-classify-test-" + Guid.NewGuid().ToString("N"));

    public ClassifyCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs the samples app; returns the exit code and everything it wrote (standard output, then standard error).</summary>
    private static (int Exit, string Output) Run(params string[] args)
    {
        var (exit, output, error) = SamplesApp.Run(args);
        return (exit, output + error);
    }

    private string[] Args(string outDir) =>
        ["classify", "--data", "subset", "--train-sizes", "100,200", "--test-size", "100", "--epochs", "2", "--linalg", "mathnet",
         "--kernels", "nngp,ntk,empirical-ntk,rbf,linear,network", "--times", "net,inf", "--seed", "1", "--out", outDir];

    [Fact]
    public void Classify_on_the_subset_writes_json_plots_and_html_and_repeats_exactly()
    {
        string a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b");
        var first = Run(Args(a));
        Assert.True(first.Exit == 0, first.Output);
        Assert.Equal(0, Run(Args(b)).Exit);

        var rows = JsonDocument.Parse(File.ReadAllText(Path.Combine(a, "classify.json"))).RootElement.GetProperty("rows");
        // 2 sizes x (5 kernels x 2 times + the network)
        Assert.Equal(22, rows.GetArrayLength());
        // 'net': the kernels at the network's gradient-flow time, next to it.
        foreach (int size in new[] { 100, 200 })
        {
            var ofSize = rows.EnumerateArray().Where(r => r.GetProperty("train_size").GetInt32() == size).ToList();
            double netTime = ofSize.Single(r => r.GetProperty("method").GetString() == "network").GetProperty("time").GetDouble();
            Assert.True(netTime > 0);
            Assert.Equal(5, ofSize.Count(r => r.GetProperty("method").GetString() != "network"
                && r.GetProperty("time").ValueKind == JsonValueKind.Number && r.GetProperty("time").GetDouble() == netTime));
            Assert.Equal(5, ofSize.Count(r => r.GetProperty("time").ValueKind == JsonValueKind.String && r.GetProperty("time").GetString() == "Infinity"));
        }

        foreach (var row in rows.EnumerateArray())
        {
            double accuracy = row.GetProperty("accuracy").GetDouble();
            Assert.InRange(accuracy, 0.0, 1.0);
            Assert.Equal(100, row.GetProperty("confusion").EnumerateArray().Sum(r => r.EnumerateArray().Sum(v => v.GetInt32())));
            Assert.True(row.GetProperty("peak_bytes").GetInt64() > 0);
        }

        static double[] Accuracies(string dir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "classify.json"))).RootElement
            .GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("accuracy").GetDouble()).ToArray();
        Assert.Equal(Accuracies(a), Accuracies(b));

        foreach (var name in new[] { "classify-accuracy", "classify-confusion" })
        {
            Assert.True(new FileInfo(Path.Combine(a, name + ".png")).Length > 10_000);
            Assert.Contains("</svg>", File.ReadAllText(Path.Combine(a, name + ".svg")), StringComparison.Ordinal);
        }

        string html = File.ReadAllText(Path.Combine(a, "classify.html"));
        Assert.Contains("<caption>Fashion-MNIST test accuracy", html, StringComparison.Ordinal);
        Assert.Contains("<caption>Per-class accuracy", html, StringComparison.Ordinal);
        Assert.Contains("Per-class accuracy", first.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_tiled_path_gives_the_dense_path_s_predictions_and_says_which_path_each_row_took()
    {
        string[] Common(string dir) =>
            ["classify", "--data", "subset", "--train-sizes", "300", "--test-size", "100", "--linalg", "mathnet", "--kernels", "nngp,ntk,rbf",
             "--diag-reg", "1e-3", "--out", dir];
        string dense = Path.Combine(_dir, "dense"), tiled = Path.Combine(_dir, "tiled");
        var d = Run(Common(dense));
        Assert.True(d.Exit == 0, d.Output);
        // --dense-memory 0: every family goes the tiled way; a 1 MiB tile budget makes tiles that do not divide 300.
        var t = Run([.. Common(tiled), "--dense-memory", "0", "--memory-budget", "1"]);
        Assert.True(t.Exit == 0, t.Output);
        Assert.Contains("tiled path", t.Output, StringComparison.Ordinal);

        static List<JsonElement> Rows(string dir) => [.. JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "classify.json"))).RootElement.GetProperty("rows").EnumerateArray()];
        var (dRows, tRows) = (Rows(dense), Rows(tiled));
        Assert.Equal(3, tRows.Count);
        foreach (var row in dRows) Assert.Equal("dense", row.GetProperty("solver").GetString());
        foreach (var row in tRows)
        {
            Assert.StartsWith("tiled (", row.GetProperty("solver").GetString(), StringComparison.Ordinal);
            Assert.True(row.GetProperty("peak_bytes").GetInt64() > 0);
            var same = dRows.Single(r => r.GetProperty("method").GetString() == row.GetProperty("method").GetString());
            Assert.Equal(same.GetProperty("accuracy").GetDouble(), row.GetProperty("accuracy").GetDouble());
            Assert.Equal(same.GetProperty("confusion").ToString(), row.GetProperty("confusion").ToString());
        }
    }

    [Fact]
    public void NtkDsl_s_own_dense_solver_gives_MathNet_s_predictions()
    {
        string[] Common(string dir, string solver) =>
            ["classify", "--data", "subset", "--train-sizes", "400", "--test-size", "200", "--linalg", solver, "--kernels", "nngp,ntk,rbf",
             "--times", "inf,50", "--diag-reg", "1e-3", "--out", dir];
        string cpu = Path.Combine(_dir, "cpu"), mathNet = Path.Combine(_dir, "mathnet");
        var c = Run(Common(cpu, "cpu"));
        Assert.True(c.Exit == 0, c.Output);
        Assert.Contains("NtkDsl CPU (CpuKernelLinearAlgebra)", c.Output, StringComparison.Ordinal);
        Assert.Equal(0, Run(Common(mathNet, "mathnet")).Exit);

        static List<JsonElement> Rows(string dir) => [.. JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "classify.json"))).RootElement.GetProperty("rows").EnumerateArray()];
        var (cRows, mRows) = (Rows(cpu), Rows(mathNet));
        Assert.Equal(6, cRows.Count);   // 3 kernels x (t = inf: Cholesky, t = 50: eigendecomposition)
        for (int i = 0; i < cRows.Count; i++)
        {
            Assert.Equal(mRows[i].GetProperty("method").GetString(), cRows[i].GetProperty("method").GetString());
            Assert.Equal(mRows[i].GetProperty("confusion").ToString(), cRows[i].GetProperty("confusion").ToString());
        }
    }

    [Fact]
    public void Bad_inputs_are_errors_that_say_what_is_wrong()
    {
        var tooMany = Run("classify", "--data", "subset", "--train-sizes", "2001", "--out", _dir);
        Assert.Equal(2, tooMany.Exit);
        Assert.Contains("Training size 2001 is larger than the 2000 training images", tooMany.Output, StringComparison.Ordinal);

        string missing = Path.Combine(_dir, "nowhere");
        var noData = Run("classify", "--data", missing, "--out", _dir);
        Assert.Equal(2, noData.Exit);
        Assert.Contains("nowhere", noData.Output, StringComparison.Ordinal);
        Assert.Contains("dataset-fashion-mnist", noData.Output, StringComparison.Ordinal);

        Assert.NotEqual(0, Run("classify", "--kernels", "nngp,svm").Exit);
        Assert.NotEqual(0, Run("classify", "--train-sizes", "1000,abc").Exit);
        Assert.NotEqual(0, Run("classify", "--diag-reg", "-1").Exit);
        Assert.NotEqual(0, Run("classify", "--network", "resnet").Exit);
        Assert.NotEqual(0, Run("classify", "--dense-memory", "-1").Exit);
        Assert.NotEqual(0, Run("classify", "--diag-reg-subset", "5").Exit);
        Assert.NotEqual(0, Run("classify", "--times", "net", "--kernels", "ntk").Exit);
        var badSolver = Run("classify", "--linalg", "lapack");
        Assert.NotEqual(0, badSolver.Exit);
        Assert.Contains("--linalg must be one of cpu, torch, mathnet, got 'lapack'", badSolver.Output, StringComparison.Ordinal);
        Assert.Equal(0, Run("classify", "--help").Exit);
    }
}

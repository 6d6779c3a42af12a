using System.Text;
using NtkDsl.Cpu;
using NtkDsl.IO;

namespace NtkDsl.Samples.Tests;

/// <summary>Runs the tour in --quick mode once (in-process, its console output captured) for every test of the "tour" collection.</summary>
public sealed class QuickTourFixture : IDisposable
{
    public QuickTourFixture()
    {
        OutDir = Path.Combine(Path.GetTempPath(), "ntk-tour-test-" + Guid.NewGuid().ToString("N"));
        var previous = Console.Out;
        using var output = new StringWriter();
        Console.SetOut(output);
        try
        {
            ExitCode = TourProgram.Run(["--quick", "--out", OutDir, "--seed", "3"]);
        }
        finally
        {
            Console.SetOut(previous);
        }

        Output = output.ToString();
    }

    public string OutDir { get; }

    public int ExitCode { get; }

    /// <summary>What the tour wrote to standard output (not a terminal).</summary>
    public string Output { get; }

    public void Dispose()
    {
        try { Directory.Delete(OutDir, recursive: true); } catch (IOException) { }
    }
}

[Collection("tour")]
public sealed class TourTests(QuickTourFixture tour)
{
    private static readonly string[] Plots = ["a-kernel-curves", "a-kernel-heatmap", "a-eigenvalue-spectrum", "b-drift-vs-width", "c-trajectories", "c-function", "d-narrow-vs-wide",
        "g-kernel-change-vs-width", "g-lr-standard", "g-lr-mup"];

    [Fact]
    public void The_quick_tour_succeeds()
    {
        Assert.Equal(0, tour.ExitCode);
    }

    [Fact]
    public void Every_plot_is_written_as_png_and_svg()
    {
        Assert.True(Directory.GetFiles(tour.OutDir, "*.png").Length >= 5);
        Assert.True(Directory.GetFiles(tour.OutDir, "*.svg").Length >= 5);
        foreach (var name in Plots)
        {
            var png = File.ReadAllBytes(Path.Combine(tour.OutDir, name + ".png"));
            Assert.True(png.Length > 10_000, $"{name}.png is only {png.Length} bytes");
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
            var svg = File.ReadAllText(Path.Combine(tour.OutDir, name + ".svg"));
            Assert.Contains("<svg", svg, StringComparison.Ordinal);
            Assert.Contains("</svg>", svg, StringComparison.Ordinal);
            Assert.True(svg.Length > 5_000, $"{name}.svg is only {svg.Length} characters");
        }
    }

    [Fact]
    public void The_report_is_one_self_contained_file_with_every_figure_and_table()
    {
        string html = File.ReadAllText(Path.Combine(tour.OutDir, "report.html"));
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Equal(Plots.Length, CountOf(html, "<figure><svg"));
        foreach (var name in Plots) Assert.Contains(name + ".svg", html, StringComparison.Ordinal);
        foreach (var caption in new[] { "a. Theta(x0, x(gamma))", "b. Drift after training", "c. Width", "d. Width 16 vs width", "f. ", "g. Kernel changes after", "g. Best learning rate", "Run summary" })
            Assert.Contains("<caption>" + caption, html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", html, StringComparison.Ordinal);            // nothing external
        Assert.DoesNotContain("src=\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Infinity", html, StringComparison.Ordinal);
    }

    // The tour's headline numbers (results.json) against bounds. Measured 2026-12-01 in --quick mode over seeds 1-10
    // (this fixture uses seed 3); each bound is about 2x the worst seed, or half of it for slopes and ratios.
    [Fact]
    public void The_headline_numbers_are_within_their_bounds()
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(tour.OutDir, "results.json")));
        Assert.True(json.RootElement.GetProperty("quick").GetBoolean());
        var r = json.RootElement.GetProperty("results");
        double V(string name) => r.GetProperty(name).GetDouble();

        // 0: the generated NTK against the explicit J J^T (float64 round-off; measured <= 1.6e-14).
        Assert.InRange(V("first_look.ntk_vs_jjt_max_relative"), 0, 1e-12);

        // a: RMS deviation of Theta(x0, .) from the analytic kernel, relative to Theta_inf(x0, x0) (measured 3.6-7.6% at
        // width 500, 1.2-7.3% for the one float32 network of width 2000); the kernel change in training (3.9-5.3% and
        // 1.4-1.9%) is smaller at the larger width (ratio 2.2-3.9).
        Assert.Equal(2000, V("jacot.wide.width"));
        Assert.InRange(V("jacot.narrow.deviation_init"), 0, 0.15);
        Assert.InRange(V("jacot.wide.deviation_init"), 0, 0.15);
        Assert.InRange(V("jacot.narrow.kernel_change"), 0, 0.1);
        Assert.True(V("jacot.narrow.kernel_change") > 1.5 * V("jacot.wide.kernel_change"), "the wider kernel must move less");

        // b: log-log slopes against width (widths 32-512, two seeds each: noisy). Measured: kernel -0.57 to -0.97,
        // ||f - f_lin|| -0.34 to -2.8, parameters -0.86 to -1.08 (theory O(1/n) for the last).
        Assert.True(V("lazy.kernel_slope") < -0.3, $"kernel drift slope {V("lazy.kernel_slope"):F2}");
        Assert.True(V("lazy.gap_slope") < -0.15, $"||f - f_lin|| slope {V("lazy.gap_slope"):F2}");
        Assert.InRange(V("lazy.parameter_slope"), -1.3, -0.6);

        // c: the width-512 network after 60 steps against the closed forms (targets of RMS 0.8; measured max abs
        // 0.023-0.092 from Theta_0, 0.046-0.134 from Theta_inf).
        Assert.Equal(0.8, V("dynamics.target_rms"), 0.01);
        Assert.InRange(V("dynamics.net_vs_closed_empirical_max_abs"), 0, 0.2);
        Assert.InRange(V("dynamics.net_vs_closed_infinite_max_abs"), 0, 0.25);

        // d: the width-16 kernel moves (21-52%), the width-512 one barely (1.4-3.9%), ratio 9-29.
        Assert.True(V("tradeoff.narrow.kernel_change") > 0.1, $"narrow {V("tradeoff.narrow.kernel_change"):P1}");
        Assert.InRange(V("tradeoff.wide.kernel_change"), 0, 0.08);
        Assert.True(V("tradeoff.narrow.kernel_change") > 4 * V("tradeoff.wide.kernel_change"), "the narrow kernel must move far more");

        // f: widths 64-2048, one seed in --quick. Measured (seeds 1-5): NTK-parameterization slopes -0.56 to -0.91 (NTK
        // change) and -0.74 to -1.20 (hidden kernel change), muP slopes -0.05 to 0.09; alignment gain at width 2048
        // 0.0002-0.0005 (NTK) vs 0.18-0.26 (muP); best learning rate moves by 2^4-2^6 under standard parameterization,
        // spread 2^0-2^1 under muP.
        Assert.True(V("mup.slope.ntk.kernel") < -0.3 && V("mup.slope.ntk.features") < -0.4, "NTK parameterization: kernels must freeze with width");
        Assert.InRange(V("mup.slope.mup.kernel"), -0.3, 0.3);
        Assert.InRange(V("mup.slope.mup.features"), -0.3, 0.3);
        Assert.InRange(V("mup.alignment_gain.ntk_widest"), -0.005, 0.005);
        Assert.True(V("mup.alignment_gain.mup_widest") > 0.09, $"muP alignment gain {V("mup.alignment_gain.mup_widest"):F3}");
        Assert.True(V("mup.best_log2_eta_shift.standard") >= 2, $"standard: best eta shift 2^{V("mup.best_log2_eta_shift.standard")}");
        Assert.InRange(V("mup.best_log2_eta_spread.mup"), 0, 2);
    }

    private static int CountOf(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}

[Collection("tour")]
public sealed class KernelCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ntk-kernel-test-" + Guid.NewGuid().ToString("N"));

    public KernelCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Matrix<double> Inputs() => Matrix<double>.FromArray(new double[,] { { 1, 0 }, { 0.6, 0.8 }, { -1, 0.5 }, { 0.1, -0.9 }, { 0.3, 0.3 } });

    private string WriteCsv(Matrix<double> x)
    {
        var sb = new StringBuilder("x1,x2\n");
        for (int r = 0; r < x.Rows; r++) sb.Append(x[r, 0].ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append(',').Append(x[r, 1].ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        string path = Path.Combine(_dir, "x.csv");
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    [Fact]
    public void Empirical_kernel_from_csv_matches_the_generated_ntk()
    {
        var x = Inputs();
        string output = Path.Combine(_dir, "k.npy");
        Assert.Equal(0, TourProgram.Run(["kernel", WriteCsv(x), "--network", "relu-64", "--seed", "5", "--output", output]));
        var k = Npy.Read(output);
        Assert.Equal(NpyDataType.Float64, k.DataType);
        Assert.Equal([5, 5], k.Shape);
        var expected = CpuNetwork<Relu64, double>.Ntk(CpuNetwork<Relu64, double>.InitializeParameters(5), x);
        Assert.Equal(expected.Data, k.Data);
    }

    [Fact]
    public void Infinite_width_kernel_from_npy_with_second_inputs()
    {
        var x1 = Inputs();
        var x2 = Matrix<double>.FromArray(new double[,] { { 0, 1 }, { 0.7, -0.7 } });
        string p1 = Path.Combine(_dir, "x1.npy"), p2 = Path.Combine(_dir, "x2.npy"), output = Path.Combine(_dir, "inf.npy");
        Npy.Write(p1, x1.Convert<float>());
        Npy.Write(p2, x2);
        Assert.Equal(0, TourProgram.Run(["kernel", p1, "--x2", p2, "--network", "jacot-500", "--infinite", "--output", output]));
        var k = Npy.ReadMatrix<double>(output);
        var expected = InfiniteWidth.Kernels(Jacot500.Description, x1.Convert<float>().Convert<double>(), x2).Ntk;
        Assert.Equal((5, 2), (k.Rows, k.Cols));
        for (int i = 0; i < k.Data.Length; i++) Assert.Equal(expected.Data[i], k.Data[i], 1e-15);

        Assert.Equal(0, TourProgram.Run(["kernel", p1, "--network", "jacot-500", "--infinite", "--nngp", "--output", output]));
        var nngp = Npy.ReadMatrix<double>(output);
        Assert.Equal(InfiniteWidth.Kernels(Jacot500.Description, x1.Convert<float>().Convert<double>()).Nngp.Data, nngp.Data);
    }

    [Fact]
    public void Torch_backend_gives_the_cpu_kernel()
    {
        var x = Inputs();
        string csv = WriteCsv(x), cpu = Path.Combine(_dir, "cpu.npy"), torch = Path.Combine(_dir, "torch.npy");
        Assert.Equal(0, TourProgram.Run(["kernel", csv, "--network", "two-layer", "--output", cpu]));
        Assert.Equal(0, TourProgram.Run(["kernel", csv, "--network", "two-layer", "--backend", "torch", "--output", torch]));
        var a = Npy.Read(cpu).Data;
        var b = Npy.Read(torch).Data;
        double scale = a.Max(Math.Abs);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-10 * scale, $"entry {i}: cpu {a[i]}, torch {b[i]}");
    }

    [Fact]
    public void Help_texts_render()
    {
        Assert.Equal(0, TourProgram.Run(["--help"]));
        Assert.Equal(0, TourProgram.Run(["kernel", "--help"]));
    }

    [Fact]
    public void Bad_inputs_give_a_nonzero_exit_code()
    {
        string bad = Path.Combine(_dir, "bad.npy");
        File.WriteAllBytes(bad, [1, 2, 3]);
        Assert.Equal(2, TourProgram.Run(["kernel", bad, "--output", Path.Combine(_dir, "o.npy")]));
        Assert.NotEqual(0, TourProgram.Run(["kernel", WriteCsv(Inputs()), "--network", "no-such-net"]));
        var wide = Path.Combine(_dir, "three.csv");
        File.WriteAllText(wide, "1,2,3\n4,5,6\n");
        Assert.Equal(2, TourProgram.Run(["kernel", wide, "--output", Path.Combine(_dir, "o.npy")]));
        Assert.NotEqual(0, TourProgram.Run(["--backend", "gpu"]));
    }
}

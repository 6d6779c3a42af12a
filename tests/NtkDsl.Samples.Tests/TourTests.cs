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
    private static readonly string[] Plots = ["a-kernel-curves", "a-kernel-heatmap", "a-eigenvalue-spectrum", "b-drift-vs-width", "c-trajectories", "c-function", "d-narrow-vs-wide"];

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
        foreach (var caption in new[] { "a. Theta(x0, x(gamma))", "b. Drift after training", "c. Width", "d. Width 16 vs width", "Run summary" })
            Assert.Contains("<caption>" + caption, html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", html, StringComparison.Ordinal);            // nothing external
        Assert.DoesNotContain("src=\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", html, StringComparison.Ordinal);
        Assert.DoesNotContain("Infinity", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_lazy_training_slope_is_negative_and_the_wide_net_drifts_less_than_the_narrow_one()
    {
        string html = File.ReadAllText(Path.Combine(tour.OutDir, "report.html"));
        var cells = RowCells(html, "fitted slope (log-log)");
        Assert.True(double.Parse(cells[2], System.Globalization.CultureInfo.InvariantCulture) < -0.2, $"kernel drift slope {cells[2]}");
        var drift = RowCells(html, "||Theta_T - Theta_0|| / ||Theta_0||");
        double narrow = double.Parse(drift[1].TrimEnd('%', ' '), System.Globalization.CultureInfo.InvariantCulture);
        double wide = double.Parse(drift[2].TrimEnd('%', ' '), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(narrow > 3 * wide, $"narrow {narrow}% vs wide {wide}%");
    }

    private static int CountOf(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    private static string[] RowCells(string html, string firstCell)
    {
        int i = html.IndexOf("<tr><td>" + System.Net.WebUtility.HtmlEncode(firstCell) + "</td>", StringComparison.Ordinal);
        Assert.True(i >= 0, $"no row '{firstCell}'");
        int end = html.IndexOf("</tr>", i, StringComparison.Ordinal);
        return html[(i + 4)..end].Split("</td>", StringSplitOptions.RemoveEmptyEntries).Select(c => System.Net.WebUtility.HtmlDecode(c.Replace("<td>", "", StringComparison.Ordinal))).ToArray();
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

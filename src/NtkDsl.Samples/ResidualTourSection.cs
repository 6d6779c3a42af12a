using NtkDsl.Cpu;
using Spectre.Console;

namespace NtkDsl.Samples;

/// <summary>A residual MLP for tour section f: x0 = Dense(256)(x), two blocks x + Dense(Relu(LayerNorm(x))), Relu, readout.</summary>
[Network(Inputs = 2, WeightStd = 1.2, BiasStd = 0.1)]
[Dense(256)]
[Repeat(typeof(Block), 2)]
[Relu, Dense(1)]
public partial class TourResNet
{
    [Residual(typeof(Inner))]
    private sealed class Block;

    [LayerNorm, Relu, Dense(256)]
    private sealed class Inner;
}

/// <summary>
/// Tour section f: a residual network declared with blocks, and its empirical NTK (averaged over a few initializations)
/// beside the generated infinite-width NTK of the same architecture (seconds).
/// </summary>
internal static class ResidualTourSection
{
    public static void Run(IAnsiConsole console, Report report, TourOptions tour)
    {
        console.Heading("f  Residual blocks: x + f(x), empirical vs infinite-width NTK");
        int seeds = tour.Quick ? 4 : 16;
        var angles = new[] { -2.0, -0.7, 0.4, 1.5 };
        var x = new Matrix<double>(angles.Length, 2, [.. angles.SelectMany(a => new[] { Math.Cos(a), Math.Sin(a) })]);
        var analytic = TourResNet.InfiniteWidth(x).Ntk;
        var mean = new Matrix<double>(x.Rows, x.Rows);
        for (int s = 0; s < seeds; s++)
        {
            var theta = TourResNet.InitializeParameters<double>(MonteCarloKernel.SampleSeed(tour.Seed, s));
            var ntk = CpuNetwork<TourResNet, double>.Ntk(theta, x, null, NtkMode.Trace);
            for (int i = 0; i < mean.Data.Length; i++) mean.Data[i] += ntk.Data[i] / seeds;
        }

        var table = new SummaryTable($"f. {TourResNet.Description}: Theta(x_0, x_j) on the unit circle", "j", "empirical (mean)", "infinite width");
        for (int j = 0; j < x.Rows; j++) table.Add(j.ToString(), Report.F(mean[0, j]), Report.F(analytic[0, j]));
        console.Write(table.ToSpectre());

        report.Section("residual", "f. Residual blocks",
            "A network declared with blocks: [Dense(256)], [Repeat(typeof(Block), 2)] where Block is [Residual(typeof(Inner))] and Inner is "
            + "[LayerNorm, Relu, Dense(256)], then [Relu, Dense(1)]. The generated code runs the branches (the cotangents of each fan-out add up); "
            + $"the empirical NTK averaged over {seeds} initializations sits beside the generated infinite-width NTK, where the kernel state "
            + "copies at each branch point, adds the branches and normalizes for LayerNorm.");
        report.Table(table);
        report.EndSection();
    }
}

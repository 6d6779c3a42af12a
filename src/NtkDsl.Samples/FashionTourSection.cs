using NtkDsl.Classification;
using Spectre.Console;

namespace NtkDsl.Samples;

/// <summary>
/// Tour section e: the classify pipeline on the committed Fashion-MNIST subset (seconds): the NNGP and NTK of
/// a declared MLP, an RBF and a linear kernel, and the MLP itself trained by SGD, on the same split.
/// </summary>
internal static class FashionTourSection
{
    public static void Run(IAnsiConsole console, Report report, TourOptions tour)
    {
        console.Heading("e  Real data: Fashion-MNIST with the kernels of a declared network");
        int train = tour.Quick ? 300 : 1000, test = tour.Quick ? 300 : 1000, epochs = tour.Quick ? 3 : 10;
        var options = new ClassifyOptions("subset", [train], test, "mlp-relu", ["nngp", "ntk", "rbf", "linear", "network"],
            [.. new KernelClassifierOptions().DiagRegCandidates], [double.PositiveInfinity], epochs, LinearAlgebra: "cpu",
            MemoryBudgetBytes: 256L << 20, tour.Seed, tour.OutDir);
        var results = new ClassifyRun(console, options).Execute();
        var table = ClassifyRun.Table(results, $"e. Fashion-MNIST subset: test accuracy ({train} training, {test} test images)");
        console.Write(table.ToSpectre());

        report.Section("fashion", "e. Real data: Fashion-MNIST",
            $"A stratified sample of the Fashion-MNIST subset committed in data/ (MIT licence), pixels standardized on the training images. "
            + $"Kernel regression (t = infinity, Cholesky) on one-hot targets with the infinite-width NNGP and NTK of {results.NetworkDescription}, "
            + "an RBF kernel (median-distance bandwidth) and a linear kernel, diag_reg chosen on a held-out 20% of the training images; "
            + $"beside them the network itself, trained by SGD ({epochs} epochs) from the seed's initialization. "
            + "The classify command runs the same on the full data set (README: accuracy table).");
        report.Table(table);
        report.EndSection();
    }
}

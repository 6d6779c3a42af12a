using NtkDsl.Classification;

namespace NtkDsl.Tests.Classification;

/// <summary>The tiled kernel path (<see cref="KernelTiles.ComputeTiled"/>, <see cref="KernelClassifier.ClassifyTiled"/>) against the dense one.</summary>
public sealed class TiledClassificationTests
{
    [Theory]
    [InlineData("ntk", 7)]
    [InlineData("nngp", 16)]
    [InlineData("rbf", 11)]
    [InlineData("linear", 90)]
    [InlineData("empirical-ntk", 13)]
    public void Tiled_kernel_and_streamed_product_equal_the_dense_kernel(string name, int tile)
    {
        var (x, _) = ClassificationTests.Clusters(15, seed: 6);     // 45 samples: no tile size here divides it
        var (x2, _) = ClassificationTests.Clusters(7, seed: 7);     // 21 samples
        var kernel = ClassificationTests.Kernel(name, x);
        int index = kernel.Names.ToList().IndexOf(name);
        var dense = KernelTiles.Compute(kernel, x, null)[index];
        var tiled = KernelTiles.ComputeTiled(kernel, index, x, tile);
        // The same blocks: exactly for the closed-form kernels; the empirical NTK's GEMMs round by block shape (1e-12 relative).
        var stored = tiled.ToDense().Data;
        double scale = dense.Data.Max(Math.Abs);
        for (int i = 0; i < stored.Length; i++)
            Assert.True(name == "empirical-ntk" ? Math.Abs(stored[i] - dense.Data[i]) <= 1e-12 * scale : stored[i] == dense.Data[i], $"entry {i}: {stored[i]} vs {dense.Data[i]}");

        var c = new Matrix<double>(x.Rows, 3);
        for (int i = 0; i < c.Data.Length; i++) c.Data[i] = Math.Sin(i);
        var expected = CpuLinearAlgebra.Multiply(KernelTiles.Compute(kernel, x2, x)[index], false, c, false);
        var streamed = KernelTiles.MultiplyTiled(kernel, index, x2, x, c, tile);
        for (int i = 0; i < expected.Data.Length; i++) Assert.Equal(expected.Data[i], streamed.Data[i], 1e-10);
    }

    [Theory]
    [InlineData("ntk", 1e-3, 8)]
    [InlineData("nngp", 1e-2, 13)]
    [InlineData("rbf", 1e-1, 50)]
    public void ClassifyTiled_equals_the_dense_classifier_and_separates_the_clusters(string name, double diagReg, int tile)
    {
        var (xTrain, yTrain) = ClassificationTests.Clusters(17, seed: 1);   // 51 samples
        var (xTest, yTest) = ClassificationTests.Clusters(9, seed: 2);
        var kernel = ClassificationTests.Kernel(name, xTrain);
        int index = kernel.Names.ToList().IndexOf(name);
        var options = new KernelClassifierOptions { DiagRegCandidates = [diagReg], TileSize = tile, LinearAlgebra = CpuKernelLinearAlgebra.Instance };
        var dense = KernelClassifier.Classify(KernelTiles.Compute(kernel, xTrain, null)[index], KernelTiles.Compute(kernel, xTest, xTrain)[index],
            yTrain, yTest, 3, options);
        var stages = new HashSet<TiledStage>();
        var tiled = KernelClassifier.ClassifyTiled(kernel, name, xTrain, xTest, yTrain, yTest, 3, options with { OnProgress = (s, _) => stages.Add(s) });
        Assert.Equal(diagReg, tiled.DiagReg);
        Assert.Empty(tiled.Trials);
        var (d, t) = (dense.Results[0], tiled.Results[0]);
        Assert.True(double.IsPositiveInfinity(t.Time));
        double scale = d.Scores.Data.Max(Math.Abs);
        for (int i = 0; i < d.Scores.Data.Length; i++) Assert.True(Math.Abs(d.Scores.Data[i] - t.Scores.Data[i]) <= 1e-8 * scale, $"score {i}: {d.Scores.Data[i]} vs {t.Scores.Data[i]}");
        Assert.Equal(d.Predicted, t.Predicted);
        Assert.Equal(1.0, t.Metrics.Accuracy);   // the known answer: separable clusters
        Assert.Equal([TiledStage.Kernel, TiledStage.Factor, TiledStage.Predict], stages.Order());
    }

    [Fact]
    public void ClassifyTiled_chooses_diag_reg_like_the_dense_classifier_when_the_subset_is_the_whole_set()
    {
        var (xTrain, yTrain) = ClassificationTests.Clusters(20, seed: 3);
        var (xTest, yTest) = ClassificationTests.Clusters(5, seed: 4);
        var kernel = new InfiniteWidthKernel(ClusterNet.Description);
        var options = new KernelClassifierOptions { TileSize = 9, Seed = 5, LinearAlgebra = CpuKernelLinearAlgebra.Instance };
        var dense = KernelClassifier.Classify(KernelTiles.Compute(kernel, xTrain, null)[1], KernelTiles.Compute(kernel, xTest, xTrain)[1], yTrain, yTest, 3, options);
        var tiled = KernelClassifier.ClassifyTiled(kernel, "ntk", xTrain, xTest, yTrain, yTest, 3, options);
        Assert.Equal(dense.DiagReg, tiled.DiagReg);
        Assert.Equal(dense.Trials, tiled.Trials);
        Assert.Equal(dense.Results[0].Predicted, tiled.Results[0].Predicted);

        // A subset smaller than the training set: a stratified sample of it, the same candidates.
        var sub = KernelClassifier.ClassifyTiled(kernel, "ntk", xTrain, xTest, yTrain, yTest, 3, options with { DiagRegSubset = 30 });
        Assert.Equal(options.DiagRegCandidates.Count, sub.Trials.Count);
        Assert.Contains(sub.DiagReg, options.DiagRegCandidates);
    }

    [Fact]
    public void A_singular_kernel_raises_the_conditioning_error_with_a_diag_reg_suggestion()
    {
        // 60 samples of 5 features: the linear kernel has rank 5, so its Cholesky breaks down at pivot 5 or soon after.
        var (xTrain, yTrain) = ClassificationTests.Clusters(20, seed: 8);
        var (xTest, yTest) = ClassificationTests.Clusters(3, seed: 9);
        var options = new KernelClassifierOptions { DiagRegCandidates = [0], TileSize = 4 };
        var e = Assert.Throws<KernelConditioningException>(() =>
            KernelClassifier.ClassifyTiled(new LinearKernel(), "linear", xTrain, xTest, yTrain, yTest, 3, options));
        Assert.Contains("diag_reg", e.Message);
        Assert.Contains("tiled Cholesky failed at pivot", e.Message);
        Assert.InRange(e.FailedPivot!.Value, 5, 59);
        Assert.True(e.SuggestedDiagReg > 0);
        // The suggestion works.
        var fixedUp = KernelClassifier.ClassifyTiled(new LinearKernel(), "linear", xTrain, xTest, yTrain, yTest, 3, options with { DiagRegCandidates = [e.SuggestedDiagReg] });
        Assert.Equal(e.SuggestedDiagReg, fixedUp.DiagReg);
    }

    [Fact]
    public void Bad_arguments_are_named()
    {
        var (x, y) = ClassificationTests.Clusters(5, seed: 1);
        var kernel = new LinearKernel();
        Assert.Equal("kernelName", Assert.Throws<ArgumentException>(() => KernelClassifier.ClassifyTiled(kernel, "ntk", x, x, y, y, 3)).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => KernelClassifier.ClassifyTiled(kernel, "linear", x, x, y, y, 3,
            new KernelClassifierOptions { Times = [double.PositiveInfinity, 10] })).ParamName);
        var wide = new Matrix<double>(x.Rows, 4);
        Assert.Equal("xTest", Assert.Throws<ArgumentException>(() => KernelClassifier.ClassifyTiled(kernel, "linear", x, wide, y, y, 3)).ParamName);
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => KernelTiles.ComputeTiled(kernel, 1, x, 4)).ParamName);
        Assert.Equal("coefficients", Assert.Throws<ArgumentException>(() => KernelTiles.MultiplyTiled(kernel, 0, x, x, new Matrix<double>(3, 1), 4)).ParamName);
    }
}

using NtkDsl.Classification;
using NtkDsl.Tests.IO;

namespace NtkDsl.Tests;

public partial class ReadmeTests
{
    /// <summary>The README's "Classification on real data" snippet, on the committed subset and 500 images.</summary>
    [Fact]
    public void Classification_section()
    {
        var (train, test) = FashionMnist.Load(Subset.Folder);
        var tr = train.Subset(Stratified.Sample(train.Labels, 500, seed: 0));
        var scaler = Standardizer.Fit(tr.Images);
        var (x, xTest) = (scaler.Transform(tr.Images), scaler.Transform(test.Images));
        var kernel = new InfiniteWidthKernel(Classification.FashionTestNet.Description);
        var k = KernelTiles.Compute(kernel, x, null);
        var kt = KernelTiles.Compute(kernel, xTest, x);
        var result = KernelClassifier.Classify(k[1], kt[1], tr.Labels, test.Labels, FashionMnist.ClassCount);
        Assert.Contains(result.DiagReg, new KernelClassifierOptions().DiagRegCandidates);
        Assert.InRange(result.Results[0].Metrics.Accuracy, 0.5, 1.0);
        var tiled = KernelClassifier.ClassifyTiled(kernel, "ntk", x, xTest, tr.Labels, test.Labels, FashionMnist.ClassCount);
        // 500 images are fewer than DiagRegSubset: the same held-out split, the same choice, the same predictions up to rounding.
        Assert.Equal(result.DiagReg, tiled.DiagReg);
        Assert.Equal(result.Trials, tiled.Trials);
        Assert.InRange(tiled.Results[0].Metrics.Accuracy, result.Results[0].Metrics.Accuracy - 0.002, result.Results[0].Metrics.Accuracy + 0.002);
        Assert.Throws<ArgumentOutOfRangeException>(() => Stratified.Sample(train.Labels, 5000, seed: 0));
    }
}

using Dense = MathNet.Numerics.LinearAlgebra.Matrix<double>;
using NtkDsl.Classification;
using NtkDsl.Tests.IO;

namespace NtkDsl.Tests.Classification;

/// <summary>A small declared network for the cluster problem: 5 inputs, 3 classes.</summary>
[Network(Inputs = 5, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Dense(64), Relu]
[Dense(3)]
public partial class ClusterNet;

/// <summary>The Fashion-MNIST network of the samples, for the subset tests.</summary>
[Network(Inputs = 784, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(10)]
public partial class FashionTestNet;

public sealed class ClassificationTests
{
    /// <summary>Three Gaussian clusters (std 0.3) around centers 4 apart: separable with a wide margin.</summary>
    internal static (Matrix<double> X, int[] Labels) Clusters(int perClass, int seed)
    {
        var rng = new Random(seed);
        double[][] centers = [[4, 0, 0, 0, 0], [0, 4, 0, 0, 0], [0, 0, 4, 0, 0]];
        var x = new Matrix<double>(3 * perClass, 5);
        var labels = new int[3 * perClass];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = i % 3;
            for (int j = 0; j < 5; j++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                x[i, j] = centers[labels[i]][j] + 0.3 * g - 1.3;
            }
        }

        return (x, labels);
    }

    public static TheoryData<string> KernelNames => ["nngp", "ntk", "empirical-ntk", "rbf", "linear"];

    internal static ClassifierKernel Kernel(string name, Matrix<double> xTrain) => name switch
    {
        "nngp" or "ntk" => new InfiniteWidthKernel(ClusterNet.Description),
        "empirical-ntk" => new EmpiricalNtkKernel<ClusterNet>(ClusterNet.InitializeParameters<double>(1)),
        "rbf" => new RbfKernel(RbfKernel.MedianBandwidth(xTrain)),
        _ => new LinearKernel(),
    };

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Every_kernel_classifies_separable_clusters_perfectly(string name)
    {
        var (xTrain, yTrain) = Clusters(20, seed: 1);
        var (xTest, yTest) = Clusters(30, seed: 2);
        var kernel = Kernel(name, xTrain);
        int index = kernel.Names.ToList().IndexOf(name);
        var kTrain = KernelTiles.Compute(kernel, xTrain, null)[index];
        var kTest = KernelTiles.Compute(kernel, xTest, xTrain)[index];
        var result = KernelClassifier.Classify(kTrain, kTest, yTrain, yTest, 3,
            new KernelClassifierOptions { Times = [100.0, double.PositiveInfinity] });
        Assert.Equal(6, result.Trials.Count);
        Assert.Contains(result.DiagReg, result.Trials.Select(t => t.DiagReg));
        foreach (var r in result.Results)
        {
            Assert.Equal(1.0, r.Metrics.Accuracy);
            Assert.Equal(yTest, r.Predicted);
            for (int k = 0; k < 3; k++) Assert.Equal(30, r.Metrics.Confusion[k, k]);
        }
    }

    [Fact]
    public void Scores_at_t_infinity_are_the_ridge_solution_and_the_nngp_posterior_mean()
    {
        var (xTrain, yTrain) = Clusters(10, seed: 3);
        var (xTest, yTest) = Clusters(5, seed: 4);
        var k = NtkDsl.InfiniteWidth.Kernels(ClusterNet.Description, xTrain);
        var kt = NtkDsl.InfiniteWidth.Kernels(ClusterNet.Description, xTest, xTrain);
        const double reg = 1e-3;
        var result = KernelClassifier.Classify(k.Nngp, kt.Nngp, yTrain, yTest, 3, new KernelClassifierOptions { DiagRegCandidates = [reg] });
        Assert.Empty(result.Trials);
        var scores = result.Results[0].Scores;

        // Independent: (K + reg * mean diag I)^-1 Y by MathNet's LU solve, then K* alpha.
        int n = yTrain.Length;
        var km = Dense.Build.Dense(n, n, (i, j) => k.Nngp[i, j]);
        double shift = reg * km.Diagonal().Average();
        var alpha = (km + Dense.Build.DenseIdentity(n) * shift).Solve(Dense.Build.Dense(n, 3, (i, c) => yTrain[i] == c ? 1 : 0));
        var expected = Dense.Build.Dense(yTest.Length, n, (i, j) => kt.Nngp[i, j]) * alpha;
        var gp = new GpInference(new KernelPair(k.Nngp, null), Labels.OneHot(yTrain, 3), reg).Predict(PosteriorKind.Nngp, new KernelPair(kt.Nngp, null)).Mean;
        for (int i = 0; i < yTest.Length; i++)
            for (int c = 0; c < 3; c++)
            {
                Assert.Equal(expected[i, c], scores[i, c], 1e-9);
                Assert.Equal(gp[i, c], scores[i, c], 1e-12);
            }
    }

    [Fact]
    public void The_subset_accuracy_is_reproduced_exactly_for_a_fixed_seed()
    {
        (double Accuracy, int[] Predicted, double DiagReg) Run()
        {
            var (train, test) = FashionMnist.Load(Subset.Folder);
            var tr = train.Subset(Stratified.Sample(train.Labels, 300, seed: 5));
            var te = test.Subset(Stratified.Sample(test.Labels, 200, seed: 5));
            var scaler = Standardizer.Fit(tr.Images);
            var xTrain = scaler.Transform(tr.Images);
            var kernel = new InfiniteWidthKernel(FashionTestNet.Description);
            var kTrain = KernelTiles.Compute(kernel, xTrain, null, memoryBudgetBytes: 1 << 20)[1];
            var kTest = KernelTiles.Compute(kernel, scaler.Transform(te.Images), xTrain, memoryBudgetBytes: 1 << 20)[1];
            var r = KernelClassifier.Classify(kTrain, kTest, tr.Labels, te.Labels, FashionMnist.ClassCount, new KernelClassifierOptions { Seed = 5 });
            return (r.Results[0].Metrics.Accuracy, r.Results[0].Predicted, r.DiagReg);
        }

        var first = Run();
        var second = Run();
        Assert.Equal(first.Accuracy, second.Accuracy);
        Assert.Equal(first.Predicted, second.Predicted);
        Assert.Equal(first.DiagReg, second.DiagReg);
        Assert.True(first.Accuracy > 0.5, $"accuracy {first.Accuracy} (chance is 0.1)");
    }

    [Fact]
    public void Tiles_under_a_small_budget_equal_one_block_and_are_exactly_symmetric()
    {
        var (x, _) = Clusters(30, seed: 6);     // 90 samples
        var (x2, _) = Clusters(7, seed: 7);     // 21 samples
        foreach (var kernel in new ClassifierKernel[] { new InfiniteWidthKernel(ClusterNet.Description), new RbfKernel(2.0), new LinearKernel() })
        {
            int tile = KernelTiles.TileSize(kernel, 20 * 20 * kernel.BytesPerEntry);
            Assert.Equal(20, tile);
            var tiles = 0;
            var tiled = KernelTiles.Compute(kernel, x, null, 20 * 20 * kernel.BytesPerEntry, (done, total) => { tiles = total; Assert.InRange(done, 1, total); });
            Assert.Equal(15, tiles);                 // 5 blocks of <= 20 rows: 5 * 6 / 2 tiles on and above the diagonal
            var whole = kernel.ComputeBlock(x, null);
            var tiledCross = KernelTiles.Compute(kernel, x2, x, 20 * 20 * kernel.BytesPerEntry);
            var wholeCross = kernel.ComputeBlock(x2, x);
            for (int m = 0; m < kernel.Names.Count; m++)
            {
                double scale = whole[m].Data.Max(Math.Abs);
                for (int i = 0; i < x.Rows; i++)
                    for (int j = 0; j < x.Rows; j++)
                    {
                        Assert.Equal(tiled[m][i, j], tiled[m][j, i]);
                        Assert.True(Math.Abs(tiled[m][i, j] - whole[m][i, j]) <= 1e-14 * scale, $"{kernel.Names[m]} [{i}, {j}]");
                    }

                for (int i = 0; i < wholeCross[m].Data.Length; i++)
                    Assert.True(Math.Abs(tiledCross[m].Data[i] - wholeCross[m].Data[i]) <= 1e-14 * scale);
            }
        }
    }

    [Fact]
    public void Rbf_and_linear_kernels_match_their_formulas_and_the_median_bandwidth_is_the_median_distance()
    {
        var x = Matrix<double>.FromArray(new double[,] { { 0, 0 }, { 3, 4 }, { 6, 8 }, { 0, 1 } });
        // Pairwise distances: 5, 10, 1, 5, sqrt(18), sqrt(85) -> sorted 1, 4.24, 5, 5, 9.22, 10 -> median 5.
        Assert.Equal(5.0, RbfKernel.MedianBandwidth(x), 1e-12);
        var rbf = new RbfKernel(2.0).ComputeBlock(x, null)[0];
        Assert.Equal(Math.Exp(-25 / 8.0), rbf[0, 1], 1e-14);
        Assert.Equal(1.0, rbf[2, 2]);
        var lin = new LinearKernel().ComputeBlock(x, null)[0];
        Assert.Equal((18 + 32) / 2.0, lin[1, 2], 1e-12);
        Assert.Throws<ArgumentException>(() => RbfKernel.MedianBandwidth(new Matrix<double>(3, 2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RbfKernel(0));
    }

    [Fact]
    public void Stratified_samples_keep_class_proportions_are_deterministic_and_never_truncate()
    {
        int[] labels = [.. Enumerable.Range(0, 100).Select(i => i < 50 ? 0 : i < 80 ? 1 : 2)];   // 50 / 30 / 20
        var (chosen, rest) = Stratified.Split(labels, 10, seed: 3);
        Assert.Equal([5, 3, 2], Enumerable.Range(0, 3).Select(c => chosen.Count(i => labels[i] == c)));
        Assert.Equal(Enumerable.Range(0, 100), chosen.Concat(rest).Order());
        Assert.Equal(chosen, Stratified.Sample(labels, 10, seed: 3));
        Assert.NotEqual(chosen, Stratified.Sample(labels, 10, seed: 4));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Stratified.Sample(labels, 101, seed: 0));
        Assert.Contains("[1, 100]", e.Message, StringComparison.Ordinal);
        Assert.Equal(7, Stratified.Sample(labels, 7, 0).Length);      // largest remainders: 3.5, 2.1, 1.4 -> 4, 2, 1
        Assert.Equal([4, 2, 1], Enumerable.Range(0, 3).Select(c => Stratified.Sample(labels, 7, 0).Count(i => labels[i] == c)));
    }

    [Fact]
    public void Metrics_standardization_and_one_hot_on_hand_examples()
    {
        var m = ClassificationMetrics.Compute([0, 1, 1, 2, 0], [0, 1, 2, 2, 1], 3);
        Assert.Equal(3, m.Correct);
        Assert.Equal(0.6, m.Accuracy, 1e-15);
        Assert.Equal(new[,] { { 1, 0, 0 }, { 1, 1, 0 }, { 0, 1, 1 } }, m.Confusion);
        Assert.Equal([1.0, 0.5, 0.5], m.PerClassAccuracy);
        Assert.True(double.IsNaN(ClassificationMetrics.Compute([0], [0], 2).PerClassAccuracy[1]));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Compute([0, 3], [0, 1], 3));

        var x = Matrix<double>.FromArray(new double[,] { { 1, 5 }, { 3, 5 } });
        var s = Standardizer.Fit(x);
        var z = s.Transform(x);
        Assert.Equal(new[,] { { -1.0, 0.0 }, { 1.0, 0.0 } }, z.ToArray());
        Assert.Throws<ArgumentException>(() => s.Transform(new Matrix<double>(1, 3)));
        Assert.Throws<ArgumentException>(() => Standardizer.Fit(Matrix<double>.FromArray(new double[,] { { double.NaN } })));

        var y = Labels.OneHot([2, 0], 3);
        Assert.Equal(new[,] { { 0.0, 0, 1 }, { 1, 0, 0 } }, y.ToArray());
        Assert.Equal([2, 0], Labels.ArgMax(y));
        Assert.Throws<ArgumentException>(() => Labels.OneHot([3], 3));
    }
}

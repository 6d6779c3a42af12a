using NtkDsl.Tests.Support;
using Xunit;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// Exact properties of the spatial kernel state: reductions to the feature-vector state (a whole-input Valid conv is a
/// Dense layer, a 1x1 conv a per-position Dense, Flatten of 1x1 the vector state), the diagonal state against the
/// full state's diagonal bit for bit, symmetric against two-input, tiling and threading invariance, branch sums,
/// and bad input.
/// </summary>
public sealed class SpatialKernelStateTests
{
    private static readonly Parameterization[] Both = [Parameterization.Ntk, Parameterization.Standard];

    private static InfiniteWidthKernels Walk(KernelState state, IEnumerable<Layer> layers, Parameterization parameterization)
    {
        foreach (var layer in layers) state.Apply(layer, parameterization);
        return state.Result();
    }

    private static void AssertClose(Matrix<double> expected, Matrix<double> actual, double tolerance)
    {
        double e = InfiniteWidthTestSupport.RelativeFrobenius(actual.Data, expected.Data);
        Assert.True(e < tolerance, $"relative Frobenius difference {e:E2} > {tolerance:E0}");
    }

    [Fact]
    public void ValidConvCoveringTheInputIsADenseLayerOnTheFlattenedInput()
    {
        var shape = new SpatialShape(3, 4);
        var x1 = InfiniteWidthTestSupport.RandomInputs(5, 2 * 12, 1);
        var x2 = InfiniteWidthTestSupport.RandomInputs(3, 2 * 12, 2);
        foreach (var p in Both)
        {
            var conv = new ConvLayer(2, 7, new SpatialWindow(shape, 3, 4, 1, 1, Padding.Valid), 1.3, 0.4, true, 0, 168);
            Layer[] spatial = [conv, new ActivationLayer(Activation.Relu), new FlattenLayer(7, new SpatialShape(1, 1)), new DenseLayer(7, 1, 1.3, 0.4, true, 0, 7)];
            Layer[] dense = [new DenseLayer(24, 7, 1.3, 0.4, true, 0, 168), new ActivationLayer(Activation.Relu), new DenseLayer(7, 1, 1.3, 0.4, true, 0, 7)];
            foreach (var other in new[] { null, x2 })
            {
                var expected = Walk(KernelState.FromInputs(x1, other), dense, p);
                var actual = Walk(KernelState.FromInputs(x1, other, null, 2, shape, positionPairs: false), spatial, p);
                AssertClose(expected.Nngp, actual.Nngp, 1e-14);
                AssertClose(expected.Ntk, actual.Ntk, 1e-14);
            }
        }
    }

    [Fact]
    public void FlattenOfAOneByOneStateIsTheVectorState()
    {
        var x = InfiniteWidthTestSupport.RandomInputs(6, 5, 3);
        Layer[] head = [new DenseLayer(5, 4, 1.2, 0.3, true, 0, 20), new ActivationLayer(Activation.Erf()), new DenseLayer(4, 1, 1.2, 0.3, true, 0, 4)];
        foreach (var p in Both)
        {
            var expected = Walk(KernelState.FromInputs(x), head, p);
            var actual = Walk(KernelState.FromInputs(x, null, null, 5, new SpatialShape(1, 1), false), [new FlattenLayer(5, new SpatialShape(1, 1)), .. head], p);
            Assert.Equal(expected.Nngp.Data, actual.Nngp.Data);
            Assert.Equal(expected.Ntk.Data, actual.Ntk.Data);
        }
    }

    [Fact]
    public void OneByOneConvIsADenseLayerAtEveryPosition()
    {
        // Same positions: the Flatten readout averages per-position MLP kernels. Position pairs: GlobalAvgPool averages
        // the MLP kernels between every pair of positions (x[:, p], x'[:, p']), so the activations' q11 and q22 come
        // from different positions.
        var shape = new SpatialShape(2, 3);
        int c = 3, n = 4, positions = shape.Positions;
        var x = InfiniteWidthTestSupport.RandomInputs(n, c * positions, 4);
        var perPosition = new Matrix<double>(n * positions, c); // row i * P + p = x_i[:, p]
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int q = 0; q < positions; q++)
                    perPosition[i * positions + q, ch] = x[i, ch * positions + q];
        var window = SpatialWindow.Of(shape, 1, 1, Padding.Same);
        Layer[] convs = [new ConvLayer(3, 5, window, 1.5, 0.2, true, 0, 15), new ActivationLayer(Activation.Relu), new ConvLayer(5, 6, window, 1.5, 0.2, true, 0, 30)];
        Layer[] dense = [new DenseLayer(3, 5, 1.5, 0.2, true, 0, 15), new ActivationLayer(Activation.Relu), new DenseLayer(5, 6, 1.5, 0.2, true, 0, 30)];
        var mlp = Walk(KernelState.FromInputs(perPosition), dense, Parameterization.Ntk);

        foreach (bool pairs in new[] { false, true })
        {
            Layer reduce = pairs ? new GlobalAvgPoolLayer(6, shape) : new FlattenLayer(6, shape);
            // The NTK-parameterized Dense readout is affine in (Sigma, Theta) whatever its fan-in, so it commutes with the mean.
            var readout = new DenseLayer(pairs ? 6 : 6 * positions, 1, 1.5, 0.2, true, 0, 6);
            var actual = Walk(KernelState.FromInputs(x, null, null, c, shape, pairs), [.. convs, reduce, readout], Parameterization.Ntk);
            var expectedNngp = new Matrix<double>(n, n);
            var expectedNtk = new Matrix<double>(n, n);
            int count = pairs ? positions * positions : positions;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0, t = 0;
                    for (int p = 0; p < positions; p++)
                        for (int q = pairs ? 0 : p; q < (pairs ? positions : p + 1); q++)
                        {
                            s += mlp.Nngp[i * positions + p, j * positions + q];
                            t += mlp.Ntk[i * positions + p, j * positions + q];
                        }

                    double sigma = 1.5 * 1.5 * s / count + 0.2 * 0.2;
                    expectedNngp[i, j] = sigma;
                    expectedNtk[i, j] = 1.5 * 1.5 * t / count + sigma;
                }

            AssertClose(expectedNngp, actual.Nngp, 1e-13);
            AssertClose(expectedNtk, actual.Ntk, 1e-13);
        }
    }

    // Input index of output o at tap t along one axis, written out here (not SpatialGeometry): -1 in zero padding.
    private static int Index(int o, int t, int input, int k, int stride, Padding padding)
    {
        int output = padding == Padding.Valid ? (input - k) / stride + 1 : (input + stride - 1) / stride;
        int before = padding == Padding.Valid ? 0 : Math.Max((output - 1) * stride + k - input, 0) / 2;
        int i = o * stride + t - before;
        if (padding == Padding.Circular) return ((i % input) + input) % input;
        return i >= 0 && i < input ? i : -1;
    }

    [Theory]
    [InlineData(Padding.Same, 1)]
    [InlineData(Padding.Same, 2)]
    [InlineData(Padding.Valid, 2)]
    [InlineData(Padding.Circular, 1)]
    [InlineData(Padding.Circular, 2)]
    public void ConvAndPoolMapsMatchTheirDefinitions(Padding padding, int stride)
    {
        // One conv (no activation) and an average pool, read through GlobalAvgPool, against the definitions evaluated
        // directly from the inputs: Sigma1[p, p'] = sw^2 (1/k) sum_t Sigma0[p + t, p' + t] + sb^2 (Theta1 = Sigma1 under NTK
        // parameterization), then (1/k^2) sum_{t, t'} over the pool windows, then the mean over all position pairs.
        int c = 2, h = 5, w = 4, n = 3;
        var shape = new SpatialShape(h, w);
        var x = InfiniteWidthTestSupport.RandomInputs(n, c * h * w, 16);
        var window = SpatialWindow.Of(shape, 3, stride, padding);
        var conv = new ConvLayer(c, 3, window, 1.3, 0.4, true, 0, 54);
        var pool = new PoolLayer(3, SpatialWindow.Of(window.Output, 2, 1, Padding.Same), false);
        var state = KernelState.FromInputs(x, null, null, c, shape, positionPairs: true);
        state.Conv(conv, Parameterization.Ntk);
        state.Pool(pool);
        state.GlobalAvgPool(new GlobalAvgPoolLayer(3, pool.Window.Output));
        var actual = state.Result();

        int oh = window.Output.Height, ow = window.Output.Width;
        double Sigma0(int i, int j, int r, int col, int r2, int col2)
        {
            if (r < 0 || col < 0 || r2 < 0 || col2 < 0) return 0;
            double s = 0;
            for (int ch = 0; ch < c; ch++) s += x[i, ch * h * w + r * w + col] * x[j, ch * h * w + r2 * w + col2];
            return s / c;
        }

        double Sigma1(int i, int j, int r, int col, int r2, int col2)
        {
            if (r < 0 || col < 0 || r2 < 0 || col2 < 0) return 0; // the pool's zero padding
            double s = 0;
            for (int tr = 0; tr < 3; tr++)
                for (int tc = 0; tc < 3; tc++)
                    s += Sigma0(i, j, Index(r, tr, h, 3, stride, padding), Index(col, tc, w, 3, stride, padding),
                        Index(r2, tr, h, 3, stride, padding), Index(col2, tc, w, 3, stride, padding));
            return 1.3 * 1.3 * s / 9 + 0.4 * 0.4;
        }

        int ph = pool.Window.Output.Height, pw = pool.Window.Output.Width;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < ph * pw; p++)
                    for (int q = 0; q < ph * pw; q++)
                        for (int t = 0; t < 4; t++)
                            for (int u = 0; u < 4; u++)
                                sum += Sigma1(i, j, Index(p / pw, t / 2, oh, 2, 1, Padding.Same), Index(p % pw, t % 2, ow, 2, 1, Padding.Same),
                                    Index(q / pw, u / 2, oh, 2, 1, Padding.Same), Index(q % pw, u % 2, ow, 2, 1, Padding.Same));
                double expected = sum / 16 / (ph * pw * ph * pw);
                Assert.Equal(expected, actual.Nngp[i, j], 1e-13 * Math.Abs(expected));
                Assert.Equal(expected, actual.Ntk[i, j], 1e-13 * Math.Abs(expected));
            }
    }

    public static TheoryData<string, Padding, string, Parameterization> Networks() => new()
    {
        { "Relu", Padding.Same, "AvgPool", Parameterization.Ntk },
        { "Erf", Padding.Circular, "GlobalAvgPool", Parameterization.Standard },
        { "Relu", Padding.Valid, "Flatten", Parameterization.Standard },
        { "Tanh", Padding.Same, "GlobalAvgPool", Parameterization.Ntk },
        { "Tanh", Padding.Same, "Flatten", Parameterization.Ntk },
    };

    private static ConvNetSpec SmallNet(string activation, Padding padding, string readout, Parameterization p)
    {
        var net = new ConvNetSpec(2, new SpatialShape(5, 4), p, 1.3, 0.3)
            .Conv(3, 3, padding).Act(InfiniteWidthTestSupport.ByName(activation));
        net = readout switch
        {
            "AvgPool" => net.Pool(2, 2, Padding.Same).Conv(4, 2, Padding.Same).Act(Activation.Relu).Pool(2, 1, Padding.Valid, sum: true).Flatten(),
            "GlobalAvgPool" => net.Conv(4, 3, padding, stride: 2).Act(Activation.Relu).GlobalAvgPool(),
            _ => net.Conv(4, 2, padding).Act(Activation.Relu).Flatten(),
        };
        return net.Dense(3).Act(Activation.Relu).Dense(1);
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void DiagonalStateIsTheFullStatesDiagonalBitForBit(string activation, Padding padding, string readout, Parameterization p)
    {
        var net = SmallNet(activation, padding, readout, p);
        var x = InfiniteWidthTestSupport.RandomInputs(5, net.InputSize, 9);
        var full = net.Kernels(x);
        var diagonal = net.Diagonal(x);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(full.Nngp[i, i], diagonal.Nngp[i]);
            Assert.Equal(full.Ntk[i, i], diagonal.Ntk[i]);
        }
    }

    // Quadrature moments (Tanh) run ~2000 entries per second: the three kernels of this test skip the position-pair Tanh net.
    public static TheoryData<string, Padding, string, Parameterization> ClosedFormNetworks() => new()
    {
        { "Relu", Padding.Same, "AvgPool", Parameterization.Ntk },
        { "Erf", Padding.Circular, "GlobalAvgPool", Parameterization.Standard },
        { "Relu", Padding.Valid, "Flatten", Parameterization.Standard },
        { "Tanh", Padding.Same, "Flatten", Parameterization.Ntk },
    };

    [Theory]
    [MemberData(nameof(ClosedFormNetworks))]
    public void SymmetricAndTwoInputKernelsAgree(string activation, Padding padding, string readout, Parameterization p)
    {
        var net = SmallNet(activation, padding, readout, p);
        var x1 = InfiniteWidthTestSupport.RandomInputs(4, net.InputSize, 10);
        var x2 = InfiniteWidthTestSupport.RandomInputs(3, net.InputSize, 11);
        var both = new Matrix<double>(7, net.InputSize);
        x1.Data.CopyTo(both.Data, 0);
        x2.Data.CopyTo(both.Data, x1.Data.Length);
        var symmetric = net.Kernels(both);
        var cross = net.Kernels(x1, x2);
        var same = net.Kernels(both, new Matrix<double>(7, net.InputSize, (double[])both.Data.Clone()));
        AssertClose(symmetric.Nngp, same.Nngp, 1e-12);
        AssertClose(symmetric.Ntk, same.Ntk, 1e-12);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
            {
                Assert.Equal(symmetric.Nngp[i, 4 + j], cross.Nngp[i, j], 1e-12 * Math.Abs(symmetric.Nngp[i, 4 + j]));
                Assert.Equal(symmetric.Ntk[i, 4 + j], cross.Ntk[i, j], 1e-12 * Math.Abs(symmetric.Ntk[i, 4 + j]));
                Assert.Equal(symmetric.Nngp[i, 4 + j], symmetric.Nngp[4 + j, i]); // mirrored
            }
    }

    [Fact]
    public void TilesAndThreadsDoNotChangeABit()
    {
        var net = SmallNet("Relu", Padding.Same, "AvgPool", Parameterization.Ntk);
        var x = InfiniteWidthTestSupport.RandomInputs(7, net.InputSize, 12);
        var serial = net.Kernels(x, null, new InfiniteWidthOptions { MaxDegreeOfParallelism = 1 });
        var parallel = net.Kernels(x, null, new InfiniteWidthOptions { ParallelThreshold = 0 });
        var tiny = net.Kernels(x, null, new InfiniteWidthOptions { ParallelThreshold = 0, SpatialTileBudgetBytes = 1 }); // one pair per tile

        Assert.Equal(serial.Nngp.Data, parallel.Nngp.Data);
        Assert.Equal(serial.Ntk.Data, parallel.Ntk.Data);
        Assert.Equal(serial.Nngp.Data, tiny.Nngp.Data);
        Assert.Equal(serial.Ntk.Data, tiny.Ntk.Data);
    }

    [Fact]
    public void BranchSumsAddKernels()
    {
        // Vector states: a residual block z + Dense(Relu(z)) is the entrywise sum of the two branches' kernels.
        var x = InfiniteWidthTestSupport.RandomInputs(5, 4, 13);
        var first = new DenseLayer(4, 6, 1.4, 0.2, true, 0, 24);
        var inner = new DenseLayer(6, 6, 1.4, 0.2, true, 0, 36);
        var trunk = KernelState.FromInputs(x);
        trunk.Dense(first, Parameterization.Ntk);
        var skip = trunk.Result();
        var (skipNngp, skipNtk) = ((double[])skip.Nngp.Data.Clone(), (double[])skip.Ntk.Data.Clone());
        var branch = trunk.Copy();
        branch.Activate(Activation.Relu);
        branch.Dense(inner, Parameterization.Ntk);
        var b = branch.Result();
        trunk.Add(branch);
        var sum = trunk.Result();
        for (int k = 0; k < sum.Nngp.Data.Length; k++)
        {
            Assert.Equal(skipNngp[k] + b.Nngp.Data[k], sum.Nngp.Data[k]);
            Assert.Equal(skipNtk[k] + b.Ntk.Data[k], sum.Ntk.Data[k]);
        }

        Assert.True(trunk.IsGaussian);
        trunk.Activate(Activation.Relu); // the variances were summed too: the diagonal state agrees
        var diagonal = DiagonalKernelState.FromInputs(x);
        diagonal.Dense(first, Parameterization.Ntk);
        var diagonalBranch = diagonal.Copy();
        diagonalBranch.Activate(Activation.Relu);
        diagonalBranch.Dense(inner, Parameterization.Ntk);
        diagonal.Add(diagonalBranch);
        diagonal.Activate(Activation.Relu);
        var full = trunk.Result();
        var d = diagonal.Result();
        for (int i = 0; i < 5; i++) Assert.Equal(full.Ntk[i, i], d.Ntk[i]);
    }

    [Fact]
    public void SpatialBranchSumsCommuteWithGlobalAvgPool()
    {
        // GlobalAvgPool and the Dense readout are affine, so summing before them equals summing after them.
        var shape = new SpatialShape(4, 4);
        var x = InfiniteWidthTestSupport.RandomInputs(4, 2 * 16, 14);
        var conv1 = new ConvLayer(2, 3, SpatialWindow.Of(shape, 3, 1, Padding.Same), 1.4, 0.2, true, 0, 54);
        var conv2 = new ConvLayer(3, 3, SpatialWindow.Of(shape, 3, 1, Padding.Same), 1.4, 0.2, true, 0, 81);
        var gap = new GlobalAvgPoolLayer(3, shape);
        var readout = new DenseLayer(3, 1, 1.4, 0.2, true, 0, 3);
        (LayerKernelState Trunk, LayerKernelState Branch) Start(LayerKernelState start)
        {
            start.Conv(conv1, Parameterization.Ntk);
            var branch = start.Copy();
            branch.Activate(Activation.Relu);
            branch.Conv(conv2, Parameterization.Ntk);
            return (start, branch);
        }

        var (trunk, branch) = Start(KernelState.FromInputs(x, null, null, 2, shape, true));
        trunk.Add(branch);
        trunk.GlobalAvgPool(gap);
        trunk.Dense(readout, Parameterization.Ntk);
        var before = ((KernelState)trunk).Result();

        var (trunk2, branch2) = Start(KernelState.FromInputs(x, null, null, 2, shape, true));
        trunk2.GlobalAvgPool(gap);
        branch2.GlobalAvgPool(gap);
        trunk2.Add(branch2);
        trunk2.Dense(readout, Parameterization.Ntk);
        var after = ((KernelState)trunk2).Result();
        AssertClose(after.Nngp, before.Nngp, 1e-13);
        AssertClose(after.Ntk, before.Ntk, 1e-13);

        var (dTrunk, dBranch) = Start(DiagonalKernelState.FromInputs(x, null, 2, shape, true));
        dTrunk.Add(dBranch);
        dTrunk.GlobalAvgPool(gap);
        dTrunk.Dense(readout, Parameterization.Ntk);
        var diagonal = ((DiagonalKernelState)dTrunk).Result();
        for (int i = 0; i < 4; i++) Assert.Equal(before.Ntk[i, i], diagonal.Ntk[i]);
    }

    [Fact]
    public void BadInputIsRejectedWithClearMessages()
    {
        var shape = new SpatialShape(4, 4);
        var x = InfiniteWidthTestSupport.RandomInputs(3, 2 * 16, 15);
        var ex = Assert.Throws<ArgumentException>(() => KernelState.FromInputs(InfiniteWidthTestSupport.RandomInputs(3, 30, 1), null, null, 2, shape, false));
        Assert.Equal("x1", ex.ParamName);
        Assert.Contains("N x 32", ex.Message, StringComparison.Ordinal);
        Assert.Contains("3 x 30", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => DiagonalKernelState.FromInputs(InfiniteWidthTestSupport.RandomInputs(3, 31, 1), null, 2, shape, true));
        Assert.Equal("x", ex.ParamName);
        var bad = InfiniteWidthTestSupport.RandomInputs(3, 32, 1);
        bad[2, 5] = double.PositiveInfinity;
        Assert.Throws<ArgumentException>(() => KernelState.FromInputs(x, bad, null, 2, shape, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelState.FromInputs(x, null, null, 0, shape, false));

        var conv = new ConvLayer(2, 3, SpatialWindow.Of(shape, 3, 1, Padding.Same), 1, 0, true, 0, 54);
        var state = KernelState.FromInputs(x, null, null, 2, shape, positionPairs: false);
        Assert.Throws<InvalidOperationException>(() => state.Activate(Activation.Relu)); // inputs are not Gaussian
        Assert.Throws<InvalidOperationException>(() => state.Dense(new DenseLayer(32, 2, 1, 0, true, 0, 64), Parameterization.Ntk));
        Assert.Throws<InvalidOperationException>(() => state.Result());
        ex = Assert.Throws<ArgumentException>(() => state.Conv(conv with { InChannels = 3 }, Parameterization.Ntk));
        Assert.Contains("[3, 4x4]", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => state.Conv(new ConvLayer(2, 3, SpatialWindow.Of(shape, 5, 1, Padding.Valid), 1, 0, true, 0, 54), Parameterization.Ntk));
        state.Conv(conv, Parameterization.Ntk);
        Assert.Throws<InvalidOperationException>(() => state.GlobalAvgPool(new GlobalAvgPoolLayer(3, shape))); // no position pairs
        Assert.Throws<InvalidOperationException>(() => state.Pool(new PoolLayer(3, SpatialWindow.Of(shape, 2, 2, Padding.Valid), false)));
        Assert.Throws<ArgumentException>(() => state.Flatten(new FlattenLayer(3, new SpatialShape(2, 2))));
        state.Flatten(new FlattenLayer(3, shape));
        Assert.Equal(48, state.Width);
        Assert.Null(state.Spatial);
        Assert.Throws<InvalidOperationException>(() => state.Conv(conv, Parameterization.Ntk));
        Assert.Throws<ArgumentException>(() => state.Add(KernelState.FromInputs(x, null, null, 2, shape, false)));
    }
}

using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Cpu.Gemm;
using NtkDsl.Tests.Cpu;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Conv;

/// <summary>
/// The CPU backend's readout ops (ITensorBackend.Readout.cs) against naive loops and against the general blocked input
/// cotangent of a full per-row cotangent v[r, c] d[n, c, p]; wrong shapes are refused by argument name.
/// </summary>
[Collection(SerialCollection.Name)]
public class ReadoutOpsTests
{
    private static readonly CpuBackend<double> Backend = new();

    [Fact]
    public void Channel_grams_are_each_channels_gram()
    {
        int channels = 3, k = 4;
        var a = Tensor(TestMath.RandomMatrix(5, channels * k, seed: 1));
        var b = Tensor(TestMath.RandomMatrix(2, channels * k, seed: 2));
        var dst = Tensor(new Matrix<double>(channels * 5, 2));
        Backend.ChannelGrams(a, b, channels, 0.7, dst, accumulate: false);
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < 5; i++)
                for (int j = 0; j < 2; j++)
                {
                    double expected = 0;
                    for (int q = 0; q < k; q++) expected += a.Row(i)[c * k + q] * b.Row(j)[c * k + q];
                    Assert.Equal(0.7 * expected, dst.Row(c * 5 + i)[j], 1e-12);
                }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Channel_gram_accumulate_weights_every_channel_by_the_rows(bool sumOutputs)
    {
        int channels = 3, repeat = 2, n1 = 4, n2 = 3;
        ChannelGramCase(channels, repeat, n1, n2, sumOutputs);
    }

    // Rows long enough for the vector blocks (7 x 10 = 70 columns of output pairs), at both widths.
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Channel_gram_accumulate_over_long_rows(bool sumOutputs, bool vector256)
    {
        PackedGemm<double>.ForceAvx2Kernel = vector256;
        try
        {
            ChannelGramCase(5, 10, 6, 7, sumOutputs);
        }
        finally
        {
            PackedGemm<double>.ForceAvx2Kernel = false;
        }
    }

    // One batch (v1 = v2) and symmetric H_c: the accumulated kernel stays exactly symmetric in both modes.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Channel_gram_accumulate_of_one_batch_is_exactly_symmetric(bool sumOutputs)
    {
        int channels = 4, repeat = 10, n = 7;
        var v = Tensor(TestMath.RandomMatrix(n * repeat, channels, seed: 11));
        var h = Tensor(new Matrix<double>(channels * n, n));
        var rng = new Random(12);
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j <= i; j++)
                    h.Row(c * n + i)[j] = h.Row(c * n + j)[i] = rng.NextDouble() - 0.5;
        int size = sumOutputs ? n : n * repeat;
        var dst = Tensor(new Matrix<double>(size, size));
        Backend.ChannelGramAccumulate(v, v, h, repeat, sumOutputs, dst);
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++)
                Assert.Equal(dst.Row(i)[j], dst.Row(j)[i]);
    }

    private static void ChannelGramCase(int channels, int repeat, int n1, int n2, bool sumOutputs)
    {
        var v1 = Tensor(TestMath.RandomMatrix(n1 * repeat, channels, seed: 3));
        var v2 = Tensor(TestMath.RandomMatrix(n2 * repeat, channels, seed: 4));
        var h = Tensor(TestMath.RandomMatrix(channels * n1, n2, seed: 5));
        // dst accumulates: it starts from values of its own.
        var start = sumOutputs ? TestMath.RandomMatrix(n1, n2, seed: 6) : TestMath.RandomMatrix(n1 * repeat, n2 * repeat, seed: 6);
        var dst = Tensor(new Matrix<double>(start.Rows, start.Cols, (double[])start.Data.Clone()));
        Backend.ChannelGramAccumulate(v1, v2, h, repeat, sumOutputs, dst);
        if (!sumOutputs)
        {
            for (int i = 0; i < n1; i++)
                for (int j = 0; j < n2; j++)
                    for (int o = 0; o < repeat; o++)
                        for (int o2 = 0; o2 < repeat; o2++)
                        {
                            double expected = start[i * repeat + o, j * repeat + o2];
                            for (int c = 0; c < channels; c++) expected += v1.Row(i * repeat + o)[c] * h.Row(c * n1 + i)[j] * v2.Row(j * repeat + o2)[c];
                            Assert.Equal(expected, dst.Row(i * repeat + o)[j * repeat + o2], 1e-12);
                        }

            return;
        }

        for (int i = 0; i < n1; i++)
            for (int j = 0; j < n2; j++)
            {
                double expected = start[i, j];
                for (int o = 0; o < repeat; o++)
                    for (int c = 0; c < channels; c++) expected += v1.Row(i * repeat + o)[c] * h.Row(c * n1 + i)[j] * v2.Row(j * repeat + o)[c];
                Assert.Equal(expected, dst.Row(i)[j], 1e-12);
            }
    }

    // 2-D and 1-D windows, every padding, strides, even and non-square kernels, and repeats that leave single rows
    // after the 5-row tiles of the CPU kernel.
    [Theory]
    [InlineData(5, 4, 3, 3, 1, 2, Padding.Same, 2)]
    [InlineData(7, 6, 3, 3, 1, 1, Padding.Same, 10)]
    [InlineData(7, 6, 3, 3, 1, 1, Padding.Valid, 6)]
    [InlineData(7, 6, 3, 3, 1, 1, Padding.Circular, 7)]
    [InlineData(8, 9, 3, 2, 2, 3, Padding.Circular, 1)]
    [InlineData(9, 8, 2, 4, 2, 2, Padding.Same, 3)]
    [InlineData(6, 6, 5, 5, 1, 1, Padding.Valid, 5)]
    [InlineData(1, 13, 1, 3, 1, 1, Padding.Same, 4)]
    [InlineData(1, 17, 1, 4, 1, 3, Padding.Valid, 2)]
    [InlineData(1, 11, 1, 5, 1, 2, Padding.Circular, 11)]
    [InlineData(3, 16, 3, 3, 1, 1, Padding.Same, 3)]      // rows of two whole vectors (no overlapping last vector)
    [InlineData(2, 21, 1, 3, 1, 1, Padding.Same, 2, true)]
    [InlineData(7, 6, 3, 3, 1, 1, Padding.Same, 10, true)]
    [InlineData(1, 17, 1, 4, 1, 3, Padding.Valid, 2, true)]
    public void Separable_cotangent_equals_the_blocked_cotangent_of_the_full_rows(int height, int width, int kh, int kw, int sh, int sw, Padding padding, int repeat,
        bool vector256 = false)
    {
        // vector256: the Vector256 kernels even where AVX-512 exists (the width the CPU backend otherwise skips here).
        PackedGemm<double>.ForceAvx2Kernel = vector256;
        try
        {
            // One, two and three input channels: a single channel, a pair and a pair plus one (the CPU items take pairs).
            foreach (int channelsIn in new[] { 1, 2, 3 }) SeparableCotangentCase(height, width, kh, kw, sh, sw, padding, repeat, channelsIn);
        }
        finally
        {
            PackedGemm<double>.ForceAvx2Kernel = false;
        }
    }

    private static void SeparableCotangentCase(int height, int width, int kh, int kw, int sh, int sw, Padding padding, int repeat, int channelsIn)
    {
        var window = new SpatialWindow(new SpatialShape(height, width), kh, kw, sh, sw, padding);
        int channelsOut = 3, samples = 3, positions = window.Output.Positions;
        int fan = channelsIn * window.Taps, inputs = channelsIn * window.Input.Positions;
        var w = Tensor(TestMath.RandomMatrix(channelsOut, fan, seed: 6));
        var d = Tensor(TestMath.RandomMatrix(samples, channelsOut * positions, seed: 7));
        var v = Tensor(TestMath.RandomMatrix(samples * repeat, channelsOut, seed: 8));
        var dst = Tensor(new Matrix<double>(samples * repeat, inputs));
        Backend.SeparableConvCotangent(w, d, v, repeat, 0.6, channelsIn, window, dst);

        // c[r, c, p] = v[r, c] d[r / repeat, c, p] written out, through ConvCotangent.Input.
        var full = Tensor(new Matrix<double>(samples * repeat, channelsOut * positions));
        for (int r = 0; r < samples * repeat; r++)
            for (int c = 0; c < channelsOut; c++)
                for (int p = 0; p < positions; p++)
                    full.Row(r)[c * positions + p] = v.Row(r)[c] * d.Row(r / repeat)[c * positions + p];
        var expected = Tensor(new Matrix<double>(samples * repeat, inputs));
        ConvCotangent.Input(Backend, w, full, 0.6, channelsIn, window, Tensor(new Matrix<double>(2, fan * positions)), expected);
        for (int r = 0; r < samples * repeat; r++)
            for (int q = 0; q < inputs; q++)
                Assert.Equal(expected.Row(r)[q], dst.Row(r)[q], 1e-12);

        // Through an activation below the convolution: the same rows times phi'(z[r / repeat]) (Relu's slopes, tanh's
        // 1 - tanh^2 written out here; z has exact zeros, where Relu takes its left slope 0).
        var z = Tensor(TestMath.RandomMatrix(samples, inputs, seed: 9));
        z.Row(0)[0] = 0;
        foreach (var (activation, derivative) in new (Activation, Func<double, double>)[]
                 { (Activation.Relu, x => x > 0 ? 1 : 0), (Activation.Plain(ActivationKind.Tanh), x => 1 - Math.Tanh(x) * Math.Tanh(x)) })
        {
            var through = Tensor(new Matrix<double>(samples * repeat, inputs));
            Backend.SeparableConvCotangent(w, d, v, repeat, 0.6, channelsIn, window, through, activation, z);
            for (int r = 0; r < samples * repeat; r++)
                for (int q = 0; q < inputs; q++)
                    Assert.Equal(expected.Row(r)[q] * derivative(z.Row(r / repeat)[q]), through.Row(r)[q], 1e-12);
        }
    }

    // The fused contraction into the Jacobian of the layer below (SeparableConvJacobian) against naive RowProducts and
    // SumPositions loops over the stored cotangent, with and without an activation between and a bias, both vector widths.
    [Theory]
    [InlineData(7, 6, 3, 3, 1, 1, Padding.Same, 10, 5)]
    [InlineData(5, 4, 3, 3, 1, 2, Padding.Same, 2, 9)]
    [InlineData(8, 9, 3, 2, 2, 3, Padding.Circular, 1, 1)]
    [InlineData(1, 17, 1, 4, 1, 3, Padding.Valid, 3, 4)]
    [InlineData(7, 6, 3, 3, 1, 1, Padding.Valid, 6, 5, true)]
    public void Separable_jacobian_contracts_the_separable_cotangent(int height, int width, int kh, int kw, int sh, int sw, Padding padding, int repeat, int fanBelow,
        bool vector256 = false)
    {
        PackedGemm<double>.ForceAvx2Kernel = vector256;
        try
        {
            var window = new SpatialWindow(new SpatialShape(height, width), kh, kw, sh, sw, padding);
            int channelsIn = 3, channelsOut = 3, samples = 3, positions = window.Output.Positions, p = window.Input.Positions;
            var w = Tensor(TestMath.RandomMatrix(channelsOut, channelsIn * window.Taps, seed: 6));
            var d = Tensor(TestMath.RandomMatrix(samples, channelsOut * positions, seed: 7));
            var v = Tensor(TestMath.RandomMatrix(samples * repeat, channelsOut, seed: 8));
            var columns = Tensor(TestMath.RandomMatrix(samples, fanBelow * p, seed: 10));
            var z = Tensor(TestMath.RandomMatrix(samples, channelsIn * p, seed: 9));
            foreach (var activation in new Activation?[] { null, Activation.Relu, Activation.Plain(ActivationKind.Tanh) })
            foreach (bool bias in new[] { true, false })
            {
                var cotangent = Tensor(new Matrix<double>(samples * repeat, channelsIn * p));
                Backend.SeparableConvCotangent(w, d, v, repeat, 0.6, channelsIn, window, cotangent, activation, z);
                var jacobian = Tensor(new Matrix<double>(samples * repeat, channelsIn * fanBelow));
                var biasJacobian = bias ? Tensor(new Matrix<double>(samples * repeat, channelsIn)) : default;
                Backend.SeparableConvJacobian(w, d, v, repeat, 0.6, channelsIn, window, columns, 0.7, jacobian, 1.3, biasJacobian, activation, z);
                for (int r = 0; r < samples * repeat; r++)
                for (int i = 0; i < channelsIn; i++)
                {
                    var block = cotangent.Row(r).Slice(i * p, p);
                    for (int f = 0; f < fanBelow; f++)
                    {
                        double sum = 0, scale = 0;
                        for (int q = 0; q < p; q++)
                        {
                            sum += block[q] * columns.Row(r / repeat)[f * p + q];
                            scale += Math.Abs(block[q] * columns.Row(r / repeat)[f * p + q]);
                        }

                        Assert.Equal(0.7 * sum, jacobian.Row(r)[i * fanBelow + f], 1e-14 * (1 + scale));
                    }

                    if (!bias) continue;
                    double total = 0, magnitude = 0;
                    for (int q = 0; q < p; q++)
                    {
                        total += block[q];
                        magnitude += Math.Abs(block[q]);
                    }

                    Assert.Equal(1.3 * total, biasJacobian.Row(r)[i], 1e-14 * (1 + magnitude));
                }
            }
        }
        finally
        {
            PackedGemm<double>.ForceAvx2Kernel = false;
        }
    }

    [Fact]
    public void Wrong_shapes_are_refused_by_argument_name()
    {
        var a = Tensor(new Matrix<double>(4, 6));
        Assert.Equal("channels", Assert.Throws<ArgumentException>(() => Backend.ChannelGrams(a, a, 4, 1, Tensor(new Matrix<double>(16, 4)), false)).ParamName);
        Assert.Equal("dst", Assert.ThrowsAny<ArgumentException>(() => Backend.ChannelGrams(a, a, 3, 1, Tensor(new Matrix<double>(4, 4)), false)).ParamName);
        var v = Tensor(new Matrix<double>(6, 3));
        Assert.Equal("repeat", Assert.Throws<ArgumentException>(() => Backend.ChannelGramAccumulate(v, v, Tensor(new Matrix<double>(9, 3)), 4, true, Tensor(new Matrix<double>(3, 3)))).ParamName);
        Assert.Equal("channelGrams", Assert.ThrowsAny<ArgumentException>(() => Backend.ChannelGramAccumulate(v, v, Tensor(new Matrix<double>(3, 3)), 2, true, Tensor(new Matrix<double>(3, 3)))).ParamName);
        var window = new SpatialWindow(new SpatialShape(4, 4), 3, 3, 1, 1, Padding.Same);
        Assert.Equal("w", Assert.ThrowsAny<ArgumentException>(() => Backend.SeparableConvCotangent(Tensor(new Matrix<double>(3, 10)), Tensor(new Matrix<double>(2, 48)),
            Tensor(new Matrix<double>(2, 3)), 1, 1, 2, window, Tensor(new Matrix<double>(2, 32)))).ParamName);
        Assert.Equal("activationInput", Assert.ThrowsAny<ArgumentException>(() => Backend.SeparableConvCotangent(Tensor(new Matrix<double>(3, 18)), Tensor(new Matrix<double>(2, 48)),
            Tensor(new Matrix<double>(2, 3)), 1, 1, 2, window, Tensor(new Matrix<double>(2, 32)), Activation.Relu, Tensor(new Matrix<double>(2, 31)))).ParamName);
        static CpuTensor<double> W() => Tensor(new Matrix<double>(3, 18));
        static CpuTensor<double> D() => Tensor(new Matrix<double>(2, 48));
        static CpuTensor<double> V() => Tensor(new Matrix<double>(2, 3));
        Assert.Equal("columns", Assert.ThrowsAny<ArgumentException>(() => Backend.SeparableConvJacobian(W(), D(), V(), 1, 1, 2, window, Tensor(new Matrix<double>(2, 50)), 1,
            Tensor(new Matrix<double>(2, 6)), 1, default)).ParamName);
        Assert.Equal("columns", Assert.ThrowsAny<ArgumentException>(() => Backend.SeparableConvJacobian(W(), D(), V(), 1, 1, 2, window, Tensor(new Matrix<double>(3, 48)), 1,
            Tensor(new Matrix<double>(2, 6)), 1, default)).ParamName);
        Assert.Equal("jacobian", Assert.ThrowsAny<ArgumentException>(() => Backend.SeparableConvJacobian(W(), D(), V(), 1, 1, 2, window, Tensor(new Matrix<double>(2, 48)), 1,
            Tensor(new Matrix<double>(2, 5)), 1, default)).ParamName);
        Assert.Equal("biasJacobian", Assert.ThrowsAny<ArgumentException>(() => Backend.SeparableConvJacobian(W(), D(), V(), 1, 1, 2, window, Tensor(new Matrix<double>(2, 48)), 1,
            Tensor(new Matrix<double>(2, 6)), 1, Tensor(new Matrix<double>(2, 3)))).ParamName);
    }

    private static CpuTensor<double> Tensor(Matrix<double> m) => new(m.Data, 0, m.Rows, m.Cols);
}

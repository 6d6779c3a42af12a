using TorchSharp;
using static NtkDsl.Torch.Tests.TestSupport;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>Every backend operation against a naive double loop, on odd shapes, in float64 (1e-12) and float32 (1e-5).</summary>
public sealed class TorchBackendTests
{
    private static TorchBackend Backend(ScalarType dtype) => new(dtype);

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void Conv_input_cotangent_in_the_backends_own_blocks_equals_the_cpu_backend(ScalarType dtype)
    {
        // A one-row scratch: the Torch backend takes blocks of ConvCotangentBlockElements in a temporary instead.
        using var scope = NewDisposeScope();
        var window = new SpatialWindow(new SpatialShape(4, 3), 3, 2, 1, 1, Padding.Same);
        int channelsIn = 2, channelsOut = 3, positions = window.Output.Positions, fan = channelsIn * window.Taps, rows = 9;
        int inputs = channelsIn * window.Input.Positions;
        var w = Random(channelsOut, fan, 1);
        var c = Random(rows, channelsOut * positions, 2);
        var expected = new NtkDsl.Cpu.CpuTensor<double>(new double[rows * inputs], 0, rows, inputs);
        var cpu = new NtkDsl.Cpu.CpuBackend<double>();
        NtkDsl.Backends.ConvCotangent.Input(cpu, Cpu(w), Cpu(c), 0.7, channelsIn, window, new NtkDsl.Cpu.CpuTensor<double>(new double[fan * positions], 0, 1, fan * positions), expected);
        var dst = zeros(rows, inputs, dtype);
        NtkDsl.Backends.ConvCotangent.Input(Backend(dtype), ToTensor(w, dtype), ToTensor(c, dtype), 0.7, channelsIn, window, zeros(1, fan * positions, dtype), dst);
        Assert.True(Backend(dtype).ConvCotangentBlockElements / (fan * positions) >= rows);
        AssertClose(Host(expected), ToHost(dst), dtype == ScalarType.Float64 ? 1e-12 : 1e-5);
    }

    private static NtkDsl.Cpu.CpuTensor<double> Cpu(double[,] m) => new(m.Cast<double>().ToArray(), 0, m.GetLength(0), m.GetLength(1));

    private static double[,] Host(NtkDsl.Cpu.CpuTensor<double> t)
    {
        var host = new double[t.Rows, t.Cols];
        for (int r = 0; r < t.Rows; r++)
            for (int c = 0; c < t.Cols; c++) host[r, c] = t.Row(r)[c];
        return host;
    }

    // The readout's input cotangent contracted into the Jacobian of the conv below (SeparableConvJacobian) against the CPU
    // backend's fused op, with an activation between and without one, with a bias block and without (default).
    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void Separable_conv_jacobian_equals_the_cpu_backend(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var window = new SpatialWindow(new SpatialShape(5, 4), 3, 3, 1, 1, Padding.Same);
        int channelsIn = 3, channelsOut = 2, samples = 2, repeat = 3, fanBelow = 4, p = window.Input.Positions;
        var w = Random(channelsOut, channelsIn * window.Taps, 1);
        var d = Random(samples, channelsOut * window.Output.Positions, 2);
        var v = Random(samples * repeat, channelsOut, 3);
        var columns = Random(samples, fanBelow * p, 4);
        var z = Random(samples, channelsIn * p, 5);
        var cpu = new NtkDsl.Cpu.CpuBackend<double>();
        foreach (var activation in new Activation?[] { null, Activation.Relu })
        {
            var expected = new NtkDsl.Cpu.CpuTensor<double>(new double[samples * repeat * channelsIn * fanBelow], 0, samples * repeat, channelsIn * fanBelow);
            var expectedBias = new NtkDsl.Cpu.CpuTensor<double>(new double[samples * repeat * channelsIn], 0, samples * repeat, channelsIn);
            cpu.SeparableConvJacobian(Cpu(w), Cpu(d), Cpu(v), repeat, 0.6, channelsIn, window, Cpu(columns), 0.7, expected, 1.3, expectedBias, activation, Cpu(z));
            var jacobian = zeros(samples * repeat, channelsIn * fanBelow, dtype);
            var bias = zeros(samples * repeat, channelsIn, dtype);
            Backend(dtype).SeparableConvJacobian(ToTensor(w, dtype), ToTensor(d, dtype), ToTensor(v, dtype), repeat, 0.6, channelsIn, window, ToTensor(columns, dtype), 0.7,
                jacobian, 1.3, bias, activation, ToTensor(z, dtype));
            double tolerance = dtype == ScalarType.Float64 ? 1e-12 : 1e-4;
            AssertClose(Host(expected), ToHost(jacobian), tolerance, "jacobian");
            AssertClose(Host(expectedBias), ToHost(bias), tolerance, "bias");
            var unbiased = zeros(samples * repeat, channelsIn * fanBelow, dtype);
            Backend(dtype).SeparableConvJacobian(ToTensor(w, dtype), ToTensor(d, dtype), ToTensor(v, dtype), repeat, 0.6, channelsIn, window, ToTensor(columns, dtype), 0.7,
                unbiased, 0, null!, activation, ToTensor(z, dtype));
            AssertClose(Host(expected), ToHost(unbiased), tolerance, "jacobian without bias");
        }

        // An activation without its input is refused by name.
        Assert.Equal("activationInput", Assert.Throws<ArgumentNullException>(() => Backend(dtype).SeparableConvCotangent(ToTensor(w, dtype), ToTensor(d, dtype),
            ToTensor(v, dtype), repeat, 0.6, channelsIn, window, zeros(samples * repeat, channelsIn * p, dtype), Activation.Relu, null!)).ParamName);
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void LinearActivate_writes_the_product_and_its_activation(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var x = ToTensor(Random(5, 7, 1), dtype);
        var w = ToTensor(Random(3, 7, 2), dtype);
        var b = ToTensor(Random(1, 3, 3), dtype);
        var (z, a, zExpected, aExpected) = (empty(5, 3, dtype), empty(5, 3, dtype), empty(5, 3, dtype), empty(5, 3, dtype));
        var activation = Activation.Erf(1.2, 0.7, 0.1);
        ((NtkDsl.Backends.ITensorBackend<Tensor>)Backend(dtype)).LinearActivate(x, w, b, 0.7, 1.3, activation, z, a); // the interface default
        Backend(dtype).Linear(x, w, b, 0.7, 1.3, zExpected);
        Backend(dtype).Activate(activation, zExpected, aExpected);
        AssertClose(ToHost(zExpected), ToHost(z), 0);
        AssertClose(ToHost(aExpected), ToHost(a), 0);
    }

    [Theory]
    [InlineData(ScalarType.Float64, false, true)]
    [InlineData(ScalarType.Float64, true, true)]
    [InlineData(ScalarType.Float64, false, false)]
    [InlineData(ScalarType.Float32, true, true)]
    [InlineData(ScalarType.Float32, false, false)]
    public void Linear_matches_naive(ScalarType dtype, bool accumulate, bool hasBias)
    {
        using var scope = NewDisposeScope();
        int n = 5, inputs = 7, outputs = 3;
        double ws = 0.7, bs = 1.3;
        var x = Rounded(Random(n, inputs, 1), dtype);
        var w = Rounded(Random(outputs, inputs, 2), dtype);
        var b = Rounded(Random(1, outputs, 3), dtype);
        var d0 = Rounded(Random(n, outputs, 4), dtype);
        var dst = ToTensor(d0, dtype);
        var backend = Backend(dtype);
        if (hasBias && !accumulate)
        {
            backend.Linear(ToTensor(x, dtype), ToTensor(w, dtype), ToTensor(b, dtype), ws, bs, dst);
        }
        else
        {
            backend.MatMulTransposeB(ToTensor(x, dtype), ToTensor(w, dtype), ws, dst, accumulate);
            if (hasBias) backend.AddBias(ToTensor(b, dtype), 1, bs, dst);
        }

        var expected = new double[n, outputs];
        for (int r = 0; r < n; r++)
            for (int o = 0; o < outputs; o++)
            {
                double s = 0;
                for (int i = 0; i < inputs; i++) s += x[r, i] * w[o, i];
                expected[r, o] = (accumulate ? d0[r, o] : 0) + ws * s + (hasBias ? bs * b[0, o] : 0);
            }

        AssertClose(expected, ToHost(dst), Tolerance(dtype));
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void MatMul_matches_naive(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var a = Rounded(Random(5, 7, 5), dtype);
        var b = Rounded(Random(7, 3, 6), dtype);
        var dst = ToTensor(Random(5, 3, 7), dtype);
        Backend(dtype).MatMul(ToTensor(a, dtype), ToTensor(b, dtype), -1.7, dst);
        var expected = new double[5, 3];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
            {
                double s = 0;
                for (int k = 0; k < 7; k++) s += a[r, k] * b[k, c];
                expected[r, c] = -1.7 * s;
            }

        AssertClose(expected, ToHost(dst), Tolerance(dtype));
    }

    [Theory]
    [InlineData(ScalarType.Float64, false)]
    [InlineData(ScalarType.Float64, true)]
    [InlineData(ScalarType.Float32, true)]
    public void MatMulTransposeA_matches_naive(ScalarType dtype, bool accumulate)
    {
        using var scope = NewDisposeScope();
        var a = Rounded(Random(7, 5, 8), dtype);
        var b = Rounded(Random(7, 3, 9), dtype);
        var d0 = Rounded(Random(5, 3, 10), dtype);
        var dst = ToTensor(d0, dtype);
        Backend(dtype).MatMulTransposeA(ToTensor(a, dtype), ToTensor(b, dtype), 0.3, dst, accumulate);
        var expected = new double[5, 3];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
            {
                double s = 0;
                for (int k = 0; k < 7; k++) s += a[k, r] * b[k, c];
                expected[r, c] = (accumulate ? d0[r, c] : 0) + 0.3 * s;
            }

        AssertClose(expected, ToHost(dst), Tolerance(dtype));
    }

    [Theory]
    [InlineData(ScalarType.Float64, false)]
    [InlineData(ScalarType.Float64, true)]
    [InlineData(ScalarType.Float32, true)]
    public void ColumnSums_matches_naive(ScalarType dtype, bool accumulate)
    {
        using var scope = NewDisposeScope();
        var a = Rounded(Random(7, 5, 11), dtype);
        var d0 = Rounded(Random(1, 5, 12), dtype);
        var dst = ToTensor(d0, dtype);
        Backend(dtype).ColumnSums(ToTensor(a, dtype), 1, 2.5, dst, accumulate);
        var expected = new double[1, 5];
        for (int c = 0; c < 5; c++)
        {
            double s = 0;
            for (int r = 0; r < 7; r++) s += a[r, c];
            expected[0, c] = (accumulate ? d0[0, c] : 0) + 2.5 * s;
        }

        AssertClose(expected, ToHost(dst), Tolerance(dtype));
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void Gram_matches_naive(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var a = Rounded(Random(5, 7, 13), dtype);
        var b = Rounded(Random(3, 7, 14), dtype);
        var dst = ToTensor(Random(5, 3, 15), dtype);
        Backend(dtype).Gram(ToTensor(a, dtype), ToTensor(b, dtype), dst);
        var expected = new double[5, 3];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < 7; k++)
                    expected[r, c] += a[r, k] * b[c, k];
        AssertClose(expected, ToHost(dst), Tolerance(dtype));
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1)]
    [InlineData(ScalarType.Float64, 3)]
    [InlineData(ScalarType.Float32, 3)]
    public void HadamardAccumulate_matches_naive(ScalarType dtype, int repeat)
    {
        using var scope = NewDisposeScope();
        int r1 = 5, r2 = 3;
        var gd = Rounded(Random(r1 * repeat, r2 * repeat, 16), dtype);
        var ga = Rounded(Random(r1, r2, 17), dtype);
        var d0 = Rounded(Random(r1 * repeat, r2 * repeat, 18), dtype);
        var dst = ToTensor(d0, dtype);
        Backend(dtype).HadamardAccumulate(ToTensor(gd, dtype), ToTensor(ga, dtype), repeat, 0.45, 0.01, dst);
        var expected = new double[r1 * repeat, r2 * repeat];
        for (int i = 0; i < r1 * repeat; i++)
            for (int j = 0; j < r2 * repeat; j++)
                expected[i, j] = d0[i, j] + gd[i, j] * (0.45 * ga[i / repeat, j / repeat] + 0.01);
        AssertClose(expected, ToHost(dst), Tolerance(dtype));
    }

    [Fact]
    public void HadamardAccumulate_into_a_noncontiguous_destination_matches_naive()
    {
        using var scope = NewDisposeScope();
        var gd = Random(6, 4, 19);
        var ga = Random(3, 2, 20);
        var big = ToTensor(Random(4, 6, 21), ScalarType.Float64);
        var dst = big.t(); // [6, 4], not contiguous
        var d0 = ToHost(dst);
        TorchBackend.Float64().HadamardAccumulate(ToTensor(gd, ScalarType.Float64), ToTensor(ga, ScalarType.Float64), 2, 1.5, -0.2, dst);
        var expected = new double[6, 4];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 4; j++)
                expected[i, j] = d0[i, j] + gd[i, j] * (1.5 * ga[i / 2, j / 2] - 0.2);
        AssertClose(expected, ToHost(dst), 1e-12);
    }

    [Theory]
    [InlineData(ScalarType.Float64, 1)]
    [InlineData(ScalarType.Float64, 3)]
    [InlineData(ScalarType.Float32, 3)]
    public void RowProducts_of_single_columns_write_only_their_block(ScalarType dtype, int repeat)
    {
        using var scope = NewDisposeScope();
        int n = 5, units = 3, width = 4, cols = 19, offset = 4;
        var c = Rounded(Random(n * repeat, units, 22), dtype);
        var a = Rounded(Random(n, width, 23), dtype);
        var d0 = Rounded(Random(n * repeat, cols, 24), dtype);
        var dst = ToTensor(d0, dtype);
        Backend(dtype).RowProducts(ToTensor(c, dtype), ToTensor(a, dtype), 1, repeat, 0.9, dst, offset);
        var expected = (double[,])d0.Clone();
        for (int r = 0; r < n * repeat; r++)
            for (int i = 0; i < units; i++)
                for (int j = 0; j < width; j++)
                    expected[r, offset + i * width + j] = 0.9 * c[r, i] * a[r / repeat, j];
        AssertClose(expected, ToHost(dst), Tolerance(dtype));
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void SumPositions_of_single_positions_write_only_their_block(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var c = Rounded(Random(7, 3, 25), dtype);
        var d0 = Rounded(Random(7, 11, 26), dtype);
        var dst = ToTensor(d0, dtype);
        Backend(dtype).SumPositions(ToTensor(c, dtype), 1, -0.6, dst, 5);
        var expected = (double[,])d0.Clone();
        for (int r = 0; r < 7; r++)
            for (int i = 0; i < 3; i++)
                expected[r, 5 + i] = -0.6 * c[r, i];
        AssertClose(expected, ToHost(dst), Tolerance(dtype));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(2)]
    public void SetOutputSeeds_matches_definition(int output)
    {
        using var scope = NewDisposeScope();
        int n = 5, o = 3;
        int rows = output < 0 ? n * o : n;
        var dst = ToTensor(Random(rows, o, 27), ScalarType.Float64);
        if (output < 0) TorchBackend.Float64().SetOutputSeeds(dst, o);
        else TorchBackend.Float64().SetOutputSeed(dst, output);
        var expected = new double[rows, o];
        for (int r = 0; r < rows; r++)
            expected[r, output < 0 ? r % o : output] = 1;
        AssertClose(expected, ToHost(dst), 0);
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void Clear_Copy_Scale_match_definition(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var be = Backend(dtype);
        var src = Rounded(Random(5, 3, 28), dtype);
        var dst = ToTensor(Random(5, 3, 29), dtype);
        be.Copy(ToTensor(src, dtype), dst);
        AssertClose(src, ToHost(dst), 0);
        be.Scale(dst, -2.25);
        var scaled = new double[5, 3];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 3; c++)
                scaled[r, c] = -2.25 * src[r, c];
        AssertClose(scaled, ToHost(dst), Tolerance(dtype));
        be.Clear(dst);
        AssertClose(new double[5, 3], ToHost(dst), 0);
    }

    [Fact]
    public void View_and_RowSlice_write_through()
    {
        using var scope = NewDisposeScope();
        var be = TorchBackend.Float64();
        var flat = be.Allocate(1, 20);
        try
        {
            var view = be.View(flat, 7, 3, 4);
            Assert.Equal(3, be.Rows(view));
            Assert.Equal(4, be.Cols(view));
            be.Copy(ToTensor(new double[,] { { 1, 2, 3, 4 }, { 5, 6, 7, 8 }, { 9, 10, 11, 12 } }, ScalarType.Float64), view);
            var host = flat.ToArray<double>();
            for (int i = 0; i < 20; i++) Assert.Equal(i is >= 7 and < 19 ? i - 6 : 0, host[i]);

            var slice = be.RowSlice(view, 1, 2);
            be.Scale(slice, 10);
            Assert.Equal(new double[] { 1, 2, 3, 4, 50, 60, 70, 80, 90, 100, 110, 120 }, view.ToArray<double>());
        }
        finally
        {
            flat.Dispose();
        }
    }

    [Fact]
    public void Allocate_returns_zeros_that_survive_the_callers_scope()
    {
        var be = TorchBackend.Float32();
        Tensor t;
        using (var scope = NewDisposeScope())
        {
            t = be.Allocate(3, 5);
        }

        Assert.False(t.IsInvalid);
        Assert.Equal(ScalarType.Float32, t.dtype);
        Assert.Equal(new long[] { 3, 5 }, t.shape);
        Assert.All(t.ToArray<float>(), v => Assert.Equal(0f, v));
        t.Dispose();
    }

    [Fact]
    public void Rejects_unsupported_element_types()
    {
        var e = Assert.Throws<ArgumentException>(() => new TorchBackend(ScalarType.Int32));
        Assert.Equal("dtype", e.ParamName);
        Assert.Equal(ScalarType.Float64, default(TorchBackend).DType);
        Assert.Equal(DeviceType.CPU, default(TorchBackend).Device.type);
    }
}

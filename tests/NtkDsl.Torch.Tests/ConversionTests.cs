using static NtkDsl.Torch.Tests.TestSupport;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>Matrix / array / span conversions and the errors of bad input.</summary>
public sealed class ConversionTests
{
    [Fact]
    public void Matrix_round_trips_row_major_in_both_precisions()
    {
        using var scope = NewDisposeScope();
        var m = Matrix<double>.FromArray(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var t = m.ToTensor();
        Assert.Equal(new long[] { 2, 3 }, t.shape);
        Assert.Equal(ScalarType.Float64, t.dtype);
        Assert.Equal(6.0, t[1, 2].item<double>());
        Assert.Equal(m.Data, t.ToMatrix<double>().Data);

        var f = m.Convert<float>().ToTensor();
        Assert.Equal(ScalarType.Float32, f.dtype);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, f.ToMatrix<float>().Data);
    }

    [Fact]
    public void Views_and_transposes_copy_out_in_logical_order()
    {
        using var scope = NewDisposeScope();
        var t = TorchConvert.ToTensor(new double[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        Assert.Equal(new double[] { 1, 4, 2, 5, 3, 6 }, t.t().ToMatrix<double>().Data);
        Assert.Equal(new double[] { 4, 5, 6 }, t.narrow(0, 1, 1).ToArray<double>());
        Assert.Equal(new double[] { 2, 3, 5, 6 }, t.narrow(1, 1, 2).ToMatrix<double>().Data);
    }

    [Fact]
    public void Spans_and_copies()
    {
        using var scope = NewDisposeScope();
        ReadOnlySpan<float> data = [1, 2, 3, 4];
        var t = TorchConvert.ToTensor(data, 2, 2);
        var row = TorchConvert.ToRowTensor<float>(data);
        Assert.Equal(new long[] { 1, 4 }, row.shape);
        var dst = new Matrix<float>(2, 2);
        t.CopyTo(dst);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, dst.Data);
        var target = zeros(2, 2, dtype: ScalarType.Float32);
        target.CopyFrom(Matrix<float>.FromArray(new float[,] { { 9, 8 }, { 7, 6 } }));
        Assert.Equal(new float[] { 9, 8, 7, 6 }, target.ToArray<float>());
        Assert.Equal(new long[] { 0, 3 }, TorchConvert.ToTensor(Array.Empty<double>(), 0, 3).shape);
    }

    [Fact]
    public void Errors_name_the_argument_and_state_expected_and_given()
    {
        using var scope = NewDisposeScope();
        var e1 = Assert.Throws<ArgumentException>(() => TorchConvert.ToTensor(new double[5], 2, 3));
        Assert.Equal("data", e1.ParamName);
        Assert.Contains("2 x 3 = 6", e1.Message);
        Assert.Contains("got 5", e1.Message);

        var f = zeros(2, 3, dtype: ScalarType.Float32);
        var e2 = Assert.Throws<ArgumentException>(() => f.ToMatrix<double>());
        Assert.Equal("tensor", e2.ParamName);
        Assert.Contains("Float64", e2.Message);
        Assert.Contains("Float32", e2.Message);

        var e3 = Assert.Throws<ArgumentException>(() => zeros(2, 3, 4, dtype: ScalarType.Float64).ToMatrix<double>());
        Assert.Contains("[2, 3, 4]", e3.Message);

        var e4 = Assert.Throws<ArgumentException>(() => zeros(3, 2, dtype: ScalarType.Float64).CopyTo(new Matrix<double>(2, 3)));
        Assert.Contains("[2, 3]", e4.Message);
        Assert.Contains("[3, 2]", e4.Message);

        var e5 = Assert.Throws<ArgumentException>(() => TorchConvert.Require(zeros(2, 3, dtype: ScalarType.Float64), "x", 2, 3, ScalarType.Float64, device("meta")));
        Assert.Equal("x", e5.ParamName);
        Assert.Contains("meta", e5.Message);
    }

    [Fact]
    public void TorchNetwork_rejects_bad_shapes_types_and_non_finite_values()
    {
        using var scope = NewDisposeScope();
        int p = ReluErf.Description.ParameterCount;
        using var host = new TorchNetwork<ReluErf>();
        var theta = zeros(1, p, dtype: ScalarType.Float64);
        var x = zeros(4, 3, dtype: ScalarType.Float64);

        var e1 = Assert.Throws<ArgumentException>(() => host.Forward(theta, zeros(4, 5, dtype: ScalarType.Float64)));
        Assert.Equal("x", e1.ParamName);
        Assert.Contains("[N, 3]", e1.Message);
        Assert.Contains("[4, 5]", e1.Message);

        var e2 = Assert.Throws<ArgumentException>(() => host.Forward(zeros(1, p + 1, dtype: ScalarType.Float64), x));
        Assert.Equal("parameters", e2.ParamName);
        Assert.Contains($"[1, {p}]", e2.Message);

        var e3 = Assert.Throws<ArgumentException>(() => host.Forward(theta, zeros(4, 3, dtype: ScalarType.Float32)));
        Assert.Contains("Float32", e3.Message);

        var bad = x.clone();
        bad[2, 1] = tensor(double.NaN);
        var e4 = Assert.Throws<ArgumentException>(() => host.Ntk(theta, x, bad));
        Assert.Equal("x2", e4.ParamName);
        Assert.Contains("[2, 1]", e4.Message);

        var e5 = Assert.Throws<ArgumentException>(() => host.Vjp(theta, x, zeros(4, 3, dtype: ScalarType.Float64)));
        Assert.Equal("cotangent", e5.ParamName);
        Assert.Contains("[4, 2]", e5.Message);

        theta[0, 5] = tensor(double.PositiveInfinity);
        Assert.Equal("parameters", Assert.Throws<ArgumentException>(() => host.Forward(theta, x)).ParamName);
    }

    [Fact]
    public void TorchNetwork_says_so_when_finite_inputs_overflow()
    {
        // As the CPU host: inputs of 1e308 are finite, but the first layer's products are not.
        using var scope = NewDisposeScope();
        using var host = new TorchNetwork<ReluErf>();
        var theta = TorchConvert.ToTensor(NtkDsl.Cpu.CpuNetwork<ReluErf, double>.InitializeParameters(1), 1, ReluErf.Description.ParameterCount);
        var huge = full(4, 3, 1e308, dtype: ScalarType.Float64);
        var forward = Assert.Throws<OverflowException>(() => host.Forward(theta, huge));
        Assert.Contains("'output'", forward.Message);
        Assert.Contains("overflowed", forward.Message);
        Assert.Throws<OverflowException>(() => host.Ntk(theta, huge));
        Assert.True(host.Forward(theta, full(4, 3, 1.0, dtype: ScalarType.Float64)).isfinite().all().item<bool>());
    }
}

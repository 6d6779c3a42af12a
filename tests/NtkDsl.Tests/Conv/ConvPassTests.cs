using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Conv;

/// <summary>
/// The generated passes of convolutional networks against independent computations: a plain-loop forward pass
/// written from the layer definitions (NCHW rows, PyTorch weight layout), central finite differences, the
/// Jacobian contracted with cotangents and tangents, and explicit J J^T in every NTK output mode.
/// </summary>
public class ConvPassTests
{
    public static TheoryData<INetworkCase> Networks() =>
    [
        new NetworkCase<SameValidConvNet>(), new NetworkCase<CircularPoolConvNet>(), new NetworkCase<SequenceConvNet>(),
        new NetworkCase<StandardConvNet>(),
    ];

    [Theory]
    [MemberData(nameof(Networks))]
    public void Forward_matches_a_plain_loop_implementation(INetworkCase net)
    {
        var theta = net.Initialize<double>(seed: 1);
        var x = TestMath.RandomMatrix(3, net.Inputs, seed: 2);
        var expected = NaiveConvNet.Forward(net.Description, theta, x);
        Assert.True(TestMath.RelativeError(net.Forward(theta, x), expected) < 1e-13, $"relative error {TestMath.RelativeError(net.Forward(theta, x), expected):E2}");
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Jacobian_matches_central_finite_differences(INetworkCase net)
    {
        // As for Dense networks: h = 1e-5 gives truncation ~1e-10 and rounding ~1e-11; ReLU kinks are not hit by
        // random inputs with probability ~1 (a kink within h of a pre-activation would show as an O(1) error).
        var theta = net.Initialize<double>(seed: 3);
        var x = TestMath.RandomMatrix(3, net.Inputs, seed: 4);
        var jacobian = net.Jacobian(theta, x);
        var fd = new Matrix<double>(jacobian.Rows, jacobian.Cols);
        const double h = 1e-5;
        for (int p = 0; p < theta.Length; p++)
        {
            var plus = (double[])theta.Clone();
            var minus = (double[])theta.Clone();
            plus[p] += h;
            minus[p] -= h;
            var fp = net.Forward(plus, x);
            var fm = net.Forward(minus, x);
            for (int r = 0; r < jacobian.Rows; r++) fd[r, p] = (fp.Data[r] - fm.Data[r]) / (2 * h);
        }

        Assert.True(TestMath.RelativeError(jacobian, fd) < 1e-6, $"relative error {TestMath.RelativeError(jacobian, fd):E2}");
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Vjp_and_Jvp_agree_with_the_Jacobian(INetworkCase net)
    {
        var theta = net.Initialize<double>(seed: 5);
        var x = TestMath.RandomMatrix(4, net.Inputs, seed: 6);
        var jacobian = net.Jacobian(theta, x);
        var cotangent = TestMath.RandomMatrix(4, net.Outputs, seed: 7);
        var tangent = TestMath.RandomVector(net.Parameters, seed: 8);
        var expectedVjp = new double[net.Parameters];
        var expectedJvp = new Matrix<double>(4, net.Outputs);
        for (int r = 0; r < jacobian.Rows; r++)
            for (int p = 0; p < jacobian.Cols; p++)
            {
                expectedVjp[p] += cotangent.Data[r] * jacobian[r, p];
                expectedJvp.Data[r] += jacobian[r, p] * tangent[p];
            }

        Assert.True(TestMath.RelativeError(net.Vjp(theta, x, cotangent), expectedVjp) < 1e-12);
        Assert.True(TestMath.RelativeError(net.Jvp(theta, x, tangent), expectedJvp) < 1e-12);
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Ntk_equals_explicit_J_Jt_in_every_output_mode(INetworkCase net)
    {
        var theta = net.Initialize<double>(seed: 9);
        var x1 = TestMath.RandomMatrix(4, net.Inputs, seed: 10);
        var x2 = TestMath.RandomMatrix(3, net.Inputs, seed: 11);
        int o = net.Outputs;
        foreach (var (a, b, n2) in new[] { (x1, x2, 3), (x1, (Matrix<double>?)null, 4) })
        {
            var full = TestMath.TimesTranspose(net.Jacobian(theta, a), net.Jacobian(theta, b ?? a)); // [N1 O, N2 O]
            Assert.True(TestMath.RelativeError(net.Ntk(theta, a, b, NtkMode.Full), full) < 1e-10);
            var diagonal = new Matrix<double>(o * 4, n2);
            var trace = new Matrix<double>(4, n2);
            for (int k = 0; k < o; k++)
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < n2; j++)
                    {
                        diagonal[k * 4 + i, j] = full[i * o + k, j * o + k];
                        trace[i, j] += full[i * o + k, j * o + k] / o;
                    }

            Assert.True(TestMath.RelativeError(net.Ntk(theta, a, b, NtkMode.Diagonal), diagonal) < 1e-10);
            Assert.True(TestMath.RelativeError(net.Ntk(theta, a, b, NtkMode.Trace), trace) < 1e-10);
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Float32_is_within_1e_4_of_float64(INetworkCase net)
    {
        var theta = net.Initialize<double>(seed: 14);
        var x = TestMath.RandomMatrix(3, net.Inputs, seed: 15);
        var theta32 = theta.Select(v => (float)v).ToArray();
        var x32 = x.Convert<float>();
        Assert.True(TestMath.RelativeError(net.Forward(theta32, x32).Convert<double>(), net.Forward(theta, x)) < 1e-4);
        foreach (var mode in new[] { NtkMode.Full, NtkMode.Trace, NtkMode.Diagonal })
            Assert.True(TestMath.RelativeError(net.Ntk(theta32, x32, null, mode).Convert<double>(), net.Ntk(theta, x, null, mode)) < 1e-4);
    }

    [Fact]
    public void Rows_that_are_not_C_H_W_values_are_rejected_naming_the_sample_shape()
    {
        var theta = SameValidConvNet.InitializeParameters<double>(seed: 1);
        var x = TestMath.RandomMatrix(2, 49, seed: 2);
        var error = Assert.Throws<ArgumentException>(() => SameValidConvNet.Forward(theta, x));
        Assert.Equal("x", error.ParamName);
        Assert.Contains("[N >= 1, 50]", error.Message);
        Assert.Contains("[2, 5, 5]", error.Message);
        Assert.Contains("[2, 49]", error.Message);
    }

    [Fact]
    public void Description_resolves_the_same_shapes_and_offsets_as_the_generator()
    {
        var d = CircularPoolConvNet.Description;
        Assert.Equal(CircularPoolConvNet.ParameterCount, d.ParameterCount);
        Assert.Equal(1, d.InputChannels);
        Assert.Equal(new SpatialShape(6, 6), d.InputSpatial);
        var conv = Assert.IsType<ConvLayer>(d.Layers[3]);
        Assert.Equal(new SpatialShape(3, 3), conv.Window.Input);
        Assert.Equal(3 * 1 * 3 * 3 + 3, conv.WeightOffset);
        Assert.False(conv.HasBias);
        Assert.Equal(new SpatialShape(3, 3), conv.Window.Output);
    }
}

using MathNet.Numerics;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Empirical;

/// <summary>
/// Generated forward passes, derivatives and structured NTKs against independent computations:
/// a plain-loop forward pass, central finite differences, and explicit J J^T.
/// </summary>
public class EmpiricalKernelTests
{
    public static TheoryData<INetworkCase> Networks() => Cases.SmallData();

    /// <summary>The conv networks (Conv/ConvNetworks.cs) go through the same checks of the derivatives and the NTK.</summary>
    public static TheoryData<INetworkCase> ConvNetworks() => Conv.ConvPassTests.Networks();

    /// <summary>The branching networks (Residual/ResidualNetworks.cs) go through the same checks.</summary>
    public static TheoryData<INetworkCase> ResidualNetworks() => Residual.ResidualPassTests.Networks();

    [Theory]
    [MemberData(nameof(Networks))]
    public void Forward_matches_a_plain_loop_implementation(INetworkCase net)
    {
        var theta = net.Initialize<double>(seed: 1);
        var x = TestMath.RandomMatrix(5, net.Inputs, seed: 2);
        var expected = NaiveForward(net.Description, theta, x);
        Assert.True(TestMath.RelativeError(net.Forward(theta, x), expected) < 1e-13);
    }

    [Theory]
    [MemberData(nameof(Networks))]
    [MemberData(nameof(ConvNetworks))]
    [MemberData(nameof(ResidualNetworks))]
    public void Jacobian_matches_central_finite_differences(INetworkCase net)
    {
        // Central differences have error O(h^2 f''') ~ 1e-10 at h = 1e-5 plus rounding ~ 1e-16 / h = 1e-11:
        // 1e-6 relative leaves room for curvature and stays far below any real mistake.
        var theta = net.Initialize<double>(seed: 3);
        var x = TestMath.RandomMatrix(4, net.Inputs, seed: 4);
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
    [MemberData(nameof(ConvNetworks))]
    [MemberData(nameof(ResidualNetworks))]
    public void Vjp_and_Jvp_agree_with_the_Jacobian(INetworkCase net)
    {
        var theta = net.Initialize<double>(seed: 5);
        var x = TestMath.RandomMatrix(6, net.Inputs, seed: 6);
        var jacobian = net.Jacobian(theta, x);
        var cotangent = TestMath.RandomMatrix(6, net.Outputs, seed: 7);
        var tangent = TestMath.RandomVector(net.Parameters, seed: 8);

        var expectedVjp = new double[net.Parameters];
        var expectedJvp = new Matrix<double>(6, net.Outputs);
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
    [MemberData(nameof(ConvNetworks))]
    [MemberData(nameof(ResidualNetworks))]
    public void Structured_ntk_equals_explicit_J_Jt_in_every_output_mode(INetworkCase net)
    {
        var theta = net.Initialize<double>(seed: 9);
        var x1 = TestMath.RandomMatrix(5, net.Inputs, seed: 10);
        var x2 = TestMath.RandomMatrix(3, net.Inputs, seed: 11);
        var full = TestMath.TimesTranspose(net.Jacobian(theta, x1), net.Jacobian(theta, x2)); // [N1 O, N2 O]
        int o = net.Outputs;

        Assert.True(TestMath.RelativeError(net.Ntk(theta, x1, x2, NtkMode.Full), full) < 1e-10);

        var diagonal = new Matrix<double>(o * 5, 3);
        var trace = new Matrix<double>(5, 3);
        for (int k = 0; k < o; k++)
            for (int i = 0; i < 5; i++)
                for (int j = 0; j < 3; j++)
                {
                    diagonal[k * 5 + i, j] = full[i * o + k, j * o + k];
                    trace[i, j] += full[i * o + k, j * o + k] / o;
                }

        Assert.True(TestMath.RelativeError(net.Ntk(theta, x1, x2, NtkMode.Diagonal), diagonal) < 1e-10);
        Assert.True(TestMath.RelativeError(net.Ntk(theta, x1, x2, NtkMode.Trace), trace) < 1e-10);
    }

    [Theory]
    [MemberData(nameof(Networks))]
    [MemberData(nameof(ConvNetworks))]
    [MemberData(nameof(ResidualNetworks))]
    public void Ntk_of_one_batch_is_symmetric_positive_semidefinite_and_matches_the_cross_kernel(INetworkCase net)
    {
        var theta = net.Initialize<double>(seed: 12);
        var x = TestMath.RandomMatrix(6, net.Inputs, seed: 13);
        foreach (var mode in new[] { NtkMode.Full, NtkMode.Trace })
        {
            var same = net.Ntk(theta, x, null, mode);
            var cross = net.Ntk(theta, x, x.Transpose().Transpose(), mode); // equal values, different instance
            Assert.True(TestMath.RelativeError(same, cross) < 1e-12);
            for (int i = 0; i < same.Rows; i++)
                for (int j = 0; j < i; j++)
                    Assert.Equal(same[i, j], same[j, i]);
            var evd = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.DenseOfArray(same.ToArray()).Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
            double max = evd.EigenValues.Max(v => v.Real);
            Assert.True(evd.EigenValues.Min(v => v.Real) >= -1e-10 * max);
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    [MemberData(nameof(ConvNetworks))]
    [MemberData(nameof(ResidualNetworks))]
    public void Float32_is_within_1e_4_of_float64(INetworkCase net)
    {
        // float32 carries ~7 digits; through a few layers and sums of ~10 terms, 1e-4 relative is the budget.
        var theta = net.Initialize<double>(seed: 14);
        var x = TestMath.RandomMatrix(4, net.Inputs, seed: 15);
        var theta32 = theta.Select(v => (float)v).ToArray();
        var x32 = x.Convert<float>();
        Assert.True(TestMath.RelativeError(net.Forward(theta32, x32).Convert<double>(), net.Forward(theta, x)) < 1e-4);
        foreach (var mode in new[] { NtkMode.Full, NtkMode.Trace, NtkMode.Diagonal })
            Assert.True(TestMath.RelativeError(net.Ntk(theta32, x32, null, mode).Convert<double>(), net.Ntk(theta, x, null, mode)) < 1e-4);
    }

    [Fact]
    public void The_issue_network_at_width_256_matches_explicit_J_Jt()
    {
        var theta = Tests.Networks.MyNet.InitializeParameters<double>(seed: 16);
        var x1 = TestMath.RandomMatrix(4, 3, seed: 17);
        var x2 = TestMath.RandomMatrix(3, 3, seed: 18);
        var expected = TestMath.TimesTranspose(Tests.Networks.MyNet.Jacobian(theta, x1), Tests.Networks.MyNet.Jacobian(theta, x2));
        Assert.True(TestMath.RelativeError(Tests.Networks.MyNet.Ntk(theta, x1, x2, NtkMode.Full), expected) < 1e-10);
    }

    [Fact]
    public void Initialization_is_seeded_and_has_the_documented_distribution()
    {
        Assert.Equal(Tests.Networks.MyNet.InitializeParameters<double>(3), Tests.Networks.MyNet.InitializeParameters<double>(3));
        Assert.NotEqual(Tests.Networks.MyNet.InitializeParameters<double>(3), Tests.Networks.MyNet.InitializeParameters<double>(4));

        // NTK parameterization: every parameter ~ N(0, 1). 67k samples: mean within 4 sigma (4/sqrt(n) ~ 0.016), variance within 2%.
        var ntk = Tests.Networks.MyNet.InitializeParameters<double>(5);
        Assert.InRange(ntk.Average(), -0.016, 0.016);
        Assert.InRange(ntk.Select(v => v * v).Average(), 0.98, 1.02);

        // Standard parameterization: W ~ N(0, w_std^2 / fan_in) per layer, b ~ N(0, b_std^2).
        var description = Tests.Networks.StandardNet.Description;
        var draws = Enumerable.Range(0, 400).Select(s => Tests.Networks.StandardNet.InitializeParameters<double>(s)).ToArray();
        foreach (var layer in description.DenseLayers)
        {
            double expectedW = layer.WeightStd * layer.WeightStd / layer.Inputs;
            double varW = draws.SelectMany(d => d.Skip(layer.WeightOffset).Take(layer.Width * layer.Inputs)).Select(v => v * v).Average();
            Assert.InRange(varW / expectedW, 0.9, 1.1);
            if (!layer.HasBias) continue;
            double varB = draws.SelectMany(d => d.Skip(layer.BiasOffset).Take(layer.Width)).Select(v => v * v).Average();
            Assert.InRange(varB / (layer.BiasStd * layer.BiasStd), 0.85, 1.15);
        }
    }

    [Fact]
    public void Parallel_and_serial_initialization_draw_the_same_values_and_chunks_are_independent()
    {
        // MyNet has 67k parameters: more than one 65,536-value chunk, each from its own substream.
        var parallel = ParameterInitializer.Initialize<double>(Tests.Networks.MyNet.Description, 11);
        var serial = new double[parallel.Length];
        ParameterInitializer.Initialize<double>(Tests.Networks.MyNet.Description, serial, 11);
        Assert.Equal(parallel, serial);
        // Neighbouring chunks are not shifted copies of each other (what a scaled seed would give).
        var a = parallel.AsSpan(0, 1000).ToArray();
        var b = parallel.AsSpan(65_536, 1000).ToArray();
        double correlation = a.Zip(b, (u, v) => u * v).Sum() / 1000;
        Assert.InRange(correlation, -0.15, 0.15);
        Assert.DoesNotContain(a[10], b);
    }

    /// <summary>A forward pass written from the description with plain loops and its own activation formulas.</summary>
    internal static Matrix<double> NaiveForward(NetworkDescription net, double[] theta, Matrix<double> x)
    {
        var output = new Matrix<double>(x.Rows, net.Outputs);
        for (int n = 0; n < x.Rows; n++)
        {
            double[] a = x.Row(n).ToArray();
            foreach (var layer in net.Layers)
            {
                if (layer is DenseLayer d)
                {
                    bool standard = net.Parameterization == Parameterization.Standard;
                    double ws = standard ? 1 : d.WeightStd / Math.Sqrt(d.Inputs), bs = standard ? 1 : d.BiasStd;
                    var z = new double[d.Width];
                    for (int i = 0; i < d.Width; i++)
                    {
                        double sum = 0;
                        for (int j = 0; j < d.Inputs; j++) sum += theta[d.WeightOffset + i * d.Inputs + j] * a[j];
                        z[i] = ws * sum + (d.HasBias ? bs * theta[d.BiasOffset + i] : 0);
                    }
                    a = z;
                }
                else if (layer is ActivationLayer act)
                {
                    a = a.Select(v => Phi(act.Activation, v)).ToArray();
                }
            }
            a.CopyTo(output.Row(n));
        }
        return output;
    }

    private static double Phi(Activation f, double v) => f.Kind switch
    {
        ActivationKind.Relu => Math.Max(v, 0),
        ActivationKind.LeakyRelu => v > 0 ? v : f.A * v,
        ActivationKind.Abs => Math.Abs(v),
        ActivationKind.Erf => f.A * SpecialFunctions.Erf(f.B * v) + f.C,
        ActivationKind.Tanh => Math.Tanh(v),
        ActivationKind.Sigmoid => 1 / (1 + Math.Exp(-v)),
        ActivationKind.Gelu => v * 0.5 * (1 + SpecialFunctions.Erf(v / Math.Sqrt(2))),
        ActivationKind.Softplus => Math.Log(1 + Math.Exp(v)),
        ActivationKind.Sin => f.A * Math.Sin(f.B * v + f.C),
        ActivationKind.Identity => v,
        _ => throw new ArgumentOutOfRangeException(nameof(f)),
    };
}

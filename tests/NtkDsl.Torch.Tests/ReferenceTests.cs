using System.Text.Json;
using static NtkDsl.Torch.Tests.TestSupport;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>
/// The autograd baseline and the backend (through a hand-written network on <see cref="TorchNetwork{TNet}"/>)
/// against tests/reference/empirical-ntk.json (PyTorch functorch, float64), to 1e-10 relative.
/// </summary>
public sealed class ReferenceTests
{
    private const double Relative = 1e-10;

    public static TheoryData<int> CaseIndices() => new() { 0, 1 };

    private static (JsonElement Case, NetworkDescription Net, Tensor Theta, Tensor X1, Tensor X2) Load(int index)
    {
        var c = EmpiricalCases()[index];
        var net = Architecture(c.GetProperty("arch"));
        var theta = TorchConvert.ToRowTensor<double>(Vector(c.GetProperty("theta")));
        return (c, net, theta, ToTensor(Matrix2(c.GetProperty("x1")), ScalarType.Float64), ToTensor(Matrix2(c.GetProperty("x2")), ScalarType.Float64));
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void Autograd_forward_jacobian_and_ntk_match_reference(int index)
    {
        using var scope = NewDisposeScope();
        var (c, net, theta, x1, x2) = Load(index);
        Assert.Equal(Vector(c.GetProperty("theta")).Length, net.ParameterCount);

        var forward = ToHost(TorchAutogradNtk.Forward(net, theta, x1));
        Assert.True(RelativeError(Matrix2(c.GetProperty("forward_x1")), forward) < Relative);

        var jacobian = ToHost(TorchAutogradNtk.Jacobian(net, theta, x1));
        Assert.True(RelativeError(JacobianRows(c.GetProperty("jacobian_x1")), jacobian) < Relative);

        var expected = FullKernel(c.GetProperty("ntk_full"));
        var full = ToHost(TorchAutogradNtk.Ntk(net, theta.reshape(-1), x1, x2, NtkMode.Full));
        Assert.True(RelativeError(expected, full) < Relative, $"relative error {RelativeError(expected, full):E2}");

        int o = net.Outputs, n1 = (int)x1.size(0), n2 = (int)x2.size(0);
        var trace = ToHost(TorchAutogradNtk.Ntk(net, theta, x1, x2, NtkMode.Trace));
        var diagonal = ToHost(TorchAutogradNtk.Ntk(net, theta, x1, x2, NtkMode.Diagonal));
        var expectedTrace = new double[n1, n2];
        var expectedDiagonal = new double[o * n1, n2];
        for (int a = 0; a < n1; a++)
            for (int b = 0; b < n2; b++)
                for (int k = 0; k < o; k++)
                {
                    expectedTrace[a, b] += expected[a * o + k, b * o + k] / o;
                    expectedDiagonal[k * n1 + a, b] = expected[a * o + k, b * o + k];
                }

        Assert.True(RelativeError(expectedTrace, trace) < Relative);
        Assert.True(RelativeError(expectedDiagonal, diagonal) < Relative);
    }

    [Fact]
    public void Backend_passes_match_reference_relu_erf() => BackendMatchesReference<ReluErf>(0);

    [Fact]
    public void Backend_passes_match_reference_tanh_standard() => BackendMatchesReference<TanhStandard>(1);

    private static void BackendMatchesReference<TNet>(int index) where TNet : NtkDsl.Backends.INetwork<TNet>
    {
        using var scope = NewDisposeScope();
        var (c, net, theta, x1, x2) = Load(index);
        Assert.Equal(net.ParameterCount, TNet.ParameterCount);
        Assert.Equal(net.Layers, TNet.Description.Layers);
        using var host = new TorchNetwork<TNet>();

        Assert.True(RelativeError(Matrix2(c.GetProperty("forward_x1")), ToHost(host.Forward(theta, x1))) < Relative);
        Assert.True(RelativeError(JacobianRows(c.GetProperty("jacobian_x1")), ToHost(host.Jacobian(theta, x1))) < Relative);
        var expected = FullKernel(c.GetProperty("ntk_full"));
        Assert.True(RelativeError(expected, ToHost(host.Ntk(theta, x1, x2, NtkMode.Full))) < Relative);
    }

    [Theory]
    [InlineData(NtkMode.Full)]
    [InlineData(NtkMode.Trace)]
    [InlineData(NtkMode.Diagonal)]
    public void Backend_passes_match_autograd_for_every_activation(NtkMode mode)
    {
        using var scope = NewDisposeScope();
        var net = AllKinds.Description;
        var theta = ToTensor(Random(1, net.ParameterCount, 7), ScalarType.Float64);
        var x1 = ToTensor(Random(4, 3, 8, 2.0), ScalarType.Float64);
        var x2 = ToTensor(Random(5, 3, 9, 2.0), ScalarType.Float64);
        using var host = new TorchNetwork<AllKinds>();

        var j = TorchAutogradNtk.Jacobian(net, theta, x1);
        Assert.True(RelativeError(ToHost(j), ToHost(host.Jacobian(theta, x1))) < Relative);
        var expected = ToHost(TorchAutogradNtk.Ntk(net, theta, x1, x2, mode));
        Assert.True(RelativeError(expected, ToHost(host.Ntk(theta, x1, x2, mode))) < Relative);
        var expectedSame = ToHost(TorchAutogradNtk.Ntk(net, theta, x1, null, mode));
        Assert.True(RelativeError(expectedSame, ToHost(host.Ntk(theta, x1, null, mode))) < Relative);

        // Vjp and Jvp against the Jacobian: g = J^T c, t_out = J t.
        var cot = ToTensor(Random(4, net.Outputs, 10), ScalarType.Float64);
        var tangent = ToTensor(Random(1, net.ParameterCount, 11), ScalarType.Float64);
        var (output, gradient) = host.Vjp(theta, x1, cot);
        Assert.True(RelativeError(ToHost(TorchAutogradNtk.Forward(net, theta, x1)), ToHost(output)) < Relative);
        Assert.True(RelativeError(ToHost(cot.reshape(1, -1).mm(j)), ToHost(gradient)) < Relative);
        var (output2, tangentOut) = host.Jvp(theta, x1, tangent.reshape(-1));
        Assert.True(RelativeError(ToHost(output), ToHost(output2)) < Relative);
        Assert.True(RelativeError(ToHost(j.mm(tangent.t()).reshape(4, net.Outputs)), ToHost(tangentOut)) < Relative);
    }

    [Fact]
    public void Float32_backend_agrees_with_float64_reference()
    {
        using var scope = NewDisposeScope();
        var (c, _, theta, x1, x2) = Load(0);
        using var host = new TorchNetwork<ReluErf>(TorchBackend.Float32());
        var ntk = host.Ntk(theta.to(ScalarType.Float32), x1.to(ScalarType.Float32), x2.to(ScalarType.Float32), NtkMode.Full);
        Assert.True(RelativeError(FullKernel(c.GetProperty("ntk_full")), ToHost(ntk)) < 1e-5);
    }
}

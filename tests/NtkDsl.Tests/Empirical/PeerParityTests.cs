using System.Text.Json;
using NtkDsl.Tests.Networks;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Empirical;

/// <summary>
/// Parity with PyTorch autograd (functorch vmap(jacrev), float64) on tests/reference/empirical-ntk.json:
/// same architectures, same parameters, so forward outputs, Jacobians and NTKs must agree to rounding.
/// </summary>
public class PeerParityTests
{
    private static JsonElement Case(string name) =>
        ReferenceData.Load("empirical-ntk.json").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    public static TheoryData<string, INetworkCase> ReferenceCases() => new()
    {
        { "relu-erf-two-outputs", new NetworkCase<ReferenceReluErf>() },
        { "tanh-standard-parameterization", new NetworkCase<ReferenceTanhStandard>() },
    };

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void Declared_architecture_matches_the_reference(string name, INetworkCase net)
    {
        var arch = Case(name).GetProperty("arch");
        Assert.Equal(arch.GetProperty("inputs").GetInt32(), net.Inputs);
        Assert.Equal(arch.GetProperty("parameterization").GetString() == "standard" ? Parameterization.Standard : Parameterization.Ntk, net.Description.Parameterization);
        var dense = arch.GetProperty("layers").EnumerateArray().Where(l => l.GetProperty("kind").GetString() == "dense").ToList();
        var ours = net.Description.DenseLayers.ToList();
        Assert.Equal(dense.Count, ours.Count);
        for (int i = 0; i < ours.Count; i++)
        {
            Assert.Equal(dense[i].GetProperty("width").GetInt32(), ours[i].Width);
            Assert.Equal(dense[i].GetProperty("w_std").GetDouble(), ours[i].WeightStd);
            Assert.Equal(dense[i].GetProperty("b_std").GetDouble(), ours[i].BiasStd);
        }
    }

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void Forward_Jacobian_and_ntk_match_pytorch_autograd_to_1e_10(string name, INetworkCase net)
    {
        var c = Case(name);
        var theta = ReferenceData.Vector(c.GetProperty("theta"));
        var x1 = ReferenceData.Matrix(c.GetProperty("x1"));
        var x2 = ReferenceData.Matrix(c.GetProperty("x2"));

        Assert.True(TestMath.RelativeError(net.Forward(theta, x1).Data, ReferenceData.Flatten(c.GetProperty("forward_x1"))) < 1e-10);
        // Reference Jacobian is [N1, O, P]: the same row-major order as our [N1 * O, P].
        Assert.True(TestMath.RelativeError(net.Jacobian(theta, x1).Data, ReferenceData.Flatten(c.GetProperty("jacobian_x1"))) < 1e-10);

        // Reference NTK is [N1, N2, O, O]; ours (full) is [N1 * O, N2 * O]: reorder indices explicitly.
        var reference = ReferenceData.Flatten(c.GetProperty("ntk_full"));
        int n1 = x1.Rows, n2 = x2.Rows, o = net.Outputs;
        var full = net.Ntk(theta, x1, x2, NtkMode.Full);
        var reordered = new double[full.Data.Length];
        for (int i = 0; i < n1; i++)
            for (int j = 0; j < n2; j++)
                for (int k = 0; k < o; k++)
                    for (int l = 0; l < o; l++)
                        reordered[(i * o + k) * (n2 * o) + j * o + l] = reference[((i * n2 + j) * o + k) * o + l];
        Assert.True(TestMath.RelativeError(full.Data, reordered) < 1e-10);
    }
}

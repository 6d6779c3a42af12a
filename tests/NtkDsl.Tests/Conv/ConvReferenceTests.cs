using System.Text.Json;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Conv;

/// <summary>
/// The conv networks against PyTorch autograd (tests/reference/conv-references.json, made by
/// make_conv_references.py from torch.nn.functional ops): the parameters copy straight across in PyTorch's layout,
/// the inputs are NCHW rows, and forward values, Jacobians and full NTKs agree to 1e-12 relative in float64.
/// </summary>
public class ConvReferenceTests
{
    private static readonly Dictionary<string, INetworkCase> Networks = new()
    {
        ["SameValidConvNet"] = new NetworkCase<SameValidConvNet>(),
        ["CircularPoolConvNet"] = new NetworkCase<CircularPoolConvNet>(),
        ["SequenceConvNet"] = new NetworkCase<SequenceConvNet>(),
        ["StandardConvNet"] = new NetworkCase<StandardConvNet>(),
    };

    public static TheoryData<string> Cases() => [.. Networks.Keys];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_jacobian_and_ntk_match_pytorch_autograd(string name)
    {
        var c = ReferenceData.Load("conv-references.json").GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("network").GetString() == name);
        var net = Networks[name];
        var theta = ReferenceData.Vector(c.GetProperty("theta"));
        Assert.Equal(net.Parameters, theta.Length);
        var x1 = ReferenceData.Matrix(c.GetProperty("x1"));
        var x2 = ReferenceData.Matrix(c.GetProperty("x2"));
        int o = net.Outputs;

        Assert.True(TestMath.RelativeError(net.Forward(theta, x1).Data, ReferenceData.Flatten(c.GetProperty("forward_x1"))) < 1e-12);
        // jacobian_x1 is [N1, O, P]: row n * O + k of NtkDsl's Jacobian.
        Assert.True(TestMath.RelativeError(net.Jacobian(theta, x1).Data, ReferenceData.Flatten(c.GetProperty("jacobian_x1"))) < 1e-12);
        // ntk_full is [N1, N2, O, O]; NtkDsl's full kernel is [N1 O, N2 O] with entry (i O + a, j O + b).
        var expected = ReferenceData.Flatten(c.GetProperty("ntk_full"));
        var full = net.Ntk(theta, x1, x2, NtkMode.Full);
        var reordered = new double[expected.Length];
        for (int i = 0; i < x1.Rows; i++)
            for (int j = 0; j < x2.Rows; j++)
                for (int a = 0; a < o; a++)
                    for (int b = 0; b < o; b++)
                        reordered[((i * x2.Rows + j) * o + a) * o + b] = full[i * o + a, j * o + b];
        Assert.True(TestMath.RelativeError(reordered, expected) < 1e-12, $"relative error {TestMath.RelativeError(reordered, expected):E2}");
    }
}

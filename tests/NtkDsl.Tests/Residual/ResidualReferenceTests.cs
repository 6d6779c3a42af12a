using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Residual;

/// <summary>
/// The branching networks against PyTorch autograd (tests/reference/residual-references.json, made by
/// make_residual_references.py, where each network is written out by hand with torch ops): parameters copy across in
/// the order the blocks expand, and forward values, Jacobians and full NTKs (every output pair) agree to 1e-12 in float64.
/// </summary>
public class ResidualReferenceTests
{
    private static readonly Dictionary<string, INetworkCase> Networks = new()
    {
        ["ResidualMlp"] = new NetworkCase<ResidualMlp>(),
        ["ResidualConvNet"] = new NetworkCase<ResidualConvNet>(),
        ["ConcatNet"] = new NetworkCase<ConcatNet>(),
        ["ProjectionConcatNet"] = new NetworkCase<ProjectionConcatNet>(),
    };

    public static TheoryData<string> Cases() => [.. Networks.Keys];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_jacobian_and_full_ntk_match_pytorch_autograd(string name)
    {
        var reference = ReferenceData.Load("residual-references.json").GetProperty("cases").EnumerateArray()
            .Single(e => e.GetProperty("network").GetString() == name);
        var net = Networks[name];
        var theta = ReferenceData.Vector(reference.GetProperty("theta"));
        Assert.Equal(net.Parameters, theta.Length);
        var x1 = ReferenceData.Matrix(reference.GetProperty("x1"));
        var x2 = ReferenceData.Matrix(reference.GetProperty("x2"));

        Check("forward", net.Forward(theta, x1).Data, ReferenceData.Flatten(reference.GetProperty("forward_x1")));
        Check("jacobian", net.Jacobian(theta, x1).Data, ReferenceData.Flatten(reference.GetProperty("jacobian_x1"))); // [N1, O, P]

        // ntk_full is [N1, N2, O, O]; the full kernel is [N1 O, N2 O] with entry (i O + a, j O + b).
        var full = net.Ntk(theta, x1, x2, NtkMode.Full);
        int o = net.Outputs;
        var ours = new double[x1.Rows * x2.Rows * o * o];
        for (int i = 0, k = 0; i < x1.Rows; i++)
            for (int j = 0; j < x2.Rows; j++)
                for (int a = 0; a < o; a++)
                    for (int b = 0; b < o; b++)
                        ours[k++] = full[i * o + a, j * o + b];
        Check("ntk", ours, ReferenceData.Flatten(reference.GetProperty("ntk_full")));

        static void Check(string what, double[] actual, double[] expected)
        {
            double error = TestMath.RelativeError(actual, expected);
            Assert.True(error < 1e-12, $"{what}: relative error {error:E2}");
        }
    }
}

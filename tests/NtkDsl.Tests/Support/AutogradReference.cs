namespace NtkDsl.Tests.Support;

/// <summary>
/// A network against one case of a PyTorch autograd reference file (tests/reference/*-references.json, a "cases" array of
/// objects with network, theta, x1, x2, forward_x1, jacobian_x1 [N1, O, P] and ntk_full [N1, N2, O, O]): forward values,
/// the Jacobian and the full NTK (every output pair) agree to 1e-12 relative in float64. Shared by the conv and the
/// residual reference tests.
/// </summary>
public static class AutogradReference
{
    public static void Check(INetworkCase net, string file, string name)
    {
        var reference = ReferenceData.Load(file).GetProperty("cases").EnumerateArray()
            .Single(e => e.GetProperty("network").GetString() == name);
        var theta = ReferenceData.Vector(reference.GetProperty("theta"));
        Assert.Equal(net.Parameters, theta.Length);
        var x1 = ReferenceData.Matrix(reference.GetProperty("x1"));
        var x2 = ReferenceData.Matrix(reference.GetProperty("x2"));

        Within("forward", net.Forward(theta, x1).Data, ReferenceData.Flatten(reference.GetProperty("forward_x1")));
        // jacobian_x1 is [N1, O, P]: row n * O + k of NtkDsl's Jacobian.
        Within("jacobian", net.Jacobian(theta, x1).Data, ReferenceData.Flatten(reference.GetProperty("jacobian_x1")));

        // ntk_full is [N1, N2, O, O]; NtkDsl's full kernel is [N1 O, N2 O] with entry (i O + a, j O + b).
        var full = net.Ntk(theta, x1, x2, NtkMode.Full);
        int o = net.Outputs;
        var ours = new double[x1.Rows * x2.Rows * o * o];
        for (int i = 0, k = 0; i < x1.Rows; i++)
            for (int j = 0; j < x2.Rows; j++)
                for (int a = 0; a < o; a++)
                    for (int b = 0; b < o; b++)
                        ours[k++] = full[i * o + a, j * o + b];
        Within("ntk", ours, ReferenceData.Flatten(reference.GetProperty("ntk_full")));
    }

    private static void Within(string what, double[] actual, double[] expected)
    {
        double error = TestMath.RelativeError(actual, expected);
        Assert.True(error < 1e-12, $"{what}: relative error {error:E2}");
    }
}

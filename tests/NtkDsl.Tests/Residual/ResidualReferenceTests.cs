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
    public void Forward_jacobian_and_full_ntk_match_pytorch_autograd(string name) =>
        AutogradReference.Check(Networks[name], "residual-references.json", name);
}

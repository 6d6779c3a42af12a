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
    public void Forward_jacobian_and_ntk_match_pytorch_autograd(string name) =>
        AutogradReference.Check(Networks[name], "conv-references.json", name);
}

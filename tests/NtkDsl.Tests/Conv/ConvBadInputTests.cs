using NtkDsl.Cpu;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Conv;

/// <summary>
/// Every CPU and infinite-width entry point of a conv network rejects rows that are not C * H * W values with an
/// ArgumentException naming the argument, the expected row length, the sample shape [C, H, W] and the given shape
/// (the Torch backend's check is in NtkDsl.Torch.Tests ConvTests).
/// </summary>
public class ConvBadInputTests
{
    private static readonly double[] Theta = SameValidConvNet.InitializeParameters<double>(seed: 1);
    private static readonly Matrix<double> Good = TestMath.RandomMatrix(3, SameValidConvNet.InputSize, seed: 2);
    private static readonly Matrix<double> Bad = TestMath.RandomMatrix(2, 49, seed: 3);

    public static TheoryData<string, string> EntryPoints() => new()
    {
        { "Forward", "x" }, { "Vjp", "x" }, { "Jvp", "x" }, { "Jacobian", "x" }, { "Ntk x1", "x1" }, { "Ntk x2", "x2" },
        { "TiledNtk x1", "x1" }, { "TiledNtk x2", "x2" }, { "InfiniteWidth x1", "x1" }, { "InfiniteWidth x2", "x2" },
        { "InfiniteWidthDiagonal", "x" }, { "runtime InfiniteWidth.Kernels x2", "x2" }, { "runtime InfiniteWidth.Diagonal", "x" },
        { "KernelState.FromInputs", "x1" },
    };

    [Theory]
    [MemberData(nameof(EntryPoints))]
    public void Rows_that_are_not_C_H_W_values_name_the_sample_shape(string entry, string argument)
    {
        var d = SameValidConvNet.Description;
        Action call = entry switch
        {
            "Forward" => () => SameValidConvNet.Forward(Theta, Bad),
            "Vjp" => () => SameValidConvNet.Vjp(Theta, Bad, new Matrix<double>(2, SameValidConvNet.OutputSize)),
            "Jvp" => () => SameValidConvNet.Jvp(Theta, Bad, Theta),
            "Jacobian" => () => SameValidConvNet.Jacobian(Theta, Bad),
            "Ntk x1" => () => SameValidConvNet.Ntk(Theta, Bad),
            "Ntk x2" => () => SameValidConvNet.Ntk(Theta, Good, Bad, NtkMode.Full),
            "TiledNtk x1" => () => TiledNtk.Compute<SameValidConvNet, double>(Theta, Bad, null, NtkMode.Trace, new Matrix<double>(2, 2)),
            "TiledNtk x2" => () => TiledNtk.Compute<SameValidConvNet, double>(Theta, Good, Bad, NtkMode.Trace, new Matrix<double>(3, 2)),
            "InfiniteWidth x1" => () => SameValidConvNet.InfiniteWidth(Bad),
            "InfiniteWidth x2" => () => SameValidConvNet.InfiniteWidth(Good, Bad),
            "InfiniteWidthDiagonal" => () => SameValidConvNet.InfiniteWidthDiagonal(Bad),
            "runtime InfiniteWidth.Kernels x2" => () => NtkDsl.InfiniteWidth.Kernels(d, Good, Bad),
            "runtime InfiniteWidth.Diagonal" => () => NtkDsl.InfiniteWidth.Diagonal(d, Bad),
            _ => () => KernelState.FromInputs(Bad, null, null, d.InputChannels, d.InputSpatial, positionPairs: false),
        };
        var error = Assert.Throws<ArgumentException>(call);
        Assert.Equal(argument, error.ParamName);
        Assert.Contains("50", error.Message);
        Assert.Contains("[2, 5, 5]", error.Message);
        Assert.Matches(@"\[2, 49\]|2 x 49", error.Message);
    }
}

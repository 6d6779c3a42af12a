using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Conv;

/// <summary>
/// Convolutional networks: the forward pass against a plain-loop implementation written from the layer definitions
/// (NCHW rows, PyTorch weight layout), the input contract and the resolved description. Their derivatives and NTKs
/// go through the checks of every network (Empirical/EmpiricalKernelTests: finite differences, J contractions,
/// explicit J J^T in every mode, float32), and against PyTorch autograd in ConvReferenceTests.
/// </summary>
public class ConvPassTests
{
    public static TheoryData<INetworkCase> Networks() =>
    [
        new NetworkCase<SameValidConvNet>(), new NetworkCase<CircularPoolConvNet>(), new NetworkCase<SequenceConvNet>(),
        new NetworkCase<StandardConvNet>(), new NetworkCase<PositionPairConvNet>(), new NetworkCase<MixedStrategyConvNet>(),
        new NetworkCase<ReadoutConvNet>(), new NetworkCase<ReadoutFirstConvNet>(), new NetworkCase<SingleOutputReadoutConvNet>(),
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

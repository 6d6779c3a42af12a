namespace NtkDsl.Tests.Residual;

// Small branching networks for the exact checks (finite differences, J J^T, PyTorch autograd) and wide ones for Monte Carlo.

/// <summary>
/// A pre-activation residual MLP: two residual blocks x + Dense(Relu(LayerNorm(x))) from one block type repeated, then
/// LayerNorm and Erf. Each block's input feeds both the block and the sum, and the block starts with an in-place step.
/// </summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(5)]
[Repeat(typeof(PreActBlock), 2)]
[LayerNorm, Erf]
[Dense(2)]
public partial class ResidualMlp
{
    [Residual(typeof(Inner))]
    private sealed class PreActBlock;

    [LayerNorm, Relu, Dense(5)]
    private sealed class Inner;
}

/// <summary>A residual conv net with LayerNorm over channels at each position, global average pooling readout.</summary>
[Network(Channels = 2, Height = 5, Width = 5, WeightStd = 1.2, BiasStd = 0.3)]
[Conv(3, 3, Padding = Padding.Same)]
[Residual(typeof(ConvBlock))]
[LayerNorm, Tanh]
[GlobalAvgPool]
[Dense(2)]
public partial class ResidualConvNet
{
    [LayerNorm, Relu, Conv(3, 3, Padding = Padding.Same)]
    private sealed class ConvBlock;
}

/// <summary>Two branches of different widths concatenated (a ReLU branch and a linear one), then a readout.</summary>
[Network(Inputs = 3, WeightStd = 1.1, BiasStd = 0.4)]
[Dense(4), Tanh]
[FanInConcat(typeof(Left), typeof(Right))]
[Dense(2)]
public partial class ConcatNet
{
    [Dense(3), Relu]
    private sealed class Left;

    [Dense(2)]
    private sealed class Right;
}

/// <summary>A sum whose shortcut is a projection without bias (the block changes the width), and a spatial channel concat.</summary>
[Network(Channels = 1, Height = 4, Width = 4, WeightStd = 1.4, BiasStd = 0.1)]
[Conv(2, 3, Padding = Padding.Same), Relu]
[FanInConcat(typeof(Spread), typeof(Pointwise))]
[Relu, Flatten]
[FanInSum(typeof(Wide), typeof(Projection))]
[Dense(1)]
public partial class ProjectionConcatNet
{
    [Conv(3, 3, Padding = Padding.Same)]
    private sealed class Spread;

    [Conv(1, 1)]
    private sealed class Pointwise;

    [Dense(6), Erf, Dense(6)]
    private sealed class Wide;

    [Dense(6, Bias = false)]
    private sealed class Projection;
}

/// <summary>The Monte Carlo residual MLP: x0 = Dense(512)(x), two blocks x + Dense(Relu(x)), then Relu and a readout.</summary>
[Network(Inputs = 3, WeightStd = 1.2, BiasStd = 0.2)]
[Dense(512)]
[Repeat(typeof(Block), 2)]
[Relu, Dense(1)]
public partial class WideResidualMlp
{
    [Residual(typeof(Inner))]
    private sealed class Block;

    [Relu, Dense(512)]
    private sealed class Inner;
}

/// <summary>The Monte Carlo residual conv net with LayerNorm: 128 channels, x + Conv(Relu(LayerNorm(x))), global average pooling.</summary>
[Network(Channels = 2, Height = 4, Width = 4, WeightStd = 1.3, BiasStd = 0.2)]
[Conv(128, 3, Padding = Padding.Same)]
[Residual(typeof(Block))]
[Relu, GlobalAvgPool]
[Dense(1)]
public partial class WideResidualConvNet
{
    [LayerNorm, Relu, Conv(128, 3, Padding = Padding.Same)]
    private sealed class Block;
}

/// <summary>The Monte Carlo two-branch concatenation: a ReLU branch of 512 and an Erf branch of 256 units.</summary>
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.3)]
[FanInConcat(typeof(Left), typeof(Right))]
[Dense(1)]
public partial class WideConcatNet
{
    [Dense(512), Relu]
    private sealed class Left;

    [Dense(256), Erf]
    private sealed class Right;
}

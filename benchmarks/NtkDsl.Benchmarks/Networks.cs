namespace NtkDsl.Benchmarks;

// The benchmarked architectures (issue 7, part 3). NTK parameterization, weight std sqrt(2) (the
// ReLU-preserving choice), bias std 0.1. "depth" in the JSON counts hidden layers.

/// <summary>ntk-mlp-small: d = 64, two hidden ReLU layers of width 512, one output.</summary>
[Network(Inputs = 64, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(1)]
public partial class SmallMlp;

/// <summary>ntk-mlp-large: d = 256, three hidden ReLU layers of width 1024, one output.</summary>
[Network(Inputs = 256, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Dense(1024), Relu]
[Dense(1024), Relu]
[Dense(1024), Relu]
[Dense(1)]
public partial class LargeMlp;

/// <summary>ntk-mlp-multi: d = 64, two hidden ReLU layers of width 512, ten outputs (full O x O blocks).</summary>
[Network(Inputs = 64, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(10)]
public partial class MultiMlp;

/// <summary>forward: four 1024 x 1024 Dense layers with ReLU between them (batch 1024).</summary>
[Network(Inputs = 1024, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Dense(1024), Relu]
[Dense(1024), Relu]
[Dense(1024), Relu]
[Dense(1024)]
public partial class ForwardMlp;

/// <summary>infinite: ten hidden ReLU layers (the width is irrelevant at infinite width), d = 64.</summary>
[Network(Inputs = 64, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(1)]
public partial class DeepReluMlp;

/// <summary>infinite-tanh: the net of issue 13, whose Tanh moments need quadrature, d = 16.</summary>
[Network(Inputs = 16, WeightStd = 1.5, BiasStd = 0.2)]
[Dense(32), Tanh]
[Dense(32), Tanh]
[Dense(1)]
public partial class TanhMlp;

/// <summary>ntk-cnn-small (issue 15): 1 x 28 x 28 images, Conv(32, 3x3, Same) Relu Conv(32, 3x3, Same) Relu GlobalAvgPool Dense(10).</summary>
[Network(Channels = 1, Height = 28, Width = 28, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Conv(32, 3, Padding = Padding.Same), Relu]
[Conv(32, 3, Padding = Padding.Same), Relu]
[GlobalAvgPool]
[Dense(10)]
public partial class SmallCnn;

/// <summary>
/// ntk-resnet-small (issue 16): 1 x 28 x 28 images, Conv(16, 3x3, Same), four pre-activation residual blocks
/// x + Conv(Relu(Conv(Relu(x)))) of 16 channels, Relu, GlobalAvgPool, Dense(10).
/// </summary>
[Network(Channels = 1, Height = 28, Width = 28, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Conv(16, 3, Padding = Padding.Same)]
[Repeat(typeof(Block), 4)]
[Relu, GlobalAvgPool]
[Dense(10)]
public partial class ResNetSmall
{
    [Residual(typeof(Inner))]
    private sealed class Block;

    [Relu, Conv(16, 3, Padding = Padding.Same), Relu, Conv(16, 3, Padding = Padding.Same)]
    private sealed class Inner;
}

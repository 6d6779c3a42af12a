namespace NtkDsl.Torch.Tests;

/// <summary>The 'relu-erf-two-outputs' reference architecture.</summary>
[Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.1)]
[Dense(16), Relu]
[Dense(12), Erf]
[Dense(2)]
public partial class ReluErf;

/// <summary>The 'tanh-standard-parameterization' reference architecture.</summary>
[Network(Inputs = 4, Parameterization = Parameterization.Standard)]
[Dense(10, WeightStd = 1.2, BiasStd = 0.3), Tanh]
[Dense(1, WeightStd = 1.0, BiasStd = 0.2)]
public partial class TanhStandard;

/// <summary>Every activation kind, a layer without bias, three outputs.</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), LeakyRelu(0.1)]
[Dense(6, Bias = false), Gelu]
[Dense(5), Sin(A = 0.9, B = 1.1, C = 0.3)]
[Dense(5), Softplus]
[Dense(4), Sigmoid]
[Dense(4), Abs]
[Dense(4), Relu]
[Dense(4), Erf(A = 1.1, B = 0.8, C = 0.1)]
[Dense(4), Tanh]
[Dense(4), Identity]
[Dense(3)]
public partial class AllKinds;

/// <summary>A user-defined activation ([Elementwise]): the Torch backend evaluates it on the host.</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(6), Elementwise(nameof(Swish), nameof(SwishDerivative))]
[Dense(2)]
public partial class UserSwish
{
    private static double Swish(double x) => x / (1 + Math.Exp(-x));

    private static double SwishDerivative(double x)
    {
        double s = 1 / (1 + Math.Exp(-x));
        return s + x * s * (1 - s);
    }
}

/// <summary>A 2-D conv net: Same and Circular padding, average pooling, a Valid convolution, Flatten.</summary>
[Network(Channels = 2, Height = 6, Width = 6, WeightStd = 1.3, BiasStd = 0.2)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[Conv(3, 2, Padding = Padding.Circular, Bias = false), Erf]
[AvgPool(2)]
[Conv(2, 2), Tanh]
[Flatten]
[Dense(2)]
public partial class ConvImage;

/// <summary>A 1-D conv net with sum pooling and global average pooling.</summary>
[Network(Channels = 2, Length = 9, WeightStd = 1.2, BiasStd = 0.1)]
[Conv(3, 3), Gelu]
[SumPool(2, Stride = 1, Padding = Padding.Same)]
[Conv(2, 3, Stride = 2), Relu]
[GlobalAvgPool]
[Dense(3)]
public partial class ConvSequence;

/// <summary>
/// The readout route (a global average pool reads the last convolution out through an activation): Circular padding,
/// no bias (ConvSequence's readout convolution has one), a two-layer head, three outputs.
/// </summary>
[Network(Channels = 2, Height = 5, Width = 5, WeightStd = 1.3, BiasStd = 0.2)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[Conv(4, 3, Padding = Padding.Circular, Bias = false), Tanh]
[GlobalAvgPool]
[Dense(5), Erf]
[Dense(3)]
public partial class ConvReadout;

/// <summary>Small spatial extent, wide channels: both convolutions take the position-pair NTK strategy (PositionMajor, PositionPairAccumulate).</summary>
[Network(Channels = 12, Height = 2, Width = 2, WeightStd = 1.3, BiasStd = 0.2)]
[Conv(16, 3, Padding = Padding.Same), Relu]
[Conv(6, 2), Erf]
[Flatten]
[Dense(2)]
public partial class ConvWideChannels;

/// <summary>CNTK with position pairs: Same conv, overlapping average pooling, a Circular LeakyRelu conv, global average pooling.</summary>
[Network(Channels = 2, Height = 5, Width = 5, WeightStd = 1.4, BiasStd = 0.2)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[AvgPool(2, Stride = 1)]
[Conv(2, 3, Padding = Padding.Circular), LeakyRelu(0.2)]
[GlobalAvgPool]
[Dense(2)]
public partial class CntkPooled;

/// <summary>CNN-GP with same positions only (Flatten readout), strided Same conv, Abs, standard parameterization.</summary>
[Network(Channels = 1, Height = 6, Width = 5, WeightStd = 1.2, BiasStd = 0.3, Parameterization = Parameterization.Standard)]
[Conv(3, 3, Stride = 2, Padding = Padding.Same), Abs]
[Conv(2, 2, Bias = false), Relu]
[Flatten]
[Dense(1)]
public partial class CntkFlatten;

/// <summary>1-D: sum pooling (position pairs), then Flatten, a readout without bias.</summary>
[Network(Channels = 2, Length = 8, WeightStd = 1.3, BiasStd = 0.1)]
[Conv(3, 3), Relu]
[SumPool(2)]
[Flatten]
[Dense(2, Bias = false)]
public partial class CntkSequence;
/// <summary>Maximal-update parameterization with every role (input, hidden without bias, output): per-layer learning rates in the NTK.</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.MaximalUpdate)]
[Dense(7), Tanh]
[Dense(6, Bias = false), Relu]
[Dense(2)]
public partial class MupMlp;

/// <summary>A user-chosen abc-parameterization (no built-in, no kernel limit) with every role: its rates in the autograd baseline.</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.Abc)]
[Abc(LayerRole.Input, a: 0, b: 0, c: -0.5), Abc(LayerRole.Hidden, a: 0.25, b: 0.25, c: -0.5), Abc(LayerRole.Output, a: 0.75, b: 0.25, c: 0.5)]
[Dense(7), Tanh]
[Dense(6, Bias = false), Relu]
[Dense(2)]
public partial class AbcMlp;

/// <summary>A mean-field conv net: conv input layer, Flatten, Dense readout with the 1/n multiplier.</summary>
[Network(Channels = 2, Height = 4, Width = 4, WeightStd = 1.2, BiasStd = 0.1, Parameterization = Parameterization.MeanField)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[Flatten]
[Dense(2)]
public partial class MeanFieldConv;

namespace NtkDsl.Tests.Conv;

// Small convolutional networks covering every spatial layer, padding and parameterization the passes support.

/// <summary>2-D: Same padding, then a strided Valid convolution that fits exactly, Flatten readout.</summary>
[Network(Channels = 2, Height = 5, Width = 5, WeightStd = 1.3, BiasStd = 0.2)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[Conv(2, 3, Stride = 2), Erf]
[Flatten]
[Dense(2)]
public partial class SameValidConvNet;

/// <summary>2-D: Circular padding, average pooling, an even kernel with Same padding and no bias, global average pooling.</summary>
[Network(Channels = 1, Height = 6, Width = 6, WeightStd = 1.1, BiasStd = 0.3)]
[Conv(3, 3, Padding = Padding.Circular), Tanh]
[AvgPool(2)]
[Conv(2, 2, Padding = Padding.Same, Bias = false), Gelu]
[GlobalAvgPool]
[Dense(3)]
public partial class CircularPoolConvNet;

/// <summary>1-D sequences: Valid convolution, overlapping sum pooling, a strided convolution.</summary>
[Network(Channels = 2, Length = 7, WeightStd = 1.2, BiasStd = 0.1)]
[Conv(3, 3), Relu]
[SumPool(2, Stride = 1)]
[Conv(2, 2, Stride = 2), Sin]
[Flatten]
[Dense(2)]
public partial class SequenceConvNet;

/// <summary>Standard parameterization: a strided Same convolution, Same-padded strided average pooling, a Dense readout without bias.</summary>
[Network(Channels = 1, Height = 4, Width = 4, WeightStd = 1.4, BiasStd = 0.5, Parameterization = Parameterization.Standard)]
[Conv(2, 3, Stride = 2, Padding = Padding.Same), Relu]
[AvgPool(3, Stride = 2, Padding = Padding.Same)]
[Flatten]
[Dense(1, Bias = false)]
public partial class StandardConvNet;

/// <summary>
/// Small spatial extents with wide channels: the cost model picks position pairs for both convolutions (2x2 then 1x1
/// output positions, fan-ins 108 and 64), so their NTK terms run as position-pair Grams.
/// </summary>
[Network(Channels = 12, Height = 2, Width = 2, WeightStd = 1.3, BiasStd = 0.2)]
[Conv(16, 3, Padding = Padding.Same), Relu]
[Conv(6, 2), Erf]
[Flatten]
[Dense(2)]
public partial class PositionPairConvNet;

/// <summary>
/// 1-D, standard parameterization, two strategies in one network: position pairs for the wide first convolution
/// (3 positions, fan-in 30), the readout route for the 1-tap second one (fan-in 12, no bias) behind the global pool.
/// </summary>
[Network(Channels = 10, Length = 3, WeightStd = 1.1, BiasStd = 0.4, Parameterization = Parameterization.Standard)]
[Conv(12, 3, Padding = Padding.Circular), Tanh]
[Conv(4, 1, Bias = false), Relu]
[GlobalAvgPool]
[Dense(2)]
public partial class MixedStrategyConvNet;

/// <summary>
/// The readout route (a global average pool reads the last convolution out through elementwise activations): a chain of
/// two activations, a bias, a Dense head of two layers after the pool, three outputs; the first convolution takes the
/// cotangent the readout hands on.
/// </summary>
[Network(Channels = 2, Height = 5, Width = 5, WeightStd = 1.3, BiasStd = 0.2)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[Conv(4, 3, Padding = Padding.Same), Tanh, LeakyRelu(0.1)]
[GlobalAvgPool]
[Dense(5), Erf]
[Dense(3)]
public partial class ReadoutConvNet;

/// <summary>
/// The readout route for the only convolution (no cotangent flows below it): 1-D, strided, no bias, a user-defined
/// activation before the pool, two outputs.
/// </summary>
[Network(Channels = 2, Length = 9, WeightStd = 1.2, BiasStd = 0.1)]
[Conv(6, 3, Stride = 2, Bias = false), Elementwise(nameof(Softsign), nameof(SoftsignDerivative))]
[GlobalAvgPool]
[Dense(2)]
public partial class ReadoutFirstConvNet
{
    private static double Softsign(double x) => x / (1 + Math.Abs(x));

    private static double SoftsignDerivative(double x) => 1 / ((1 + Math.Abs(x)) * (1 + Math.Abs(x)));
}

/// <summary>One output behind a global pool and a two-layer head: the cost model keeps the Jacobian contraction (the readout route saves nothing with O = 1).</summary>
[Network(Channels = 1, Height = 4, Width = 4, WeightStd = 1.4, BiasStd = 0.3)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[Conv(3, 2), Erf]
[GlobalAvgPool]
[Dense(4), Relu]
[Dense(1)]
public partial class SingleOutputReadoutConvNet;

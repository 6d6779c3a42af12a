namespace NtkDsl.Tests.Parameterizations;

// One hidden ReLU layer, widths 64..2048, under each parameterization (the regime measurements), and small networks
// with every role (input, hidden, output; with and without biases; a convolution) for the exact checks.

[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Ntk)][Dense(64), Relu][Dense(1)] public partial class NtkRelu64;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Ntk)][Dense(128), Relu][Dense(1)] public partial class NtkRelu128;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Ntk)][Dense(256), Relu][Dense(1)] public partial class NtkRelu256;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Ntk)][Dense(512), Relu][Dense(1)] public partial class NtkRelu512;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Ntk)][Dense(1024), Relu][Dense(1)] public partial class NtkRelu1024;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Ntk)][Dense(2048), Relu][Dense(1)] public partial class NtkRelu2048;

[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(64), Relu][Dense(1)] public partial class SpRelu64;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(128), Relu][Dense(1)] public partial class SpRelu128;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(256), Relu][Dense(1)] public partial class SpRelu256;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(512), Relu][Dense(1)] public partial class SpRelu512;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(1024), Relu][Dense(1)] public partial class SpRelu1024;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Standard)][Dense(2048), Relu][Dense(1)] public partial class SpRelu2048;

[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MeanField)][Dense(64), Relu][Dense(1)] public partial class MfRelu64;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MeanField)][Dense(128), Relu][Dense(1)] public partial class MfRelu128;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MeanField)][Dense(256), Relu][Dense(1)] public partial class MfRelu256;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MeanField)][Dense(512), Relu][Dense(1)] public partial class MfRelu512;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MeanField)][Dense(1024), Relu][Dense(1)] public partial class MfRelu1024;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MeanField)][Dense(2048), Relu][Dense(1)] public partial class MfRelu2048;

[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(64), Relu][Dense(1)] public partial class MupRelu64;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(128), Relu][Dense(1)] public partial class MupRelu128;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(256), Relu][Dense(1)] public partial class MupRelu256;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(512), Relu][Dense(1)] public partial class MupRelu512;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(1024), Relu][Dense(1)] public partial class MupRelu1024;
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)][Dense(2048), Relu][Dense(1)] public partial class MupRelu2048;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.MaximalUpdate)]
[Dense(7), Tanh]
[Dense(6, Bias = false), Relu]
[Dense(5), Erf]
[Dense(2)]
public partial class MupDeep;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.MeanField)]
[Dense(7), Tanh]
[Dense(6, Bias = false), Relu]
[Dense(5), Erf]
[Dense(2)]
public partial class MfDeep;

[Network(Inputs = 3, WeightStd = 0.9, BiasStd = 0.3, Parameterization = Parameterization.MaximalUpdate)]
[Dense(4, Bias = false)]
public partial class MupLinear;

[Network(Channels = 2, Height = 5, Width = 5, WeightStd = 1.2, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[Conv(4, 3), Tanh]
[GlobalAvgPool]
[Dense(2)]
public partial class MupConv;

[Network(Channels = 2, Height = 5, Width = 5, WeightStd = 1.2, BiasStd = 0.1, Parameterization = Parameterization.MeanField)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[Flatten]
[Dense(2)]
public partial class MfConv;

/// <summary>Small spatial extent, wide channels: both convolutions take the position-pair NTK strategy, whose term must carry the rates too.</summary>
[Network(Channels = 12, Height = 2, Width = 2, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.MaximalUpdate)]
[Conv(16, 3, Padding = Padding.Same), Relu]
[Conv(6, 2), Erf]
[Flatten]
[Dense(2)]
public partial class MupConvPositionPairs;

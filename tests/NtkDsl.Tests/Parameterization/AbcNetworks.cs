namespace NtkDsl.Tests.Parameterizations;

// User-chosen abc-parameterizations ([Abc] per role) and muTransfer base widths, next to the built-in networks of
// ParameterizationNetworks.cs they are compared with.

// A custom abc that is none of the built-ins (nor equivalent to one): input (0, 0, -1/2), hidden (1/4, 1/4, -1/2),
// output (3/4, 1/4, 1/2), constants in the initialization.
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Abc)]
[Abc(LayerRole.Input, a: 0, b: 0, c: -0.5), Abc(LayerRole.Hidden, a: 0.25, b: 0.25, c: -0.5), Abc(LayerRole.Output, a: 0.75, b: 0.25, c: 0.5)]
[Dense(64), Relu][Dense(1)] public partial class CustomRelu64;

[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.Abc)]
[Abc(LayerRole.Input, a: 0, b: 0, c: -0.5), Abc(LayerRole.Hidden, a: 0.25, b: 0.25, c: -0.5), Abc(LayerRole.Output, a: 0.75, b: 0.25, c: 0.5)]
[Dense(1024), Relu][Dense(1)] public partial class CustomRelu1024;

/// <summary>The same custom exponents with the constants in the multiplier, on every role (hidden without bias, Tanh, Erf).</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.Abc, ConstantsInMultiplier = true)]
[Abc(LayerRole.Input, a: 0, b: 0, c: -0.5), Abc(LayerRole.Hidden, a: 0.25, b: 0.25, c: -0.5), Abc(LayerRole.Output, a: 0.75, b: 0.25, c: 0.5)]
[Dense(7), Tanh]
[Dense(6, Bias = false), Relu]
[Dense(5), Erf]
[Dense(2)]
public partial class CustomDeep;

/// <summary>A custom conv net (constants in the initialization).</summary>
[Network(Channels = 2, Height = 5, Width = 5, WeightStd = 1.2, BiasStd = 0.1, Parameterization = Parameterization.Abc)]
[Abc(LayerRole.Input, a: 0, b: 0, c: -0.5), Abc(LayerRole.Hidden, a: 0.25, b: 0.25, c: -0.5), Abc(LayerRole.Output, a: 0.75, b: 0.25, c: 0.5)]
[Conv(3, 3, Padding = Padding.Same), Relu]
[Conv(4, 3), Tanh]
[GlobalAvgPool]
[Dense(2)]
public partial class CustomConv;

/// <summary>MupDeep's muP written out as an abc.</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.Abc)]
[Abc(LayerRole.Input, a: 0, b: 0, c: -1), Abc(LayerRole.Hidden, a: 0, b: 0.5, c: 0), Abc(LayerRole.Output, a: 0, b: 1, c: 1)]
[Dense(7), Tanh]
[Dense(6, Bias = false), Relu]
[Dense(5), Erf]
[Dense(2)]
public partial class MupDeepAsAbc;

/// <summary>The NTK parameterization of NtkDeep written out as an abc.</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.Abc, ConstantsInMultiplier = true)]
[Abc(LayerRole.Input, a: 0, b: 0, c: 0), Abc(LayerRole.Hidden, a: 0.5, b: 0, c: 0), Abc(LayerRole.Output, a: 0.5, b: 0, c: 0)]
[Dense(7), Relu]
[Dense(6, Bias = false), Relu]
[Dense(5), Erf]
[Dense(2)]
public partial class NtkDeepAsAbc;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.Ntk)]
[Dense(7), Relu]
[Dense(6, Bias = false), Relu]
[Dense(5), Erf]
[Dense(2)]
public partial class NtkDeep;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.Standard)]
[Dense(7), Relu]
[Dense(6, Bias = false), Relu]
[Dense(5), Erf]
[Dense(2)]
public partial class SpDeep;

/// <summary>Standard parameterization moved by Yang &amp; Hu's symmetry (t = 1/2 on hidden and output): SP's kernel.</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.Abc)]
[Abc(LayerRole.Input, a: 0, b: 0, c: 0), Abc(LayerRole.Hidden, a: 0.5, b: 0, c: -1), Abc(LayerRole.Output, a: 0.5, b: 0, c: -1)]
[Dense(7), Relu]
[Dense(6, Bias = false), Relu]
[Dense(5), Erf]
[Dense(2)]
public partial class SpDeepBySymmetry;

// muTransfer base width 64: at width 64 the standard network (SpRelu64), at 256 muP relative to it.
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate, BaseWidth = 64)]
[Dense(64), Relu][Dense(1)] public partial class MupBase64Relu64;

[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate, BaseWidth = 64)]
[Dense(256), Relu][Dense(1)] public partial class MupBase64Relu256;

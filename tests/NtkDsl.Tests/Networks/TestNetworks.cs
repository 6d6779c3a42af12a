namespace NtkDsl.Tests.Networks;

// One small two-output network per activation, plus the variants the emitter treats specially.

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), Relu]
[Dense(5), Relu]
[Dense(2)]
public partial class ReluNet;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), LeakyRelu(0.1)]
[Dense(5), LeakyRelu(-0.3)]
[Dense(2)]
public partial class LeakyReluNet;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), Abs]
[Dense(5), Abs]
[Dense(2)]
public partial class AbsNet;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), Erf(A = 1.2, B = 0.7, C = 0.1)]
[Dense(5), Erf]
[Dense(2)]
public partial class ErfNet;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), Tanh]
[Dense(5), Tanh]
[Dense(2)]
public partial class TanhNet;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), Sigmoid]
[Dense(5), Sigmoid]
[Dense(2)]
public partial class SigmoidNet;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), Gelu]
[Dense(5), Gelu]
[Dense(2)]
public partial class GeluNet;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), Softplus]
[Dense(5), Softplus]
[Dense(2)]
public partial class SoftplusNet;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), Sin(A = 1.1, B = 0.8, C = 0.3)]
[Dense(5), Sin]
[Dense(2)]
public partial class SinNet;

[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), Identity]
[Dense(5), Identity]
[Dense(2)]
public partial class IdentityNet;

/// <summary>Standard parameterization, a layer without bias, per-layer std overrides, three outputs.</summary>
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.3, Parameterization = Parameterization.Standard)]
[Dense(6, Bias = false), Tanh]
[Dense(5, WeightStd = 0.9, BiasStd = 0.5), Erf]
[Dense(3)]
public partial class StandardNet;

/// <summary>An activation on the raw input, consecutive activations, and a Dense layer without bias last.</summary>
[Network(Inputs = 2, WeightStd = 1.1, BiasStd = 0.4)]
[Sin, Dense(6), Gelu, Tanh]
[Dense(4, Bias = false)]
public partial class OddShapesNet;

/// <summary>A single Dense layer: a linear model whose NTK is x.x' scaled, plus the bias term.</summary>
[Network(Inputs = 3, WeightStd = 2.0, BiasStd = 0.5)]
[Dense(1)]
public partial class LinearNet;

/// <summary>The network of the foundation issue.</summary>
[Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.1)]
[Dense(256), Relu]
[Dense(256), Erf]
[Dense(2)]
public partial class MyNet;

/// <summary>The 'relu-erf-two-outputs' case of tests/reference/empirical-ntk.json.</summary>
[Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.1)]
[Dense(16), Relu]
[Dense(12), Erf]
[Dense(2)]
public partial class ReferenceReluErf;

/// <summary>The 'tanh-standard-parameterization' case of tests/reference/empirical-ntk.json.</summary>
[Network(Inputs = 4, Parameterization = Parameterization.Standard)]
[Dense(10, WeightStd = 1.2, BiasStd = 0.3), Tanh]
[Dense(1, WeightStd = 1.0, BiasStd = 0.2)]
public partial class ReferenceTanhStandard;

/// <summary>The 'jacot-fig1-relu-depth4' case of tests/reference/analytic-kernels.json.</summary>
[Network(Inputs = 2, WeightStd = 1.0, BiasStd = 0.1)]
[Dense(500), Relu]
[Dense(500), Relu]
[Dense(500), Relu]
[Dense(1)]
public partial class JacotRelu;

/// <summary>The 'erf-two-hidden' case of tests/reference/analytic-kernels.json.</summary>
[Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.05)]
[Dense(64), Erf]
[Dense(64), Erf]
[Dense(1)]
public partial class ErfTwoHidden;

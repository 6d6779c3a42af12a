using NtkDsl;

namespace NtkDsl.Samples;

/// <summary>The network of the README: two hidden layers, ReLU then erf, one output.</summary>
[Network(Inputs = 2, WeightStd = 1.5, BiasStd = 0.1)]
[Dense(512), Relu]
[Dense(512), Erf]
[Dense(1)]
public partial class TwoLayerNet;

// Jacot, Gabriel and Hongler (2018), Fig. 1: depth 4 (three hidden ReLU layers of width n, one linear output),
// NTK parameterization with weights N(0, 1) and bias scale beta = 0.1, inputs on the unit circle.

/// <summary>Jacot et al. Fig. 1 network, width 500.</summary>
[Network(Inputs = 2, WeightStd = 1.0, BiasStd = 0.1)]
[Dense(500), Relu]
[Dense(500), Relu]
[Dense(500), Relu]
[Dense(1)]
public partial class Jacot500;

/// <summary>Jacot et al. Fig. 1 network, width 2000 (the large width of --quick runs).</summary>
[Network(Inputs = 2, WeightStd = 1.0, BiasStd = 0.1)]
[Dense(2000), Relu]
[Dense(2000), Relu]
[Dense(2000), Relu]
[Dense(1)]
public partial class Jacot2000;

/// <summary>Jacot et al. Fig. 1 network, width 10000 (about 2 x 10^8 parameters).</summary>
[Network(Inputs = 2, WeightStd = 1.0, BiasStd = 0.1)]
[Dense(10000), Relu]
[Dense(10000), Relu]
[Dense(10000), Relu]
[Dense(1)]
public partial class Jacot10000;

// One family for lazy training, dynamics and the narrow-vs-wide trade-off: two hidden ReLU layers
// (He scale, w_std = sqrt 2), bias scale 0.1, inputs on the unit circle.

/// <summary>Two hidden ReLU layers of width 16.</summary>
[Network(Inputs = 2, WeightStd = 1.4142135623730951, BiasStd = 0.1)][Dense(16), Relu][Dense(16), Relu][Dense(1)] public partial class Relu16;

/// <summary>Two hidden ReLU layers of width 32.</summary>
[Network(Inputs = 2, WeightStd = 1.4142135623730951, BiasStd = 0.1)][Dense(32), Relu][Dense(32), Relu][Dense(1)] public partial class Relu32;

/// <summary>Two hidden ReLU layers of width 64.</summary>
[Network(Inputs = 2, WeightStd = 1.4142135623730951, BiasStd = 0.1)][Dense(64), Relu][Dense(64), Relu][Dense(1)] public partial class Relu64;

/// <summary>Two hidden ReLU layers of width 128.</summary>
[Network(Inputs = 2, WeightStd = 1.4142135623730951, BiasStd = 0.1)][Dense(128), Relu][Dense(128), Relu][Dense(1)] public partial class Relu128;

/// <summary>Two hidden ReLU layers of width 256.</summary>
[Network(Inputs = 2, WeightStd = 1.4142135623730951, BiasStd = 0.1)][Dense(256), Relu][Dense(256), Relu][Dense(1)] public partial class Relu256;

/// <summary>Two hidden ReLU layers of width 512.</summary>
[Network(Inputs = 2, WeightStd = 1.4142135623730951, BiasStd = 0.1)][Dense(512), Relu][Dense(512), Relu][Dense(1)] public partial class Relu512;

/// <summary>Two hidden ReLU layers of width 1024.</summary>
[Network(Inputs = 2, WeightStd = 1.4142135623730951, BiasStd = 0.1)][Dense(1024), Relu][Dense(1024), Relu][Dense(1)] public partial class Relu1024;

/// <summary>Two hidden ReLU layers of width 2048.</summary>
[Network(Inputs = 2, WeightStd = 1.4142135623730951, BiasStd = 0.1)][Dense(2048), Relu][Dense(2048), Relu][Dense(1)] public partial class Relu2048;

/// <summary>Two hidden ReLU layers of width 4096.</summary>
[Network(Inputs = 2, WeightStd = 1.4142135623730951, BiasStd = 0.1)][Dense(4096), Relu][Dense(4096), Relu][Dense(1)] public partial class Relu4096;

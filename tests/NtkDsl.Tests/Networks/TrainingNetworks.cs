namespace NtkDsl.Tests.Networks;

// Networks for the training tests (tests/NtkDsl.Tests/Training).

/// <summary>neural-tangents' check network: Erf, width 4096, nt-like stds (W_std 1.2, b_std 0.05).</summary>
[Network(Inputs = 4, WeightStd = 1.2, BiasStd = 0.05)]
[Dense(4096), Erf]
[Dense(1)]
public partial class ErfWide4096;

// The same architecture at the widths of the lazy-training sweep.

/// <summary>Width 64 of the Erf sweep.</summary>
[Network(Inputs = 4, WeightStd = 1.2, BiasStd = 0.05)]
[Dense(64), Erf]
[Dense(1)]
public partial class ErfWide64;

/// <summary>Width 128 of the Erf sweep.</summary>
[Network(Inputs = 4, WeightStd = 1.2, BiasStd = 0.05)]
[Dense(128), Erf]
[Dense(1)]
public partial class ErfWide128;

/// <summary>Width 256 of the Erf sweep.</summary>
[Network(Inputs = 4, WeightStd = 1.2, BiasStd = 0.05)]
[Dense(256), Erf]
[Dense(1)]
public partial class ErfWide256;

/// <summary>Width 512 of the Erf sweep.</summary>
[Network(Inputs = 4, WeightStd = 1.2, BiasStd = 0.05)]
[Dense(512), Erf]
[Dense(1)]
public partial class ErfWide512;

/// <summary>Width 1024 of the Erf sweep.</summary>
[Network(Inputs = 4, WeightStd = 1.2, BiasStd = 0.05)]
[Dense(1024), Erf]
[Dense(1)]
public partial class ErfWide1024;

/// <summary>Width 2048 of the Erf sweep.</summary>
[Network(Inputs = 4, WeightStd = 1.2, BiasStd = 0.05)]
[Dense(2048), Erf]
[Dense(1)]
public partial class ErfWide2048;

/// <summary>A small three-class classifier with two hidden layers (trainer mechanics, gradients, linearization).</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(8), Tanh]
[Dense(6), Relu]
[Dense(3)]
public partial class TinyClassifier;

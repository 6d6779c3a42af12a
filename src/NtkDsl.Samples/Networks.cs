using NtkDsl;

namespace NtkDsl.Samples;

/// <summary>The network of the README: two hidden layers, ReLU then erf, one output.</summary>
[Network(Inputs = 2, WeightStd = 1.5, BiasStd = 0.1)]
[Dense(512), Relu]
[Dense(512), Erf]
[Dense(1)]
public partial class TwoLayerNet;

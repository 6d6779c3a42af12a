namespace NtkDsl.Tests.Networks;

// Two hidden layers of width 1024 for every activation (Monte Carlo against the analytic kernel),
// and a ReLU family from width 64 to 2048 (how fluctuations shrink with width).

[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Relu][Dense(1024), Relu][Dense(1)] public partial class Wide1024Relu;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), LeakyRelu(0.2)][Dense(1024), LeakyRelu(0.2)][Dense(1)] public partial class Wide1024LeakyRelu;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Abs][Dense(1024), Abs][Dense(1)] public partial class Wide1024Abs;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Erf][Dense(1024), Erf][Dense(1)] public partial class Wide1024Erf;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Tanh][Dense(1024), Tanh][Dense(1)] public partial class Wide1024Tanh;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Sigmoid][Dense(1024), Sigmoid][Dense(1)] public partial class Wide1024Sigmoid;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Gelu][Dense(1024), Gelu][Dense(1)] public partial class Wide1024Gelu;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Softplus][Dense(1024), Softplus][Dense(1)] public partial class Wide1024Softplus;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Sin][Dense(1024), Sin][Dense(1)] public partial class Wide1024Sin;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Identity][Dense(1024), Identity][Dense(1)] public partial class Wide1024Identity;

[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(64), Relu][Dense(64), Relu][Dense(1)] public partial class Relu64;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(128), Relu][Dense(128), Relu][Dense(1)] public partial class Relu128;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(256), Relu][Dense(256), Relu][Dense(1)] public partial class Relu256;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(512), Relu][Dense(512), Relu][Dense(1)] public partial class Relu512;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(1024), Relu][Dense(1024), Relu][Dense(1)] public partial class Relu1024;
[Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)][Dense(2048), Relu][Dense(2048), Relu][Dense(1)] public partial class Relu2048;

using NtkDsl;

namespace TorchConsumer;

// This project references NtkDsl.Torch only: the attributes and the generator come through its dependency on NtkDsl.
// P = (4*12 + 12) + (12*6 + 6) + (6*3 + 3) = 60 + 78 + 21 = 159.
[Network(Inputs = 4, WeightStd = 1.4, BiasStd = 0.2)]
[Dense(12), Tanh]
[Dense(6), Relu]
[Dense(3)]
public partial class SmallNet;

using NtkDsl;

namespace Consumer;

// P = (3*16 + 16) + (16*8 + 8) + (8*2 + 2) = 64 + 136 + 18 = 218.
[Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.1)]
[Dense(16), Relu]
[Dense(8), Erf]
[Dense(2)]
public partial class TinyNet;

namespace NtkDsl.Torch.Tests;

/// <summary>The 'relu-erf-two-outputs' reference architecture.</summary>
[Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.1)]
[Dense(16), Relu]
[Dense(12), Erf]
[Dense(2)]
public partial class ReluErf;

/// <summary>The 'tanh-standard-parameterization' reference architecture.</summary>
[Network(Inputs = 4, Parameterization = Parameterization.Standard)]
[Dense(10, WeightStd = 1.2, BiasStd = 0.3), Tanh]
[Dense(1, WeightStd = 1.0, BiasStd = 0.2)]
public partial class TanhStandard;

/// <summary>Every activation kind, a layer without bias, three outputs.</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(7), LeakyRelu(0.1)]
[Dense(6, Bias = false), Gelu]
[Dense(5), Sin(A = 0.9, B = 1.1, C = 0.3)]
[Dense(5), Softplus]
[Dense(4), Sigmoid]
[Dense(4), Abs]
[Dense(4), Relu]
[Dense(4), Erf(A = 1.1, B = 0.8, C = 0.1)]
[Dense(4), Tanh]
[Dense(4), Identity]
[Dense(3)]
public partial class AllKinds;

/// <summary>A user-defined activation ([Elementwise]): the Torch backend evaluates it on the host.</summary>
[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
[Dense(6), Elementwise(nameof(Swish), nameof(SwishDerivative))]
[Dense(2)]
public partial class UserSwish
{
    private static double Swish(double x) => x / (1 + Math.Exp(-x));

    private static double SwishDerivative(double x)
    {
        double s = 1 / (1 + Math.Exp(-x));
        return s + x * s * (1 - s);
    }
}

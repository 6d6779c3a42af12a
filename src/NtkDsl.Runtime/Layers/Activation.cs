using MathNet.Numerics;

namespace NtkDsl;

/// <summary>The activation functions of the DSL.</summary>
public enum ActivationKind
{
    /// <summary>max(x, 0).</summary>
    Relu,

    /// <summary>x for x &gt; 0, slope x otherwise.</summary>
    LeakyRelu,

    /// <summary>|x|.</summary>
    Abs,

    /// <summary>a erf(b x) + c.</summary>
    Erf,

    /// <summary>tanh(x).</summary>
    Tanh,

    /// <summary>1 / (1 + exp(-x)).</summary>
    Sigmoid,

    /// <summary>x Phi(x) (exact GELU).</summary>
    Gelu,

    /// <summary>log(1 + exp(x)).</summary>
    Softplus,

    /// <summary>a sin(b x + c).</summary>
    Sin,

    /// <summary>x.</summary>
    Identity,
}

/// <summary>
/// An activation function with its coefficients. The piecewise-linear kinds (Relu, LeakyRelu, Abs)
/// are all <c>A min(x, 0) + B max(x, 0)</c>; Erf is <c>A erf(B x) + C</c>; Sin is <c>A sin(B x + C)</c>;
/// the other kinds ignore A, B and C.
/// </summary>
/// <param name="Kind">Which function.</param>
/// <param name="A">First coefficient (negative-side slope for piecewise-linear kinds; output scale for Erf and Sin).</param>
/// <param name="B">Second coefficient (positive-side slope for piecewise-linear kinds; input scale for Erf and Sin).</param>
/// <param name="C">Third coefficient (output shift for Erf; phase for Sin).</param>
public readonly record struct Activation(ActivationKind Kind, double A, double B, double C)
{
    /// <summary>ReLU.</summary>
    public static Activation Relu => new(ActivationKind.Relu, 0, 1, 0);

    /// <summary>Leaky ReLU with the given negative-side slope.</summary>
    public static Activation LeakyRelu(double slope) => new(ActivationKind.LeakyRelu, slope, 1, 0);

    /// <summary>Absolute value.</summary>
    public static Activation Abs => new(ActivationKind.Abs, -1, 1, 0);

    /// <summary>a erf(b x) + c.</summary>
    public static Activation Erf(double a = 1, double b = 1, double c = 0) => new(ActivationKind.Erf, a, b, c);

    /// <summary>a sin(b x + c).</summary>
    public static Activation Sin(double a = 1, double b = 1, double c = 0) => new(ActivationKind.Sin, a, b, c);

    /// <summary>An activation without coefficients (Tanh, Sigmoid, Gelu, Softplus, Identity).</summary>
    public static Activation Plain(ActivationKind kind) => new(kind, 1, 1, 0);

    /// <summary>phi(x).</summary>
    public double Evaluate(double x) => Kind switch
    {
        ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Abs => x > 0 ? B * x : A * x,
        ActivationKind.Erf => A * SpecialFunctions.Erf(B * x) + C,
        ActivationKind.Tanh => Math.Tanh(x),
        ActivationKind.Sigmoid => Sigmoid(x),
        ActivationKind.Gelu => x * NormalCdf(x),
        ActivationKind.Softplus => x > 0 ? x + Math.Log(1 + Math.Exp(-x)) : Math.Log(1 + Math.Exp(x)),
        ActivationKind.Sin => A * Math.Sin(B * x + C),
        _ => x,
    };

    /// <summary>phi'(x); at the kink of piecewise-linear kinds (x = 0) the left slope A, as in PyTorch's ReLU.</summary>
    public double Derivative(double x) => Kind switch
    {
        ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Abs => x > 0 ? B : A,
        ActivationKind.Erf => A * B * TwoOverSqrtPi * Math.Exp(-B * B * x * x),
        ActivationKind.Tanh => 1 - Math.Tanh(x) * Math.Tanh(x),
        ActivationKind.Sigmoid => Sigmoid(x) * (1 - Sigmoid(x)),
        ActivationKind.Gelu => NormalCdf(x) + x * InvSqrt2Pi * Math.Exp(-0.5 * x * x),
        ActivationKind.Softplus => Sigmoid(x),
        ActivationKind.Sin => A * B * Math.Cos(B * x + C),
        _ => 1,
    };

    /// <summary>True for Relu, LeakyRelu and Abs (A min(x, 0) + B max(x, 0)).</summary>
    public bool IsPiecewiseLinear => Kind is ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Abs;

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        ActivationKind.LeakyRelu => $"LeakyRelu({A.ToString(System.Globalization.CultureInfo.InvariantCulture)})",
        ActivationKind.Erf or ActivationKind.Sin when (A, B, C) != (1, 1, 0) =>
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Kind}(A={A}, B={B}, C={C})"),
        _ => Kind.ToString(),
    };

    private const double TwoOverSqrtPi = 1.1283791670955126;
    private const double InvSqrt2Pi = 0.3989422804014327;

    private static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    private static double NormalCdf(double x) => 0.5 * SpecialFunctions.Erfc(-x / Math.Sqrt(2));
}

/// <summary>An elementwise activation layer.</summary>
/// <param name="Activation">The function.</param>
public sealed record ActivationLayer(Activation Activation) : Layer;

/// <summary>A user-defined elementwise activation (<see cref="ElementwiseAttribute"/>).</summary>
/// <param name="Name">The declared name, "Function/Derivative" (the methods phi and phi').</param>
/// <param name="Function">phi and phi' as code.</param>
public sealed record ElementwiseLayer(string Name, IScalarActivation Function) : Layer;

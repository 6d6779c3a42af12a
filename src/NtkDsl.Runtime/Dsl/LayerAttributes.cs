namespace NtkDsl;

/// <summary>Base class of every layer attribute; layers are applied in source order.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public abstract class LayerAttribute : Attribute
{
}

/// <summary>A fully connected layer z = W a + b with <see cref="Width"/> outputs.</summary>
/// <param name="width">Number of output units (positive).</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class DenseAttribute(int width) : LayerAttribute
{
    /// <summary>Number of output units.</summary>
    public int Width { get; } = width;

    /// <summary>Weight standard deviation for this layer; unset (NaN) means the network's default.</summary>
    public double WeightStd { get; set; } = double.NaN;

    /// <summary>Bias standard deviation for this layer; unset (NaN) means the network's default.</summary>
    public double BiasStd { get; set; } = double.NaN;

    /// <summary>Whether the layer has a bias vector (default true).</summary>
    public bool Bias { get; set; } = true;
}

/// <summary>ReLU activation: max(x, 0).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ReluAttribute : LayerAttribute
{
}

/// <summary>Leaky ReLU activation: x for x &gt; 0, <see cref="Slope"/> x otherwise.</summary>
/// <param name="slope">Slope for negative inputs (finite).</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class LeakyReluAttribute(double slope) : LayerAttribute
{
    /// <summary>Slope for negative inputs.</summary>
    public double Slope { get; } = slope;
}

/// <summary>Absolute value activation: |x|.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class AbsAttribute : LayerAttribute
{
}

/// <summary>Error function activation: <see cref="A"/> erf(<see cref="B"/> x) + <see cref="C"/> (default erf(x)).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ErfAttribute : LayerAttribute
{
    /// <summary>Output scale a (default 1).</summary>
    public double A { get; set; } = 1.0;

    /// <summary>Input scale b (default 1).</summary>
    public double B { get; set; } = 1.0;

    /// <summary>Output shift c (default 0).</summary>
    public double C { get; set; }
}

/// <summary>Hyperbolic tangent activation.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class TanhAttribute : LayerAttribute
{
}

/// <summary>Logistic sigmoid activation 1 / (1 + exp(-x)).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class SigmoidAttribute : LayerAttribute
{
}

/// <summary>Exact GELU activation x Phi(x), with Phi the standard normal CDF.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class GeluAttribute : LayerAttribute
{
}

/// <summary>Softplus activation log(1 + exp(x)).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class SoftplusAttribute : LayerAttribute
{
}

/// <summary>Sine activation: <see cref="A"/> sin(<see cref="B"/> x + <see cref="C"/>) (default sin(x)).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class SinAttribute : LayerAttribute
{
    /// <summary>Output scale a (default 1).</summary>
    public double A { get; set; } = 1.0;

    /// <summary>Frequency b (default 1).</summary>
    public double B { get; set; } = 1.0;

    /// <summary>Phase c (default 0).</summary>
    public double C { get; set; }
}

/// <summary>Identity activation (a linear network layer, useful for tests and linear models).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class IdentityAttribute : LayerAttribute
{
}

/// <summary>
/// A user-defined elementwise activation (neural-tangents' <c>Elementwise</c>): <paramref name="function"/> and
/// <paramref name="derivative"/> name static methods of the network class with the signature
/// <c>static double Name(double x)</c>, for phi and phi'. The generated code calls them directly; the
/// infinite-width kernel integrates them numerically (<see cref="ActivationMoments.Numerical{TActivation}"/>).
/// Checked at compile time (NTK0019): both methods exist, are static, non-generic and map double to double.
/// </summary>
/// <example><code>
/// [Network(Inputs = 2)]
/// [Dense(64), Elementwise(nameof(Swish), nameof(SwishDerivative))]
/// [Dense(1)]
/// public partial class MyNet
/// {
///     static double Swish(double x) => x / (1 + Math.Exp(-x));
///     static double SwishDerivative(double x) { double s = 1 / (1 + Math.Exp(-x)); return s + x * s * (1 - s); }
/// }
/// </code></example>
/// <param name="function">Name of the static method computing phi(x).</param>
/// <param name="derivative">Name of the static method computing phi'(x).</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ElementwiseAttribute(string function, string derivative) : LayerAttribute
{
    /// <summary>Name of the method computing phi(x).</summary>
    public string Function { get; } = function;

    /// <summary>Name of the method computing phi'(x).</summary>
    public string Derivative { get; } = derivative;
}

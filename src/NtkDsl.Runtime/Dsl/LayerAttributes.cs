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

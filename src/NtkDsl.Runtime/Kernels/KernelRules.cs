namespace NtkDsl;

/// <summary>
/// The per-layer infinite-width rules, written once and applied entry by entry by both
/// <see cref="KernelState"/> (every (x, x') pair) and <see cref="DiagonalKernelState"/> (x = x' only).
/// </summary>
/// <remarks>
/// Each rule maps one kernel entry (Sigma, Theta) given the variances Sigma(x, x), Sigma(x', x') of its two points,
/// so the spatial states reuse them as they are: a convolution applies the Dense entry map to its tap means (with
/// fan-in C k), an activation the moments of each (position, position) entry (see <see cref="SpatialKernelProgram"/>).
/// </remarks>
internal static class KernelRules
{
    /// <summary>Checks that a Dense layer's fan-in matches the width of the current representation.</summary>
    public static void CheckDenseInputs(DenseLayer layer, int width)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (layer.Inputs != width)
            throw new ArgumentException($"The Dense layer expects {layer.Inputs} inputs but the previous layer has width {width}.", nameof(layer));
    }

    /// <summary>Checks that a spatial layer's input (channels and spatial shape) matches the current spatial representation.</summary>
    public static void CheckSpatialInputs(string kind, int layerChannels, SpatialShape layerInput, SpatialLayout current, string argument)
    {
        if (layerChannels != current.Channels || layerInput != current.Shape)
            throw new ArgumentException(
                $"The {kind} layer expects [{layerChannels}, {layerInput}] inputs but the previous layer gives [{current.Channels}, {current.Shape}].", argument);
    }

    /// <summary>Checks that the current representation is Gaussian (a Dense layer precedes the activation).</summary>
    public static void RequireGaussian(bool isGaussian, string activation)
    {
        if (!isGaussian)
            throw new InvalidOperationException(
                $"{activation} needs Gaussian pre-activations: put a Dense layer before it (the inputs or another activation's outputs are not Gaussian).");
    }

    /// <summary>LayerNorm's factor for an entry whose two variances are q1 and q2: 1 / sqrt((q1 + eps)(q2 + eps)).</summary>
    public static double NormalizationScale(double q1, double q2, double epsilon) => 1.0 / Math.Sqrt((q1 + epsilon) * (q2 + epsilon));

    /// <summary>x = a x + b y entrywise (a = b = 1: the plain sum, bit for bit).</summary>
    public static void Combine(Span<double> x, double a, ReadOnlySpan<double> y, double b)
    {
        if (a == 1 && b == 1)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(x, y, x);
            return;
        }

        for (int i = 0; i < x.Length; i++) x[i] = a * x[i] + b * y[i];
    }

    /// <summary>An activation's entry map: Sigma' = K, Theta' = KDot * Theta.</summary>
    public static void Apply(in KernelMoments m, ref double sigma, ref double theta)
    {
        sigma = m.K;
        theta *= m.KDot;
    }

    /// <summary>The moment rule of a built-in activation: closed form when available (and not forced off), else quadrature.</summary>
    public static BuiltinMoments Moments(Activation activation, InfiniteWidthOptions options, double quadratureTolerance) =>
        new(activation, options.ForceQuadrature || !ActivationMoments.HasClosedForm(activation) ? quadratureTolerance : null, options.MehlerSeries);

    /// <summary>Coefficients of one Dense layer's kernel map.</summary>
    internal readonly record struct DenseCoefficients(double W2, double B2, bool Ntk, double FanIn, double BiasGradient)
    {
        public static DenseCoefficients Of(DenseLayer layer, Parameterization parameterization) =>
            Of(layer.WeightStd, layer.BiasStd, layer.HasBias, layer.Inputs, parameterization);

        /// <summary>A convolution's map of the tap means: the Dense map with fan-in C_in kh kw.</summary>
        public static DenseCoefficients Of(ConvLayer layer, Parameterization parameterization) =>
            Of(layer.WeightStd, layer.BiasStd, layer.HasBias, layer.FanIn, parameterization);

        private static DenseCoefficients Of(double weightStd, double biasStd, bool hasBias, int fanIn, Parameterization parameterization)
        {
            double sw = weightStd, sb = hasBias ? biasStd : 0;
            return parameterization switch
            {
                Parameterization.Ntk => new(sw * sw, sb * sb, true, 0, 0),
                Parameterization.Standard => new(sw * sw, sb * sb, false, fanIn, hasBias ? 1 : 0),
                Parameterization.MeanField or Parameterization.MaximalUpdate or Parameterization.Abc => throw new ArgumentException(
                    $"Parameterization.{parameterization} has no infinite-width kernel map; a network's is its KernelParameterization " +
                    "(NTK or standard, the two classes with an infinite-width kernel; see AbcParameterization.KernelForm).", nameof(parameterization)),
                _ => throw new ArgumentOutOfRangeException(nameof(parameterization), parameterization, "Unknown parameterization."),
            };
        }

        /// <summary>Sigma' = sw^2 Sigma + sb^2 (also the variances' map).</summary>
        public double Sigma(double k) => W2 * k + B2;

        /// <summary>The entry map (Sigma, Theta) to (Sigma', Theta').</summary>
        // NTK: d z / d(W, b) gives sw^2 Sigma + sb^2 = Sigma'; standard: n Sigma (raw W) + 1 (raw b).
        public void Apply(ref double sigma, ref double theta)
        {
            double k = sigma;
            sigma = Sigma(k);
            theta = Ntk ? W2 * theta + sigma : W2 * theta + FanIn * k + BiasGradient;
        }
    }
}

/// <summary>Moments of one activation for an entry with covariance (q11, q12, q22), and for a variance q alone.</summary>
internal interface IMomentRule
{
    /// <summary>Relative cost of one entry, for the threading threshold.</summary>
    int Cost { get; }

    /// <summary>Moments for Var u = q11, Cov(u, v) = q12, Var v = q22.</summary>
    KernelMoments Entry(double q11, double q12, double q22);

    /// <summary>Moments for q11 = q12 = q22 = q (a point with itself; the same bits as <see cref="Entry"/> there).</summary>
    KernelMoments Diagonal(double q);

    /// <summary>
    /// Moments of a row of entries that share their first point: moments[j] = Entry(q11, q12[j], q22[j]). Kernel
    /// states call this rather than <see cref="Entry"/>, so a rule can reuse the work that depends on q11 only.
    /// </summary>
    void Row(double q11, ReadOnlySpan<double> q12, ReadOnlySpan<double> q22, Span<KernelMoments> moments);
}

/// <summary>Helpers for <see cref="IMomentRule"/> implementations.</summary>
internal static class MomentRows
{
    /// <summary><see cref="IMomentRule.Row"/> entry by entry (for rules with nothing to share along a row).</summary>
    public static void ByEntry<TRule>(in TRule rule, double q11, ReadOnlySpan<double> q12, ReadOnlySpan<double> q22, Span<KernelMoments> moments)
        where TRule : IMomentRule
    {
        for (int j = 0; j < moments.Length; j++) moments[j] = rule.Entry(q11, q12[j], q22[j]);
    }
}

/// <summary>
/// A built-in activation: closed form when <paramref name="Tolerance"/> is null, else quadrature to that tolerance
/// (with the Mehler series where it converges, when <paramref name="Series"/>).
/// </summary>
internal readonly record struct BuiltinMoments(Activation Activation, double? Tolerance, bool Series = true) : IMomentRule
{
    // Smooth kinds under quadrature: Hermite expansions cached per variance for the layer's rows and columns.
    private readonly ActivationMoments.SmoothMoments<ActivationMoments.Builtin>? _smooth =
        Tolerance is { } tolerance && !Activation.IsPiecewiseLinear ? ActivationMoments.Smooth(Activation, tolerance, Series) : null;

    public int Cost => Tolerance is null ? 4 : 4096;

    public KernelMoments Entry(double q11, double q12, double q22) =>
        _smooth is { } smooth ? smooth.Entry(q11, q12, q22)
        : Tolerance is { } tolerance ? ActivationMoments.Quadrature(Activation, q11, q12, q22, tolerance)
        : ActivationMoments.ClosedForm(Activation, q11, q12, q22);

    public KernelMoments Diagonal(double q) => Tolerance is { } tolerance
        ? ActivationMoments.QuadratureDiagonal(Activation, q, tolerance)
        : ActivationMoments.ClosedFormDiagonal(Activation, q);

    public void Row(double q11, ReadOnlySpan<double> q12, ReadOnlySpan<double> q22, Span<KernelMoments> moments)
    {
        if (_smooth is { } smooth) smooth.Row(q11, q12, q22, moments);
        else MomentRows.ByEntry(this, q11, q12, q22, moments);
    }
}

/// <summary>A user-defined activation given by code, integrated numerically (<see cref="ActivationMoments.Numerical{TActivation}"/>).</summary>
internal readonly record struct NumericalMoments<TFunction>(TFunction Function, InfiniteWidthOptions Options) : IMomentRule
    where TFunction : IScalarActivation
{
    // Hermite expansions cached per variance for the layer's rows and columns.
    private readonly ActivationMoments.SmoothMoments<TFunction> _smooth = new(Function, Options.QuadratureTolerance, 1, Options.MehlerSeries);

    public int Cost => 4096;

    public KernelMoments Entry(double q11, double q12, double q22) => _smooth.Entry(q11, q12, q22);

    public KernelMoments Diagonal(double q) => ActivationMoments.NumericalDiagonal(Function, q, Options);

    public void Row(double q11, ReadOnlySpan<double> q12, ReadOnlySpan<double> q22, Span<KernelMoments> moments) =>
        _smooth.Row(q11, q12, q22, moments);
}

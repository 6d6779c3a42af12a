namespace NtkDsl;

/// <summary>
/// The diagonal k(x, x) of the infinite-width NNGP and NTK for N points, advanced layer by layer in
/// O(N) per layer: the same recursion as <see cref="KernelState"/> restricted to q11 = q12 = q22.
/// </summary>
/// <remarks>
/// Uses the same floating-point operations as the diagonal of a symmetric <see cref="KernelState"/>,
/// so <c>Diagonal(x)</c> equals the diagonal of <c>Kernels(x, x)</c> bit for bit.
/// </remarks>
public sealed class DiagonalKernelState : IKernelRecursion
{
    private readonly double[] _nngp;
    private readonly double[] _ntk;
    private readonly InfiniteWidthOptions _options;

    private DiagonalKernelState(double[] nngp, double[] ntk, int width, InfiniteWidthOptions options)
    {
        _nngp = nngp;
        _ntk = ntk;
        Width = width;
        _options = options;
    }

    /// <summary>Number of points N.</summary>
    public int Count => _nngp.Length;

    /// <summary>Number of features of the current representation.</summary>
    public int Width { get; private set; }

    /// <summary>True after a Dense layer (an activation may follow).</summary>
    public bool IsGaussian { get; private set; }

    /// <summary>Starts from the inputs: Sigma(x, x) = |x|^2 / d, Theta = 0.</summary>
    /// <param name="x">N x d inputs, finite.</param>
    /// <param name="options">Quadrature settings; null for <see cref="InfiniteWidthOptions.Default"/>.</param>
    public static DiagonalKernelState FromInputs(Matrix<double> x, InfiniteWidthOptions? options = null)
    {
        options ??= InfiniteWidthOptions.Default;
        options.Validate();
        KernelState.CheckInputs(x, nameof(x));
        return new DiagonalKernelState(KernelState.InputVariances(x), new double[x.Rows], x.Cols, options);
    }

    /// <summary>A Dense layer; see <see cref="KernelState.Dense"/> for the formulas.</summary>
    public void Dense(DenseLayer layer, Parameterization parameterization)
    {
        KernelRules.CheckDenseInputs(layer, Width);
        var c = KernelRules.DenseCoefficients.Of(layer, parameterization);
        for (int i = 0; i < _nngp.Length; i++) c.Apply(ref _nngp[i], ref _ntk[i]);
        Width = layer.Width;
        IsGaussian = true;
    }

    /// <summary>An activation layer, with the quadrature tolerance of the options.</summary>
    public void Activate(Activation activation) => Activate(activation, _options.QuadratureTolerance);

    /// <summary>An activation layer: Sigma' = E[phi(u)^2], Theta' = E[phi'(u)^2] Theta, u ~ N(0, Sigma).</summary>
    /// <exception cref="InvalidOperationException">No Dense layer precedes it (Identity is always allowed).</exception>
    public void Activate(Activation activation, double quadratureTolerance)
    {
        if (activation.Kind == ActivationKind.Identity) return;
        KernelRules.RequireGaussian(IsGaussian, activation.ToString());
        ApplyMoments(KernelRules.Moments(activation, _options, quadratureTolerance));
    }

    /// <summary>A user-defined activation given by code: the same map with moments by numerical integration.</summary>
    /// <exception cref="InvalidOperationException">No Dense layer precedes it.</exception>
    public void Activate<TFunction>(TFunction function) where TFunction : IScalarActivation
    {
        KernelRules.RequireGaussian(IsGaussian, "An elementwise activation");
        ApplyMoments(new NumericalMoments<TFunction>(function, _options));
    }

    private void ApplyMoments<TRule>(TRule rule) where TRule : IMomentRule
    {
        for (int i = 0; i < _nngp.Length; i++) KernelRules.Apply(rule.Diagonal(_nngp[i]), ref _nngp[i], ref _ntk[i]);
        IsGaussian = false;
    }

    /// <summary>The diagonals at the current layer (the state's own arrays, overwritten by later layers).</summary>
    public InfiniteWidthDiagonal Result()
    {
        Backends.Shapes.RequireFiniteResult<double>(_nngp, "nngp", "the inputs or WeightStd/BiasStd");
        Backends.Shapes.RequireFiniteResult<double>(_ntk, "ntk", "the inputs or WeightStd/BiasStd");
        return new(_nngp, _ntk);
    }
}

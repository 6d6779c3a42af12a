namespace NtkDsl;

/// <summary>
/// The diagonal k(x, x) of the infinite-width NNGP and NTK for N points, advanced layer by layer in
/// O(N) per layer: the same recursion as <see cref="KernelState"/> restricted to q11 = q12 = q22.
/// </summary>
/// <remarks>
/// Uses the same floating-point operations as the diagonal of a symmetric <see cref="KernelState"/>,
/// so <c>Diagonal(x)</c> equals the diagonal of <c>Kernels(x, x)</c> bit for bit.
/// </remarks>
public sealed class DiagonalKernelState : LayerKernelState
{
    private readonly double[] _nngp;
    private readonly double[] _ntk;

    private DiagonalKernelState(double[] nngp, double[] ntk, int width, InfiniteWidthOptions options)
        : base(width, options)
    {
        _nngp = nngp;
        _ntk = ntk;
    }

    /// <summary>Number of points N.</summary>
    public int Count => _nngp.Length;

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

    private protected override void ApplyDense(KernelRules.DenseCoefficients c)
    {
        for (int i = 0; i < _nngp.Length; i++) c.Apply(ref _nngp[i], ref _ntk[i]);
    }

    private protected override void ApplyMoments<TRule>(TRule rule)
    {
        for (int i = 0; i < _nngp.Length; i++) KernelRules.Apply(rule.Diagonal(_nngp[i]), ref _nngp[i], ref _ntk[i]);
    }

    /// <summary>The diagonals at the current layer (the state's own arrays, overwritten by later layers).</summary>
    public InfiniteWidthDiagonal Result()
    {
        Backends.Shapes.RequireFiniteResult<double>(_nngp, "nngp", "the inputs or WeightStd/BiasStd");
        Backends.Shapes.RequireFiniteResult<double>(_ntk, "ntk", "the inputs or WeightStd/BiasStd");
        return new(_nngp, _ntk);
    }
}

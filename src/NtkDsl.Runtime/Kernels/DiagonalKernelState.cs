namespace NtkDsl;

/// <summary>
/// The diagonal k(x, x) of the infinite-width NNGP and NTK for N points, advanced layer by layer in
/// O(N) per layer: the same recursion as <see cref="KernelState"/> restricted to q11 = q12 = q22.
/// </summary>
/// <remarks>
/// Uses the same floating-point operations as the diagonal of a symmetric <see cref="KernelState"/>,
/// so <c>Diagonal(x)</c> equals the diagonal of <c>Kernels(x, x)</c> bit for bit. A spatial state carries, per sample,
/// the same covariances as the full state's pair (x, x): [P] or [P, P] (see <see cref="LayerKernelState"/>).
/// </remarks>
public sealed class DiagonalKernelState : LayerKernelState
{
    private readonly int _count;
    private double[]? _nngp; // null while the state is spatial
    private double[]? _ntk;

    private DiagonalKernelState(double[] nngp, double[] ntk, int width, InfiniteWidthOptions options)
        : base(width, options)
    {
        _count = nngp.Length;
        _nngp = nngp;
        _ntk = ntk;
    }

    private DiagonalKernelState(SpatialKernelProgram program, int count, InfiniteWidthOptions options)
        : base(program, options)
    {
        _count = count;
    }

    private DiagonalKernelState(DiagonalKernelState other)
        : base(other)
    {
        _count = other._count;
        _nngp = (double[]?)other._nngp?.Clone();
        _ntk = (double[]?)other._ntk?.Clone();
    }

    /// <summary>Number of points N.</summary>
    public int Count => _count;

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

    /// <summary>
    /// Starts from [C, H, W] inputs (rows of NCHW values): per sample Sigma0(x, x)[p, p'] = (1/C) sum_c x[c, p] x[c, p'],
    /// Theta0 = 0, as <see cref="KernelState.FromInputs(Matrix{double}, Matrix{double}?, InfiniteWidthOptions?, int, SpatialShape, bool)"/>.
    /// </summary>
    /// <param name="x">N x (C H W) inputs, finite.</param>
    /// <param name="options">Quadrature and threading settings; null for <see cref="InfiniteWidthOptions.Default"/>.</param>
    /// <param name="channels">C.</param>
    /// <param name="spatial">H x W.</param>
    /// <param name="positionPairs">True iff a pooling layer (AvgPool, SumPool, GlobalAvgPool) comes later.</param>
    public static DiagonalKernelState FromInputs(Matrix<double> x, InfiniteWidthOptions? options, int channels, SpatialShape spatial, bool positionPairs)
    {
        options ??= InfiniteWidthOptions.Default;
        options.Validate();
        var layout = KernelState.SpatialLayoutOf(channels, spatial, positionPairs);
        KernelState.CheckInputs(x, nameof(x));
        KernelState.CheckSpatialInputs(x, layout, nameof(x));
        return new DiagonalKernelState(SpatialKernelProgram.Start(new SpatialInputs(x, null, layout)), x.Rows, options);
    }

    /// <inheritdoc/>
    public override DiagonalKernelState Copy() => new(this);

    private protected override void RunToFeatures(SpatialKernelProgram program) => (_nngp, _ntk) = program.RunDiagonal(0, Options);

    private protected override void AddEntries(LayerKernelState other, double a, double b)
    {
        var o = (DiagonalKernelState)other;
        if (o.Count != Count) throw new ArgumentException($"Branches must have the same inputs: {Count} and {o.Count} points.", nameof(other));
        KernelRules.Combine(_nngp!, a, o._nngp!, b);
        KernelRules.Combine(_ntk!, a, o._ntk!, b);
    }

    private protected override void ApplyNormalization(double epsilon)
    {
        var nngp = _nngp!;
        var ntk = _ntk!;
        for (int i = 0; i < nngp.Length; i++)
        {
            double scale = KernelRules.NormalizationScale(nngp[i], nngp[i], epsilon);
            nngp[i] *= scale;
            ntk[i] *= scale;
        }
    }

    private protected override void ApplyDense(KernelRules.DenseCoefficients c)
    {
        var nngp = _nngp!;
        var ntk = _ntk!;
        for (int i = 0; i < nngp.Length; i++) c.Apply(ref nngp[i], ref ntk[i]);
    }

    private protected override void ApplyMoments<TRule>(TRule rule)
    {
        var nngp = _nngp!;
        var ntk = _ntk!;
        for (int i = 0; i < nngp.Length; i++) KernelRules.Apply(rule.Diagonal(nngp[i]), ref nngp[i], ref ntk[i]);
    }

    /// <summary>The diagonals at the current layer (the state's own arrays, overwritten by later layers).</summary>
    /// <exception cref="InvalidOperationException">The state is spatial (Flatten or GlobalAvgPool it first).</exception>
    public InfiniteWidthDiagonal Result()
    {
        if (_nngp is null || _ntk is null)
            throw new InvalidOperationException(
                $"The state is spatial ({Channels} channels, {Spatial}): put Flatten or GlobalAvgPool (then Dense) before reading the kernels.");
        Backends.Shapes.RequireFiniteResult<double>(_nngp, "nngp", "the inputs or WeightStd/BiasStd");
        Backends.Shapes.RequireFiniteResult<double>(_ntk, "ntk", "the inputs or WeightStd/BiasStd");
        return new(_nngp, _ntk);
    }
}

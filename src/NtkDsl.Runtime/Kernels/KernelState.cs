using System.Numerics;

namespace NtkDsl;

/// <summary>
/// The infinite-width NNGP and NTK of the current representation of X1 against X2, advanced layer by
/// layer in place: a <c>FromInputs</c> overload (feature vectors, or [C, H, W] images), then
/// <see cref="LayerKernelState.Dense"/>, <see cref="LayerKernelState.Conv"/>, <see cref="LayerKernelState.Activate(Activation)"/>,
/// pooling and <see cref="LayerKernelState.Flatten"/> in network order (generated code calls them unrolled), then
/// <see cref="Result"/>.
/// </summary>
/// <remarks>
/// <para>The state always holds the kernels of the current layer's outputs, per unit (mean over units):
/// for the inputs <c>Sigma = x.x'/d</c>, <c>Theta = 0</c>; after a Dense layer the pre-activation kernels; after
/// an activation <c>K</c> and <c>KDot * Theta</c>. The first Dense thus yields DESIGN section 3's
/// <c>Sigma_1 = sw^2 x.x'/d + sb^2</c>, <c>Theta_1 = Sigma_1</c>.</para>
/// <para>It also holds the variances Sigma(x, x) of X1 and X2, which the activation moments need.
/// Memory for feature vectors is two N1 x N2 buffers, reused by every layer (spatial layers run in tiles of sample
/// pairs, see <see cref="LayerKernelState"/>). When X2 is X1 (or null) only the upper triangle
/// is computed and mirrored, so the result is exactly symmetric, and its diagonal is computed by the same
/// operations as <see cref="DiagonalKernelState"/>, so the two agree bit for bit.</para>
/// </remarks>
public sealed class KernelState : LayerKernelState
{
    private readonly int _rows;
    private readonly int _cols;
    private readonly bool _symmetric;
    private Matrix<double>? _nngp; // null while the state is spatial
    private Matrix<double>? _ntk;
    private double[] _var1;
    private double[] _var2;

    private KernelState(Matrix<double> nngp, Matrix<double> ntk, double[] var1, double[] var2, int width, InfiniteWidthOptions options)
        : base(width, options)
    {
        (_rows, _cols, _symmetric) = (nngp.Rows, nngp.Cols, ReferenceEquals(var1, var2));
        _nngp = nngp;
        _ntk = ntk;
        _var1 = var1;
        _var2 = var2;
    }

    // A spatial state: the matrices are allocated, and the variances computed, when the program reduces to features.
    private KernelState(SpatialKernelProgram program, int rows, int cols, bool symmetric, InfiniteWidthOptions options)
        : base(program, options)
    {
        (_rows, _cols, _symmetric) = (rows, cols, symmetric);
        _var1 = [];
        _var2 = [];
    }

    private KernelState(KernelState other)
        : base(other)
    {
        (_rows, _cols, _symmetric) = (other._rows, other._cols, other._symmetric);
        _nngp = Clone(other._nngp);
        _ntk = Clone(other._ntk);
        _var1 = (double[])other._var1.Clone();
        _var2 = other.IsSymmetric ? _var1 : (double[])other._var2.Clone();
    }

    /// <summary>N1, the number of rows of X1.</summary>
    public int Rows => _rows;

    /// <summary>N2, the number of rows of X2 (N1 when symmetric).</summary>
    public int Cols => _cols;

    /// <summary>True when X2 is X1: only the upper triangle is computed, then mirrored.</summary>
    public bool IsSymmetric => _symmetric;

    /// <summary>Sigma(x, x) for each row of X1 at the current layer (feature-vector states; empty while the state is spatial).</summary>
    public ReadOnlySpan<double> Variance1 => _var1;

    /// <summary>Sigma(x, x) for each row of X2 at the current layer (the same storage as <see cref="Variance1"/> when symmetric).</summary>
    public ReadOnlySpan<double> Variance2 => _var2;

    /// <summary>
    /// Starts the recursion from the inputs: Sigma = x.x'/d (neural-tangents' input kernel, mean over
    /// features), Theta = 0 (no parameters yet).
    /// </summary>
    /// <param name="x1">N1 x d inputs, finite.</param>
    /// <param name="x2">N2 x d inputs; null or the same instance as <paramref name="x1"/> for the symmetric kernel.</param>
    /// <param name="options">Quadrature and threading settings; null for <see cref="InfiniteWidthOptions.Default"/>.</param>
    public static KernelState FromInputs(Matrix<double> x1, Matrix<double>? x2 = null, InfiniteWidthOptions? options = null)
    {
        options ??= InfiniteWidthOptions.Default;
        options.Validate();
        bool symmetric = CheckPair(x1, ref x2);

        int n1 = x1.Rows, n2 = x2.Rows, d = x1.Cols;
        double invD = 1.0 / d;
        var var1 = InputVariances(x1);
        var var2 = symmetric ? var1 : InputVariances(x2);

        var nngp = new Matrix<double>(n1, n2);
        var ntk = new Matrix<double>(n1, n2);
        var state = new KernelState(nngp, ntk, var1, var2, d, options);
        var a = x1.Data;
        var b = x2.Data;
        options.ForRows(n1, (long)n1 * n2 * Math.Max(d / 8, 1), i =>
        {
            var xi = a.AsSpan(i * d, d);
            var row = nngp.Data.AsSpan(i * n2, n2);
            if (symmetric) row[i] = var1[i]; // same bits as the variance, so the diagonal is exact
            for (int j = symmetric ? i + 1 : 0; j < n2; j++) row[j] = Dot(xi, b.AsSpan(j * d, d)) * invD;
        });
        return state;
    }

    /// <summary>
    /// Starts the recursion from [C, H, W] inputs (rows of NCHW values, what <c>x.reshape(N, -1)</c> gives; 1-D
    /// sequences [C, L] have Height 1): Sigma0(x, x')[p, p'] = (1/C) sum_c x[c, p] x'[c, p'] (neural-tangents' input
    /// kernel for NCHW with channel averaging), Theta0 = 0. The state then takes Conv, activations and pooling, and
    /// becomes feature vectors at GlobalAvgPool or Flatten (see <see cref="LayerKernelState"/>).
    /// </summary>
    /// <param name="x1">N1 x (C H W) inputs, finite.</param>
    /// <param name="x2">N2 x (C H W) inputs; null or the same instance as <paramref name="x1"/> for the symmetric kernel.</param>
    /// <param name="options">Quadrature and threading settings; null for <see cref="InfiniteWidthOptions.Default"/>.</param>
    /// <param name="channels">C.</param>
    /// <param name="spatial">H x W.</param>
    /// <param name="positionPairs">
    /// True iff a pooling layer (AvgPool, SumPool, GlobalAvgPool) comes later: then the covariances of every pair of
    /// positions are carried (P^2 per pair of samples), otherwise only same positions (P), as neural-tangents'
    /// <c>diagonal_spatial</c>.
    /// </param>
    public static KernelState FromInputs(Matrix<double> x1, Matrix<double>? x2, InfiniteWidthOptions? options, int channels,
        SpatialShape spatial, bool positionPairs)
    {
        options ??= InfiniteWidthOptions.Default;
        options.Validate();
        var layout = SpatialLayoutOf(channels, spatial, positionPairs);
        bool symmetric = CheckPair(x1, ref x2);
        CheckSpatialInputs(x1, layout, nameof(x1));
        var inputs = new SpatialInputs(x1, symmetric ? null : x2, layout);
        return new KernelState(SpatialKernelProgram.Start(inputs), x1.Rows, x2.Rows, symmetric, options);
    }

    /// <inheritdoc/>
    public override KernelState Copy() => new(this);

    private protected override void RunToFeatures(SpatialKernelProgram program)
    {
        bool symmetric = IsSymmetric;
        int rows = Rows, cols = Cols;
        _var1 = program.RunDiagonal(0, Options).Nngp;
        _var2 = symmetric ? _var1 : program.RunDiagonal(1, Options).Nngp;
        var nngp = new Matrix<double>(rows, cols);
        var ntk = new Matrix<double>(rows, cols);
        program.RunPairs(nngp, ntk, symmetric, Options);
        (_nngp, _ntk) = (nngp, ntk);
    }

    private protected override void AddEntries(LayerKernelState other, double a, double b)
    {
        var o = (KernelState)other;
        if (o.Rows != Rows || o.Cols != Cols || o.IsSymmetric != IsSymmetric)
            throw new ArgumentException($"Branches must have the same inputs: {Rows} x {Cols} and {o.Rows} x {o.Cols}.", nameof(other));
        KernelRules.Combine(_nngp!.Data, a, o._nngp!.Data, b);
        KernelRules.Combine(_ntk!.Data, a, o._ntk!.Data, b);
        KernelRules.Combine(_var1, a, o._var1, b);
        if (!IsSymmetric) KernelRules.Combine(_var2, a, o._var2, b);
    }

    private protected override void ApplyNormalization(double epsilon)
    {
        // Entries read the variances before this layer; update them only after the matrices.
        var var1 = _var1;
        var var2 = _var2;
        int cols = Cols;
        bool symmetric = IsSymmetric;
        var nngp = _nngp!.Data;
        var ntk = _ntk!.Data;
        Options.ForRows(Rows, (long)Rows * cols / 4, i =>
        {
            for (int j = symmetric ? i : 0, idx = i * cols + j; j < cols; j++, idx++)
            {
                double scale = KernelRules.NormalizationScale(var1[i], var2[j], epsilon);
                nngp[idx] *= scale;
                ntk[idx] *= scale;
            }
        });
        for (int i = 0; i < var1.Length; i++) var1[i] *= KernelRules.NormalizationScale(var1[i], var1[i], epsilon);
        if (!symmetric)
            for (int j = 0; j < var2.Length; j++) var2[j] *= KernelRules.NormalizationScale(var2[j], var2[j], epsilon);
    }

    private protected override void ApplyDense(KernelRules.DenseCoefficients c)
    {
        for (int i = 0; i < _var1.Length; i++) _var1[i] = c.Sigma(_var1[i]);
        if (!IsSymmetric)
            for (int j = 0; j < _var2.Length; j++) _var2[j] = c.Sigma(_var2[j]);

        int cols = Cols;
        bool symmetric = IsSymmetric;
        var nngp = _nngp!.Data;
        var ntk = _ntk!.Data;
        Options.ForRows(Rows, (long)Rows * cols / 4, i =>
        {
            for (int j = symmetric ? i : 0, idx = i * cols + j; j < cols; j++, idx++)
                c.Apply(ref nngp[idx], ref ntk[idx]);
        });
    }

    private protected override void ApplyMoments<TRule>(TRule rule)
    {
        // Moments read the variances before this layer; update them only after the matrices.
        var var1 = _var1;
        var var2 = _var2;
        int cols = Cols;
        bool symmetric = IsSymmetric;
        var nngp = _nngp!.Data;
        var ntk = _ntk!.Data;
        Options.ForRows(Rows, (long)Rows * cols * rule.Cost, i =>
        {
            double q11 = var1[i];
            int j = 0;
            if (symmetric)
            {
                int ii = i * cols + i; // a point with itself: the diagonal rule, as in DiagonalKernelState
                KernelRules.Apply(rule.Diagonal(q11), ref nngp[ii], ref ntk[ii]);
                j = i + 1;
            }

            int count = cols - j, start = i * cols + j;
            if (count == 0) return;
            var moments = count <= 256 ? stackalloc KernelMoments[count] : new KernelMoments[count];
            rule.Row(q11, nngp.AsSpan(start, count), var2.AsSpan(j, count), moments);
            for (int k = 0; k < count; k++) KernelRules.Apply(moments[k], ref nngp[start + k], ref ntk[start + k]);
        });

        if (symmetric)
        {
            // The diagonal entries already hold the diagonal rule's K (and var2 is var1's values).
            for (int i = 0; i < var1.Length; i++) var1[i] = nngp[i * cols + i];
            return;
        }

        for (int i = 0; i < var1.Length; i++) var1[i] = rule.Diagonal(var1[i]).K;
        for (int j = 0; j < var2.Length; j++) var2[j] = rule.Diagonal(var2[j]).K;
    }

    /// <summary>
    /// The kernels of the current layer. These are the state's own buffers (no copy): a later
    /// <see cref="LayerKernelState.Dense"/> or <see cref="LayerKernelState.Activate(Activation)"/> overwrites them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The state is spatial (Flatten or GlobalAvgPool it first).</exception>
    public InfiniteWidthKernels Result()
    {
        if (_nngp is null || _ntk is null)
            throw new InvalidOperationException(
                $"The state is spatial ({Channels} channels, {Spatial}): put Flatten or GlobalAvgPool (then Dense) before reading the kernels.");
        if (IsSymmetric)
        {
            Mirror(_nngp);
            Mirror(_ntk);
        }

        Backends.Shapes.RequireFiniteResult<double>(_nngp.Data, "nngp", "the inputs or WeightStd/BiasStd");
        Backends.Shapes.RequireFiniteResult<double>(_ntk.Data, "ntk", "the inputs or WeightStd/BiasStd");
        return new InfiniteWidthKernels(_nngp, _ntk);
    }

    private static Matrix<double>? Clone(Matrix<double>? m) => m is null ? null : new Matrix<double>(m.Rows, m.Cols, (double[])m.Data.Clone());

    /// <summary>The input variances Sigma(x, x) = |x|^2 / d of each row (also the diagonal state's start).</summary>
    internal static double[] InputVariances(Matrix<double> x)
    {
        double invD = 1.0 / x.Cols;
        var variances = new double[x.Rows];
        for (int i = 0; i < variances.Length; i++) variances[i] = Dot(x.Row(i), x.Row(i)) * invD;
        return variances;
    }

    /// <summary>Checks X1 (and X2 unless null or X1 itself); returns whether the kernel is symmetric, with x2 set to X1 then.</summary>
    private static bool CheckPair(Matrix<double> x1, [System.Diagnostics.CodeAnalysis.NotNull] ref Matrix<double>? x2)
    {
        CheckInputs(x1, nameof(x1));
        bool symmetric = x2 is null || ReferenceEquals(x1, x2);
        x2 ??= x1;
        if (!symmetric)
        {
            CheckInputs(x2, nameof(x2));
            if (x2.Cols != x1.Cols)
                throw new ArgumentException($"x2 must have {x1.Cols} columns like x1 (N x d), got {x2.Rows} x {x2.Cols}.", nameof(x2));
        }

        return symmetric;
    }

    /// <summary>The input layout of a spatial state, with the arguments checked.</summary>
    internal static SpatialLayout SpatialLayoutOf(int channels, SpatialShape spatial, bool positionPairs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        if (spatial.Height <= 0 || spatial.Width <= 0)
            throw new ArgumentOutOfRangeException(nameof(spatial), spatial, "The spatial shape must have positive height and width.");
        return new SpatialLayout(channels, spatial, positionPairs);
    }

    /// <summary>Checks that each row holds C H W values.</summary>
    internal static void CheckSpatialInputs(Matrix<double> x, SpatialLayout layout, string name)
    {
        long expected = (long)layout.Channels * layout.Positions;
        if (x.Cols != expected)
            throw new ArgumentException(
                $"{name} must be N x {expected} (rows of [C, H, W] = [{layout.Channels}, {layout.Shape.Height}, {layout.Shape.Width}] in NCHW order), got {x.Rows} x {x.Cols}.",
                name);
    }

    internal static void CheckInputs(Matrix<double> x, string name)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (x.Cols == 0) throw new ArgumentException($"{name} must be N x d with d >= 1, got {x.Rows} x {x.Cols}.", name);
        var data = x.Data;
        for (int k = 0; k < data.Length; k++)
            if (!double.IsFinite(data[k]))
                throw new ArgumentException($"{name}[{k / x.Cols}, {k % x.Cols}] is {data[k]}; inputs must be finite.", name);
    }

    // One fixed summation order, so dot(a, a) here and in DiagonalKernelState give the same bits.
    internal static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        int n = a.Length, i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && n >= 2 * Vector<double>.Count)
        {
            var acc = Vector<double>.Zero;
            for (; i <= n - Vector<double>.Count; i += Vector<double>.Count)
                acc += new Vector<double>(a[i..]) * new Vector<double>(b[i..]);
            sum = Vector.Sum(acc);
        }

        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    private static void Mirror(Matrix<double> m)
    {
        int n = m.Rows;
        var data = m.Data;
        for (int i = 1; i < n; i++)
            for (int j = 0; j < i; j++)
                data[i * n + j] = data[j * n + i];
    }
}

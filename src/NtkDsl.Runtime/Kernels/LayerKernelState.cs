namespace NtkDsl;

/// <summary>
/// An infinite-width kernel state advanced layer by layer in network order (generated code calls it unrolled):
/// the layer API shared by <see cref="KernelState"/> (every pair of points) and <see cref="DiagonalKernelState"/>
/// (each point with itself). Both apply the same per-entry rules, so their results agree bit for bit.
/// </summary>
/// <remarks>
/// <para>A state holds, per pair of samples, what the next layers need (neural-tangents' <c>Kernel</c> with its
/// <c>diagonal_spatial</c> flag): one (Sigma, Theta) for feature vectors; for [C, H, W] representations (started by
/// the spatial <c>FromInputs</c>) the covariances of same positions [P] or, when a pooling layer follows
/// (<see cref="PositionPairs"/>), of every pair of positions [P, P], with per-position variances for the activations.
/// Spatial layers (<see cref="Conv"/>, <see cref="Pool"/>, activations, <see cref="Add"/>) are recorded and run when
/// <see cref="GlobalAvgPool"/> or <see cref="Flatten"/> turns the state into feature vectors: each tile of sample
/// pairs then runs all of them in buffers under a memory budget (256 MiB over all threads), so a spatial kernel
/// needs the N1 x N2 result plus the tiles, not N1 N2 P^2 numbers. Per pair the tile buffers hold 4 P^2 (or 4 P)
/// doubles at the largest layer (times the branch nesting depth).</para>
/// <para>Branches (neural-tangents' <c>FanOut</c> / <c>FanInSum</c>): <see cref="Copy"/> a state, advance the copies
/// through their layers, and <see cref="Add"/> them.</para>
/// </remarks>
public abstract class LayerKernelState
{
    private SpatialKernelProgram? _program;

    private protected LayerKernelState(int width, InfiniteWidthOptions options)
    {
        Width = width;
        Options = options;
    }

    private protected LayerKernelState(SpatialKernelProgram program, InfiniteWidthOptions options)
        : this(program.Current.Channels * program.Current.Positions, options)
    {
        _program = program;
    }

    /// <summary>A copy of <paramref name="other"/>'s layer position (the storage is copied by the derived class).</summary>
    private protected LayerKernelState(LayerKernelState other)
    {
        Width = other.Width;
        IsGaussian = other.IsGaussian;
        Options = other.Options;
        _program = other._program?.Copy();
    }

    /// <summary>
    /// Number of features of the current representation (d for vector inputs, C H W for spatial ones, then each layer's
    /// width; C H W of a spatial layer's output).
    /// </summary>
    public int Width { get; private set; }

    /// <summary>True after a Dense or Conv layer (and pooling or sums of Gaussian states): an activation may follow.</summary>
    public bool IsGaussian { get; private set; }

    /// <summary>The spatial shape of the current [C, H, W] representation; null for feature vectors.</summary>
    public SpatialShape? Spatial => _program?.Current.Shape;

    /// <summary>Channels C of the current spatial representation; 0 for feature vectors.</summary>
    public int Channels => _program?.Current.Channels ?? 0;

    /// <summary>True when the spatial state carries the covariances of every pair of positions (a pooling layer follows).</summary>
    public bool PositionPairs => _program?.Current.Pairs ?? false;

    private protected InfiniteWidthOptions Options { get; }

    /// <summary>
    /// A Dense layer (neural-tangents' <c>stax.Dense</c> kernel_fn), with sb = 0 when the layer has no bias:
    /// <list type="bullet">
    /// <item>both: Sigma' = sw^2 Sigma + sb^2;</item>
    /// <item>NTK parameterization: Theta' = sw^2 Theta + Sigma';</item>
    /// <item>standard parameterization: Theta' = sw^2 Theta + n Sigma + [bias], n = fan-in (gradients w.r.t.
    /// the raw W ~ N(0, sw^2/n) and b ~ N(0, sb^2): the bias contributes 1 whenever it exists, even if sb = 0).</item>
    /// </list>
    /// </summary>
    /// <param name="layer">The layer; its <see cref="DenseLayer.Inputs"/> must equal <see cref="Width"/>.</param>
    /// <param name="parameterization">The network's parameterization.</param>
    /// <exception cref="InvalidOperationException">The state is spatial (Flatten or GlobalAvgPool it first).</exception>
    public void Dense(DenseLayer layer, Parameterization parameterization)
    {
        if (_program is { } program)
            throw new InvalidOperationException(
                $"A Dense layer needs feature vectors, but the state is {program.Current}: put Flatten or GlobalAvgPool before it.");
        KernelRules.CheckDenseInputs(layer, Width);
        ApplyDense(KernelRules.DenseCoefficients.Of(layer, parameterization));
        Width = layer.Width;
        IsGaussian = true;
    }

    /// <summary>
    /// A convolution (neural-tangents' <c>stax.Conv</c> kernel_fn) with k = kh kw taps: the tap mean
    /// M(K)[p, p'] = (1/k) sum_t K[p + t, p' + t] (zero padding contributes 0, Circular wraps, strides pick the output
    /// positions), then Dense's entry map on it: Sigma' = sw^2 M(Sigma) + sb^2; NTK parameterization
    /// Theta' = sw^2 M(Theta) + Sigma'; standard Theta' = sw^2 M(Theta) + C k M(Sigma) + [bias] (fan-in C k).
    /// Cost per pair of samples: k P'^2 (position pairs) or k P' (same positions) adds for each of Sigma and Theta,
    /// P' = output positions.
    /// </summary>
    /// <param name="layer">The layer; its input channels and window input must match the current [C, H, W].</param>
    /// <param name="parameterization">The network's parameterization.</param>
    /// <exception cref="InvalidOperationException">The state holds feature vectors.</exception>
    /// <exception cref="ArgumentException">The layer's input shape differs from the state's, or no window fits.</exception>
    public void Conv(ConvLayer layer, Parameterization parameterization)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var program = RequireSpatial("A Conv layer");
        KernelRules.CheckSpatialInputs("Conv", layer.InChannels, layer.Window.Input, program.Current, nameof(layer));
        RequireOutput(layer.Window, nameof(layer));
        program.Add(new ConvOp(layer, parameterization, program.Current));
        Width = layer.OutChannels * layer.Window.Output.Positions;
        IsGaussian = true;
    }

    /// <summary>
    /// Average or sum pooling (neural-tangents' <c>stax.AvgPool</c> / <c>SumPool</c> kernel_fn): Sigma and Theta become
    /// s sum_{t, t'} K[p + t, p' + t'] over window pairs, s = 1/k^2 for the average (zero padding counted) or 1 for the sum.
    /// Needs position pairs. Cost per pair of samples: k P (P + P') adds for each of Sigma and Theta.
    /// </summary>
    /// <exception cref="InvalidOperationException">Feature vectors, or a state started without position pairs.</exception>
    /// <exception cref="ArgumentException">The layer's input shape differs from the state's.</exception>
    public void Pool(PoolLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var program = RequirePositionPairs(layer.Sum ? "SumPool" : "AvgPool");
        KernelRules.CheckSpatialInputs(layer.Sum ? "SumPool" : "AvgPool", layer.Channels, layer.Window.Input, program.Current, nameof(layer));
        RequireOutput(layer.Window, nameof(layer));
        program.Add(new PoolOp(layer, program.Current));
        Width = layer.Channels * layer.Window.Output.Positions;
    }

    /// <summary>
    /// Global average pooling (neural-tangents' <c>stax.GlobalAvgPool</c>): the mean of Sigma and Theta over all pairs
    /// of positions; the state becomes feature vectors of width C. Runs the recorded spatial layers (see remarks).
    /// </summary>
    /// <exception cref="InvalidOperationException">Feature vectors, or a state started without position pairs.</exception>
    public void GlobalAvgPool(GlobalAvgPoolLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var program = RequirePositionPairs("GlobalAvgPool");
        KernelRules.CheckSpatialInputs("GlobalAvgPool", layer.Channels, layer.Input, program.Current, nameof(layer));
        ToFeatures(program, new ReduceOp(program.Current, global: true), layer.Channels);
    }

    /// <summary>
    /// Flatten in NCHW order (neural-tangents' <c>stax.Flatten</c>): the state becomes feature vectors of width C H W whose
    /// per-feature kernels are the means of Sigma and Theta over same positions (what the next Dense, of fan-in C H W,
    /// reads). Runs the recorded spatial layers (see remarks).
    /// </summary>
    /// <exception cref="InvalidOperationException">The state holds feature vectors.</exception>
    public void Flatten(FlattenLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var program = RequireSpatial("Flatten");
        KernelRules.CheckSpatialInputs("Flatten", layer.Channels, layer.Input, program.Current, nameof(layer));
        ToFeatures(program, new ReduceOp(program.Current, global: false), layer.Channels * layer.Input.Positions);
    }

    /// <summary>An activation layer, with the quadrature tolerance of the options.</summary>
    public void Activate(Activation activation) => Activate(activation, Options.QuadratureTolerance);

    /// <summary>
    /// An activation layer: Sigma' = K(Sigma), Theta' = KDot(Sigma) * Theta, with the moments of
    /// <see cref="ActivationMoments"/> (closed form when available, else adaptive quadrature to the relative
    /// <paramref name="quadratureTolerance"/>). On spatial states entry by entry, with the variances of the entry's two positions.
    /// </summary>
    /// <exception cref="InvalidOperationException">The current representation is not Gaussian (no Dense layer before it); Identity is always allowed.</exception>
    public void Activate(Activation activation, double quadratureTolerance)
    {
        if (activation.Kind == ActivationKind.Identity) return; // K = Sigma, KDot = 1
        KernelRules.RequireGaussian(IsGaussian, activation.ToString());
        Moments(KernelRules.Moments(activation, Options, quadratureTolerance));
    }

    /// <summary>
    /// A user-defined activation given by code (a generated struct, so the JIT specializes the calls): the same
    /// map as <see cref="Activate(Activation)"/>, with moments from <see cref="ActivationMoments.Numerical{TActivation}"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No Dense layer precedes it.</exception>
    public void Activate<TFunction>(TFunction function) where TFunction : IScalarActivation
    {
        KernelRules.RequireGaussian(IsGaussian, "An elementwise activation");
        Moments(new NumericalMoments<TFunction>(function, Options));
    }

    /// <summary>
    /// Applies one layer of a network description: <see cref="Dense"/>, <see cref="Conv"/>, <see cref="Pool"/>,
    /// <see cref="GlobalAvgPool"/>, <see cref="Flatten"/> or an activation.
    /// </summary>
    /// <exception cref="NotSupportedException">A layer kind without an infinite-width kernel.</exception>
    public void Apply(Layer layer, Parameterization parameterization)
    {
        switch (layer)
        {
            case DenseLayer dense: Dense(dense, parameterization); break;
            case ConvLayer conv: Conv(conv, parameterization); break;
            case PoolLayer pool: Pool(pool); break;
            case GlobalAvgPoolLayer global: GlobalAvgPool(global); break;
            case FlattenLayer flatten: Flatten(flatten); break;
            case ActivationLayer act: Activate(act.Activation); break;
            case ElementwiseLayer e: Activate(e.Function); break;
            case LayerNormLayer norm: LayerNorm(norm); break;
            default: throw new NotSupportedException($"Layer {layer} has no infinite-width kernel.");
        }
    }

    /// <summary>
    /// The sum of this branch and <paramref name="other"/> (neural-tangents' <c>stax.FanInSum</c>): Sigma, Theta and the
    /// variances add entry by entry. This is the kernel of the sum when the branches are independent given the inputs
    /// (at least one of them ends in its own zero-mean random layer, as in a residual block x + f(x)). Both must come
    /// from the same <c>FromInputs</c> state through <see cref="Copy"/> and have the same shape.
    /// </summary>
    /// <exception cref="ArgumentException">A different kind of state, shape or inputs.</exception>
    public void Add(LayerKernelState other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.GetType() != GetType() || other.Width != Width || other.Spatial != Spatial || other.Channels != Channels ||
            other.PositionPairs != PositionPairs)
            throw new ArgumentException(
                $"Branches must have the same kind and shape: this is a {GetType().Name} of {Describe()}, the other a {other.GetType().Name} of {other.Describe()}.",
                nameof(other));
        if (_program is { } program) program.AddBranch(other._program!, nameof(other));
        else AddEntries(other, 1, 1);
        IsGaussian = IsGaussian && other.IsGaussian;
    }

    /// <summary>
    /// Layer normalization over features, or over the channels at each position (neural-tangents' <c>LayerNorm</c>):
    /// in the infinite-width limit the channel mean of a Gaussian representation vanishes and its variance is
    /// q(x) = Sigma(x, x) (per position), so Sigma'(x, x') = Sigma(x, x') / sqrt((q(x) + eps)(q(x') + eps)) and Theta' the
    /// same (the normalization is a fixed scaling per sample in the limit); for position pairs the two positions' variances.
    /// The state stays Gaussian.
    /// </summary>
    /// <exception cref="InvalidOperationException">The state is not Gaussian (no Dense or Conv layer before it).</exception>
    /// <exception cref="ArgumentException">The layer's shape differs from the state's.</exception>
    public void LayerNorm(LayerNormLayer layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        KernelRules.RequireGaussian(IsGaussian, "LayerNorm");
        if (_program is { } program)
        {
            if (layer.Spatial is not { } shape)
                throw new ArgumentException($"The LayerNorm layer is for feature vectors, but the state is {program.Current}.", nameof(layer));
            KernelRules.CheckSpatialInputs("LayerNorm", layer.Channels, shape, program.Current, nameof(layer));
            program.Add(new LayerNormOp(layer.Epsilon, program.Current));
            return;
        }

        if (layer.Spatial is not null || layer.Channels != Width)
            throw new ArgumentException($"The LayerNorm layer normalizes {layer.Channels} features{(layer.Spatial is { } s ? $" at {s}" : "")}, but the state has width {Width}.", nameof(layer));
        ApplyNormalization(layer.Epsilon);
    }

    /// <summary>
    /// The concatenation of this branch and <paramref name="other"/> (neural-tangents' <c>FanInConcat</c>): the kernels
    /// per channel (or feature) are the average of the branches' weighted by their widths, w1 K1 + w2 K2 over w1 + w2
    /// (channels of [C, H, W] states, features of feature vectors). Exact whether or not the branches are independent.
    /// Both must come from the same <c>FromInputs</c> state through <see cref="Copy"/>; spatial states need the same
    /// spatial shape.
    /// </summary>
    /// <exception cref="ArgumentException">A different kind of state, spatial shape or inputs.</exception>
    public void Concat(LayerKernelState other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.GetType() != GetType() || other.Spatial != Spatial || other.PositionPairs != PositionPairs)
            throw new ArgumentException(
                $"Concatenated branches must have the same kind and spatial shape: this is a {GetType().Name} of {Describe()}, the other a {other.GetType().Name} of {other.Describe()}.",
                nameof(other));
        if (_program is { } program)
        {
            program.AddConcatBranch(other._program!, nameof(other));
            Width = program.Current.Channels * program.Current.Positions;
        }
        else
        {
            double total = (double)Width + other.Width;
            AddEntries(other, Width / total, other.Width / total);
            Width += other.Width;
        }

        IsGaussian = IsGaussian && other.IsGaussian;
    }

    /// <summary>An independent copy at the same layer (a branch point, neural-tangents' <c>FanOut</c>).</summary>
    public abstract LayerKernelState Copy();

    /// <summary>Applies a Dense layer's entry map to every stored entry and variance.</summary>
    private protected abstract void ApplyDense(KernelRules.DenseCoefficients c);

    /// <summary>Applies an activation's moments to every stored entry and variance (feature-vector states).</summary>
    private protected abstract void ApplyMoments<TRule>(TRule rule) where TRule : IMomentRule;

    /// <summary>Sets this state's entries and variances to a K + b K_other (feature-vector states of the same kind and sizes).</summary>
    private protected abstract void AddEntries(LayerKernelState other, double a, double b);

    /// <summary>Divides every entry by sqrt((q + eps)(q' + eps)) of its two variances (LayerNorm on feature vectors).</summary>
    private protected abstract void ApplyNormalization(double epsilon);

    /// <summary>Runs a spatial program that ends in a reduction and stores the resulting feature-vector kernels.</summary>
    private protected abstract void RunToFeatures(SpatialKernelProgram program);

    private void Moments<TRule>(TRule rule) where TRule : IMomentRule
    {
        if (_program is { } program) program.Add(new ActivationOp<TRule>(rule, program.Current));
        else ApplyMoments(rule);
        IsGaussian = false;
    }

    /// <summary>Op applications and tiles of the last spatial program this state ran (each op once per tile).</summary>
    internal (long Applications, long Tiles) SpatialEvaluations { get; private set; }

    private void ToFeatures(SpatialKernelProgram program, ReduceOp reduce, int width)
    {
        program.Add(reduce);
        RunToFeatures(program);
        SpatialEvaluations = program.Evaluations;
        _program = null;
        Width = width;
    }

    private SpatialKernelProgram RequireSpatial(string what) => _program ?? throw new InvalidOperationException(
        $"{what} needs a [C, H, W] state (start it with the spatial FromInputs), but the state holds feature vectors of width {Width}.");

    private SpatialKernelProgram RequirePositionPairs(string what)
    {
        var program = RequireSpatial(what);
        if (!program.Current.Pairs)
            throw new InvalidOperationException(
                $"{what} needs the covariances of every pair of positions: start the state with positionPairs: true (a pooling layer follows).");
        return program;
    }

    private static void RequireOutput(SpatialWindow window, string argument)
    {
        if (window.Output.Positions == 0)
            throw new ArgumentException($"The {window.Height}x{window.Width} window does not fit the {window.Input} input ({window.Padding} padding).", argument);
    }

    private string Describe() => _program is { } p ? p.Current.ToString() : $"width {Width}";
}

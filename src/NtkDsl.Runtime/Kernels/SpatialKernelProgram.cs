using System.Numerics.Tensors;

namespace NtkDsl;

/// <summary>
/// What one pair of samples (or one sample with itself) carries at a spatial layer: the covariances of every pair
/// of positions [P, P] (<see cref="Pairs"/>: a pooling layer follows) or of same positions only [P] (neural-tangents'
/// <c>diagonal_spatial</c>), of <see cref="Channels"/> i.i.d. channels (the kernels are per channel).
/// </summary>
internal readonly record struct SpatialLayout(int Channels, SpatialShape Shape, bool Pairs)
{
    public int Positions => Shape.Positions;

    /// <summary>Stored covariances per pair of samples: P^2 with position pairs, P without.</summary>
    public int Entries => Pairs ? Positions * Positions : Positions;

    public override string ToString() => $"[{Channels}, {Shape}]{(Pairs ? " with position pairs" : "")}";
}

/// <summary>
/// The spatial part of an infinite-width kernel recursion (convolutions, activations, pooling, branch sums), recorded
/// layer by layer and run when the state becomes feature vectors (<c>GlobalAvgPool</c> or <c>Flatten</c>): then each
/// tile of sample pairs runs every layer from the inputs to the reduction in its own buffers, so memory is the
/// N1 x N2 result plus tiles under <see cref="InfiniteWidthOptions.SpatialTileBudgetBytes"/>, not N1 N2 (HW)^2.
/// </summary>
/// <remarks>
/// <para>Both <see cref="KernelState"/> (every pair of samples) and <see cref="DiagonalKernelState"/> (each sample with
/// itself) run the same ops on tiles of pairs, so the diagonal state equals the full state's diagonal bit for bit.
/// The full state first runs the diagonal pass, which records the per-position variances Sigma(x, x)[p, p] each
/// activation needs (q11 and q22), then the pair tiles.</para>
/// <para>Cost per pair of samples and layer, with P positions at the layer's output, k taps (kh kw), P' input positions:
/// input covariances P^2 C (pairs) or P C multiply-adds; Conv k P^2 (or k P) adds for Sigma and for Theta plus the entry
/// map; an activation one moment evaluation per entry (closed forms ~20-40 flops with an arccos or asin; quadrature
/// far more); AvgPool/SumPool k (P P' + P^2) adds each for Sigma and Theta (left then right window sums);
/// GlobalAvgPool/Flatten P^2 or P adds. A symmetric kernel runs N (N + 1) / 2 pairs, plus N for the diagonal pass.</para>
/// </remarks>
internal sealed class SpatialKernelProgram
{
    private readonly List<SpatialOp> _ops;
    private long _applications, _tiles;

    private SpatialKernelProgram(SpatialInputs inputs, List<SpatialOp> ops, SpatialLayout current)
    {
        Inputs = inputs;
        _ops = ops;
        Current = current;
    }

    /// <summary>The inputs (NCHW rows) both sides read.</summary>
    public SpatialInputs Inputs { get; }

    /// <summary>The layout of the current layer's output.</summary>
    public SpatialLayout Current { get; private set; }

    /// <summary>Starts a program at the input covariances Sigma0[p, p'] = (1/C) sum_c x[c, p] x'[c, p'], Theta0 = 0.</summary>
    public static SpatialKernelProgram Start(SpatialInputs inputs) => new(inputs, [], inputs.Layout);

    /// <summary>
    /// An independent copy (the ops are immutable and shared; later layers are recorded separately). Both record a
    /// <see cref="ForkOp"/> first, so a branch that joins later starts from the state kept there instead of the inputs.
    /// </summary>
    public SpatialKernelProgram Copy()
    {
        Add(new ForkOp(Current));
        return new(Inputs, [.. _ops], Current);
    }

    /// <summary>
    /// Records a layer whose input layout is <see cref="Current"/> (an activation on position pairs right after a conv
    /// joins it as one <see cref="ConvActivationOp"/>).
    /// </summary>
    public void Add(SpatialOp op)
    {
        if (op.In != Current) throw new InvalidOperationException($"Internal error: {op} expects {op.In}, the state is {Current}.");
        if (op is IRowActivation && op.In.Pairs && _ops.Count > 0 && _ops[^1] is ConvOp conv) _ops[^1] = new ConvActivationOp(conv, op);
        else _ops.Add(op);
        Current = op.Out;
    }

    /// <summary>Records the entrywise sum with another branch of the same inputs and layout (neural-tangents' FanInSum).</summary>
    public void AddBranch(SpatialKernelProgram other, string argument)
    {
        if (!ReferenceEquals(other.Inputs, Inputs))
            throw new ArgumentException("Both branches must start from the same FromInputs state (copy it with Copy()).", argument);
        var (fork, branch) = SharedPrefix(other);
        Add(new BranchSumOp(Current, Inputs, fork, branch));
    }

    /// <summary>Records the channel concatenation with another branch of the same inputs (neural-tangents' FanInConcat).</summary>
    public void AddConcatBranch(SpatialKernelProgram other, string argument)
    {
        if (!ReferenceEquals(other.Inputs, Inputs))
            throw new ArgumentException("Both branches must start from the same FromInputs state (copy it with Copy()).", argument);
        var (fork, branch) = SharedPrefix(other);
        Add(new BranchConcatOp(Current, other.Current, Inputs, fork, branch));
    }

    /// <summary>Op applications (each op on one tile) of the runs so far, and the tiles run: every op once per tile.</summary>
    internal (long Applications, long Tiles) Evaluations => (Interlocked.Read(ref _applications), Interlocked.Read(ref _tiles));

    // The latest branch point this program and other both passed (their ops agree up to it: other was copied from this, or
    // both from one state), and the ops other recorded after it: the branch runs only those, from the kept state.
    private (ForkOp? Fork, SpatialOp[] Branch) SharedPrefix(SpatialKernelProgram other)
    {
        int common = 0;
        while (common < _ops.Count && common < other._ops.Count && ReferenceEquals(_ops[common], other._ops[common])) common++;
        while (common > 0 && _ops[common - 1] is not ForkOp) common--;
        if (common == 0) return (null, [.. other._ops]);
        var fork = (ForkOp)_ops[common - 1];
        fork.Consumers++;
        return (fork, [.. other._ops.Skip(common)]);
    }

    /// <summary>
    /// Runs the program for each sample of side <paramref name="side"/> with itself (the diagonal pass) and returns
    /// the reduced Sigma(x, x), Theta(x, x). Records, in every activation, the per-position variances of the side.
    /// </summary>
    public (double[] Nngp, double[] Ntk) RunDiagonal(int side, InfiniteWidthOptions options)
    {
        int n = Inputs.Rows(side);
        var nngp = new double[n];
        var ntk = new double[n];
        foreach (var op in _ops) op.PrepareVariances(side, n);
        Run(options, n, tile =>
        {
            int start = tile.Index * tile.Capacity;
            tile.Count = Math.Min(tile.Capacity, n - start);
            for (int b = 0; b < tile.Count; b++)
            {
                tile.I[b] = tile.J[b] = start + b;
                tile.Self[b] = true;
            }
        }, (tile, s, t) =>
        {
            for (int b = 0; b < tile.Count; b++)
            {
                nngp[tile.I[b]] = s[b];
                ntk[tile.I[b]] = t[b];
            }
        }, diagonal: true, side, side, pairsPerRow: n);
        return (nngp, ntk);
    }

    /// <summary>
    /// Runs the program for the pairs (i, j) of X1 x X2 (only j >= i when <paramref name="symmetric"/>) into the
    /// reduced <paramref name="nngp"/> and <paramref name="ntk"/>. The diagonal passes of both sides must have run.
    /// </summary>
    public void RunPairs(Matrix<double> nngp, Matrix<double> ntk, bool symmetric, InfiniteWidthOptions options)
    {
        int n1 = nngp.Rows, n2 = nngp.Cols;
        var tiles = new List<(int I, int J0, int Count)>();
        int perTile = PairsPerTile(options, n2);
        for (int i = 0; i < n1; i++)
            for (int j0 = symmetric ? i : 0; j0 < n2; j0 += perTile)
                tiles.Add((i, j0, Math.Min(perTile, n2 - j0)));

        Run(options, tiles.Count, tile =>
        {
            var (i, j0, count) = tiles[tile.Index];
            tile.Count = count;
            for (int b = 0; b < count; b++)
            {
                tile.I[b] = i;
                tile.J[b] = j0 + b;
                tile.Self[b] = symmetric && j0 + b == i;
            }
        }, (tile, s, t) =>
        {
            for (int b = 0; b < tile.Count; b++)
            {
                int idx = tile.I[b] * n2 + tile.J[b];
                nngp.Data[idx] = s[b];
                ntk.Data[idx] = t[b];
            }
        }, diagonal: false, 0, symmetric ? 0 : 1, pairsPerRow: n2, tileCount: tiles.Count);
    }

    private int Depth => 1 + _ops.Select(o => o.BranchDepth).DefaultIfEmpty(0).Max();

    private int MaxEntries => Math.Max(Inputs.Layout.Entries, _ops.Select(o => o.MaxEntries).DefaultIfEmpty(1).Max());

    private int MaxPositions => Math.Max(Inputs.Layout.Positions, _ops.Select(o => o.MaxPositions).DefaultIfEmpty(1).Max());

    private static int Workers(InfiniteWidthOptions options) =>
        options.MaxDegreeOfParallelism == -1 ? Environment.ProcessorCount : Math.Min(options.MaxDegreeOfParallelism, Environment.ProcessorCount);

    /// <summary>Pairs per tile: the budget split over the workers, divided by the bytes one pair's buffers take.</summary>
    private int PairsPerTile(InfiniteWidthOptions options, int pairsPerRow)
    {
        long bytesPerPair = SpatialBuffers.BytesPerPair(MaxEntries, Depth);
        long perWorker = options.SpatialTileBudgetBytes / Workers(options);
        return (int)Math.Clamp(perWorker / bytesPerPair, 1, Math.Max(pairsPerRow, 1));
    }

    private void Run(InfiniteWidthOptions options, int units, Action<SpatialTile> fill, Action<SpatialTile, double[], double[]> write,
        bool diagonal, int sideI, int sideJ, int pairsPerRow, int tileCount = -1)
    {
        int perTile = PairsPerTile(options, pairsPerRow);
        int tiles = tileCount >= 0 ? tileCount : (units + perTile - 1) / perTile;
        if (tiles == 0) return;
        int workers = Math.Min(Workers(options), tiles);
        long work = (long)tiles * perTile * MaxEntries * (_ops.Count + 1);
        int entries = MaxEntries, positions = MaxPositions, depth = Depth;
        options.ForRows(workers, work, w =>
        {
            var buffers = new SpatialBuffers(perTile, entries, positions, depth);
            var tile = new SpatialTile(perTile) { Diagonal = diagonal, SideI = sideI, SideJ = sideJ };
            for (int k = w; k < tiles; k += workers) // interleaved, so the triangle's long and short rows balance
            {
                tile.Index = k;
                fill(tile);
                Inputs.Covariances(tile, buffers);
                Apply(_ops, tile, buffers);
                write(tile, buffers.S, buffers.T);
            }

            Interlocked.Add(ref _applications, tile.Applications);
            Interlocked.Add(ref _tiles, (tiles - w + workers - 1) / workers);
        });
    }

    /// <summary>Applies <paramref name="ops"/> to the state in <paramref name="buffers"/> on one tile; the result is in S, T.</summary>
    internal static void Apply(IReadOnlyList<SpatialOp> ops, SpatialTile tile, SpatialBuffers buffers)
    {
        foreach (var op in ops)
        {
            op.Apply(tile, buffers);
            tile.Applications++;
        }
    }
}

/// <summary>One tile of sample pairs: I[b], J[b] for b &lt; Count (a row segment of the full kernel, or samples with themselves).</summary>
internal sealed class SpatialTile(int capacity)
{
    public int Capacity { get; } = capacity;
    public int Index;
    public int Count;
    public readonly int[] I = new int[capacity];
    public readonly int[] J = new int[capacity];

    /// <summary>The pair is a sample with itself (x = x'), whose same-position entries take the diagonal moments.</summary>
    public readonly bool[] Self = new bool[capacity];

    /// <summary>The diagonal pass: every pair is (k, k); activations read their variances from the blocks and record them.</summary>
    public bool Diagonal;

    /// <summary>The side (0: X1, 1: X2) of I and of J.</summary>
    public int SideI, SideJ;

    /// <summary>Ops applied to this worker's tiles so far (each op once per tile when branches share their prefix).</summary>
    public long Applications;
}

/// <summary>A worker's buffers: current and next (Sigma, Theta) for every pair of a tile, scratch, and a branch's buffers.</summary>
internal sealed class SpatialBuffers
{
    private readonly int _pairs, _entries, _positions, _depth;
    private SpatialBuffers? _branch;

    public SpatialBuffers(int pairs, int entries, int positions, int depth, ForkStates? forks = null)
    {
        (_pairs, _entries, _positions, _depth) = (pairs, entries, positions, depth);
        Forks = forks ?? new ForkStates();
        S = new double[pairs * entries];
        T = new double[pairs * entries];
        S2 = new double[pairs * entries];
        T2 = new double[pairs * entries];
        Scratch = new double[entries];
        Q12 = new double[Math.Max(pairs, positions)];
        Q22 = new double[Math.Max(pairs, positions)];
        Theta = new double[Math.Max(pairs, positions)];
        Moments = new KernelMoments[Math.Max(pairs, positions)];
    }

    /// <summary>
    /// Bytes per pair of samples: four buffers of the largest layout per branch nesting level, and two per level for
    /// the states kept at branch points.
    /// </summary>
    public static long BytesPerPair(int entries, int depth) => 6L * entries * sizeof(double) * depth;

    /// <summary>The worker's kept branch-point states, shared by the buffers of every branch level.</summary>
    public ForkStates Forks { get; }

    public double[] S, T, S2, T2;
    public readonly double[] Scratch, Q12, Q22, Theta;
    public readonly KernelMoments[] Moments;

    /// <summary>Buffers for a branch computed beside this one (created on first use).</summary>
    public SpatialBuffers Branch => _branch ??= new SpatialBuffers(_pairs, _entries, _positions, _depth - 1, Forks);

    /// <summary>Makes the next buffers current (after an op wrote S2, T2).</summary>
    public void Swap()
    {
        (S, S2) = (S2, S);
        (T, T2) = (T2, T);
    }
}

/// <summary>
/// The inputs of a spatial state (NCHW rows, each channel's positions contiguous) and the input covariance
/// Sigma0[p, p'] = (1/C) sum_c x[c, p] x'[c, p'] (neural-tangents' convention for NCHW with channel averaging).
/// </summary>
internal sealed class SpatialInputs
{
    private readonly double[][] _inputs;
    private readonly int[] _rows;

    public SpatialInputs(Matrix<double> x1, Matrix<double>? x2, SpatialLayout layout)
    {
        Layout = layout;
        _inputs = x2 is null ? [[.. x1.Data]] : [[.. x1.Data], [.. x2.Data]];
        _rows = x2 is null ? [x1.Rows] : [x1.Rows, x2.Rows];
    }

    public SpatialLayout Layout { get; }

    public int Rows(int side) => _rows[Math.Min(side, _rows.Length - 1)];

    /// <summary>Sigma0 of every pair of the tile into S (rows x[c, p] x'[c, :] summed over the channels, then / C), Theta0 = 0 into T.</summary>
    public void Covariances(SpatialTile tile, SpatialBuffers buffers)
    {
        int c = Layout.Channels, p = Layout.Positions, e = Layout.Entries;
        double invC = 1.0 / c;
        var a = _inputs[Math.Min(tile.SideI, _inputs.Length - 1)];
        var bx = _inputs[Math.Min(tile.SideJ, _inputs.Length - 1)];
        for (int b = 0; b < tile.Count; b++)
        {
            var s = buffers.S.AsSpan(b * e, e);
            int xi = tile.I[b] * p * c, xj = tile.J[b] * p * c;
            if (Layout.Pairs)
            {
                for (int q = 0; q < p; q++)
                {
                    var row = s.Slice(q * p, p);
                    TensorPrimitives.Multiply(bx.AsSpan(xj, p), a[xi + q], row);
                    for (int ch = 1; ch < c; ch++) TensorPrimitives.MultiplyAdd(bx.AsSpan(xj + ch * p, p), a[xi + ch * p + q], row, row);
                    if (c > 1) TensorPrimitives.Multiply(row, invC, row);
                }
            }
            else
            {
                TensorPrimitives.Multiply(a.AsSpan(xi, p), bx.AsSpan(xj, p), s);
                for (int ch = 1; ch < c; ch++) TensorPrimitives.MultiplyAdd(a.AsSpan(xi + ch * p, p), bx.AsSpan(xj + ch * p, p), s, s);
                if (c > 1) TensorPrimitives.Multiply(s, invC, s);
            }

            buffers.T.AsSpan(b * e, e).Clear();
        }
    }
}

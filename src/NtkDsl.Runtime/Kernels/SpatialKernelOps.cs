using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace NtkDsl;

/// <summary>
/// One spatial layer's map of the per-pair covariances (neural-tangents' <c>stax</c> kernel_fns), applied to every
/// pair of a tile: reads (S, T) of layout <see cref="In"/>, leaves (S, T) of layout <see cref="Out"/>.
/// </summary>
internal abstract class SpatialOp(SpatialLayout input, SpatialLayout output)
{
    public SpatialLayout In { get; } = input;

    public SpatialLayout Out { get; } = output;

    /// <summary>The largest per-pair buffer the op needs (its input, output or scratch).</summary>
    public virtual int MaxEntries => Math.Max(In.Entries, Out.Entries);

    public virtual int MaxPositions => Math.Max(In.Positions, Out.Positions);

    /// <summary>Levels of branch buffers the op uses (0 for an op that runs no branch).</summary>
    public virtual int BranchDepth => 0;

    /// <summary>Allocates per-sample storage of side <paramref name="side"/> before its diagonal pass.</summary>
    public virtual void PrepareVariances(int side, int rows) { }

    public abstract void Apply(SpatialTile tile, SpatialBuffers buffers);

    /// <summary>Input position read by output position p at tap t ([P_out, taps] row-major; -1 in zero padding).</summary>
    protected static int[] WindowPositions(SpatialWindow window)
    {
        var output = window.Output;
        int taps = window.Taps;
        var positions = new int[output.Positions * taps];
        for (int row = 0; row < output.Height; row++)
            for (int col = 0; col < output.Width; col++)
                for (int tr = 0; tr < window.Height; tr++)
                    for (int tc = 0; tc < window.Width; tc++)
                    {
                        int r = window.InputRow(row, tr), c = window.InputColumn(col, tc);
                        positions[(row * output.Width + col) * taps + tr * window.Width + tc] = r < 0 || c < 0 ? -1 : r * window.Input.Width + c;
                    }

        return positions;
    }
}

/// <summary>
/// A convolution (nt's <c>stax.Conv</c> kernel_fn): with the tap mean M(K)[p, p'] = (1/k) sum_t K[p + t, p' + t] (zero
/// padding contributes 0, Circular wraps, strides pick the output positions), Sigma' = sw^2 M(Sigma) + sb^2 and
/// Theta' = sw^2 M(Theta) + Sigma' (NTK parameterization) or sw^2 M(Theta) + C k M(Sigma) + [bias] (standard, fan-in
/// C k): the Dense entry map of <see cref="KernelRules.DenseCoefficients"/> applied to the tap means.
/// </summary>
/// <remarks>
/// Cost per pair: k P_out^2 (position pairs) or k P_out (same positions) adds for each of Sigma and Theta, then the entry
/// map. With position pairs, K seen as [H, W, H, W]: for output positions p = (r, c) and row r' of p', tap (i, j) reads the
/// input row (R(r', i)) of block (R(r, i), C(c, j)) shifted by column tap j; each output row sums all k taps in registers
/// (four columns at a time where every tap's columns are contiguous, <see cref="WindowMap"/>), applies the map and is
/// written once. The taps add in tap order from 0, as entry by entry.
/// </remarks>
internal sealed class ConvOp : SpatialOp
{
    private readonly KernelRules.DenseCoefficients _coefficients;
    private readonly int _taps;
    private readonly int[] _positions; // [P_out, taps]
    private readonly WindowMap _map;

    public ConvOp(ConvLayer layer, Parameterization parameterization, SpatialLayout input)
        : base(input, new SpatialLayout(layer.OutChannels, layer.Window.Output, input.Pairs))
    {
        _coefficients = KernelRules.DenseCoefficients.Of(layer, parameterization);
        _taps = layer.Window.Taps;
        _positions = WindowPositions(layer.Window);
        _map = new WindowMap(layer.Window);
    }

    public override void Apply(SpatialTile tile, SpatialBuffers buffers) => Apply(tile, buffers, null);

    /// <summary>The map, then <paramref name="next"/> (an activation on position pairs) on each output row while it is in cache.</summary>
    public void Apply(SpatialTile tile, SpatialBuffers buffers, IRowActivation? next)
    {
        int ein = In.Entries, eout = Out.Entries;
        for (int b = 0; b < tile.Count; b++)
        {
            if (In.Pairs)
            {
                PairMeans(buffers.S.AsSpan(b * ein, ein), buffers.T.AsSpan(b * ein, ein), buffers.S2.AsSpan(b * eout, eout), buffers.T2.AsSpan(b * eout, eout),
                    next, tile, b, buffers);
                continue;
            }

            SameMeans(buffers.S.AsSpan(b * ein, ein), buffers.T.AsSpan(b * ein, ein), buffers.S2.AsSpan(b * eout, eout), buffers.T2.AsSpan(b * eout, eout));
        }

        buffers.Swap();
    }

    private void SameMeans(ReadOnlySpan<double> s, ReadOnlySpan<double> t, Span<double> s2, Span<double> t2)
    {
        int k = _taps;
        double invTaps = 1.0 / k;
        for (int p = 0; p < s2.Length; p++)
        {
            double sigma = 0, theta = 0;
            for (int tap = 0; tap < k; tap++)
            {
                int a = _positions[p * k + tap];
                if (a < 0) continue;
                sigma += s[a];
                theta += t[a];
            }

            sigma *= invTaps;
            theta *= invTaps;
            _coefficients.Apply(ref sigma, ref theta);
            s2[p] = sigma;
            t2[p] = theta;
        }
    }

    private unsafe void PairMeans(ReadOnlySpan<double> s, ReadOnlySpan<double> t, Span<double> s2, Span<double> t2,
        IRowActivation? next, SpatialTile tile, int pair, SpatialBuffers buffers)
    {
        var map = _map;
        int ho = map.OutHeight, wo = map.OutWidth, wi = map.InWidth, pin = In.Positions, pout = Out.Positions;
        int kh = map.RowTaps.Length, kw = map.ColumnOffsets.Length, lo = map.InteriorStart, hi = map.InteriorEnd, k = _taps;
        bool vector = hi - lo >= 4; // then [lo, hi) in vectors of 4, the last one overlapping its predecessor if need be
        double invTaps = 1.0 / k;
        var c = _coefficients;
        var vInv = Vector256.Create(invTaps);
        var w2 = Vector256.Create(c.W2);
        var b2 = Vector256.Create(c.B2);
        var fanIn = Vector256.Create(c.FanIn);
        var biasGradient = Vector256.Create(c.BiasGradient);
        // Per output position p, the taps whose input position is inside: block start and tap row and column; per row of
        // p', those whose row is inside too: the input row start and column tap.
        Span<int> scratch = 6 * k <= 2048 ? stackalloc int[6 * k] : new int[6 * k];
        fixed (double* sp = s, tp = t, s2p = s2, t2p = t2)
        fixed (int* ints = scratch, columnTaps = map.ColumnIndex)
        {
            int* blockStart = ints, tapRow = ints + k, tapColumn = ints + 2 * k, source = ints + 3 * k, sourceColumn = ints + 4 * k, vectorSource = ints + 5 * k;
            for (int r = 0; r < ho; r++)
                for (int col = 0; col < wo; col++)
                {
                    int p = r * wo + col, taps = 0;
                    for (int i = 0; i < kh; i++)
                    {
                        int rr = map.RowTaps[i][r];
                        if (rr < 0) continue;
                        for (int j = 0; j < kw; j++)
                        {
                            int cc = columnTaps[j * wo + col];
                            if (cc < 0) continue;
                            blockStart[taps] = (rr * wi + cc) * pin;
                            tapRow[taps] = i;
                            tapColumn[taps++] = j;
                        }
                    }

                    for (int r2 = 0; r2 < ho; r2++)
                    {
                        int active = 0;
                        for (int a = 0; a < taps; a++)
                        {
                            int rr2 = map.RowTaps[tapRow[a]][r2];
                            if (rr2 < 0) continue;
                            source[active] = blockStart[a] + rr2 * wi;
                            sourceColumn[active++] = tapColumn[a];
                        }

                        int row = p * pout + r2 * wo;
                        if (vector)
                        {
                            for (int a = 0; a < active; a++) vectorSource[a] = source[a] + map.ColumnOffsets[sourceColumn[a]];
                            for (int c2 = lo; c2 < hi; c2 += 4)
                            {
                                int at = Math.Min(c2, hi - 4);
                                var sigma = Vector256<double>.Zero;
                                var theta = Vector256<double>.Zero;
                                for (int a = 0; a < active; a++)
                                {
                                    sigma += Vector256.Load(sp + at + vectorSource[a]);
                                    theta += Vector256.Load(tp + at + vectorSource[a]);
                                }

                                sigma *= vInv;
                                theta *= vInv;
                                // DenseCoefficients.Apply, lane by lane.
                                var mapped = w2 * sigma + b2;
                                theta = c.Ntk ? w2 * theta + mapped : w2 * theta + fanIn * sigma + biasGradient;
                                mapped.Store(s2p + row + at);
                                theta.Store(t2p + row + at);
                            }
                        }

                        for (int c2 = 0; c2 < wo; c2++)
                        {
                            if (vector && c2 == lo) c2 = hi;
                            if (c2 >= wo) break;
                            double sigma = 0, theta = 0;
                            for (int a = 0; a < active; a++)
                            {
                                int cc2 = columnTaps[sourceColumn[a] * wo + c2];
                                if (cc2 < 0) continue;
                                sigma += sp[source[a] + cc2];
                                theta += tp[source[a] + cc2];
                            }

                            sigma *= invTaps;
                            theta *= invTaps;
                            c.Apply(ref sigma, ref theta);
                            s2p[row + c2] = sigma;
                            t2p[row + c2] = theta;
                        }

                        next?.MapRow(tile, pair, p, r2 * wo, s2.Slice(row, wo), t2.Slice(row, wo), buffers);
                    }
                }
        }
    }

    public override string ToString() => $"Conv {In} -> {Out}";
}

/// <summary>
/// A window's input rows and columns per output row and column and tap (-1 in zero padding), and the output columns
/// [<see cref="InteriorStart"/>, <see cref="InteriorEnd"/>) where every column tap j reads the contiguous input columns
/// c + <see cref="ColumnOffsets"/>[j] (stride 1, inside the input; empty for strided windows).
/// </summary>
internal sealed class WindowMap
{
    public WindowMap(SpatialWindow window)
    {
        var output = window.Output;
        (OutHeight, OutWidth, InWidth) = (output.Height, output.Width, window.Input.Width);
        RowTaps = new int[window.Height][];
        for (int i = 0; i < window.Height; i++)
        {
            RowTaps[i] = new int[output.Height];
            for (int r = 0; r < output.Height; r++) RowTaps[i][r] = window.InputRow(r, i);
        }

        ColumnIndex = new int[window.Width * output.Width];
        ColumnOffsets = new int[window.Width];
        for (int j = 0; j < window.Width; j++)
        {
            for (int c = 0; c < output.Width; c++) ColumnIndex[j * output.Width + c] = window.InputColumn(c, j);
            ColumnOffsets[j] = j - window.PadLeft;
        }

        bool Contiguous(int c) => window.StrideWidth == 1 && Enumerable.Range(0, window.Width).All(j =>
            ColumnIndex[j * output.Width + c] >= 0 && ColumnIndex[j * output.Width + c] == c + ColumnOffsets[j]);
        int start = 0;
        while (start < output.Width && !Contiguous(start)) start++;
        int end = start;
        while (end < output.Width && Contiguous(end)) end++;
        (InteriorStart, InteriorEnd) = (start, end);
    }

    public int OutHeight { get; }

    public int OutWidth { get; }

    public int InWidth { get; }

    /// <summary>[tap row][output row]: the input row, or -1.</summary>
    public int[][] RowTaps { get; }

    /// <summary>[tap column, output column]: the input column, or -1.</summary>
    public int[] ColumnIndex { get; }

    /// <summary>Input column minus output column of each column tap inside the interior.</summary>
    public int[] ColumnOffsets { get; }

    public int InteriorStart { get; }

    public int InteriorEnd { get; }
}

/// <summary>
/// Average or sum pooling (nt's <c>stax.AvgPool</c>/<c>SumPool</c> kernel_fn) on position pairs: K'[p, p'] = s sum_{t, t'}
/// K[p + t, p' + t'] for Sigma and Theta alike, s = 1/k^2 (average, zero padding counted) or 1 (sum).
/// </summary>
/// <remarks>Cost per pair: k P_out P_in (left window sums, vectorized rows) + k P_out^2 (right) adds, for Sigma and for Theta.</remarks>
internal sealed class PoolOp : SpatialOp
{
    private readonly int _taps;
    private readonly int[] _positions;
    private readonly double _scale;

    public PoolOp(PoolLayer layer, SpatialLayout input)
        : base(input, input with { Shape = layer.Window.Output })
    {
        _taps = layer.Window.Taps;
        _positions = WindowPositions(layer.Window);
        _scale = layer.Sum ? 1.0 : 1.0 / ((double)_taps * _taps);
    }

    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        int ein = In.Entries, eout = Out.Entries;
        for (int b = 0; b < tile.Count; b++)
        {
            Pool(buffers.S.AsSpan(b * ein, ein), buffers.S2.AsSpan(b * eout, eout), buffers.Scratch);
            Pool(buffers.T.AsSpan(b * ein, ein), buffers.T2.AsSpan(b * eout, eout), buffers.Scratch);
        }

        buffers.Swap();
    }

    private void Pool(ReadOnlySpan<double> source, Span<double> destination, Span<double> scratch)
    {
        int pin = In.Positions, pout = Out.Positions, k = _taps;
        var left = scratch[..(pout * pin)]; // left[p, q'] = sum_t K[p + t, q']
        left.Clear();
        for (int p = 0; p < pout; p++)
        {
            var row = left.Slice(p * pin, pin);
            for (int tap = 0; tap < k; tap++)
            {
                int a = _positions[p * k + tap];
                if (a >= 0) TensorPrimitives.Add(row, source.Slice(a * pin, pin), row);
            }
        }

        for (int p = 0; p < pout; p++)
        {
            var row = left.Slice(p * pin, pin);
            for (int q = 0; q < pout; q++)
            {
                double sum = 0;
                for (int tap = 0; tap < k; tap++)
                {
                    int c = _positions[q * k + tap];
                    if (c >= 0) sum += row[c];
                }

                destination[p * pout + q] = sum * _scale;
            }
        }
    }

    public override string ToString() => $"Pool {In} -> {Out}";
}

/// <summary>
/// An activation (nt's <c>stax.Elementwise</c> kernel_fn) entry by entry: for the entry (p, p') of a pair (x, x'),
/// (q11, q12, q22) = (Sigma(x, x)[p, p], Sigma(x, x')[p, p'], Sigma(x', x')[p', p']), Sigma' = K, Theta' = KDot Theta.
/// Entries sharing their first point go to <see cref="IMomentRule.Row"/> together; a sample with itself at one
/// position takes <see cref="IMomentRule.Diagonal"/>.
/// </summary>
/// <remarks>
/// The variances come from the diagonal pass, which reads them off its own blocks and records them per side, so the full
/// pass sees exactly the values (and bits) the diagonal state has. Cost: one moment evaluation per entry; the closed-form
/// Relu family four entries at a time (<see cref="ActivationMoments.ArcCosineRow"/>).
/// </remarks>
internal sealed class ActivationOp<TRule>(TRule rule, SpatialLayout layout) : SpatialOp(layout, layout), IRowActivation where TRule : IMomentRule
{
    private readonly PositionVariances _variances = new(layout);

    // A closed-form piecewise-linear kind maps its rows four entries at a time (ActivationMoments.ArcCosineRow).
    private readonly Activation? _arcCosine = rule is BuiltinMoments { Tolerance: null } builtin && builtin.Activation.IsPiecewiseLinear
        ? builtin.Activation : null;

    public override void PrepareVariances(int side, int rows) => _variances.Prepare(side, rows);

    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        var layout = In;
        int p = layout.Positions, e = layout.Entries;
        var s = buffers.S;
        var t = buffers.T;
        var (vi, vj) = _variances.Record(tile, s);
        if (layout.Pairs)
        {
            for (int b = 0; b < tile.Count; b++)
                for (int q = 0; q < p; q++)
                    MapRow(tile, b, q, 0, s.AsSpan(b * e + q * p, p), t.AsSpan(b * e + q * p, p), buffers);
        }
        else if (tile.Diagonal)
        {
            for (int b = 0; b < tile.Count; b++)
                for (int q = 0; q < p; q++)
                    KernelRules.Apply(rule.Diagonal(vi[tile.I[b] * p + q]), ref s[b * e + q], ref t[b * e + q]);
        }
        else
        {
            // A row segment (one I, several J): the entries at position q share q11, gathered across the tile.
            var q12 = buffers.Q12;
            var q22 = buffers.Q22;
            var theta = buffers.Theta;
            for (int q = 0; q < p; q++)
            {
                double q11 = vi[tile.I[0] * p + q];
                int n = 0;
                for (int b = 0; b < tile.Count; b++)
                {
                    if (tile.Self[b])
                    {
                        KernelRules.Apply(rule.Diagonal(q11), ref s[b * e + q], ref t[b * e + q]);
                        continue;
                    }

                    q12[n] = s[b * e + q];
                    theta[n] = t[b * e + q];
                    q22[n++] = vj[tile.J[b] * p + q];
                }

                Row(q11, q12.AsSpan(0, n), theta.AsSpan(0, n), q22.AsSpan(0, n), buffers);
                for (int b = 0, m = 0; b < tile.Count; b++)
                {
                    if (tile.Self[b]) continue;
                    s[b * e + q] = q12[m];
                    t[b * e + q] = theta[m++];
                }
            }
        }
    }

    public void MapRow(SpatialTile tile, int pair, int first, int start, Span<double> sigma, Span<double> theta, SpatialBuffers buffers)
    {
        int p = In.Positions;
        double q11 = _variances.Side(tile.SideI)[tile.I[pair] * p + first];
        var q22 = _variances.Side(tile.SideJ).AsSpan(tile.J[pair] * p + start, sigma.Length);
        int self = tile.Self[pair] ? first - start : -1; // the entry (first, first) of a sample with itself, if in the row
        if (self < 0 || self >= sigma.Length)
        {
            Row(q11, sigma, theta, q22, buffers);
            return;
        }

        Row(q11, sigma[..self], theta[..self], q22[..self], buffers);
        KernelRules.Apply(rule.Diagonal(q11), ref sigma[self], ref theta[self]);
        Row(q11, sigma[(self + 1)..], theta[(self + 1)..], q22[(self + 1)..], buffers);
    }

    // sigma[k], theta[k] of entries sharing q11 to K, KDot theta.
    private void Row(double q11, Span<double> sigma, Span<double> theta, ReadOnlySpan<double> q22, SpatialBuffers buffers)
    {
        if (sigma.Length == 0) return;
        if (_arcCosine is { } activation)
        {
            ActivationMoments.ArcCosineRow(activation, q11, sigma, theta, q22);
            return;
        }

        var m = buffers.Moments.AsSpan(0, sigma.Length);
        rule.Row(q11, sigma, q22, m);
        for (int k = 0; k < sigma.Length; k++) KernelRules.Apply(m[k], ref sigma[k], ref theta[k]);
    }

    public override string ToString() => $"Activation {In}";
}

/// <summary>An activation on position pairs that maps one row segment of a pair's state at a time.</summary>
internal interface IRowActivation
{
    /// <summary>
    /// Maps the entries (first, start + k) of pair <paramref name="pair"/> of the tile, k &lt; sigma.Length, in place
    /// (not in the diagonal pass, which records the variances first).
    /// </summary>
    void MapRow(SpatialTile tile, int pair, int first, int start, Span<double> sigma, Span<double> theta, SpatialBuffers buffers);
}

/// <summary>
/// LayerNorm over channels at each position (nt's <c>LayerNorm</c> kernel_fn on the channel axis): the entry (p, p') of a
/// pair (x, x') becomes Sigma(x, x')[p, p'] / sqrt((q_p(x) + eps)(q_p'(x') + eps)), Theta the same, with the per-position
/// variances q_p(x) = Sigma(x, x)[p, p], recorded by the diagonal pass as the activations do. Cost: P^2 (or P) multiplies.
/// </summary>
internal sealed class LayerNormOp(double epsilon, SpatialLayout layout) : SpatialOp(layout, layout)
{
    private readonly PositionVariances _variances = new(layout);

    public override void PrepareVariances(int side, int rows) => _variances.Prepare(side, rows);

    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        var layout = In;
        int p = layout.Positions, e = layout.Entries;
        var s = buffers.S;
        var t = buffers.T;
        var (vi, vj) = _variances.Record(tile, s);
        for (int b = 0; b < tile.Count; b++)
        {
            int i = tile.I[b] * p, j = tile.J[b] * p;
            for (int q = 0; q < p; q++)
            {
                if (layout.Pairs)
                {
                    for (int r = 0; r < p; r++)
                    {
                        double scale = KernelRules.NormalizationScale(vi[i + q], vj[j + r], epsilon);
                        s[b * e + q * p + r] *= scale;
                        t[b * e + q * p + r] *= scale;
                    }
                }
                else
                {
                    double scale = KernelRules.NormalizationScale(vi[i + q], vj[j + q], epsilon);
                    s[b * e + q] *= scale;
                    t[b * e + q] *= scale;
                }
            }
        }
    }

    public override string ToString() => $"LayerNorm {In}";
}

/// <summary>
/// The per-position variances Sigma_qq(x, x) of every sample of both sides, which the ops that need q11 and q22
/// (activations, LayerNorm) record from the diagonal pass (each sample with itself) and read on every tile after it.
/// </summary>
internal sealed class PositionVariances(SpatialLayout layout)
{
    private readonly double[]?[] _sides = new double[2][];

    /// <summary>Allocates the record of one side (0: x1, 1: x2) of <paramref name="rows"/> samples.</summary>
    public void Prepare(int side, int rows) => _sides[side] = new double[rows * layout.Positions];

    /// <summary>Records the variances of a diagonal tile (from its Sigma, <paramref name="s"/>), then returns both sides' records.</summary>
    public (double[] I, double[] J) Record(SpatialTile tile, double[] s)
    {
        int p = layout.Positions, e = layout.Entries;
        if (tile.Diagonal)
        {
            var record = _sides[tile.SideI]!;
            for (int b = 0; b < tile.Count; b++)
                for (int q = 0; q < p; q++)
                    record[tile.I[b] * p + q] = s[b * e + (layout.Pairs ? q * p + q : q)];
        }

        return (_sides[tile.SideI]!, _sides[tile.SideJ]!);
    }

    /// <summary>The record of one side (0: x1, 1: x2), filled by the diagonal pass.</summary>
    public double[] Side(int side) => _sides[side]!;
}

/// <summary>
/// A convolution on position pairs and the activation after it: outside the diagonal pass the activation maps each output
/// row the convolution writes while it is in cache, so the state makes one trip through memory per layer instead of two.
/// The same operations per entry as the two ops one after the other, so the same bits.
/// </summary>
internal sealed class ConvActivationOp(ConvOp conv, SpatialOp activation) : SpatialOp(conv.In, activation.Out)
{
    private readonly IRowActivation _rows = (IRowActivation)activation;

    public override void PrepareVariances(int side, int rows) => activation.PrepareVariances(side, rows);

    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        if (tile.Diagonal)
        {
            conv.Apply(tile, buffers);
            activation.Apply(tile, buffers);
            return;
        }

        conv.Apply(tile, buffers, _rows);
    }

    public override string ToString() => $"{conv}, {activation}";
}

/// <summary>
/// GlobalAvgPool (nt's <c>stax.GlobalAvgPool</c>: the mean of K over all position pairs) or Flatten (nt's
/// <c>stax.Flatten</c> followed by Dense: the mean over same positions, the Dense then has fan-in C H W), for Sigma
/// and Theta alike, to one value per pair (feature vectors). Cost per pair: P^2 or P adds.
/// </summary>
internal sealed class ReduceOp(SpatialLayout input, bool global) : SpatialOp(input, new SpatialLayout(input.Channels, new SpatialShape(1, 1), false))
{
    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        int p = In.Positions, e = In.Entries;
        double scale = global ? 1.0 / ((double)p * p) : 1.0 / p;
        for (int b = 0; b < tile.Count; b++)
        {
            buffers.S2[b] = Mean(buffers.S.AsSpan(b * e, e), p, scale);
            buffers.T2[b] = Mean(buffers.T.AsSpan(b * e, e), p, scale);
        }

        buffers.Swap();
    }

    private double Mean(ReadOnlySpan<double> k, int p, double scale)
    {
        if (global) return TensorPrimitives.Sum(k) * scale;
        double sum = 0;
        if (In.Pairs)
            for (int q = 0; q < p; q++) sum += k[q * p + q];
        else
            for (int q = 0; q < p; q++) sum += k[q];
        return sum * scale;
    }

    public override string ToString() => $"{(global ? "GlobalAvgPool" : "Flatten")} {In}";
}

using System.Numerics.Tensors;

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
/// Cost per pair: k P_out^2 (position pairs) or k P_out (same positions) adds for each of Sigma and Theta, then the entry map.
/// With position pairs the adds are vector adds of row segments (one run per output row at stride 1).
/// </remarks>
internal sealed class ConvOp : SpatialOp
{
    private readonly KernelRules.DenseCoefficients _coefficients;
    private readonly int _taps;
    private readonly int[] _positions; // [P_out, taps]
    private readonly int[][] _runs; // per tap: (first output q, first input column, length) of consecutive columns

    public ConvOp(ConvLayer layer, Parameterization parameterization, SpatialLayout input)
        : base(input, new SpatialLayout(layer.OutChannels, layer.Window.Output, input.Pairs))
    {
        _coefficients = KernelRules.DenseCoefficients.Of(layer, parameterization);
        _taps = layer.Window.Taps;
        _positions = WindowPositions(layer.Window);
        _runs = new int[_taps][];
        for (int t = 0; t < _taps; t++) _runs[t] = Runs(t);
    }

    // The output positions q whose input column (q, t) is valid, as runs where it advances by one with q: a stride-1
    // convolution has one run per output row, so the pair sums are vector adds of row segments.
    private int[] Runs(int tap)
    {
        var runs = new List<int>();
        int pout = Out.Positions;
        for (int q = 0; q < pout;)
        {
            int c = _positions[q * _taps + tap];
            if (c < 0)
            {
                q++;
                continue;
            }

            int length = 1;
            while (q + length < pout && _positions[(q + length) * _taps + tap] == c + length) length++;
            runs.AddRange([q, c, length]);
            q += length;
        }

        return [.. runs];
    }

    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        int pin = In.Positions, pout = Out.Positions, ein = In.Entries, eout = Out.Entries, k = _taps;
        double invTaps = 1.0 / k;
        for (int b = 0; b < tile.Count; b++)
        {
            var s = buffers.S.AsSpan(b * ein, ein);
            var t = buffers.T.AsSpan(b * ein, ein);
            var s2 = buffers.S2.AsSpan(b * eout, eout);
            var t2 = buffers.T2.AsSpan(b * eout, eout);
            s2.Clear();
            t2.Clear();
            for (int p = 0; p < pout; p++)
            {
                for (int tap = 0; tap < k; tap++)
                {
                    int a = _positions[p * k + tap];
                    if (a < 0) continue;
                    if (!In.Pairs)
                    {
                        s2[p] += s[a];
                        t2[p] += t[a];
                        continue;
                    }

                    var runs = _runs[tap];
                    for (int r = 0; r < runs.Length; r += 3)
                    {
                        int q = p * pout + runs[r], c = a * pin + runs[r + 1], length = runs[r + 2];
                        TensorPrimitives.Add(s2.Slice(q, length), s.Slice(c, length), s2.Slice(q, length));
                        TensorPrimitives.Add(t2.Slice(q, length), t.Slice(c, length), t2.Slice(q, length));
                    }
                }
            }

            for (int e = 0; e < eout; e++)
            {
                double sigma = s2[e] * invTaps, theta = t2[e] * invTaps;
                _coefficients.Apply(ref sigma, ref theta);
                s2[e] = sigma;
                t2[e] = theta;
            }
        }

        buffers.Swap();
    }

    public override string ToString() => $"Conv {In} -> {Out}";
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
/// pass sees exactly the values (and bits) the diagonal state has. Cost: one moment evaluation per entry.
/// </remarks>
internal sealed class ActivationOp<TRule>(TRule rule, SpatialLayout layout) : SpatialOp(layout, layout) where TRule : IMomentRule
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
        var moments = buffers.Moments;
        if (layout.Pairs)
        {
            for (int b = 0; b < tile.Count; b++)
            {
                var q22 = vj.AsSpan(tile.J[b] * p, p);
                for (int q = 0; q < p; q++)
                {
                    double q11 = vi[tile.I[b] * p + q];
                    int row = b * e + q * p;
                    if (!tile.Self[b])
                    {
                        Row(q11, s.AsSpan(row, p), t.AsSpan(row, p), q22, moments);
                        continue;
                    }

                    Row(q11, s.AsSpan(row, q), t.AsSpan(row, q), q22[..q], moments);
                    KernelRules.Apply(rule.Diagonal(q11), ref s[row + q], ref t[row + q]);
                    Row(q11, s.AsSpan(row + q + 1, p - q - 1), t.AsSpan(row + q + 1, p - q - 1), q22[(q + 1)..], moments);
                }
            }
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
                    q22[n++] = vj[tile.J[b] * p + q];
                }

                rule.Row(q11, q12.AsSpan(0, n), q22.AsSpan(0, n), moments.AsSpan(0, n));
                for (int b = 0, m = 0; b < tile.Count; b++)
                    if (!tile.Self[b])
                        KernelRules.Apply(moments[m++], ref s[b * e + q], ref t[b * e + q]);
            }
        }
    }

    private void Row(double q11, Span<double> s, Span<double> t, ReadOnlySpan<double> q22, KernelMoments[] moments)
    {
        if (s.Length == 0) return;
        var m = moments.AsSpan(0, s.Length);
        rule.Row(q11, s, q22, m);
        for (int k = 0; k < s.Length; k++) KernelRules.Apply(m[k], ref s[k], ref t[k]);
    }

    public override string ToString() => $"Activation {In}";
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
        double sum = 0;
        if (global)
            for (int i = 0; i < k.Length; i++) sum += k[i];
        else if (In.Pairs)
            for (int q = 0; q < p; q++) sum += k[q * p + q];
        else
            for (int q = 0; q < p; q++) sum += k[q];
        return sum * scale;
    }

    public override string ToString() => $"{(global ? "GlobalAvgPool" : "Flatten")} {In}";
}

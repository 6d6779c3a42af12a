namespace NtkDsl;

/// <summary>
/// LayerNorm over channels at each position (nt's <c>LayerNorm</c> kernel_fn on the channel axis): the entry (p, p') of a
/// pair (x, x') becomes Sigma(x, x')[p, p'] / sqrt((q_p(x) + eps)(q_p'(x') + eps)), Theta the same, with the per-position
/// variances q_p(x) = Sigma(x, x)[p, p], recorded by the diagonal pass as the activations do. Cost: P^2 (or P) multiplies.
/// </summary>
internal sealed class LayerNormOp(double epsilon, SpatialLayout layout) : SpatialOp(layout, layout)
{
    private readonly double[]?[] _variances = new double[2][];

    public override void PrepareVariances(int side, int rows) => _variances[side] = new double[rows * In.Positions];

    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        var layout = In;
        int p = layout.Positions, e = layout.Entries;
        var s = buffers.S;
        var t = buffers.T;
        if (tile.Diagonal)
        {
            var record = _variances[tile.SideI]!;
            for (int b = 0; b < tile.Count; b++)
                for (int q = 0; q < p; q++)
                    record[tile.I[b] * p + q] = s[b * e + (layout.Pairs ? q * p + q : q)];
        }

        var vi = _variances[tile.SideI]!;
        var vj = _variances[tile.SideJ]!;
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
/// The channel concatenation with another branch of the same inputs (nt's <c>FanInConcat</c> on the channel axis): runs the
/// branch's layers from the inputs in its own buffers on the same tile, then averages the two per-channel kernels weighted by
/// their channels, (C1 K1 + C2 K2) / (C1 + C2). Layers the branches share before they split run in both.
/// </summary>
internal sealed class BranchConcatOp(SpatialLayout layout, SpatialLayout other, SpatialInputs inputs, IReadOnlyList<SpatialOp> branch)
    : SpatialOp(layout, layout with { Channels = layout.Channels + other.Channels })
{
    public override int BranchDepth => 1 + branch.Select(b => b.BranchDepth).DefaultIfEmpty(0).Max();

    public override int MaxEntries => Math.Max(inputs.Layout.Entries, branch.Select(o => o.MaxEntries).DefaultIfEmpty(1).Max());

    public override int MaxPositions => Math.Max(inputs.Layout.Positions, branch.Select(o => o.MaxPositions).DefaultIfEmpty(1).Max());

    public override void PrepareVariances(int side, int rows)
    {
        foreach (var op in branch) op.PrepareVariances(side, rows);
    }

    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        var second = buffers.Branch;
        SpatialKernelProgram.RunOps(inputs, branch, tile, second);
        int n = tile.Count * In.Entries;
        double total = (double)In.Channels + other.Channels, a = In.Channels / total, b = other.Channels / total;
        KernelRules.Combine(buffers.S.AsSpan(0, n), a, second.S.AsSpan(0, n), b);
        KernelRules.Combine(buffers.T.AsSpan(0, n), a, second.T.AsSpan(0, n), b);
    }

    public override string ToString() => $"BranchConcat {In} + {other} -> {Out}";
}

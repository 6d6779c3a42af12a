using System.Numerics.Tensors;

namespace NtkDsl;

/// <summary>
/// A branch point (neural-tangents' <c>FanOut</c>), recorded by <see cref="SpatialKernelProgram.Copy"/> in both programs:
/// keeps each tile's state for the branches that start here (<see cref="Consumers"/> of them), which restore it instead of
/// running the layers before it again; the worker's copy is released after the last of them restored it.
/// </summary>
internal sealed class ForkOp(SpatialLayout layout) : SpatialOp(layout, layout)
{
    /// <summary>Branch sums and concatenations recorded so far that start from this state.</summary>
    public int Consumers { get; set; }

    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        if (Consumers > 0) buffers.Forks.Save(this, buffers, tile.Count * In.Entries, Consumers);
    }

    public override string ToString() => $"Fork {In}";
}

/// <summary>
/// A branch that joins the program: the layers it added after the latest branch point it shares with the program
/// (<paramref name="fork"/>; null: it shares none and starts from the inputs), run in the tile's branch buffers from the
/// state the fork kept, so every layer of the graph runs once per tile.
/// </summary>
internal abstract class BranchOp(SpatialLayout input, SpatialLayout output, SpatialInputs inputs, ForkOp? fork, IReadOnlyList<SpatialOp> branch)
    : SpatialOp(input, output)
{
    public override int BranchDepth => 1 + branch.Select(b => b.BranchDepth).DefaultIfEmpty(0).Max();

    public override int MaxEntries => Math.Max(Math.Max(inputs.Layout.Entries, base.MaxEntries), branch.Select(o => o.MaxEntries).DefaultIfEmpty(1).Max());

    public override int MaxPositions => Math.Max(Math.Max(inputs.Layout.Positions, base.MaxPositions), branch.Select(o => o.MaxPositions).DefaultIfEmpty(1).Max());

    public override void PrepareVariances(int side, int rows)
    {
        foreach (var op in branch) op.PrepareVariances(side, rows);
    }

    /// <summary>The branch's state on this tile, in <c>buffers.Branch</c>.</summary>
    protected SpatialBuffers RunBranch(SpatialTile tile, SpatialBuffers buffers)
    {
        var second = buffers.Branch;
        if (fork is null) inputs.Covariances(tile, second);
        else buffers.Forks.Restore(fork, second, tile.Count * fork.In.Entries);
        SpatialKernelProgram.Apply(branch, tile, second);
        return second;
    }
}

/// <summary>The sum with another branch of the same inputs (nt's <c>stax.FanInSum</c>): Sigma and Theta add.</summary>
internal sealed class BranchSumOp(SpatialLayout layout, SpatialInputs inputs, ForkOp? fork, IReadOnlyList<SpatialOp> branch)
    : BranchOp(layout, layout, inputs, fork, branch)
{
    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        var other = RunBranch(tile, buffers);
        int n = tile.Count * In.Entries;
        TensorPrimitives.Add(buffers.S.AsSpan(0, n), other.S.AsSpan(0, n), buffers.S.AsSpan(0, n));
        TensorPrimitives.Add(buffers.T.AsSpan(0, n), other.T.AsSpan(0, n), buffers.T.AsSpan(0, n));
    }

    public override string ToString() => $"BranchSum {In}";
}

/// <summary>
/// The channel concatenation with another branch of the same inputs (nt's <c>FanInConcat</c> on the channel axis): averages
/// the two per-channel kernels weighted by their channels, (C1 K1 + C2 K2) / (C1 + C2).
/// </summary>
internal sealed class BranchConcatOp(SpatialLayout layout, SpatialLayout other, SpatialInputs inputs, ForkOp? fork, IReadOnlyList<SpatialOp> branch)
    : BranchOp(layout, layout with { Channels = layout.Channels + other.Channels }, inputs, fork, branch)
{
    public override void Apply(SpatialTile tile, SpatialBuffers buffers)
    {
        var second = RunBranch(tile, buffers);
        int n = tile.Count * In.Entries;
        double total = (double)In.Channels + other.Channels, a = In.Channels / total, b = other.Channels / total;
        KernelRules.Combine(buffers.S.AsSpan(0, n), a, second.S.AsSpan(0, n), b);
        KernelRules.Combine(buffers.T.AsSpan(0, n), a, second.T.AsSpan(0, n), b);
    }

    public override string ToString() => $"BranchConcat {In} + {other} -> {Out}";
}

/// <summary>
/// A worker's kept branch-point states (shared by its buffers at every branch level): each fork's (Sigma, Theta) of the
/// current tile until its last consumer restored it, then the arrays go back to a free list for the next fork.
/// </summary>
internal sealed class ForkStates
{
    private readonly Dictionary<ForkOp, (double[] S, double[] T, int Remaining)> _kept = new();
    private readonly Stack<(double[] S, double[] T)> _free = new();

    public void Save(ForkOp fork, SpatialBuffers buffers, int count, int consumers)
    {
        var (s, t) = _kept.Remove(fork, out var held) ? (held.S, held.T) : _free.Count > 0 ? _free.Pop() : (new double[buffers.S.Length], new double[buffers.T.Length]);
        buffers.S.AsSpan(0, count).CopyTo(s);
        buffers.T.AsSpan(0, count).CopyTo(t);
        _kept[fork] = (s, t, consumers);
    }

    public void Restore(ForkOp fork, SpatialBuffers target, int count)
    {
        var (s, t, remaining) = _kept[fork];
        s.AsSpan(0, count).CopyTo(target.S);
        t.AsSpan(0, count).CopyTo(target.T);
        if (remaining > 1)
        {
            _kept[fork] = (s, t, remaining - 1);
            return;
        }

        _kept.Remove(fork);
        _free.Push((s, t));
    }
}

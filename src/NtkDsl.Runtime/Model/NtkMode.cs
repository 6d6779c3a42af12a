namespace NtkDsl;

/// <summary>How the empirical NTK treats the output dimension.</summary>
public enum NtkMode
{
    /// <summary>Mean over outputs of Theta_kk (neural-tangents' trace_axes=(-1,) convention): [N1, N2].</summary>
    Trace,

    /// <summary>Every output pair: [N1 * O, N2 * O], entry (n1 * O + k, n2 * O + k').</summary>
    Full,

    /// <summary>Per output, no cross-output terms: [O * N1, N2], block k is Theta_kk.</summary>
    Diagonal,
}

/// <summary>The one rule from an <see cref="NtkMode"/> to the shape of the kernel it produces.</summary>
public static class NtkModes
{
    /// <summary>
    /// The result shape for <paramref name="n1"/> x <paramref name="n2"/> samples of a network with
    /// <paramref name="outputs"/> outputs: Full [N1 O, N2 O], Diagonal [O N1, N2], Trace [N1, N2].
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> is not a defined <see cref="NtkMode"/>.</exception>
    /// <exception cref="ArgumentException">A dimension exceeds int.MaxValue (compute such kernels in tiles).</exception>
    public static (int Rows, int Cols) ResultShape(NtkMode mode, int n1, int n2, int outputs)
    {
        var (rows, cols) = ResultShape64(mode, n1, n2, outputs);
        if (rows > int.MaxValue || cols > int.MaxValue)
            throw new ArgumentException($"The {mode} NTK of {n1} x {n2} samples with {outputs} outputs is [{rows}, {cols}], beyond the int.MaxValue rows or columns of one matrix; compute it in tiles (TiledNtk).", nameof(n1));
        return ((int)rows, (int)cols);
    }

    /// <summary>The same shape in 64 bits, for kernels larger than one matrix (tiles, size checks).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> is not a defined <see cref="NtkMode"/>.</exception>
    public static (long Rows, long Cols) ResultShape64(NtkMode mode, int n1, int n2, int outputs)
    {
        long o = outputs;
        return mode switch
        {
            NtkMode.Full => (n1 * o, n2 * o),
            NtkMode.Diagonal => (o * n1, (long)n2),
            NtkMode.Trace => ((long)n1, (long)n2),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, $"Unknown NtkMode {(int)mode}; use NtkMode.Trace, NtkMode.Full or NtkMode.Diagonal."),
        };
    }
}

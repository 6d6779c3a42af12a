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

namespace NtkDsl;

/// <summary>Settings of the infinite-width kernel computation.</summary>
public sealed record InfiniteWidthOptions
{
    /// <summary>The defaults: closed forms where available, quadrature to relative tolerance 1e-10 elsewhere, all cores.</summary>
    public static InfiniteWidthOptions Default { get; } = new();

    /// <summary>
    /// Relative accuracy target of the moments computed by quadrature (Tanh, Sigmoid, Softplus, code-defined
    /// activations, and every activation when <see cref="ForceQuadrature"/> is set): each adaptive integral refines
    /// until its error estimate is below this fraction of E|phi(u) phi(v)| (for K) and of E|phi'(u) phi'(v)| (for
    /// KDot), and the Mehler series (<see cref="MehlerSeries"/>) is summed until its error bound is below a tenth of
    /// this fraction of |K| and |KDot|. Default 1e-10; between 1e-13 and 0.1. The estimates are conservative: at the
    /// default the tests measure errors of at most 9e-12 against 20-digit references for variances from 1e-8 to 1e8 and
    /// every correlation. Looser is cheaper (fewer series terms and panel refinements).
    /// </summary>
    public double QuadratureTolerance { get; init; } = ActivationMoments.DefaultQuadratureTolerance;

    /// <summary>
    /// Sum the Mehler (Hermite) series of the quadrature moments wherever its error bound proves it accurate to
    /// <see cref="QuadratureTolerance"/> (default true: the coefficients are computed once per point and variance, so
    /// an entry costs a short dot product; entries where the bound fails, such as correlations near +-1, are integrated
    /// adaptively). False integrates every entry by nested adaptive quadrature, the slower reference path (for
    /// comparison and testing).
    /// </summary>
    public bool MehlerSeries { get; init; } = true;

    /// <summary>Use quadrature even where a closed form exists (for testing the quadrature). Default false.</summary>
    public bool ForceQuadrature { get; init; }

    /// <summary>Maximum number of threads (as <see cref="ParallelOptions.MaxDegreeOfParallelism"/>; -1 = no limit, 1 = serial).</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>
    /// Work (kernel entries, times 4096 under quadrature) below which a layer runs on one thread,
    /// because thread start-up costs more than it saves on small kernels. Default 32768.
    /// </summary>
    public long ParallelThreshold { get; init; } = 32768;

    /// <summary>
    /// Bytes the position-pair buffers of a spatial network's kernel may take, all threads together (conv nets with
    /// pooling hold an [HW, HW] state per sample pair and layer; the pairs run in tiles under this budget). Default
    /// 256 MiB. A smaller budget runs smaller tiles, with the same numbers bit for bit; at least one sample pair per
    /// thread is always held, whatever the budget.
    /// </summary>
    public long SpatialTileBudgetBytes { get; init; } = 256L << 20;

    internal void Validate()
    {
        if (!(QuadratureTolerance >= GaussianExpectation.MinTolerance && QuadratureTolerance <= ActivationMoments.MaxQuadratureTolerance))
            throw new ArgumentOutOfRangeException(nameof(QuadratureTolerance), QuadratureTolerance,
                $"The quadrature tolerance must be between {GaussianExpectation.MinTolerance} and {ActivationMoments.MaxQuadratureTolerance}.");
        if (MaxDegreeOfParallelism is 0 or < -1)
            throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "Use -1 (no limit) or a positive thread count.");
        ArgumentOutOfRangeException.ThrowIfNegative(ParallelThreshold);
        ArgumentOutOfRangeException.ThrowIfLessThan(SpatialTileBudgetBytes, 1, nameof(SpatialTileBudgetBytes));
    }

    internal void ForRows(int rows, long work, Action<int> body)
    {
        if (rows > 1 && MaxDegreeOfParallelism != 1 && work >= ParallelThreshold)
        {
            Parallel.For(0, rows, new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism }, body);
            return;
        }

        for (int i = 0; i < rows; i++) body(i);
    }
}

/// <summary>Infinite-width kernels per output unit (outputs are i.i.d. at infinite width).</summary>
/// <param name="Nngp">NNGP covariance Sigma(X1, X2), N1 x N2.</param>
/// <param name="Ntk">Neural tangent kernel Theta(X1, X2), N1 x N2.</param>
public sealed record InfiniteWidthKernels(Matrix<double> Nngp, Matrix<double> Ntk);

/// <summary>The diagonal k(x, x) of the infinite-width kernels for N points.</summary>
/// <param name="Nngp">Sigma(x_i, x_i), length N.</param>
/// <param name="Ntk">Theta(x_i, x_i), length N.</param>
public sealed record InfiniteWidthDiagonal(double[] Nngp, double[] Ntk);

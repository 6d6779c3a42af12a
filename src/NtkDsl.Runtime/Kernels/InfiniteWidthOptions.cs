namespace NtkDsl;

/// <summary>Settings of the infinite-width kernel computation.</summary>
public sealed record InfiniteWidthOptions
{
    /// <summary>The defaults: degree 25 quadrature, closed forms where available, all cores.</summary>
    public static InfiniteWidthOptions Default { get; } = new();

    /// <summary>
    /// Gauss-Hermite nodes per dimension for activations without closed form (Tanh, Sigmoid, Softplus)
    /// and for every activation when <see cref="ForceQuadrature"/> is set. Default 25, as neural-tangents.
    /// </summary>
    public int QuadratureDegree { get; init; } = ActivationMoments.DefaultQuadratureDegree;

    /// <summary>Use quadrature even where a closed form exists (for testing the quadrature). Default false.</summary>
    public bool ForceQuadrature { get; init; }

    /// <summary>Maximum number of threads (as <see cref="ParallelOptions.MaxDegreeOfParallelism"/>; -1 = no limit, 1 = serial).</summary>
    public int MaxDegreeOfParallelism { get; init; } = -1;

    /// <summary>
    /// Work (kernel entries, times degree^2 under quadrature) below which a layer runs on one thread,
    /// because thread start-up costs more than it saves on small kernels. Default 32768.
    /// </summary>
    public long ParallelThreshold { get; init; } = 32768;

    internal void Validate()
    {
        if (QuadratureDegree is < 1 or > GaussHermite.MaxDegree)
            throw new ArgumentOutOfRangeException(nameof(QuadratureDegree), QuadratureDegree, $"The quadrature degree must be between 1 and {GaussHermite.MaxDegree}.");
        if (MaxDegreeOfParallelism is 0 or < -1)
            throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "Use -1 (no limit) or a positive thread count.");
        ArgumentOutOfRangeException.ThrowIfNegative(ParallelThreshold);
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

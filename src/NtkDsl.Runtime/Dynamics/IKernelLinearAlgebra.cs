using NtkDsl.Cpu.LinearAlgebra;

namespace NtkDsl;

/// <summary>
/// The dense linear algebra the training-dynamics code needs on kernel matrices: one symmetric
/// eigendecomposition, one Cholesky factorization and matrix products. Small on purpose so that a
/// backend can supply it: <see cref="CpuKernelLinearAlgebra"/> (the default, NtkDsl's CPU backend),
/// <see cref="MathNetLinearAlgebra"/> (MathNet's managed provider) or NtkDsl.Torch's TorchKernelLinearAlgebra.
/// </summary>
/// <remarks>All matrices are <see cref="Matrix{T}"/> (row-major). Implementations must not modify their inputs.</remarks>
public interface IKernelLinearAlgebra
{
    /// <summary>
    /// Eigendecomposition A = V diag(l) V^T of a symmetric matrix, eigenvalues in ascending order,
    /// eigenvector j in column j of V (orthonormal columns).
    /// </summary>
    /// <param name="symmetric">A symmetric n x n matrix; only symmetric input is meaningful.</param>
    SymmetricEigenDecomposition SymmetricEigen(Matrix<double> symmetric);

    /// <summary>The eigenvalues of a symmetric matrix in ascending order (no eigenvectors: several times cheaper).</summary>
    /// <param name="symmetric">A symmetric n x n matrix; only symmetric input is meaningful.</param>
    double[] SymmetricEigenvalues(Matrix<double> symmetric);

    /// <summary>
    /// Cholesky factorization A = L L^T of a symmetric matrix, or <see langword="null"/> when the
    /// factorization breaks down (a pivot that is not positive). Callers judge conditioning from
    /// <see cref="ICholeskyFactor.PivotDiagonal"/>.
    /// </summary>
    /// <param name="symmetric">A symmetric n x n matrix.</param>
    /// <param name="failedPivot">-1 on success; on failure the 0-based index of the first pivot that is not positive,
    /// or -1 when the implementation cannot tell.</param>
    ICholeskyFactor? TryCholesky(Matrix<double> symmetric, out int failedPivot);

    /// <summary>Matrix product op(a) op(b), where op transposes when the flag is set.</summary>
    /// <param name="a">Left factor.</param>
    /// <param name="transposeA">Use a^T instead of a.</param>
    /// <param name="b">Right factor.</param>
    /// <param name="transposeB">Use b^T instead of b.</param>
    Matrix<double> Multiply(Matrix<double> a, bool transposeA, Matrix<double> b, bool transposeB);
}

/// <summary>A Cholesky factor A = L L^T that solves linear systems with A.</summary>
/// <remarks><see cref="IDisposable.Dispose"/> releases the factor's storage (pooled n x n memory on the CPU, the factor
/// tensor on a torch device) and is idempotent; <see cref="Solve"/> then throws <see cref="ObjectDisposedException"/>.
/// A factor that is never disposed is reclaimed by the garbage collector (and, for a tensor, its finalizer).</remarks>
public interface ICholeskyFactor : IDisposable
{
    /// <summary>The dimension n of A.</summary>
    int Size { get; }

    /// <summary>The diagonal of L (all positive); their squares are the Cholesky pivots.</summary>
    IReadOnlyList<double> PivotDiagonal { get; }

    /// <summary>Solves A X = B for X.</summary>
    /// <param name="rightHandSide">B, n x k.</param>
    /// <returns>X, n x k.</returns>
    Matrix<double> Solve(Matrix<double> rightHandSide);
}

/// <summary>The result of <see cref="IKernelLinearAlgebra.SymmetricEigen"/>.</summary>
/// <remarks>Thread-safe. <see cref="CpuKernelLinearAlgebra"/>'s decompositions form <see cref="Eigenvectors"/> on first
/// read (the n^3 back-transformation); until then the dynamics classes multiply by the eigenvectors in factored form.</remarks>
public sealed class SymmetricEigenDecomposition
{
    private readonly object _gate = new();
    private Matrix<double>? _eigenvectors;
    private FactoredEigenvectors<double>? _factored;

    // Multiply-adds spent on factored products so far: once they would reach the n^3 of forming the eigenvectors, the
    // eigenvectors are formed (ski rental: never much more than twice the cheaper choice's work).
    private double _factoredWork;

    /// <summary>Wraps eigenvalues (ascending) and eigenvectors (column j belongs to eigenvalue j).</summary>
    /// <param name="eigenvalues">n eigenvalues in ascending order.</param>
    /// <param name="eigenvectors">n x n matrix whose columns are orthonormal eigenvectors.</param>
    public SymmetricEigenDecomposition(double[] eigenvalues, Matrix<double> eigenvectors)
    {
        ArgumentNullException.ThrowIfNull(eigenvalues);
        ArgumentNullException.ThrowIfNull(eigenvectors);
        if (eigenvectors.Rows != eigenvalues.Length || eigenvectors.Cols != eigenvalues.Length)
            throw new ArgumentException(
                $"Expected eigenvectors of shape {eigenvalues.Length} x {eigenvalues.Length} to match {eigenvalues.Length} eigenvalues, got {eigenvectors.Rows} x {eigenvectors.Cols}.",
                nameof(eigenvectors));
        RequireAscending(eigenvalues);
        Values = eigenvalues;
        _eigenvectors = eigenvectors;
    }

    internal SymmetricEigenDecomposition(double[] eigenvalues, FactoredEigenvectors<double> eigenvectors)
    {
        if (eigenvectors.Size != eigenvalues.Length)
            throw new ArgumentException($"Expected eigenvectors of size {eigenvalues.Length}, got {eigenvectors.Size}.", nameof(eigenvectors));
        RequireAscending(eigenvalues);
        Values = eigenvalues;
        _factored = eigenvectors;
    }

    private static void RequireAscending(double[] eigenvalues)
    {
        for (int i = 1; i < eigenvalues.Length; i++)
            if (!(eigenvalues[i] >= eigenvalues[i - 1]))
                throw new ArgumentException($"Eigenvalues must be finite and ascending; element {i} ({eigenvalues[i]}) < element {i - 1} ({eigenvalues[i - 1]}).", nameof(eigenvalues));
    }

    /// <summary>Eigenvalues in ascending order.</summary>
    public IReadOnlyList<double> Eigenvalues => Values;

    internal double[] Values { get; }

    /// <summary>Orthonormal eigenvectors as columns, in the order of <see cref="Eigenvalues"/>.</summary>
    public Matrix<double> Eigenvectors
    {
        get
        {
            var v = Volatile.Read(ref _eigenvectors);
            if (v is not null) return v;
            lock (_gate) return ExpandLocked();
        }
    }

    /// <summary>Whether the eigenvectors are still factored (not yet formed).</summary>
    internal bool IsFactored => Volatile.Read(ref _factored) is not null;

    private Matrix<double> ExpandLocked()
    {
        if (_eigenvectors is null)
        {
            int n = Values.Length;
            Volatile.Write(ref _eigenvectors, new Matrix<double>(n, n, _factored!.Expand()));
            _factored = null;
        }

        return _eigenvectors;
    }

    /// <summary>
    /// V m, or V^T m when <paramref name="transpose"/>, for an n-row <paramref name="m"/>: in factored form while that is
    /// cheaper (2 n^2 k multiply-adds for k columns, against n^3 once to form V), else by <paramref name="linearAlgebra"/>.
    /// </summary>
    internal Matrix<double> MultiplyEigenvectors(Matrix<double> m, bool transpose, IKernelLinearAlgebra linearAlgebra)
    {
        int n = Values.Length;
        if (m.Rows != n)
            throw new ArgumentException($"Expected {n} rows to multiply by the {n} x {n} eigenvectors, got {m.Rows} x {m.Cols}.", nameof(m));
        if (Volatile.Read(ref _factored) is not null)
        {
            lock (_gate)
            {
                double work = 2.0 * n * n * m.Cols;
                if (_factored is not null && _factoredWork + work < (double)n * n * n)
                {
                    _factoredWork += work;
                    return transpose ? _factored.TransposeMultiply(m) : _factored.Multiply(m);
                }

                ExpandLocked();
            }
        }

        return linearAlgebra.Multiply(Eigenvectors, transpose, m, false);
    }
}

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
public interface ICholeskyFactor
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
public sealed class SymmetricEigenDecomposition
{
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
        for (int i = 1; i < eigenvalues.Length; i++)
            if (!(eigenvalues[i] >= eigenvalues[i - 1]))
                throw new ArgumentException($"Eigenvalues must be finite and ascending; element {i} ({eigenvalues[i]}) < element {i - 1} ({eigenvalues[i - 1]}).", nameof(eigenvalues));
        Values = eigenvalues;
        Eigenvectors = eigenvectors;
    }

    /// <summary>Eigenvalues in ascending order.</summary>
    public IReadOnlyList<double> Eigenvalues => Values;

    internal double[] Values { get; }

    /// <summary>Orthonormal eigenvectors as columns, in the order of <see cref="Eigenvalues"/>.</summary>
    public Matrix<double> Eigenvectors { get; }
}

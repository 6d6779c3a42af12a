namespace NtkDsl;

/// <summary>
/// The default <see cref="IKernelLinearAlgebra"/> of the dynamics classes: <see cref="CpuLinearAlgebra"/> in float64
/// (NtkDsl's packed GEMM, worker pool and the factorizations built on them; no native dependencies).
/// </summary>
public sealed class CpuKernelLinearAlgebra : IKernelLinearAlgebra
{
    private CpuKernelLinearAlgebra()
    {
    }

    /// <summary>The shared instance (stateless; threads from <see cref="Cpu.CpuSettings.MaxDegreeOfParallelism"/>).</summary>
    public static CpuKernelLinearAlgebra Instance { get; } = new();

    /// <inheritdoc/>
    /// <remarks>The eigenvectors stay factored until <see cref="SymmetricEigenDecomposition.Eigenvectors"/> is read: the
    /// dynamics classes only multiply by them, which for a few hundred vectors costs far less than forming them.</remarks>
    public SymmetricEigenDecomposition SymmetricEigen(Matrix<double> symmetric)
    {
        var (values, vectors) = CpuLinearAlgebra.SymmetricEigenFactored(symmetric);
        return new SymmetricEigenDecomposition(values, vectors);
    }

    /// <inheritdoc/>
    public double[] SymmetricEigenvalues(Matrix<double> symmetric) => CpuLinearAlgebra.SymmetricEigenvalues(symmetric);

    /// <inheritdoc/>
    public ICholeskyFactor? TryCholesky(Matrix<double> symmetric, out int failedPivot)
    {
        var factor = CpuLinearAlgebra.TryCholesky(symmetric, out failedPivot);
        return factor is null ? null : new Factor(factor);
    }

    /// <inheritdoc/>
    public Matrix<double> Multiply(Matrix<double> a, bool transposeA, Matrix<double> b, bool transposeB)
        => CpuLinearAlgebra.Multiply(a, transposeA, b, transposeB);

    private sealed class Factor(CholeskyFactor<double> factor) : ICholeskyFactor
    {
        private readonly double[] _diagonal = factor.Diagonal();

        public int Size => factor.Size;

        public IReadOnlyList<double> PivotDiagonal => _diagonal;

        public Matrix<double> Solve(Matrix<double> rightHandSide) => factor.Solve(rightHandSide); // ObjectDisposedException once disposed

        public void Dispose() => factor.Dispose();
    }
}

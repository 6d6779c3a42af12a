using MathNet.Numerics.LinearAlgebra;
using MathNetDenseMatrix = MathNet.Numerics.LinearAlgebra.Double.DenseMatrix;
using MathNetMatrix = MathNet.Numerics.LinearAlgebra.Matrix<double>;

namespace NtkDsl;

/// <summary>
/// An <see cref="IKernelLinearAlgebra"/> on MathNet.Numerics' managed provider: an independent reference
/// implementation, exact enough for float64 kernels but slow for n in the thousands (symmetric EVD n = 1000
/// takes seconds; <see cref="CpuKernelLinearAlgebra"/>, the default, is about an order of magnitude faster).
/// </summary>
public sealed class MathNetLinearAlgebra : IKernelLinearAlgebra
{
    /// <summary>The shared instance (stateless).</summary>
    public static MathNetLinearAlgebra Instance { get; } = new();

    /// <inheritdoc/>
    public SymmetricEigenDecomposition SymmetricEigen(Matrix<double> symmetric)
    {
        ArgumentNullException.ThrowIfNull(symmetric);
        RequireSquare(symmetric, nameof(symmetric));
        int n = symmetric.Rows;
        if (n == 0) return new SymmetricEigenDecomposition([], new Matrix<double>(0, 0));
        // Row-major data read as column-major is the transpose, which equals a symmetric matrix.
        var evd = ColumnMajorView(n, n, (double[])symmetric.Data.Clone()).Evd(Symmetricity.Symmetric);
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = evd.EigenValues[i].Real;
        // MathNet returns them ascending for symmetric input; sort anyway, the contract demands it.
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort((double[])values.Clone(), order);
        var vectors = evd.EigenVectors;
        var sortedValues = new double[n];
        var v = new Matrix<double>(n, n);
        for (int j = 0; j < n; j++)
        {
            sortedValues[j] = values[order[j]];
            for (int i = 0; i < n; i++) v.Data[i * n + j] = vectors[i, order[j]];
        }
        return new SymmetricEigenDecomposition(sortedValues, v);
    }

    /// <inheritdoc/>
    public double[] SymmetricEigenvalues(Matrix<double> symmetric) => SymmetricEigen(symmetric).Values;

    /// <inheritdoc/>
    /// <remarks>MathNet does not say where a factorization failed: <paramref name="failedPivot"/> is -1 then too.</remarks>
    public ICholeskyFactor? TryCholesky(Matrix<double> symmetric, out int failedPivot)
    {
        failedPivot = -1;
        ArgumentNullException.ThrowIfNull(symmetric);
        RequireSquare(symmetric, nameof(symmetric));
        int n = symmetric.Rows;
        MathNet.Numerics.LinearAlgebra.Factorization.Cholesky<double> cholesky;
        try
        {
            cholesky = ColumnMajorView(n, n, (double[])symmetric.Data.Clone()).Cholesky();
        }
        catch (ArgumentException)
        {
            // MathNet signals a non-positive pivot this way; the caller turns it into a diag_reg hint.
            return null;
        }
        var diagonal = new double[n];
        for (int i = 0; i < n; i++) diagonal[i] = cholesky.Factor[i, i];
        foreach (var d in diagonal)
            if (!(d > 0) || !double.IsFinite(d)) return null;
        return new Factor(cholesky, diagonal);
    }

    /// <inheritdoc/>
    public Matrix<double> Multiply(Matrix<double> a, bool transposeA, Matrix<double> b, bool transposeB)
    {
        var (ar, ac, bc) = CpuLinearAlgebra.ProductShape(a, transposeA, b, transposeB);
        var c = new Matrix<double>(ar, bc);
        if (ar == 0 || bc == 0) return c;
        if (ac == 0) return c;
        // Column-major views of row-major data are transposes: at = a^T, bt = b^T, and the
        // column-major result of C^T = op(b)^T op(a)^T is exactly row-major C.
        var at = ColumnMajorView(a.Cols, a.Rows, a.Data);
        var bt = ColumnMajorView(b.Cols, b.Rows, b.Data);
        var ct = ColumnMajorView(bc, ar, c.Data);
        if (!transposeA && !transposeB) bt.Multiply(at, ct);                      // C^T = b^T a^T
        else if (transposeA && !transposeB) bt.TransposeAndMultiply(at, ct);      // C^T = b^T a
        else if (!transposeA && transposeB) bt.TransposeThisAndMultiply(at, ct);   // C^T = b a^T
        else bt.Transpose().Multiply(at.Transpose(), ct);                         // C^T = b a (rare)
        return c;
    }

    private static MathNetDenseMatrix ColumnMajorView(int rows, int cols, double[] data) => new(rows, cols, data);

    private static void RequireSquare(Matrix<double> m, string name)
    {
        if (m.Rows != m.Cols)
            throw new ArgumentException($"Expected a square matrix, got {m.Rows} x {m.Cols}.", name);
    }

    // Managed storage: Dispose only ends the factor's use, as for the other implementations.
    private sealed class Factor(MathNet.Numerics.LinearAlgebra.Factorization.Cholesky<double> cholesky, double[] diagonal) : ICholeskyFactor
    {
        private int _disposed;

        public int Size => diagonal.Length;

        public IReadOnlyList<double> PivotDiagonal => diagonal;

        public void Dispose() => Volatile.Write(ref _disposed, 1);

        public Matrix<double> Solve(Matrix<double> rightHandSide)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            ArgumentNullException.ThrowIfNull(rightHandSide);
            if (rightHandSide.Rows != Size)
                throw new ArgumentException($"Expected {Size} rows, got {rightHandSide.Rows} x {rightHandSide.Cols}.", nameof(rightHandSide));
            var x = new Matrix<double>(Size, rightHandSide.Cols);
            if (rightHandSide.Cols == 0 || Size == 0) return x;
            var b = MathNetMatrix.Build.DenseOfRowMajor(Size, rightHandSide.Cols, rightHandSide.Data);
            var solution = cholesky.Solve(b);
            for (int r = 0; r < Size; r++)
                for (int col = 0; col < rightHandSide.Cols; col++)
                    x.Data[r * rightHandSide.Cols + col] = solution[r, col];
            return x;
        }
    }
}

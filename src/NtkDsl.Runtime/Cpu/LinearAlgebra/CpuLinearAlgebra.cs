using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using NtkDsl.Cpu.LinearAlgebra;

namespace NtkDsl;

/// <summary>
/// Dense symmetric linear algebra on NtkDsl's CPU backend (its packed GEMM and worker pool), in float32 and
/// float64: Cholesky factorization with triangular solves for many right-hand sides, the symmetric
/// eigendecomposition, and matrix products. Thread count: <see cref="Cpu.CpuSettings.MaxDegreeOfParallelism"/>.
/// </summary>
/// <remarks>
/// <para>Cholesky is a task-parallel tile factorization on several threads (recursive, LAPACK's potrf2, on one thread
/// and inside its diagonal tiles), every TRSM and update on the packed GEMM; the eigendecomposition is blocked Householder
/// tridiagonalization, divide and conquer on the tridiagonal matrix (merges as GEMMs) and a compact-WY blocked
/// back-transformation (rates: the README's Performance
/// section). Inputs are never modified.</para>
/// <para>Symmetric inputs are checked: every entry finite, and |a_ij - a_ji| &lt;= 1e-5 max |a| (kernels computed in
/// float32 pass), in one vectorized pass that for Cholesky also copies the upper triangle it factors; violations throw
/// <see cref="ArgumentException"/> naming the argument and the offending entry.</para>
/// </remarks>
public static class CpuLinearAlgebra
{
    /// <summary>Relative asymmetry accepted in a symmetric input (entries are read from the upper triangle).</summary>
    public const double SymmetryTolerance = 1e-5;

    /// <summary>
    /// Cholesky factorization A = L L^T, or <see langword="null"/> when a pivot is not positive.
    /// </summary>
    /// <param name="symmetric">A symmetric n x n matrix (finite).</param>
    /// <param name="failedPivot">-1 on success; otherwise the 0-based index of the first pivot that is not positive
    /// (the leading failedPivot x failedPivot block is positive definite).</param>
    /// <exception cref="ArgumentException">Not square, not finite or not symmetric.</exception>
    public static CholeskyFactor<T>? TryCholesky<T>(Matrix<T> symmetric, out int failedPivot)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The factorization reads only the upper triangle: validate and copy it in one pass. The storage comes from the
        // shared array pool, where a disposed factor returns it: memory already mapped, where a fresh n x n array pays a
        // page fault per 4 KiB on first touch (measured: about a quarter of a float32 n = 2000 factorization).
        ArgumentNullException.ThrowIfNull(symmetric);
        var u = ArrayPool<T>.Shared.Rent(symmetric.Data.Length);
        try
        {
            CheckSymmetric(symmetric, nameof(symmetric), u);
            failedPivot = Factor(u, symmetric.Rows);
        }
        catch
        {
            ArrayPool<T>.Shared.Return(u);
            throw;
        }

        if (failedPivot < 0) return new CholeskyFactor<T>(u, symmetric.Rows);
        ArrayPool<T>.Shared.Return(u);
        return null;
    }

    /// <summary>
    /// Eigendecomposition A = V diag(l) V^T: eigenvalues ascending, eigenvector j in column j of V (orthonormal).
    /// </summary>
    /// <param name="symmetric">A symmetric n x n matrix (finite).</param>
    /// <exception cref="ArgumentException">Not square, not finite or not symmetric.</exception>
    public static (T[] Eigenvalues, Matrix<T> Eigenvectors) SymmetricEigen<T>(Matrix<T> symmetric)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireSymmetric(symmetric, nameof(symmetric));
        int n = symmetric.Rows;
        var values = new T[n];
        var vectors = new Matrix<T>(n, n);
        SymmetricEigensolver<T>.Solve((T[])symmetric.Data.Clone(), n, values, vectors.Data);
        return (values, vectors);
    }

    /// <summary>
    /// <see cref="SymmetricEigen{T}"/> with the eigenvectors left factored (X = Q Z, see <see cref="FactoredEigenvectors{T}"/>):
    /// products with a few vectors skip the n^3 of forming X. Keeps the input copy (the reflectors) beside Z: 2 n^2 values
    /// until the eigenvectors are formed, the same peak as <see cref="SymmetricEigen{T}"/>.
    /// </summary>
    internal static (T[] Eigenvalues, FactoredEigenvectors<T> Eigenvectors) SymmetricEigenFactored<T>(Matrix<T> symmetric)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireSymmetric(symmetric, nameof(symmetric));
        int n = symmetric.Rows;
        var values = new T[n];
        var factored = SymmetricEigensolver<T>.Factor((T[])symmetric.Data.Clone(), n, values, new T[n * n]);
        return (values, factored);
    }

    /// <summary>Eigenvalues only (ascending): the tridiagonalization and implicit QL without eigenvectors, about half the time.</summary>
    /// <param name="symmetric">A symmetric n x n matrix (finite).</param>
    /// <exception cref="ArgumentException">Not square, not finite or not symmetric.</exception>
    public static T[] SymmetricEigenvalues<T>(Matrix<T> symmetric)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireSymmetric(symmetric, nameof(symmetric));
        int n = symmetric.Rows;
        var values = new T[n];
        SymmetricEigensolver<T>.Solve((T[])symmetric.Data.Clone(), n, values, null);
        return values;
    }

    /// <summary>Matrix product op(a) op(b), op transposing when its flag is set (packed GEMM, no copies of the operands).</summary>
    /// <param name="a">Left factor.</param>
    /// <param name="transposeA">Use a^T.</param>
    /// <param name="b">Right factor.</param>
    /// <param name="transposeB">Use b^T.</param>
    /// <exception cref="ArgumentException">The inner dimensions differ.</exception>
    public static unsafe Matrix<T> Multiply<T>(Matrix<T> a, bool transposeA, Matrix<T> b, bool transposeB)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (ar, ac, bc) = CpuLinearAlgebra.ProductShape(a, transposeA, b, transposeB);
        var c = new Matrix<T>(ar, bc);
        fixed (T* pa = a.Data, pb = b.Data, pc = c.Data)
        {
            Blas<T>.Gemm(ar, bc, ac, T.One,
                pa, transposeA ? 1 : a.Cols, transposeA ? a.Cols : 1,
                pb, transposeB ? 1 : b.Cols, transposeB ? b.Cols : 1,
                pc, bc, accumulate: false);
        }

        return c;
    }

    /// <summary>
    /// The shape of op(a) op(b) (rows, inner dimension, columns), for implementers of <see cref="IKernelLinearAlgebra.Multiply"/>.
    /// </summary>
    /// <param name="a">Left factor.</param>
    /// <param name="transposeA">Use a^T.</param>
    /// <param name="b">Right factor.</param>
    /// <param name="transposeB">Use b^T.</param>
    /// <exception cref="ArgumentException">The inner dimensions differ (named after <paramref name="b"/>, with both shapes).</exception>
    public static (int Rows, int Inner, int Cols) ProductShape<T>(Matrix<T> a, bool transposeA, Matrix<T> b, bool transposeB)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int ar = transposeA ? a.Cols : a.Rows, ac = transposeA ? a.Rows : a.Cols;
        int br = transposeB ? b.Cols : b.Rows, bc = transposeB ? b.Rows : b.Cols;
        if (ac != br)
            throw new ArgumentException($"Inner dimensions differ: op(a) is {ar} x {ac}, op(b) is {br} x {bc}.", nameof(b));
        return (ar, ac, bc);
    }

    // The strict lower triangle of u stays scratch (never read by the factor, never cleared: most of its pages are not
    // even touched).
    private static unsafe int Factor<T>(T[] u, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* p = u) return Cholesky<T>.Factor(p, n, n);
    }

    /// <summary>Rejects non-square, non-finite and asymmetric matrices, naming <paramref name="name"/> and the entry.</summary>
    internal static void RequireSymmetric<T>(Matrix<T> m, string name) where T : unmanaged, IFloatingPointIeee754<T>
        => CheckSymmetric(m, name, null);

    // RequireSymmetric that also copies the upper triangle of m (with the square blocks on the diagonal) into upper when
    // given: one vectorized pass over the matrix in square blocks (see SymmetryScan); the element-wise scans below run
    // only to name the offending entry.
    private static void CheckSymmetric<T>(Matrix<T> m, string name, T[]? upper) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(m, name);
        if (m.Rows != m.Cols)
            throw new ArgumentException($"{name} must be a square symmetric matrix; got {m.Rows} x {m.Cols}.", name);
        int n = m.Rows;
        var d = m.Data;
        if (d.Length == 0) return;
        var (maxAbs, maxAsymmetry, finite) = SymmetryScan<T>.Run(d, n, upper);
        if (!finite)
            for (int i = 0; i < d.Length; i++)
                if (!T.IsFinite(d[i]))
                    throw new ArgumentException($"{name} contains {Fmt(d[i])} at ({i / n}, {i % n}); NaN and infinity are not allowed.", name);

        T tolerance = T.CreateChecked(SymmetryTolerance) * maxAbs;
        if (maxAsymmetry <= tolerance) return;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (T.Abs(d[i * n + j] - d[j * n + i]) > tolerance)
                    throw new ArgumentException(
                        $"{name} must be symmetric; element ({i}, {j}) = {Fmt(d[i * n + j])} but ({j}, {i}) = {Fmt(d[j * n + i])} (tolerance {SymmetryTolerance:G2} relative to the largest entry).", name);
    }

    private static string Fmt<T>(T v) where T : IFormattable => v.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>A Cholesky factor A = L L^T from <see cref="CpuLinearAlgebra.TryCholesky{T}"/>, solving systems with A.</summary>
/// <remarks>
/// Disposing returns the factor's n x n storage to the shared array pool, so that the next factorization reuses memory
/// that is already mapped; a factor that is not disposed is collected as usual. After disposal every member but
/// <see cref="Size"/> throws <see cref="ObjectDisposedException"/>.
/// </remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class CholeskyFactor<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    // U = L^T, upper triangle in row-major storage (a pooled array, at least n^2 long); the strict lower part is scratch
    // of the factorization and is never read.
    private T[]? _storage;

    internal CholeskyFactor(T[] upper, int size)
    {
        _storage = upper;
        Size = size;
    }

    private T[] Upper => _storage ?? throw new ObjectDisposedException(nameof(CholeskyFactor<T>));

    /// <summary>Returns the storage to the shared array pool (idempotent).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _storage, null) is { } storage) ArrayPool<T>.Shared.Return(storage);
    }

    /// <summary>The dimension n of A.</summary>
    public int Size { get; }

    /// <summary>L[i, i], all positive; their squares are the pivots.</summary>
    public T[] Diagonal()
    {
        var u = Upper;
        var d = new T[Size];
        for (int i = 0; i < Size; i++) d[i] = u[i * Size + i];
        return d;
    }

    /// <summary>The lower-triangular factor L as a new matrix (zeros above the diagonal).</summary>
    public Matrix<T> Lower()
    {
        int n = Size;
        var u = Upper;
        var l = new Matrix<T>(n, n);
        for (int j = 0; j < n; j++)
            for (int i = j; i < n; i++) l.Data[i * n + j] = u[j * n + i];
        return l;
    }

    /// <summary>Solves A X = B (forward then back substitution, blocked on the GEMM).</summary>
    /// <param name="rightHandSide">B, n x k (finite).</param>
    /// <returns>X, n x k.</returns>
    /// <exception cref="ArgumentException">B does not have n rows or is not finite.</exception>
    /// <exception cref="ObjectDisposedException">The factor was disposed.</exception>
    public Matrix<T> Solve(Matrix<T> rightHandSide)
    {
        ObjectDisposedException.ThrowIf(_storage is null, this);
        ArgumentNullException.ThrowIfNull(rightHandSide);
        if (rightHandSide.Rows != Size)
            throw new ArgumentException($"rightHandSide must have {Size} rows (the factor's size); got {rightHandSide.Rows} x {rightHandSide.Cols}.", nameof(rightHandSide));
        foreach (var v in rightHandSide.Data)
            if (!T.IsFinite(v))
                throw new ArgumentException("rightHandSide contains NaN or infinity.", nameof(rightHandSide));
        var x = new Matrix<T>(Size, rightHandSide.Cols, (T[])rightHandSide.Data.Clone());
        SolveInPlace(x);
        return x;
    }

    private unsafe void SolveInPlace(Matrix<T> x)
    {
        fixed (T* u = Upper, b = x.Data)
        {
            Blas<T>.SolveUpperTransposed(u, Size, Size, b, x.Cols, x.Cols);   // L Y = B
            Blas<T>.SolveUpper(u, Size, Size, b, x.Cols, x.Cols);             // L^T X = Y
        }
    }
}

using System.Numerics;
using System.Numerics.Tensors;

namespace NtkDsl.Cpu.LinearAlgebra;

/// <summary>
/// Recursive Cholesky factorization A = U^T U (U upper, row-major, in place; equivalently A = L L^T with L = U^T
/// column-major), LAPACK's potrf2 scheme: factor the leading half, one TRSM for the off-diagonal block, one SYRK
/// (the packed GEMM restricted to the upper triangle) for the trailing half, recurse. Almost all of the n^3 / 3
/// multiply-adds run in the GEMM at its large-K rate; leaves of up to 64 rows are unblocked row operations.
/// </summary>
internal static unsafe class Cholesky<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int Leaf = 64;

    /// <summary>
    /// Factors the upper triangle of a (n x n, row stride ld) in place; the strict lower triangle is scratch
    /// (partly overwritten) and is not read. Returns -1 on success or the index of the first pivot that is not
    /// positive (or not finite): the leading block before it is factored.
    /// </summary>
    public static int Factor(T* a, nint ld, int n)
    {
        if (n <= Leaf) return Unblocked(a, ld, n);
        int n1 = Blas<T>.Split(n), n2 = n - n1;
        int failed = Factor(a, ld, n1);
        if (failed >= 0) return failed;
        T* a12 = a + n1, a22 = a + n1 * ld + n1;
        Blas<T>.SolveUpperTransposed(a, ld, n1, a12, ld, n2);                     // U12 = U11^-T A12
        Blas<T>.Gemm(n2, n2, n1, -T.One, a12, 1, ld, a12, ld, 1, a22, ld,          // A22 -= U12^T U12 (upper)
            accumulate: true, upperOnly: true);
        failed = Factor(a22, ld, n2);
        return failed >= 0 ? n1 + failed : -1;
    }

    // Right-looking on rows: row k becomes U[k, k..n); later rows subtract their multiple of it.
    private static int Unblocked(T* a, nint ld, int n)
    {
        for (int k = 0; k < n; k++)
        {
            T* row = a + k * ld;
            T d = row[k];
            if (!(d > T.Zero) || !T.IsFinite(d)) return k;
            T ukk = T.Sqrt(d);
            row[k] = ukk;
            var rest = new Span<T>(row + k + 1, n - k - 1);
            TensorPrimitives.Divide(rest, ukk, rest);
            for (int i = k + 1; i < n; i++)
            {
                var target = new Span<T>(a + i * ld + i, n - i);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(row + i, n - i), -row[i], target, target);
            }
        }

        return -1;
    }
}

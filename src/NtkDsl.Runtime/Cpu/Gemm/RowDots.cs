using System.Numerics;
using System.Runtime.Intrinsics;

namespace NtkDsl.Cpu.Gemm;

/// <summary>
/// C[i, j] = alpha &lt;A row i, B row j&gt; for rows contiguous along the depth (A B^T with both operands row-major): a
/// 4 x 3 tile of vector accumulators over the depth, summed across lanes once at the end. Nothing is packed, so when
/// one side is narrow (a conv layer's per-tap Jacobian columns, a few hundred rows against nine) this skips the copy
/// of the wide operand that a packed GEMM makes for the few products each of its elements takes part in. The wider
/// side is the outer loop and is read once; the narrower side is reread from cache.
/// </summary>
internal static unsafe class RowDots<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int TileRows = 4, TileCols = 3;

    /// <summary>C[i ldc + j] = alpha sum_k A[i lda + k] B[j ldb + k] for i &lt; m, j &lt; n, k &lt; depth.</summary>
    public static void Run(T* a, nint lda, int m, T* b, nint ldb, int n, int depth, T* c, nint ldc, T alpha)
    {
        if (PackedGemm<T>.UsesAvx512) Run<PackedGemm<T>.Simd512, Vector512<T>>(a, lda, m, b, ldb, n, depth, c, ldc, alpha);
        else Run<PackedGemm<T>.Simd256, Vector256<T>>(a, lda, m, b, ldb, n, depth, c, ldc, alpha);
    }

    private static void Run<TS, TV>(T* a, nint lda, int m, T* b, nint ldb, int n, int depth, T* c, nint ldc, T alpha)
        where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
    {
        if (m >= n)
        {
            for (int i = 0; i < m; i += TileRows)
            for (int j = 0; j < n; j += TileCols)
                Tile<TS, TV>(a, lda, i, Math.Min(TileRows, m - i), b, ldb, j, Math.Min(TileCols, n - j), depth, c, ldc, alpha);
        }
        else
        {
            for (int j = 0; j < n; j += TileCols)
            for (int i = 0; i < m; i += TileRows)
                Tile<TS, TV>(a, lda, i, Math.Min(TileRows, m - i), b, ldb, j, Math.Min(TileCols, n - j), depth, c, ldc, alpha);
        }
    }

    private static void Tile<TS, TV>(T* a, nint lda, int i, int rows, T* b, nint ldb, int j, int cols, int depth, T* c, nint ldc, T alpha)
        where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
    {
        if (rows < TileRows || cols < TileCols)
        {
            // Edge tiles: one dot product at a time.
            for (int r = 0; r < rows; r++)
            for (int s = 0; s < cols; s++)
                c[(i + r) * ldc + j + s] = alpha * Dot<TS, TV>(a + (i + r) * lda, b + (j + s) * ldb, depth);
            return;
        }

        T* a0 = a + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
        T* b0 = b + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb;
        TV c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        TV c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        int width = TS.Count, k = 0;
        for (; k + width <= depth; k += width)
        {
            var x0 = TS.Load(b0 + k);
            var x1 = TS.Load(b1 + k);
            var x2 = TS.Load(b2 + k);
            var y = TS.Load(a0 + k);
            c00 = TS.MultiplyAdd(y, x0, c00);
            c01 = TS.MultiplyAdd(y, x1, c01);
            c02 = TS.MultiplyAdd(y, x2, c02);
            y = TS.Load(a1 + k);
            c10 = TS.MultiplyAdd(y, x0, c10);
            c11 = TS.MultiplyAdd(y, x1, c11);
            c12 = TS.MultiplyAdd(y, x2, c12);
            y = TS.Load(a2 + k);
            c20 = TS.MultiplyAdd(y, x0, c20);
            c21 = TS.MultiplyAdd(y, x1, c21);
            c22 = TS.MultiplyAdd(y, x2, c22);
            y = TS.Load(a3 + k);
            c30 = TS.MultiplyAdd(y, x0, c30);
            c31 = TS.MultiplyAdd(y, x1, c31);
            c32 = TS.MultiplyAdd(y, x2, c32);
        }

        T* row = c + i * ldc + j;
        Store<TS, TV>(row, c00, c01, c02, a0, b0, b1, b2, k, depth, alpha);
        Store<TS, TV>(row + ldc, c10, c11, c12, a1, b0, b1, b2, k, depth, alpha);
        Store<TS, TV>(row + 2 * ldc, c20, c21, c22, a2, b0, b1, b2, k, depth, alpha);
        Store<TS, TV>(row + 3 * ldc, c30, c31, c32, a3, b0, b1, b2, k, depth, alpha);
    }

    // One row of a tile: the lane sums plus the depth's scalar tail [k, depth).
    private static void Store<TS, TV>(T* row, TV s0, TV s1, TV s2, T* a, T* b0, T* b1, T* b2, int k, int depth, T alpha)
        where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
    {
        T t0 = TS.Sum(s0), t1 = TS.Sum(s1), t2 = TS.Sum(s2);
        for (; k < depth; k++)
        {
            t0 += a[k] * b0[k];
            t1 += a[k] * b1[k];
            t2 += a[k] * b2[k];
        }

        row[0] = alpha * t0;
        row[1] = alpha * t1;
        row[2] = alpha * t2;
    }

    private static T Dot<TS, TV>(T* x, T* y, int depth) where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
    {
        TV s = default;
        int k = 0;
        for (; k + TS.Count <= depth; k += TS.Count) s = TS.MultiplyAdd(TS.Load(x + k), TS.Load(y + k), s);
        T sum = TS.Sum(s);
        for (; k < depth; k++) sum += x[k] * y[k];
        return sum;
    }
}

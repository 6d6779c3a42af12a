using System.Numerics;
using System.Numerics.Tensors;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu.LinearAlgebra;

/// <summary>
/// Level-3 building blocks on raw row-major storage for the factorizations: a strided GEMM (sub-matrix views
/// are base pointer + row stride, transposes are swapped strides, all absorbed by <see cref="PackedGemm{T}"/>'s
/// packing) and triangular solves with many right-hand sides (TRSM) that spend their time in that GEMM.
/// </summary>
/// <remarks>
/// Triangular factors are upper triangles U in row-major storage (row i holds U[i, i..n)); the lower factor
/// L = U^T of a Cholesky factorization is the same memory read column-major, so both L X = B and L^T X = B
/// are solves with U. Right-hand sides B are row-major n x r with row stride ldb and are overwritten by X.
/// </remarks>
internal static unsafe class Blas<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Triangular sizes at or below which the solves run the unblocked (row-axpy) kernel.</summary>
    private const int TrsmLeaf = 64;

    /// <summary>Right-hand-side columns per work item of the unblocked kernel.</summary>
    private const int TrsmColumnChunk = 256;

    public static int Threads => CpuSettings.MaxDegreeOfParallelism > 0 ? CpuSettings.MaxDegreeOfParallelism : Environment.ProcessorCount;

    /// <summary>C[m, n] = alpha op(A) op(B) (+ C when <paramref name="accumulate"/>), op(A)(i, k) = a[i rsA + k csA], op(B)(k, j) = b[k rsB + j csB].</summary>
    public static void Gemm(int m, int n, int k, T alpha, T* a, nint rsA, nint csA, T* b, nint rsB, nint csB,
        T* c, nint ldc, bool accumulate, bool upperOnly = false)
    {
        if (m <= 0 || n <= 0) return;
        if (k <= 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) new Span<T>(c + i * ldc, n).Clear();
            return;
        }

        var p = new GemmProblem<T>
        {
            M = m, N = n, K = k,
            A = a, RsA = rsA, CsA = csA,
            B = b, RsB = rsB, CsB = csB,
            C = c, Ldc = ldc,
            Alpha = alpha, Accumulate = accumulate,
            UpperOnly = upperOnly && m == n,
        };
        PackedGemm<T>.Run(p, Threads);
    }

    /// <summary>Solves U^T X = B (forward substitution with L = U^T), U n x n upper with row stride ldu.</summary>
    public static void SolveUpperTransposed(T* u, nint ldu, int n, T* b, nint ldb, int r)
    {
        if (n <= 0 || r <= 0) return;
        if (n <= TrsmLeaf)
        {
            Leaf(u, ldu, n, b, ldb, r, transposed: true);
            return;
        }

        int n1 = Split(n), n2 = n - n1;
        SolveUpperTransposed(u, ldu, n1, b, ldb, r);
        // B2 -= U12^T X1, with U12^T(i, k) = u[k ldu + n1 + i].
        Gemm(n2, r, n1, -T.One, u + n1, 1, ldu, b, ldb, 1, b + n1 * ldb, ldb, accumulate: true);
        SolveUpperTransposed(u + n1 * ldu + n1, ldu, n2, b + n1 * ldb, ldb, r);
    }

    /// <summary>Solves U X = B (back substitution), U n x n upper with row stride ldu.</summary>
    public static void SolveUpper(T* u, nint ldu, int n, T* b, nint ldb, int r)
    {
        if (n <= 0 || r <= 0) return;
        if (n <= TrsmLeaf)
        {
            Leaf(u, ldu, n, b, ldb, r, transposed: false);
            return;
        }

        int n1 = Split(n), n2 = n - n1;
        SolveUpper(u + n1 * ldu + n1, ldu, n2, b + n1 * ldb, ldb, r);
        // B1 -= U12 X2, with U12(i, k) = u[i ldu + n1 + k].
        Gemm(n1, r, n2, -T.One, u + n1, ldu, 1, b + n1 * ldb, ldb, 1, b, ldb, accumulate: true);
        SolveUpper(u, ldu, n1, b, ldb, r);
    }

    /// <summary>Splits a recursion at about half, on a multiple of the GEMM's row tile so blocks stay aligned.</summary>
    public static int Split(int n) => Math.Max(PackedGemm<T>.MR, n / 2 / PackedGemm<T>.MR * PackedGemm<T>.MR);

    // Unblocked solves as row operations (each row of B is contiguous), split over column chunks of B.
    private static void Leaf(T* u, nint ldu, int n, T* b, nint ldb, int r, bool transposed)
    {
        int chunks = (r + TrsmColumnChunk - 1) / TrsmColumnChunk;
        var job = new LeafJob(u, ldu, n, b, ldb, r, transposed);
        int threads = (long)n * n * r < PackedGemm<T>.ParallelThreshold ? 1 : Threads;
        WorkerPool.Run(job, chunks, threads);
    }

    private readonly struct LeafJob(T* u, nint ldu, int n, T* b, nint ldb, int r, bool transposed) : IWorkItems
    {
        public void Run(int item)
        {
            int c0 = item * TrsmColumnChunk, w = Math.Min(TrsmColumnChunk, r - c0);
            if (transposed)
            {
                // x_i = (b_i - sum_{k < i} U[k, i] x_k) / U[i, i], done as: scale row i, subtract it from later rows.
                for (int i = 0; i < n; i++)
                {
                    var xi = new Span<T>(b + i * ldb + c0, w);
                    TensorPrimitives.Divide(xi, u[i * ldu + i], xi);
                    for (int j = i + 1; j < n; j++)
                    {
                        var xj = new Span<T>(b + j * ldb + c0, w);
                        TensorPrimitives.MultiplyAdd(xi, -u[i * ldu + j], xj, xj);
                    }
                }
            }
            else
            {
                for (int i = n - 1; i >= 0; i--)
                {
                    var xi = new Span<T>(b + i * ldb + c0, w);
                    TensorPrimitives.Divide(xi, u[i * ldu + i], xi);
                    for (int j = 0; j < i; j++)
                    {
                        var xj = new Span<T>(b + j * ldb + c0, w);
                        TensorPrimitives.MultiplyAdd(xi, -u[j * ldu + i], xj, xj);
                    }
                }
            }
        }
    }
}

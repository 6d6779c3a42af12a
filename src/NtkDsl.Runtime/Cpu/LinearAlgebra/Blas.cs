using System.Numerics;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu.LinearAlgebra;

/// <summary>
/// Level-3 building blocks on raw row-major storage for the factorizations: a strided GEMM (sub-matrix views
/// are base pointer + row stride, transposes are swapped strides, all absorbed by <see cref="PackedGemm{T}"/>'s
/// packing) and triangular solves with many right-hand sides (TRSM) that spend their time in that GEMM; their leaves
/// solve L1-resident column strips with each solution row accumulated in registers.
/// </summary>
/// <remarks>
/// Triangular factors are upper triangles U in row-major storage (row i holds U[i, i..n)); the lower factor
/// L = U^T of a Cholesky factorization is the same memory read column-major, so both L X = B and L^T X = B
/// are solves with U. Right-hand sides B are row-major n x r with row stride ldb and are overwritten by X.
/// </remarks>
internal static unsafe class Blas<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Triangular sizes at or below which the solves run the unblocked (register-accumulated rows) kernel.</summary>
    private const int TrsmLeaf = 64;

    private static readonly bool HasFma = System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;

    public static int Threads => CpuSettings.MaxDegreeOfParallelism > 0 ? CpuSettings.MaxDegreeOfParallelism : Environment.ProcessorCount;

    /// <summary>
    /// C[m, n] = alpha op(A) op(B) (+ C when <paramref name="accumulate"/>), op(A)(i, k) = a[i rsA + k csA], op(B)(k, j) = b[k rsB + j csB],
    /// on <paramref name="threads"/> threads (0: <see cref="Threads"/>; tasks of a task-parallel factorization pass 1).
    /// </summary>
    public static void Gemm(int m, int n, int k, T alpha, T* a, nint rsA, nint csA, T* b, nint rsB, nint csB,
        T* c, nint ldc, bool accumulate, bool upperOnly = false, int threads = 0)
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
        PackedGemm<T>.Run(p, threads > 0 ? threads : Threads);
    }

    /// <summary>Solves U^T X = B (forward substitution with L = U^T), U n x n upper with row stride ldu (threads as <see cref="Gemm"/>).</summary>
    public static void SolveUpperTransposed(T* u, nint ldu, int n, T* b, nint ldb, int r, int threads = 0)
    {
        if (n <= 0 || r <= 0) return;
        if (n <= TrsmLeaf)
        {
            Leaf(u, ldu, n, b, ldb, r, transposed: true, threads);
            return;
        }

        int n1 = Split(n), n2 = n - n1;
        SolveUpperTransposed(u, ldu, n1, b, ldb, r, threads);
        // B2 -= U12^T X1, with U12^T(i, k) = u[k ldu + n1 + i].
        Gemm(n2, r, n1, -T.One, u + n1, 1, ldu, b, ldb, 1, b + n1 * ldb, ldb, accumulate: true, threads: threads);
        SolveUpperTransposed(u + n1 * ldu + n1, ldu, n2, b + n1 * ldb, ldb, r, threads);
    }

    /// <summary>Solves U X = B (back substitution), U n x n upper with row stride ldu (threads as <see cref="Gemm"/>).</summary>
    public static void SolveUpper(T* u, nint ldu, int n, T* b, nint ldb, int r, int threads = 0)
    {
        if (n <= 0 || r <= 0) return;
        if (n <= TrsmLeaf)
        {
            Leaf(u, ldu, n, b, ldb, r, transposed: false, threads);
            return;
        }

        int n1 = Split(n), n2 = n - n1;
        SolveUpper(u + n1 * ldu + n1, ldu, n2, b + n1 * ldb, ldb, r, threads);
        // B1 -= U12 X2, with U12(i, k) = u[i ldu + n1 + k].
        Gemm(n1, r, n2, -T.One, u + n1, ldu, 1, b + n1 * ldb, ldb, 1, b, ldb, accumulate: true, threads: threads);
        SolveUpper(u, ldu, n1, b, ldb, r, threads);
    }

    /// <summary>Splits a recursion at about half, on a multiple of the GEMM's row tile so blocks stay aligned.</summary>
    public static int Split(int n) => Math.Max(PackedGemm<T>.MR, n / 2 / PackedGemm<T>.MR * PackedGemm<T>.MR);

    // Unblocked solves on column strips of B narrow enough that the strip (n <= 64 rows) stays in L1: each row of the
    // solution is accumulated in registers (x_j = (b_j - sum_i U[i, j] x_i) / U[j, j], the sum over the rows already
    // solved) and stored once, so the inner loop is one load and one FMA per vector.
    private static void Leaf(T* u, nint ldu, int n, T* b, nint ldb, int r, bool transposed, int threads)
    {
        int strip = StripWidth;
        int strips = (r + strip - 1) / strip;
        var job = new LeafJob(u, ldu, n, b, ldb, r, transposed);
        if ((long)n * n * r < PackedGemm<T>.ParallelThreshold) threads = 1;
        else if (threads <= 0) threads = Threads;
        WorkerPool.Run(job, strips, threads);
    }

    /// <summary>Columns of B per work item of the unblocked solve: eight vectors (the register accumulators).</summary>
    private static int StripWidth => 8 * Vector<T>.Count;

    private readonly struct LeafJob(T* u, nint ldu, int n, T* b, nint ldb, int r, bool transposed) : IWorkItems
    {
        public void Run(int item)
        {
            int strip = StripWidth;
            int c0 = item * strip, w = Math.Min(strip, r - c0);
            T* x = b + c0;
            // Row j of op(U): coefficient of solved row i is U[i, j] (transposed, forward) or U[j, i] (backward).
            nint rowStep = transposed ? 1 : ldu, colStep = transposed ? ldu : 1;
            for (int step = 0; step < n; step++)
            {
                int j = transposed ? step : n - 1 - step;
                int i0 = transposed ? 0 : j + 1, i1 = transposed ? j : n;
                T* coefficients = u + j * rowStep; // coefficient of row i: coefficients[i * colStep]
                T inv = T.One / u[j * ldu + j];
                T* xj = x + j * ldb;
                if (w == strip) SolveRowFull(coefficients, colStep, i0, i1, x, ldb, xj, inv);
                else SolveRowPartial(coefficients, colStep, i0, i1, x, ldb, xj, inv, w);
            }
        }

        private static void SolveRowFull(T* coefficients, nint colStep, int i0, int i1, T* x, nint ldb, T* xj, T inv)
        {
            int v = Vector<T>.Count;
            var a0 = Vector.Load(xj);
            var a1 = Vector.Load(xj + v);
            var a2 = Vector.Load(xj + 2 * v);
            var a3 = Vector.Load(xj + 3 * v);
            var a4 = Vector.Load(xj + 4 * v);
            var a5 = Vector.Load(xj + 5 * v);
            var a6 = Vector.Load(xj + 6 * v);
            var a7 = Vector.Load(xj + 7 * v);
            for (int i = i0; i < i1; i++)
            {
                var c = new Vector<T>(-coefficients[i * colStep]);
                T* xi = x + i * ldb;
                a0 = Fma(c, Vector.Load(xi), a0);
                a1 = Fma(c, Vector.Load(xi + v), a1);
                a2 = Fma(c, Vector.Load(xi + 2 * v), a2);
                a3 = Fma(c, Vector.Load(xi + 3 * v), a3);
                a4 = Fma(c, Vector.Load(xi + 4 * v), a4);
                a5 = Fma(c, Vector.Load(xi + 5 * v), a5);
                a6 = Fma(c, Vector.Load(xi + 6 * v), a6);
                a7 = Fma(c, Vector.Load(xi + 7 * v), a7);
            }

            var s = new Vector<T>(inv);
            Vector.Store(a0 * s, xj);
            Vector.Store(a1 * s, xj + v);
            Vector.Store(a2 * s, xj + 2 * v);
            Vector.Store(a3 * s, xj + 3 * v);
            Vector.Store(a4 * s, xj + 4 * v);
            Vector.Store(a5 * s, xj + 5 * v);
            Vector.Store(a6 * s, xj + 6 * v);
            Vector.Store(a7 * s, xj + 7 * v);
        }

        // A strip narrower than eight vectors (the last one of B): one vector of the row at a time, accumulated in a
        // register as in SolveRowFull, then the scalar remainder.
        private static void SolveRowPartial(T* coefficients, nint colStep, int i0, int i1, T* x, nint ldb, T* xj, T inv, int w)
        {
            int v = Vector<T>.Count, c = 0;
            for (; c <= w - v; c += v)
            {
                var a = Vector.Load(xj + c);
                for (int i = i0; i < i1; i++) a = Fma(new Vector<T>(-coefficients[i * colStep]), Vector.Load(x + i * ldb + c), a);
                Vector.Store(a * new Vector<T>(inv), xj + c);
            }

            for (; c < w; c++)
            {
                T a = xj[c];
                for (int i = i0; i < i1; i++) a -= coefficients[i * colStep] * x[i * ldb + c];
                xj[c] = a * inv;
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        private static Vector<T> Fma(Vector<T> a, Vector<T> b, Vector<T> c)
        {
            if (!HasFma) return a * b + c;
            if (typeof(T) == typeof(double)) return Vector.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
            if (typeof(T) == typeof(float)) return Vector.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
            return a * b + c;
        }
    }
}

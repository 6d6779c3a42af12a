using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Numerics.Tensors;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu.LinearAlgebra;

/// <summary>
/// Symmetric eigendecomposition A = X diag(l) X^T in three stages, as LAPACK's syev:
/// <list type="number">
/// <item>Blocked Householder tridiagonalization Q^T A Q = T (sytrd/latrd): panels of <see cref="PanelWidth"/>
/// reflectors are built against a lazily updated trailing matrix (one symmetric matrix-vector product per
/// reflector, reading only the upper triangle), then the trailing matrix takes the rank-2b update
/// A -= V^T W + W^T V as two upper-triangle GEMMs (SYR2K).</item>
/// <item>The tridiagonal eigenproblem: with eigenvectors by divide and conquer (<see cref="TridiagonalDivideConquer{T}"/>,
/// whose merges are GEMMs), eigenvalues alone by implicit QL with Wilkinson shifts (EISPACK tql2), which also solves the
/// divide-and-conquer leaves: its rotations are recorded and applied to Z^T in batches, strip of columns by strip.</item>
/// <item>Back-transformation X = Q Z by <see cref="FactoredEigenvectors{T}"/>: in blocks of reflectors with the compact WY
/// form H_k ... H_(k+b-1) = I - V^T T V (larft), three GEMMs per block, or not at all when only products X M are wanted.</item>
/// </list>
/// Storage: one n x n workspace (the input copy) and O(n) buffers. The copy holds the reflectors after stage 1; they are
/// packed into its first n (n - 1) / 2 entries, and the rest, n (n + 1) / 2 entries, is divide and conquer's scratch for
/// the gathered eigenvectors of a merge (at most n1^2 + n2^2). X^T is built in the output array and transposed in
/// place. (LAPACK's dsyevd needs 1 + 6n + 2n^2 of workspace beyond its input and output.)
/// </summary>
internal static unsafe class SymmetricEigensolver<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int PanelWidth = 32;

    private static readonly bool HasFma = System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;

    /// <summary>The machine epsilon of T (2^-23, 2^-52).</summary>
    internal static readonly T Eps = T.CreateChecked(typeof(T) == typeof(float) ? 1.1920928955078125e-7 : 2.220446049250313e-16);

    /// <summary>
    /// Eigenvalues ascending into <paramref name="values"/> and, unless <paramref name="vectors"/> is null,
    /// eigenvectors as its columns (n x n row-major). <paramref name="a"/> (n x n, symmetric, row-major; the upper
    /// triangle is read) is destroyed.
    /// </summary>
    public static void Solve(T[] a, int n, T[] values, T[]? vectors)
    {
        if (n == 0) return;
        if (vectors is not null)
        {
            Factor(a, n, values, vectors).Expand();
            return;
        }

        var e = new T[n];
        var tau = new T[n];
        fixed (T* pa = a, pd = values, pe = e, ptau = tau)
        {
            Tridiagonalize(pa, n, pd, pe, ptau);
            TridiagonalQl(pd, pe, n, null);
        }

        Array.Sort(values);
    }

    /// <summary>
    /// Stages 1 and 2: eigenvalues ascending into <paramref name="values"/>, the eigenvectors as X = Q Z with Z^T written
    /// to <paramref name="zt"/> (n x n) and the reflectors kept in <paramref name="a"/> (the destroyed input).
    /// </summary>
    public static FactoredEigenvectors<T> Factor(T[] a, int n, T[] values, T[] zt)
    {
        var e = new T[n];
        var tau = new T[n];
        long packed = (long)n * (n - 1) / 2;
        if (n > 0)
        {
            fixed (T* pa = a, pd = values, pe = e, ptau = tau, pz = zt)
            {
                Tridiagonalize(pa, n, pd, pe, ptau);
                PackReflectors(pa, n);
                System.Diagnostics.Debug.Assert(TridiagonalDivideConquer<T>.ScratchLength(n) <= (long)n * n - packed);
                TridiagonalDivideConquer<T>.Solve(pd, pe, n, pz, pa + packed);
            }
        }

        return new FactoredEigenvectors<T>(n, zt, a, tau);
    }

    // ---- Stage 1: tridiagonalization ---------------------------------------------------------------------

    // Reflector j (j < n - 1) is v_j with v_j[j + 1] = 1, stored in a[j, j + 1..n), and H_j = I - tau_j v v^T.
    // d[j] = T[j, j], e[j] = T[j, j + 1].
    private static void Tridiagonalize(T* a, int n, T* d, T* e, T* tau)
    {
        int nb = Math.Min(PanelWidth, n);
        var wBuffer = new T[nb * n];
        var y = new T[n];
        var parts = new T[Blas<T>.Threads * n];
        fixed (T* w = wBuffer, py = y, pParts = parts)
        {
            for (int k = 0; k < n; k += nb)
            {
                int bsz = Math.Min(nb, n - k);
                for (int r = 0; r < bsz; r++)
                {
                    int j = k + r;
                    T* row = a + j * n;
                    int len = n - j;
                    // Bring row j (columns j..n) up to date with this panel's earlier reflectors.
                    for (int q = 0; q < r; q++)
                    {
                        T* vq = a + (k + q) * n, wq = w + q * n;
                        var target = new Span<T>(row + j, len);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(wq + j, len), -vq[j], target, target);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(vq + j, len), -wq[j], target, target);
                    }

                    d[j] = row[j];
                    T* wr = w + r * n;
                    if (j == n - 1) break;
                    int m = n - j - 1;
                    var x = new Span<T>(row + j + 1, m);
                    T alpha = x[0];
                    T tail = m > 1 ? TensorPrimitives.Dot(x[1..], x[1..]) : T.Zero;
                    if (tail == T.Zero)
                    {
                        tau[j] = T.Zero;
                        e[j] = alpha;
                        x[0] = T.One;
                        new Span<T>(wr + j + 1, m).Clear();
                        continue;
                    }

                    T beta = -T.CopySign(T.Sqrt(alpha * alpha + tail), alpha);
                    T t = (beta - alpha) / beta;
                    tau[j] = t;
                    e[j] = beta;
                    TensorPrimitives.Multiply(x[1..], T.One / (alpha - beta), x[1..]);
                    x[0] = T.One;

                    // y = A22 v on the stored (not yet panel-updated) trailing matrix, then the panel's correction.
                    var yv = new Span<T>(py, m);
                    SymmetricMatVec(a + (j + 1) * n + j + 1, n, m, row + j + 1, py, pParts);
                    for (int q = 0; q < r; q++)
                    {
                        T* vq = a + (k + q) * n + j + 1, wq = w + q * n + j + 1;
                        T wv = TensorPrimitives.Dot(new ReadOnlySpan<T>(wq, m), x);
                        T vv = TensorPrimitives.Dot(new ReadOnlySpan<T>(vq, m), x);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(vq, m), -wv, yv, yv);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(wq, m), -vv, yv, yv);
                    }

                    // w = tau y - (tau^2 / 2)(y . v) v: then H A22 H = A22 - v w^T - w v^T.
                    T half = T.CreateChecked(0.5) * t * t * TensorPrimitives.Dot(yv, x);
                    var wrow = new Span<T>(wr + j + 1, m);
                    TensorPrimitives.Multiply(yv, t, wrow);
                    TensorPrimitives.MultiplyAdd(x, -half, wrow, wrow);
                }

                int t0 = k + bsz, mt = n - t0;
                if (mt <= 0) continue;
                // Trailing A22 -= V^T W + W^T V (upper triangle), V = rows k..k+bsz of a, W = the panel buffer.
                T* c = a + t0 * n + t0;
                T* v = a + k * n + t0;
                Blas<T>.Gemm(mt, mt, bsz, -T.One, v, 1, n, w + t0, n, 1, c, n, accumulate: true, upperOnly: true);
                Blas<T>.Gemm(mt, mt, bsz, -T.One, w + t0, 1, n, v, n, 1, c, n, accumulate: true, upperOnly: true);
            }
        }
    }

    // Below this many bytes of trailing matrix one thread does the product: the second thread's wake-up and the parts'
    // sum cost more than it saves (eigh n = 1000 on two cores: the products took 21 ms on one thread, 27 ms on two).
    // Settable so that tests run the split at small sizes.
    internal static long ParallelMatVecBytes = 8 << 20;

    // y = A v for symmetric A (m x m, row stride ld) reading only its upper triangle: row i contributes
    // dot(A[i, i..], v[i..]) to y[i] and A[i, i+1..] v[i] to y[i+1..]. Each part accumulates into its own buffer
    // over a row range of equal triangle area; the parts are summed at the end.
    private static void SymmetricMatVec(T* a, nint ld, int m, T* v, T* y, T* parts)
    {
        int threads = (long)m * m * sizeof(T) < ParallelMatVecBytes ? 1 : Blas<T>.Threads;
        var job = new MatVecJob(a, ld, m, v, parts, threads);
        WorkerPool.Run(job, threads, threads);
        var dst = new Span<T>(y, m);
        new ReadOnlySpan<T>(parts, m).CopyTo(dst);
        for (int p = 1; p < threads; p++) TensorPrimitives.Add(dst, new ReadOnlySpan<T>(parts + p * m, m), dst);
    }

    private readonly struct MatVecJob(T* a, nint ld, int m, T* v, T* parts, int count) : IWorkItems
    {
        public void Run(int item)
        {
            // Rows [r0, r1) with (m - r0)^2 - (m - r1)^2 = m^2 / count.
            int r0 = item == 0 ? 0 : m - (int)Math.Round(m * Math.Sqrt(1.0 - (double)item / count));
            int r1 = item == count - 1 ? m : m - (int)Math.Round(m * Math.Sqrt(1.0 - (double)(item + 1) / count));
            T* y = parts + (nint)item * m;
            new Span<T>(y, m).Clear();
            int i = r0;
            if (PackedGemm<T>.UsesAvx512)
                for (; i + 4 <= r1; i += 4) FourRows<PackedGemm<T>.Simd512, Vector512<T>>(i, y);
            else if (Vector256.IsHardwareAccelerated && HasFma)
                for (; i + 4 <= r1; i += 4) FourRows<PackedGemm<T>.Simd256, Vector256<T>>(i, y);
            for (; i < r1; i++)
            {
                T* row = a + i * ld;
                int len = m - i;
                var vi = new ReadOnlySpan<T>(v + i, len);
                y[i] += TensorPrimitives.Dot(new ReadOnlySpan<T>(row + i, len), vi);
                if (len > 1)
                {
                    var tail = new Span<T>(y + i + 1, len - 1);
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(row + i + 1, len - 1), v[i], tail, tail);
                }
            }
        }

        // Rows i..i+3 (i + 4 <= m) in one pass over their columns: y[j] takes all four rows' A[r, j] v[r] while
        // v[j] and y[j] are in registers, so each vector of y is loaded and stored once per four rows, not once per
        // row (the single-row loop is bound by those L1 accesses, not by the matrix's trip from L2/L3).
        private void FourRows<TS, TV>(int i, T* y) where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
        {
            T* p0 = a + i * ld, p1 = p0 + ld, p2 = p1 + ld, p3 = p2 + ld;
            T v0 = v[i], v1 = v[i + 1], v2 = v[i + 2], v3 = v[i + 3];
            // The 4 x 4 diagonal block's upper triangle, each off-diagonal entry counted for both of its rows.
            T d0 = p0[i] * v0 + p0[i + 1] * v1 + p0[i + 2] * v2 + p0[i + 3] * v3;
            T d1 = p0[i + 1] * v0 + p1[i + 1] * v1 + p1[i + 2] * v2 + p1[i + 3] * v3;
            T d2 = p0[i + 2] * v0 + p1[i + 2] * v1 + p2[i + 2] * v2 + p2[i + 3] * v3;
            T d3 = p0[i + 3] * v0 + p1[i + 3] * v1 + p2[i + 3] * v2 + p3[i + 3] * v3;

            int width = TS.Count, j = i + 4;
            TV s0 = default, s1 = s0, s2 = s0, s3 = s0;
            TV b0 = TS.Broadcast(v0), b1 = TS.Broadcast(v1), b2 = TS.Broadcast(v2), b3 = TS.Broadcast(v3);
            for (; j + width <= m; j += width)
            {
                TV vj = TS.Load(v + j), yj = TS.Load(y + j);
                TV x0 = TS.Load(p0 + j), x1 = TS.Load(p1 + j), x2 = TS.Load(p2 + j), x3 = TS.Load(p3 + j);
                s0 = TS.MultiplyAdd(x0, vj, s0);
                s1 = TS.MultiplyAdd(x1, vj, s1);
                s2 = TS.MultiplyAdd(x2, vj, s2);
                s3 = TS.MultiplyAdd(x3, vj, s3);
                yj = TS.MultiplyAdd(x0, b0, yj);
                yj = TS.MultiplyAdd(x1, b1, yj);
                yj = TS.MultiplyAdd(x2, b2, yj);
                yj = TS.MultiplyAdd(x3, b3, yj);
                TS.Store(yj, y + j);
            }

            d0 += TS.Sum(s0);
            d1 += TS.Sum(s1);
            d2 += TS.Sum(s2);
            d3 += TS.Sum(s3);
            for (; j < m; j++)
            {
                T vj = v[j];
                d0 += p0[j] * vj;
                d1 += p1[j] * vj;
                d2 += p2[j] * vj;
                d3 += p3[j] * vj;
                y[j] += p0[j] * v0 + p1[j] * v1 + p2[j] * v2 + p3[j] * v3;
            }

            y[i] += d0;
            y[i + 1] += d1;
            y[i + 2] += d2;
            y[i + 3] += d3;
        }
    }

    // ---- Stage 2: implicit QL on the tridiagonal matrix --------------------------------------------------

    // EISPACK tql2. The eigenvalue iteration never reads the eigenvectors, so the rotations are only recorded
    // (sweep by sweep) and applied in batches by RotationBatch; zt = Z^T (rows: eigenvectors of T), null for
    // eigenvalues only.
    internal static void TridiagonalQl(T* d, T* e, int n, T* zt)
    {
        e[n - 1] = T.Zero;
        var batch = zt == null ? null : new RotationBatch(zt, n);
        T f = T.Zero, tst1 = T.Zero;
        int maxIterations = 30 * n + 100, iterations = 0;
        for (int l = 0; l < n; l++)
        {
            tst1 = T.Max(tst1, T.Abs(d[l]) + T.Abs(e[l]));
            int m = l;
            while (m < n - 1 && !(T.Abs(e[m]) <= Eps * tst1)) m++;
            if (m > l)
            {
                do
                {
                    if (++iterations > maxIterations)
                        throw new InvalidOperationException($"The tridiagonal QL iteration did not converge after {maxIterations} sweeps (n = {n}).");
                    T g = d[l];
                    T p = (d[l + 1] - g) / (T.CreateChecked(2) * e[l]);
                    T r = T.Hypot(p, T.One);
                    if (p < T.Zero) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    T dl1 = d[l + 1];
                    T h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;
                    p = d[m];
                    T c = T.One, c2 = T.One, c3 = T.One, s = T.Zero, s2 = T.Zero;
                    T el1 = e[l + 1];
                    Span<T> rot = batch is null ? default : batch.BeginSweep(l, m);
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = T.Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        if (batch is not null)
                        {
                            int at = 2 * (m - 1 - i);
                            rot[at] = c;
                            rot[at + 1] = s;
                        }
                    }

                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                }
                while (!(T.Abs(e[l]) <= Eps * tst1));
            }

            d[l] += f;
            e[l] = T.Zero;
        }

        batch?.Flush();
    }

    /// <summary>
    /// Recorded QL sweeps, applied to Z^T strip by strip: a strip of columns narrow enough that all n rows of it stay
    /// in L2 takes every sweep of the batch in order (each sweep: rows (i, i+1) for i = m-1 down to l get
    /// (c x - s y, s x + c y)), so Z^T streams from memory once per batch instead of once per sweep, and strips are
    /// independent work items.
    /// </summary>
    private sealed class RotationBatch
    {
        private const int MaxCapacity = 1 << 20; // rotations per batch (16 MB of coefficients in float64)

        private readonly T* _zt;
        private readonly int _n;
        private readonly int _capacity;
        private readonly T[] _coefficients;
        private readonly List<(int L, int M, int Offset)> _sweeps = [];
        private int _used;

        public RotationBatch(T* zt, int n)
        {
            _zt = zt;
            _n = n;
            // QL takes ~1.7 n^2 rotations in all: small problems (divide and conquer leaves) get a small batch.
            _capacity = (int)Math.Min(MaxCapacity, 2L * n * n + 64);
            _coefficients = new T[2 * _capacity];
        }

        /// <summary>Room for the m - l rotations of one sweep, (c, s) pairs in the order i = m-1 down to l.</summary>
        public Span<T> BeginSweep(int l, int m)
        {
            int count = m - l;
            if (_used + count > _capacity) Flush();
            _sweeps.Add((l, m, _used));
            var span = _coefficients.AsSpan(2 * _used, 2 * count);
            _used += count;
            return span;
        }

        public void Flush()
        {
            if (_sweeps.Count == 0) return;
            int vc = Vector<T>.Count;
            int width = Math.Clamp((512 << 10) / (_n * sizeof(T)) / (4 * vc) * (4 * vc), 4 * vc, 256);
            int strips = (_n + width - 1) / width;
            fixed (T* coefficients = _coefficients)
            {
                var job = new StripJob(_zt, _n, width, coefficients, _sweeps);
                WorkerPool.Run(job, strips, (long)_used * _n < 1 << 15 ? 1 : Blas<T>.Threads);
            }

            _sweeps.Clear();
            _used = 0;
        }
    }

    private readonly struct StripJob(T* zt, int n, int width, T* coefficients, List<(int L, int M, int Offset)> sweeps) : IWorkItems
    {
        public void Run(int item)
        {
            int c0 = item * width, w = Math.Min(width, n - c0);
            int group = 4 * Vector<T>.Count;
            T* strip = zt + c0;
            foreach (var (l, m, offset) in sweeps)
            {
                T* rot = coefficients + 2 * offset;
                int k = 0;
                if (Vector.IsHardwareAccelerated)
                    for (; k + group <= w; k += group) SweepGroup(strip + k, n, l, m, rot);
                for (; k < w; k++) SweepColumn(strip + k, n, l, m, rot);
            }
        }

        // One sweep down four vectors of columns. Row i + 1 is final once rotation i has run, so the row that the next
        // rotation shares stays in registers: one load and one store per row and vector, and four independent
        // dependency chains.
        private static void SweepGroup(T* col, nint ld, int l, int m, T* rot)
        {
            int vc = Vector<T>.Count;
            T* row = col + m * ld;
            var y0 = Vector.Load(row);
            var y1 = Vector.Load(row + vc);
            var y2 = Vector.Load(row + 2 * vc);
            var y3 = Vector.Load(row + 3 * vc);
            for (int i = m - 1; i >= l; i--, rot += 2)
            {
                var c = new Vector<T>(rot[0]);
                var s = new Vector<T>(rot[1]);
                var ns = -s;
                T* xr = col + i * ld, yr = xr + ld;
                var x0 = Vector.Load(xr);
                var x1 = Vector.Load(xr + vc);
                var x2 = Vector.Load(xr + 2 * vc);
                var x3 = Vector.Load(xr + 3 * vc);
                Vector.Store(Fma(s, x0, c * y0), yr);
                Vector.Store(Fma(s, x1, c * y1), yr + vc);
                Vector.Store(Fma(s, x2, c * y2), yr + 2 * vc);
                Vector.Store(Fma(s, x3, c * y3), yr + 3 * vc);
                y0 = Fma(c, x0, ns * y0);
                y1 = Fma(c, x1, ns * y1);
                y2 = Fma(c, x2, ns * y2);
                y3 = Fma(c, x3, ns * y3);
            }

            row = col + l * ld;
            Vector.Store(y0, row);
            Vector.Store(y1, row + vc);
            Vector.Store(y2, row + 2 * vc);
            Vector.Store(y3, row + 3 * vc);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector<T> Fma(Vector<T> a, Vector<T> b, Vector<T> c)
        {
            if (!HasFma) return a * b + c;
            if (typeof(T) == typeof(double)) return Vector.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
            if (typeof(T) == typeof(float)) return Vector.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
            return a * b + c;
        }

        private static void SweepColumn(T* col, nint ld, int l, int m, T* rot)
        {
            T y = col[m * ld];
            for (int i = m - 1; i >= l; i--, rot += 2)
            {
                T c = rot[0], s = rot[1], x = col[i * ld];
                col[(i + 1) * ld] = s * x + c * y;
                y = c * x - s * y;
            }

            col[l * ld] = y;
        }
    }

    // Ascending eigenvalues, rows of zt permuted alike (cycle by cycle with one spare row).
    internal static void SortAscending(T* d, T* zt, int n)
    {
        var order = new int[n];
        var keys = new T[n];
        for (int i = 0; i < n; i++) { order[i] = i; keys[i] = d[i]; }
        Array.Sort(keys, order);
        for (int i = 0; i < n; i++) d[i] = keys[i];
        // Row i of the result is row order[i] of the input.
        var done = new bool[n];
        var spare = new T[n];
        for (int start = 0; start < n; start++)
        {
            if (done[start] || order[start] == start) { done[start] = true; continue; }
            new ReadOnlySpan<T>(zt + start * n, n).CopyTo(spare);
            int i = start;
            while (true)
            {
                done[i] = true;
                int from = order[i];
                if (from == start)
                {
                    spare.CopyTo(new Span<T>(zt + i * n, n));
                    break;
                }

                new ReadOnlySpan<T>(zt + from * n, n).CopyTo(new Span<T>(zt + i * n, n));
                i = from;
            }
        }
    }

    // ---- Stage 3 (FactoredEigenvectors): the reflectors, packed for it -------------------------------------

    // Reflector j (a[j, j + 1..n), n - j - 1 values) moves to FactoredEigenvectors.ReflectorOffset(j): rows in order,
    // each ahead of where it was, so the moves never overwrite a reflector not yet moved.
    private static void PackReflectors(T* a, int n)
    {
        for (int j = 0; j < n - 1; j++)
            new ReadOnlySpan<T>(a + (nint)j * n + j + 1, n - j - 1).CopyTo(new Span<T>(a + FactoredEigenvectors<T>.ReflectorOffset(j, n), n - j - 1));
    }
}

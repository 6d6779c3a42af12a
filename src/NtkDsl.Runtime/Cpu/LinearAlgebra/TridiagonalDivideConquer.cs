using System.Numerics;
using System.Numerics.Tensors;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu.LinearAlgebra;

/// <summary>
/// Cuppen's divide and conquer for the symmetric tridiagonal eigenproblem with eigenvectors, as LAPACK's dstedc /
/// dlaed0-3: T = diag(T1, T2) + |rho| u u^T (u = e_(m-1) + sign(rho) e_m); the halves are solved recursively (implicit
/// QL below <see cref="Leaf"/> rows), and each merge solves the rank-one update D + rho z z^T of their eigenvalues:
/// <list type="bullet">
/// <item>deflation (dlaed2): a negligible z component leaves its eigenpair unchanged; two nearly equal D entries are
/// rotated so that one z component vanishes;</item>
/// <item>the secular equation 1/rho + sum_j z_j^2 / (d_j - l) = 0 for the k remaining roots, each root relative to its
/// nearer pole (so every d_j - l is accurate to a few ulps) by a bracketed iteration on the two-pole rational model
/// (dlaed4's "middle way"), falling back to bisection whenever a step leaves the bracket;</item>
/// <item>Gu and Eisenstat's recomputation of z from the solved roots (dlaed3), which makes the vectors z_j / (d_j - l_i)
/// numerically orthogonal however close the roots are;</item>
/// <item>the new eigenvectors as GEMMs: the gathered child eigenvectors, ordered [first half only | both | second half
/// only], times the k x k eigenvector matrix of the rank-one problem, one product per half (about half the flops of a
/// dense product).</item>
/// </list>
/// Eigenvectors are rows (Z^T, row i an eigenvector), which is how the eigensolver's back-transformation reads them.
/// <para>Memory: besides zt, the caller's scratch for the gathered vectors (each half's part only: at most
/// n1^2 + n2^2 values, <see cref="ScratchLength"/>) and O(n) panels: the k x k rank-one eigenvector matrix is never
/// stored whole. Each root keeps its nearer pole and its offset from it, from which a panel of
/// <see cref="PanelRows"/> rows of pole - root differences is rebuilt exactly (the same two roundings as in the
/// solve) when the weights and then the vectors need it.</para>
/// </summary>
internal static unsafe class TridiagonalDivideConquer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Sub-problems of at most this size run implicit QL (LAPACK's SMLSIZ is 25).</summary>
    public const int Leaf = 32;

    private const int MaxSecularIterations = 100;

    /// <summary>Rows of the rank-one eigenvector matrix built at a time (each followed by its two GEMMs).</summary>
    private const int PanelRows = 256;

    /// <summary>Values of scratch <see cref="Solve"/> needs for n: the top merge's gathered halves, n1^2 + n2^2 (n1 = n / 2).</summary>
    public static long ScratchLength(int n) => (long)(n / 2) * (n / 2) + (long)(n - n / 2) * (n - n / 2);

    private static readonly T Eps = SymmetricEigensolver<T>.Eps;

    /// <summary>
    /// Eigenvalues of the tridiagonal (d diagonal, e[i] = T[i, i + 1]; both destroyed) into d, eigenvectors as rows of
    /// zt (n x n, row stride n), both in ascending order of the eigenvalues. <paramref name="scratch"/> holds
    /// <see cref="ScratchLength"/>(n) values (overwritten).
    /// </summary>
    public static void Solve(T* d, T* e, int n, T* zt, T* scratch)
    {
        new Span<T>(zt, n * n).Clear();
        if (n == 1)
        {
            zt[0] = T.One;
            return;
        }

        // Scale to unit max norm (LAPACK's dstedc does too): the tolerances below are then absolute, and nothing
        // overflows or underflows in the secular equation.
        T scale = T.Zero;
        for (int i = 0; i < n; i++) scale = T.Max(scale, T.Abs(d[i]));
        for (int i = 0; i < n - 1; i++) scale = T.Max(scale, T.Abs(e[i]));
        if (scale == T.Zero)
        {
            for (int i = 0; i < n; i++) zt[i * n + i] = T.One;
            return;
        }

        T inv = T.One / scale;
        for (int i = 0; i < n; i++) d[i] *= inv;
        for (int i = 0; i < n - 1; i++) e[i] *= inv;
        var work = new Workspace(n, scratch);
        Recurse(d, e, 0, n, zt, n, work);
        for (int i = 0; i < n; i++) d[i] *= scale;
        SymmetricEigensolver<T>.SortAscending(d, zt, n);
    }

    // The sub-problem of rows [o, o + s): eigenvalues into d[o..o+s), eigenvectors as the rows of the s x s diagonal block
    // of zt at (o, o) (the block's other entries outside it stay zero). Its eigenvalues come out unsorted.
    private static void Recurse(T* d, T* e, int o, int s, T* zt, int ld, Workspace work)
    {
        T* block = zt + (nint)o * ld + o;
        if (s <= Leaf)
        {
            SolveLeaf(d + o, e + o, s, block, ld);
            return;
        }

        int n1 = s / 2;
        T rho = e[o + n1 - 1];
        T absRho = T.Abs(rho);
        d[o + n1 - 1] -= absRho;
        d[o + n1] -= absRho;
        Recurse(d, e, o, n1, zt, ld, work);
        Recurse(d, e, o + n1, s - n1, zt, ld, work);
        Merge(d + o, s, n1, rho, block, ld, work);
    }

    private static void SolveLeaf(T* d, T* e, int s, T* block, int ld)
    {
        var z = new T[s * s];
        var ee = new T[s];
        for (int i = 0; i < s - 1; i++) ee[i] = e[i];
        fixed (T* pz = z, pe = ee)
        {
            for (int i = 0; i < s; i++) pz[i * s + i] = T.One;
            SymmetricEigensolver<T>.TridiagonalQl(d, pe, s, pz);
            for (int i = 0; i < s; i++) new ReadOnlySpan<T>(pz + i * s, s).CopyTo(new Span<T>(block + (nint)i * ld, s));
        }
    }

    /// <summary>Buffers sized for the top-level merge, reused by every merge.</summary>
    private sealed class Workspace(int n, T* gathered)
    {
        public readonly T* Gathered = gathered;
        public readonly T[] Panel = new T[Math.Min(PanelRows, n) * n];
        public readonly T[] Z = new T[n];
        public readonly T[] Lambda = new T[n];
        public readonly T[] Origin = new T[n];
        public readonly T[] Offset = new T[n];
        public readonly T[] Pole = new T[n];
        public readonly T[] Weight = new T[n];
        public readonly T[] Hat = new T[n];
        public readonly int[] Order = new int[n];
        public readonly int[] Kind = new int[n];
        public readonly int[] Kept = new int[n];
        public readonly int[] Column = new int[n];
        public readonly bool[] Deflated = new bool[n];
    }

    // Rows of block: the eigenvectors of diag(T1, T2) (first n1 rows: T1's, nonzero in columns [0, n1) only; the rest
    // T2's, in columns [n1, s)), with eigenvalues d[0..s). Replaces them by the eigenpairs of the merged matrix.
    private static void Merge(T* d, int s, int n1, T rho, T* block, int ld, Workspace w)
    {
        // z = Q^T u / sqrt(2): the last component of T1's vectors and sign(rho) times the first of T2's; rho' = 2 |rho|.
        var z = w.Z;
        T invSqrt2 = T.One / T.Sqrt(T.CreateChecked(2));
        T sign = rho < T.Zero ? -T.One : T.One;
        for (int r = 0; r < s; r++)
            z[r] = (r < n1 ? block[(nint)r * ld + n1 - 1] : sign * block[(nint)r * ld + n1]) * invSqrt2;
        T beta = T.CreateChecked(2) * T.Abs(rho);

        // Sort the poles: order[i] is the row with the i-th smallest eigenvalue.
        var order = w.Order;
        var keys = w.Pole;
        for (int r = 0; r < s; r++) { order[r] = r; keys[r] = d[r]; }
        Array.Sort(keys, order, 0, s);

        T dmax = T.Zero, zmax = T.Zero;
        for (int r = 0; r < s; r++)
        {
            dmax = T.Max(dmax, T.Abs(d[r]));
            zmax = T.Max(zmax, T.Abs(z[r]));
        }

        T tol = T.CreateChecked(8) * Eps * T.Max(dmax, beta);
        var kind = w.Kind;      // 1: nonzero in the first half only, 3: second half only, 2: both
        var deflated = w.Deflated;
        for (int r = 0; r < s; r++)
        {
            kind[r] = r < n1 ? 1 : 3;
            deflated[r] = false;
        }

        if (beta * zmax <= tol) return; // every pair is an eigenpair already (rho negligible)

        // Deflation (dlaed2): walk the poles in ascending order with the last kept candidate pending.
        var kept = w.Kept;
        int k = 0, pending = -1;
        for (int i = 0; i < s; i++)
        {
            int r = order[i];
            if (beta * T.Abs(z[r]) <= tol)
            {
                deflated[r] = true;
                continue;
            }

            if (pending < 0)
            {
                pending = r;
                continue;
            }

            // A Givens rotation of rows (pending, r) zeroes z[pending]; it is only a perturbation of size |t c s|.
            T sp = z[pending], cr = z[r];
            T tau = T.Hypot(cr, sp);
            T t = d[r] - d[pending];
            T c = cr / tau, sn = -sp / tau;
            if (T.Abs(t * c * sn) <= tol)
            {
                z[r] = tau;
                z[pending] = T.Zero;
                if (kind[pending] != kind[r]) kind[pending] = kind[r] = 2;
                RotateRows(block + (nint)pending * ld, block + (nint)r * ld, s, c, sn);
                T dp = d[pending], dr = d[r];
                d[pending] = dp * c * c + dr * sn * sn;
                d[r] = dp * sn * sn + dr * c * c;
                deflated[pending] = true;
                pending = r;
                continue;
            }

            kept[k++] = pending;
            pending = r;
        }

        if (pending >= 0) kept[k++] = pending;
        if (k == 0) return;

        // Kept pairs in ascending pole order (a rotation moves a pole by at most tol, so re-sort).
        var pole = w.Pole;
        var weight = w.Weight;
        for (int i = 0; i < k; i++) pole[i] = d[kept[i]];
        Array.Sort(pole, kept, 0, k);
        for (int i = 0; i < k; i++) weight[i] = z[kept[i]];

        // Gather the kept eigenvectors grouped by kind (1, 2, 3); column[i] is pole i's position in that order.
        var column = w.Column;
        int k1 = 0, k2 = 0;
        for (int i = 0; i < k; i++)
        {
            if (kind[kept[i]] == 1) k1++;
            else if (kind[kept[i]] == 2) k2++;
        }

        int n2 = s - n1;
        // Each chain of deflating rotations keeps one vector, so k1 + k2 <= n1 and k - k1 <= n2: the top parts (kinds 1
        // and 2, columns [0, n1)) and the bottom parts (kinds 2 and 3, columns [n1, s)) fit in n1^2 + n2^2 values.
        T* top = w.Gathered, bottom = top + (nint)(k1 + k2) * n1;
        fixed (T* panel = w.Panel, pPole = pole, pWeight = weight, pLambda = w.Lambda, pOrigin = w.Origin, pOffset = w.Offset, pHat = w.Hat)
        {
            int next1 = 0, next2 = k1, next3 = k1 + k2;
            for (int i = 0; i < k; i++)
            {
                int r = kept[i];
                int at = kind[r] == 1 ? next1++ : kind[r] == 2 ? next2++ : next3++;
                column[i] = at;
                if (at < k1 + k2) new ReadOnlySpan<T>(block + (nint)r * ld, n1).CopyTo(new Span<T>(top + (nint)at * n1, n1));
                if (at >= k1) new ReadOnlySpan<T>(block + (nint)r * ld + n1, n2).CopyTo(new Span<T>(bottom + (nint)(at - k1) * n2, n2));
            }

            // Deflated rows move to the end of the block (in row order), their eigenvalues with them.
            int write = s;
            for (int r = s - 1; r >= 0; r--)
            {
                if (!deflated[r]) continue;
                write--;
                if (write != r)
                {
                    new ReadOnlySpan<T>(block + (nint)r * ld, s).CopyTo(new Span<T>(block + (nint)write * ld, s));
                    d[write] = d[r];
                }
            }

            // Roots (each as its nearer pole + offset), then Gu-Eisenstat's z, then the vectors panel by panel: rows
            // i0..i1 of u (eigenvector i of the rank-one problem) and the new rows i0..i1 of the block, top columns from
            // the kind-1 and -2 vectors, bottom columns from kinds 2 and 3.
            var roots = new Roots(pPole, k, pOrigin, pOffset);
            SolveSecular(pPole, pWeight, k, beta, pLambda, pOrigin, pOffset);
            int rows = w.Panel.Length / k;
            RecomputeWeights(roots, pWeight, k, beta, panel, rows, pHat);
            for (int i = 0; i < k; i++) d[i] = pLambda[i];
            for (int i0 = 0; i0 < k; i0 += rows)
            {
                int pr = Math.Min(rows, k - i0);
                roots.Fill(i0, pr, panel);
                BuildVectors(pHat, k, panel, pr, column);
                T* output = block + (nint)i0 * ld;
                if (k1 + k2 > 0)
                    Blas<T>.Gemm(pr, n1, k1 + k2, T.One, panel, k, 1, top, n1, 1, output, ld, accumulate: false);
                else
                    for (int i = 0; i < pr; i++) new Span<T>(output + (nint)i * ld, n1).Clear();
                if (k - k1 > 0)
                    Blas<T>.Gemm(pr, n2, k - k1, T.One, panel + k1, k, 1, bottom, n2, 1, output + n1, ld, accumulate: false);
                else
                    for (int i = 0; i < pr; i++) new Span<T>(output + (nint)i * ld + n1, n2).Clear();
            }
        }
    }

    /// <summary>The roots of a merge as pole + offset: row i of pole - root differences is (p_j - origin_i) - offset_i.</summary>
    private readonly struct Roots(T* pole, int k, T* origin, T* offset)
    {
        /// <summary>Rows [i0, i0 + count) of the differences into panel (row stride k), on the worker pool.</summary>
        public void Fill(int i0, int count, T* panel)
        {
            var job = new FillJob(this, i0, panel);
            WorkerPool.Run(job, count, (long)count * k < 1 << 14 ? 1 : Blas<T>.Threads);
        }

        public void Row(int i, T* delta)
        {
            T o = origin[i], t = offset[i];
            for (int j = 0; j < k; j++) delta[j] = (pole[j] - o) - t;
        }

        /// <summary>Difference (i, i): pole i minus root i.</summary>
        public T Diagonal(int i) => (pole[i] - origin[i]) - offset[i];

        /// <summary>The poles, ascending.</summary>
        public T* Pole => pole;

        private readonly struct FillJob(Roots roots, int i0, T* panel) : IWorkItems
        {
            public void Run(int item) => roots.Row(i0 + item, panel + (nint)item * roots.Count);
        }

        private int Count => k;
    }

    // x' = c x + s y, y' = c y - s x (LAPACK drot on the two eigenvectors).
    private static void RotateRows(T* x, T* y, int length, T c, T s)
    {
        for (int j = 0; j < length; j++)
        {
            T xj = x[j], yj = y[j];
            x[j] = c * xj + s * yj;
            y[j] = c * yj - s * xj;
        }
    }

    // ---- The secular equation ------------------------------------------------------------------------------------

    private static void SolveSecular(T* pole, T* weight, int k, T beta, T* lambda, T* origin, T* offset)
    {
        if (k == 1)
        {
            origin[0] = pole[0];
            offset[0] = beta * weight[0] * weight[0];
            lambda[0] = origin[0] + offset[0];
            return;
        }

        var job = new SecularJob(pole, weight, k, beta, lambda, origin, offset);
        int chunks = (k + 31) / 32;
        WorkerPool.Run(job, chunks, (long)k * k < 1 << 14 ? 1 : Blas<T>.Threads);
    }

    private readonly struct SecularJob(T* pole, T* weight, int k, T beta, T* lambda, T* origin, T* offset) : IWorkItems
    {
        public void Run(int item)
        {
            int end = Math.Min(k, (item + 1) * 32);
            var delta = System.Buffers.ArrayPool<T>.Shared.Rent(k);
            fixed (T* pd = delta)
                for (int i = item * 32; i < end; i++) lambda[i] = Root(pole, weight, k, beta, i, pd, out origin[i], out offset[i]);
            System.Buffers.ArrayPool<T>.Shared.Return(delta);
        }
    }

    /// <summary>
    /// Root i of 1/beta + sum_j w_j^2 / (p_j - x) = 0 (p ascending, beta &gt; 0): in (p_i, p_(i+1)), or (p_(k-1),
    /// p_(k-1) + beta |w|^2] for the last. It is found as x = origin + tau with origin the nearer pole, so that
    /// delta_j = (p_j - origin) - tau (scratch <paramref name="delta"/>, k values) is accurate even when x is within ulps of a pole.
    /// </summary>
    private static T Root(T* p, T* w, int k, T beta, int i, T* delta, out T origin, out T tau)
    {
        T invBeta = T.One / beta;
        bool last = i == k - 1;
        T lo, hi;
        if (!last)
        {
            T gap = p[i + 1] - p[i];
            T half = gap / T.CreateChecked(2);
            // The sign of f at the midpoint says which half holds the root.
            for (int j = 0; j < k; j++) delta[j] = p[j] - p[i];
            T f = invBeta + Sums(delta, w, 0, k, half).Sum;
            if (f >= T.Zero)
            {
                origin = p[i];
                lo = T.Zero;
                hi = half;
            }
            else
            {
                origin = p[i + 1];
                lo = -half;
                hi = T.Zero;
            }

            tau = f >= T.Zero ? half : -half;
        }
        else
        {
            T norm = T.Zero;
            for (int j = 0; j < k; j++) norm += w[j] * w[j];
            origin = p[k - 1];
            lo = T.Zero;
            hi = beta * norm;
            tau = hi;
        }

        for (int j = 0; j < k; j++) delta[j] = p[j] - origin;
        // Poles next to the root (indices): i and i + 1 inside, k - 2 and k - 1 for the last root.
        int left = last ? k - 2 : i, right = last ? k - 1 : i + 1;
        for (int iteration = 0; iteration < MaxSecularIterations; iteration++)
        {
            // f, f' and an error bound for f at tau; psi over poles <= left, phi over the others.
            var (psi, dpsi, err1) = Sums(delta, w, 0, left + 1, tau);
            var (phi, dphi, err2) = Sums(delta, w, left + 1, k, tau);
            T err = err1 + err2;

            T f = invBeta + psi + phi;
            T df = dpsi + dphi;
            if (f == T.Zero || T.Abs(f) <= Eps * (T.CreateChecked(8) * (invBeta + err) + T.Abs(tau) * df)) break;
            if (f < T.Zero) lo = tau; else hi = tau;
            if (hi - lo <= T.CreateChecked(2) * Eps * T.Max(T.Abs(lo), T.Abs(hi))) break;

            // Two-pole rational model matching f and f' (dlaed4's middle way); the root of
            // c eta^2 - a eta + b = 0 between the poles.
            T dl = delta[left] - tau, dr = delta[right] - tau;
            T eta;
            if (!last)
            {
                T c = f - dl * dpsi - dr * dphi;
                T a = (dl + dr) * f - dl * dr * df;
                T b = dl * dr * f;
                T disc = T.Sqrt(T.Abs(a * a - T.CreateChecked(4) * b * c));
                if (c == T.Zero) eta = b / a;
                else if (a <= T.Zero) eta = (a - disc) / (T.CreateChecked(2) * c);
                else eta = T.CreateChecked(2) * b / (a + disc);
            }
            else
            {
                // Beyond every pole: the model c + S / (delta_(k-1) - eta) with all of f' on the last pole.
                T c = f - dr * df;
                eta = c == T.Zero ? -f / df : dr + dr * dr * df / c;
            }

            if (f * eta >= T.Zero || !T.IsFinite(eta)) eta = -f / df; // wrong direction: a Newton step
            T next = tau + eta;
            if (!(next > lo && next < hi)) next = (lo + hi) / T.CreateChecked(2);
            if (next == tau) break;
            tau = next;
        }

        return origin + tau;
    }

    // sum w_j^2 / (delta_j - tau), sum (w_j / (delta_j - tau))^2 and sum |w_j^2 / (delta_j - tau)| over j in [from, to).
    private static (T Sum, T Derivative, T Magnitude) Sums(T* delta, T* w, int from, int to, T tau)
    {
        T sum = T.Zero, derivative = T.Zero, magnitude = T.Zero;
        int j = from;
        if (Vector.IsHardwareAccelerated && to - from >= 2 * Vector<T>.Count)
        {
            var vs = Vector<T>.Zero;
            var vd = Vector<T>.Zero;
            var vm = Vector<T>.Zero;
            var vt = new Vector<T>(tau);
            for (; j + Vector<T>.Count <= to; j += Vector<T>.Count)
            {
                var wj = Vector.Load(w + j);
                var t = wj / (Vector.Load(delta + j) - vt);
                var term = wj * t;
                vs += term;
                vd += t * t;
                vm += Vector.Abs(term);
            }

            sum = Vector.Sum(vs);
            derivative = Vector.Sum(vd);
            magnitude = Vector.Sum(vm);
        }

        for (; j < to; j++)
        {
            T t = w[j] / (delta[j] - tau);
            T term = w[j] * t;
            sum += term;
            derivative += t * t;
            magnitude += T.Abs(term);
        }

        return (sum, derivative, magnitude);
    }

    // Gu-Eisenstat: |zhat_j|^2 = prod_i (lambda_i - p_j) / (beta prod_(i != j) (p_i - p_j)) with lambda_i - p_j = -delta[i, j];
    // zhat then has the exact eigenvalues lambda for the poles p, and the vectors zhat_j / delta[i, j] are orthogonal.
    // The products run over the rows of delta panel by panel (rows i0..i0 + count in panel), in ascending i for every j.
    private static void RecomputeWeights(Roots roots, T* w, int k, T beta, T* panel, int rows, T* hat)
    {
        for (int j = 0; j < k; j++) hat[j] = -roots.Diagonal(j) / beta;
        int chunks = (k + 63) / 64, threads = (long)k * k < 1 << 14 ? 1 : Blas<T>.Threads;
        for (int i0 = 0; i0 < k; i0 += rows)
        {
            int count = Math.Min(rows, k - i0);
            roots.Fill(i0, count, panel);
            WorkerPool.Run(new WeightJob(roots.Pole, k, panel, i0, count, hat), chunks, threads);
        }

        for (int j = 0; j < k; j++)
        {
            T magnitude = T.Sqrt(T.Abs(hat[j]));
            hat[j] = w[j] < T.Zero ? -magnitude : magnitude;
        }
    }

    private readonly struct WeightJob(T* p, int k, T* panel, int i0, int count, T* hat) : IWorkItems
    {
        public void Run(int item)
        {
            int j0 = item * 64, j1 = Math.Min(k, j0 + 64);
            Span<T> ratio = stackalloc T[64];
            for (int i = i0; i < i0 + count; i++)
            {
                // hat[j] *= delta[i, j] / (p[j] - p[i]) for j != i, as vector operations on the two sides of i.
                T* row = panel + (nint)(i - i0) * k;
                Scale(j0, Math.Min(j1, i), i, row, ratio);
                Scale(Math.Max(j0, i + 1), j1, i, row, ratio);
            }
        }

        private void Scale(int from, int to, int i, T* row, Span<T> ratio)
        {
            if (from >= to) return;
            int len = to - from;
            var r = ratio[..len];
            TensorPrimitives.Subtract(new ReadOnlySpan<T>(p + from, len), p[i], r);
            TensorPrimitives.Divide(new ReadOnlySpan<T>(row + from, len), r, r);
            var h = new Span<T>(hat + from, len);
            TensorPrimitives.Multiply(h, r, h);
        }
    }

    // Row i of u (count rows of differences) becomes eigenvector i of the rank-one problem, zhat_j / delta[i, j]
    // normalized, written to column column[j].
    private static void BuildVectors(T* hat, int k, T* u, int count, int[] column)
    {
        fixed (int* pColumn = column)
        {
            var job = new VectorJob(hat, k, u, pColumn);
            WorkerPool.Run(job, count, (long)count * k < 1 << 14 ? 1 : Blas<T>.Threads);
        }
    }

    private readonly struct VectorJob(T* hat, int k, T* u, int* column) : IWorkItems
    {
        public void Run(int i)
        {
            T* row = u + (nint)i * k;
            T[]? rented = k <= 512 ? null : System.Buffers.ArrayPool<T>.Shared.Rent(k);
            Span<T> v = rented is null ? stackalloc T[k] : rented.AsSpan(0, k);
            for (int j = 0; j < k; j++) v[j] = hat[j] / row[j];
            T norm = T.Sqrt(TensorPrimitives.Dot<T>(v, v));
            T inv = T.One / norm;
            for (int j = 0; j < k; j++) row[column[j]] = v[j] * inv;
            if (rented is not null) System.Buffers.ArrayPool<T>.Shared.Return(rented);
        }
    }
}

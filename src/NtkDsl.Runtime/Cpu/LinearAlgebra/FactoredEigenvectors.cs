using System.Buffers;
using System.Numerics;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu.LinearAlgebra;

/// <summary>
/// The eigenvectors of a symmetric eigendecomposition kept as the product X = Q Z that the solver finds them in:
/// Q = H_0 H_1 ... H_(n-2), the tridiagonalization's Householder reflectors, and Z, the tridiagonal matrix's
/// eigenvectors. A product with k vectors, X M or X^T M, costs 2 n^2 k multiply-adds (Z, then the reflectors in compact
/// WY blocks of <see cref="BlockWidth"/>), against the n^3 of forming X first (LAPACK's back-transformation, ormtr):
/// closed-form dynamics at a few hundred times need only such products. <see cref="Expand"/> forms X in place when X
/// itself is wanted.
/// </summary>
/// <remarks>
/// The reflectors are stored block by block, each block's b vectors as rows of the width m = n - k - 1 it touches
/// (zeros before each vector's start), ready to be GEMM operands: n (n - 1) / 2 values plus b (b - 1) / 2 zeros per block.
/// Rows of the transformed matrix are independent, so a product splits into strips of rows, one thread each, that run
/// every block's three GEMMs alone: no synchronization per block. Not thread-safe: the owner serializes calls (Expand
/// rewrites the storage that products read).
/// </remarks>
internal sealed unsafe class FactoredEigenvectors<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int BlockWidth = 96;

    // Rows per strip at least: below that a strip's GEMMs are mostly packing.
    private const int MinStripRows = 16;

    private readonly int _n;

    // Z^T (row i: eigenvector i of the tridiagonal matrix) until expanded, then X (column j: eigenvector j).
    private readonly T[] _basis;

    // The reflector blocks (see remarks) and each block's b x b upper-triangular compact-WY factor T (larft, row stride b,
    // BlockWidth^2 slots); null once expanded.
    private T[]? _blocks;
    private T[]? _triangles;
    private readonly long[] _offsets;

    /// <summary>
    /// Takes Z^T and the reflectors as the solver leaves them, packed by <see cref="ReflectorOffset"/> into the front of
    /// <paramref name="reflectors"/> (the n x n input copy), and rearranges them into blocks in place. The array is kept
    /// whole: copying the blocks out would free half of it but add n^2 / 2 to the peak, which stays at that one
    /// n x n workspace beyond the eigenvectors.
    /// </summary>
    /// <param name="n">The dimension.</param>
    /// <param name="zt">Z^T, n x n row-major (row i: the tridiagonal matrix's eigenvector i); owned from here on.</param>
    /// <param name="reflectors">The packed reflectors (reflector j: n - j - 1 values, the first 1) in an array of n^2; owned from here on.</param>
    /// <param name="tau">The reflectors' scalars, H_j = I - tau_j v_j v_j^T (n values, the last unused).</param>
    public FactoredEigenvectors(int n, T[] zt, T[] reflectors, T[] tau)
    {
        _n = n;
        _basis = zt;
        int count = Math.Max(0, n - 1), nb = Math.Max(1, Math.Min(BlockWidth, count)), blocks = (count + nb - 1) / nb;
        _offsets = new long[blocks + 1];
        for (int block = 0; block < blocks; block++)
        {
            int k = block * nb, b = Math.Min(nb, count - k);
            _offsets[block + 1] = _offsets[block] + (long)b * (n - k - 1);
        }

        // Back to front: every reflector moves ahead of where it was packed (its block row is at least as long as each
        // earlier reflector), so a move never overwrites a reflector still to move.
        var a = reflectors.AsSpan();
        for (int j = count - 1; j >= 0; j--)
        {
            int block = j / nb, r = j - block * nb, m = n - block * nb - 1;
            int row = (int)(_offsets[block] + (long)r * m);
            a.Slice((int)ReflectorOffset(j, n), m - r).CopyTo(a.Slice(row + r));
            a.Slice(row, r).Clear();
        }

        _blocks = reflectors;
        _triangles = Triangles(nb, blocks, tau);
    }

    /// <summary>The dimension n.</summary>
    public int Size => _n;

    /// <summary>Whether X is still the product Q Z (false once <see cref="Expand"/> ran).</summary>
    public bool IsFactored => _blocks is not null;

    /// <summary>Where reflector j (n - j - 1 values) starts when packed: reflectors in order, back to back.</summary>
    public static nint ReflectorOffset(int j, int n) => (nint)j * (n - 1) - (nint)j * (j - 1) / 2;

    /// <summary>Forms X in place (n^3 multiply-adds, the first call only) and returns it: n x n row-major, column j eigenvector j.</summary>
    public T[] Expand()
    {
        if (_blocks is not null)
        {
            fixed (T* x = _basis)
            {
                // X^T = Z^T Q^T = Z^T H_(n-2) ... H_0, then the transpose.
                ApplyReflectors(x, _n, transposed: true);
                TransposeInPlace(x, _n);
            }

            _blocks = null;
            _triangles = null;
        }

        return _basis;
    }

    /// <summary>X m for an n-row <paramref name="m"/>.</summary>
    public Matrix<T> Multiply(Matrix<T> m)
    {
        RequireOperand(m);
        int n = _n, cols = m.Cols;
        var result = new Matrix<T>(n, cols);
        var yt = GC.AllocateUninitializedArray<T>(cols * n);
        fixed (T* pm = m.Data, z = _basis, y = yt, pr = result.Data)
        {
            // Y^T = M^T Z^T, then Y^T Q^T = (Q Z M)^T, then the transpose into the result.
            Blas<T>.Gemm(cols, n, n, T.One, pm, 1, cols, z, n, 1, y, n, accumulate: false);
            ApplyReflectors(y, cols, transposed: true);
            Transpose(y, cols, n, pr);
        }

        return result;
    }

    /// <summary>X^T r for an n-row <paramref name="r"/>.</summary>
    public Matrix<T> TransposeMultiply(Matrix<T> r)
    {
        RequireOperand(r);
        int n = _n, cols = r.Cols;
        var result = new Matrix<T>(n, cols);
        var wt = GC.AllocateUninitializedArray<T>(cols * n);
        fixed (T* pr = r.Data, z = _basis, w = wt, px = result.Data)
        {
            // W^T = R^T Q = (Q^T R)^T, then Z^T (Q^T R).
            Transpose(pr, n, cols, w);
            ApplyReflectors(w, cols, transposed: false);
            Blas<T>.Gemm(n, cols, n, T.One, z, n, 1, w, 1, n, px, cols, accumulate: false);
        }

        return result;
    }

    private void RequireOperand(Matrix<T> m)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (_blocks is null) throw new InvalidOperationException("The eigenvectors were expanded; multiply by X itself.");
        if (m.Rows != _n)
            throw new ArgumentException($"Expected {_n} rows to multiply by the {_n} x {_n} eigenvectors, got {m.Rows} x {m.Cols}.", nameof(m));
    }

    // xt (rows x n, row stride n) <- xt Q (H_0 first) or, transposed, xt Q^T (H_(n-2) first), in strips of rows.
    private void ApplyReflectors(T* xt, int rows, bool transposed)
    {
        int blocks = _offsets.Length - 1;
        if (blocks == 0 || rows == 0) return;
        int threads = (long)rows * _n * _n < PackedGemm<T>.ParallelThreshold ? 1 : Blas<T>.Threads;
        int strips = Math.Clamp(rows / MinStripRows, 1, 4 * threads);
        fixed (T* pb = _blocks, tri = _triangles)
        fixed (long* offsets = _offsets)
        {
            var job = new StripJob(xt, rows, (rows + strips - 1) / strips, _n, pb, offsets, tri, blocks, transposed);
            WorkerPool.Run(job, strips, threads);
        }
    }

    // One strip of rows through every block, k..k+b-1, whose product H_k ... H_(k+b-1) is I - Vc T Vc^T (Vc the block's
    // vectors as columns): x2 -= ((x2 Vc) T) Vc^T, or with T^T for the reverse product, on the columns k+1..n it touches.
    private readonly struct StripJob(T* xt, int rows, int stripRows, int n, T* blocks, long* offsets, T* triangles, int count, bool transposed)
        : IWorkItems
    {
        public void Run(int item)
        {
            int r0 = item * stripRows, h = Math.Min(stripRows, rows - r0);
            if (h <= 0) return;
            int nb = Math.Min(BlockWidth, n - 1);
            var buffer = ArrayPool<T>.Shared.Rent(2 * h * nb);
            try
            {
                fixed (T* p = buffer)
                {
                    T* q = p + h * nb;
                    T* x = xt + (nint)r0 * n;
                    for (int step = 0; step < count; step++)
                    {
                        int block = transposed ? count - 1 - step : step;
                        int k = block * nb, b = Math.Min(nb, n - 1 - k), c0 = k + 1, m = n - c0;
                        T* v = blocks + offsets[block];
                        T* tf = triangles + (nint)block * nb * nb;
                        // P = X2 Vc (h x b), Q = P T (or P T^T), X2 -= Q Vc^T.
                        Blas<T>.Gemm(h, b, m, T.One, x + c0, n, 1, v, 1, m, p, b, accumulate: false, threads: 1);
                        if (transposed) Blas<T>.Gemm(h, b, b, T.One, p, b, 1, tf, 1, b, q, b, accumulate: false, threads: 1);
                        else Blas<T>.Gemm(h, b, b, T.One, p, b, 1, tf, b, 1, q, b, accumulate: false, threads: 1);
                        Blas<T>.Gemm(h, m, b, -T.One, q, b, 1, v, m, 1, x + c0, n, accumulate: true, threads: 1);
                    }
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(buffer);
            }
        }
    }

    // larft (forward, vectors as rows) for every block: T[i, i] = tau_i, T[0..i, i] = -tau_i T[0..i, 0..i] (V v_i), with
    // the block's Gram matrix V V^T (upper triangle) from the GEMM.
    private T[] Triangles(int nb, int blocks, T[] tauArray)
    {
        int n = _n, count = n - 1;
        var triangles = new T[blocks * nb * nb];
        var gramBuffer = new T[nb * nb];
        fixed (T* all = _blocks, tau = tauArray, gram = gramBuffer, tri = triangles)
        {
            for (int block = 0; block < blocks; block++)
            {
                int k = block * nb, b = Math.Min(nb, count - k), m = n - k - 1;
                T* v = all + _offsets[block];
                T* tf = tri + block * nb * nb;
                Blas<T>.Gemm(b, b, m, T.One, v, m, 1, v, 1, m, gram, b, accumulate: false, upperOnly: true);
                for (int i = 0; i < b; i++)
                {
                    T ti = tau[k + i];
                    tf[i * b + i] = ti;
                    for (int r = 0; r < i; r++) tf[r * b + i] = -ti * gram[r * b + i];
                    // Rows ascending: row r reads column i's entries at rows r..i-1, none yet overwritten.
                    for (int r = 0; r < i; r++)
                    {
                        T sum = T.Zero;
                        for (int s = r; s < i; s++) sum += tf[r * b + s] * tf[s * b + i];
                        tf[r * b + i] = sum;
                    }
                }
            }
        }

        return triangles;
    }

    // dst (cols x rows) = src^T, src rows x cols row-major; in blocks so that both sides stay in cache.
    private static void Transpose(T* src, int rows, int cols, T* dst)
    {
        const int Block = 32;
        for (int ib = 0; ib < rows; ib += Block)
            for (int jb = 0; jb < cols; jb += Block)
            {
                int iEnd = Math.Min(ib + Block, rows), jEnd = Math.Min(jb + Block, cols);
                for (int i = ib; i < iEnd; i++)
                    for (int j = jb; j < jEnd; j++)
                        dst[(nint)j * rows + i] = src[(nint)i * cols + j];
            }
    }

    private static void TransposeInPlace(T* x, int n)
    {
        const int Block = 32;
        for (int ib = 0; ib < n; ib += Block)
            for (int jb = ib; jb < n; jb += Block)
            {
                int iEnd = Math.Min(ib + Block, n), jEnd = Math.Min(jb + Block, n);
                for (int i = ib; i < iEnd; i++)
                    for (int j = Math.Max(jb, i + 1); j < jEnd; j++)
                        (x[i * n + j], x[j * n + i]) = (x[j * n + i], x[i * n + j]);
            }
    }
}

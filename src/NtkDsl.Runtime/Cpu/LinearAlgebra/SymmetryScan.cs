using System.Numerics;
using System.Runtime.Intrinsics.X86;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu.LinearAlgebra;

/// <summary>
/// One pass over a square row-major matrix in B x B blocks: the largest |a_ij|, the largest |a_ij - a_ji| and whether
/// every entry is finite, optionally copying the blocks on and above the diagonal into a second array (what the Cholesky
/// factorization reads). Each block on or above the diagonal is compared with its mirror, transposed into a stack buffer
/// so that both are read row by row with vectors; block rows run in parallel on the <see cref="WorkerPool"/>.
/// </summary>
internal static unsafe class SymmetryScan<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // 256-byte block rows (64 float, 32 double): longer contiguous runs down the mirrored column strip (measured: float
    // with 64 about 30% faster than with 32; double unchanged).
    private static readonly int B = 256 / sizeof(T);

    /// <summary>Scans d (n x n); when <paramref name="upper"/> is not null, its blocks on and above the diagonal become d's.</summary>
    public static (T MaxAbs, T MaxAsymmetry, bool Finite) Run(T[] d, int n, T[]? upper)
    {
        int rows = (n + B - 1) / B;
        var maxAbs = new T[rows];
        var maxAsymmetry = new T[rows];
        var finite = new bool[rows];
        fixed (T* pd = d, pu = upper)
        {
            int threads = (long)n * n < PackedGemm<T>.ParallelThreshold ? 1 : Blas<T>.Threads;
            WorkerPool.Run(new Job(pd, pu, n, maxAbs, maxAsymmetry, finite), rows, threads);
        }

        T abs = T.Zero, asymmetry = T.Zero;
        bool allFinite = true;
        for (int i = 0; i < rows; i++)
        {
            abs = T.Max(abs, maxAbs[i]);
            asymmetry = T.Max(asymmetry, maxAsymmetry[i]);
            allFinite &= finite[i];
        }

        return (abs, asymmetry, allFinite);
    }

    // Block row item: blocks (item, J) for J >= item against their mirrors (J, item).
    private readonly struct Job(T* d, T* upper, int n, T[] maxAbs, T[] maxAsymmetry, bool[] finite) : IWorkItems
    {
        public void Run(int item)
        {
            int i0 = item * B, h = Math.Min(B, n - i0), v = Vector<T>.Count;
            T* mirror = stackalloc T[B * B];
            Vector<T> vAbs = Vector<T>.Zero, vAsymmetry = Vector<T>.Zero, vNonFinite = Vector<T>.Zero;
            T sAbs = T.Zero, sAsymmetry = T.Zero;
            bool allFinite = true;
            for (int j0 = i0; j0 < n; j0 += B)
            {
                int w = Math.Min(B, n - j0);
                T* block = d + (nint)j0 * n + i0;
                if (h == B && w == B && Avx.IsSupported && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
                    TransposeAvx(block, n, mirror);
                else
                    for (int c = 0; c < w; c++)
                        for (int r = 0; r < h; r++) mirror[r * B + c] = block[(nint)c * n + r];

                for (int r = 0; r < h; r++)
                {
                    nint offset = (nint)(i0 + r) * n + j0;
                    T* a = d + offset, t = mirror + r * B, o = upper == null ? null : upper + offset;
                    int c = 0;
                    for (; c <= w - v; c += v)
                    {
                        var x = Vector.Load(a + c);
                        var y = Vector.Load(t + c);
                        if (o != null) Vector.Store(x, o + c);
                        vAbs = Vector.MaxNative(vAbs, Vector.MaxNative(Vector.Abs(x), Vector.Abs(y)));
                        vAsymmetry = Vector.MaxNative(vAsymmetry, Vector.Abs(x - y));
                        vNonFinite += (x - x) + (y - y); // 0 unless an entry is NaN or infinite
                    }

                    for (; c < w; c++)
                    {
                        T x = a[c], y = t[c];
                        if (o != null) o[c] = x;
                        allFinite &= T.IsFinite(x) && T.IsFinite(y);
                        sAbs = T.Max(sAbs, T.Max(T.Abs(x), T.Abs(y)));
                        sAsymmetry = T.Max(sAsymmetry, T.Abs(x - y));
                    }
                }
            }

            for (int k = 0; k < v; k++)
            {
                allFinite &= vNonFinite[k] == T.Zero;
                sAbs = T.Max(sAbs, vAbs[k]);
                sAsymmetry = T.Max(sAsymmetry, vAsymmetry[k]);
            }

            maxAbs[item] = sAbs;
            maxAsymmetry[item] = sAsymmetry;
            finite[item] = allFinite;
        }

        // mirror[r B + c] = block[c ld + r] for a full B x B block of float or double, in 8 x 8 / 4 x 4 register
        // transposes: the scalar element-by-element transpose was most of the scan's time.
        private static void TransposeAvx(T* block, nint ld, T* mirror)
        {
            if (typeof(T) == typeof(float))
            {
                for (int c0 = 0; c0 < B; c0 += 8)
                    for (int r0 = 0; r0 < B; r0 += 8)
                        RegisterTranspose.Block8((float*)block + c0 * ld + r0, ld, (float*)mirror + r0 * B + c0, B);
            }
            else
            {
                for (int c0 = 0; c0 < B; c0 += 4)
                    for (int r0 = 0; r0 < B; r0 += 4)
                        RegisterTranspose.Block4((double*)block + c0 * ld + r0, ld, (double*)mirror + r0 * B + c0, B);
            }
        }
    }
}

using System.Numerics;
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
    private const int B = 32;

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
                for (int c = 0; c < w; c++)
                {
                    T* source = d + (nint)(j0 + c) * n + i0;
                    for (int r = 0; r < h; r++) mirror[r * B + c] = source[r];
                }

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
    }
}

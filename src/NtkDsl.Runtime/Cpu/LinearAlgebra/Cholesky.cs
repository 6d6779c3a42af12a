using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.ExceptionServices;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu.LinearAlgebra;

/// <summary>
/// Cholesky factorization A = U^T U (U upper, row-major, in place; equivalently A = L L^T with L = U^T column-major).
/// <list type="bullet">
/// <item>On several threads and for n above two tiles: a task-parallel tile Cholesky (PLASMA's scheme) on the
/// <see cref="WorkerPool"/>: the upper triangle is cut into b x b tiles and every tile operation is a single-threaded
/// task (the diagonal tile's factorization, a TRSM per tile right of it, one GEMM/SYRK per trailing tile and panel),
/// started as soon as the tiles it reads are final. Tasks run in row-major tile order of priority, so the next panel's
/// tiles are factored while the trailing updates of the previous panel still run (lookahead): no thread waits at a
/// panel, and every multiply-add of the TRSMs and updates runs in the packed GEMM's single-thread kernel.</item>
/// <item>Otherwise (and inside the diagonal tasks): recursive, LAPACK's potrf2 scheme: factor the leading half, one TRSM
/// for the off-diagonal block, one SYRK for the trailing half, recurse; leaves of up to 64 rows are unblocked row
/// operations.</item>
/// </list>
/// Each tile receives its updates one panel at a time in panel order, so the result does not depend on the schedule.
/// </summary>
internal static unsafe class Cholesky<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int Leaf = 64;

    /// <summary>Test hook: the tile side of the task-parallel factorization (0: chosen from n).</summary>
    internal static int TileOverride { get; set; }

    /// <summary>
    /// Factors the upper triangle of a (n x n, row stride ld) in place; the strict lower triangle is scratch
    /// (partly overwritten) and is not read. Returns -1 on success or the index of the first pivot that is not
    /// positive (or not finite): the leading block before it is factored, and the failed pivot's entry holds its
    /// Schur complement.
    /// </summary>
    public static int Factor(T* a, nint ld, int n)
    {
        int threads = Blas<T>.Threads;
        int tile = TileOverride > 0 ? TileOverride : TileSide(n);
        if (threads <= 1 || n <= 2 * tile) return Recursive(a, ld, n, threads);
        int count = (n + tile - 1) / tile;
        var tiles = new nint[count * (count + 1) / 2];
        var strides = new nint[tiles.Length];
        for (int i = 0, t = 0; i < count; i++)
            for (int j = i; j < count; j++, t++)
            {
                tiles[t] = (nint)(a + (nint)i * tile * ld + (nint)j * tile);
                strides[t] = ld;
            }

        return FactorTiles(n, tile, tiles, strides, null, null, threads);
    }

    /// <summary>
    /// The task-parallel tile factorization of a matrix whose upper triangle of tiles may live anywhere: tile (i, j),
    /// i &lt;= j, at address tiles[t] with row stride strides[t], t enumerating the tiles row by row; b x b tiles except
    /// the last row and column (n - (count - 1) b). Returns -1 or the first failed pivot, a pivot also failing when its
    /// square is not above <paramref name="pivotFloor"/>; <paramref name="onPanel"/>(k) runs (one call at a time, in
    /// order) once tile row k is final.
    /// </summary>
    public static int FactorTiles(int n, int tile, nint[] tiles, nint[] strides, T? pivotFloor, Action<int>? onPanel, int threads)
        => new TileSchedule(n, tile, tiles, strides, pivotFloor, onPanel).Run(threads);

    // Multiples of 96 (the register tile's 6 rows and 16 / 32 columns divide them), at least six tile rows (five from
    // n = 960) so that there are enough tasks for the lookahead, and at most what keeps two tiles within the 1 MiB L2
    // (288 x 288 double, 384 x 384 float: 648 / 576 KiB). Measured (process CPU time of the factorization, n = 2000 and
    // 4000): 288 does 10-17% less work than 192 in float64, 384 13-25% less than 192 in float32 (fewer packs of each
    // panel tile, fewer passes over C). Tiles of 96 only where fewer than five rows of 192 fit: at n = 1000, 192 did ~20%
    // less update work than 96 (tasks of ~30 us pay the schedule's lock and wake-ups), in both types.
    private static int TileSide(int n)
    {
        int cap = typeof(T) == typeof(float) ? 384 : 288;
        int side = n / 6 >= 192 ? n / 6 : n >= 5 * 192 ? 192 : 96;
        return Math.Clamp(side / 96 * 96, 96, cap);
    }

    private static int Recursive(T* a, nint ld, int n, int threads)
    {
        if (n <= Leaf) return Unblocked(a, ld, n);
        int n1 = Blas<T>.Split(n), n2 = n - n1;
        int failed = Recursive(a, ld, n1, threads);
        if (failed >= 0) return failed;
        T* a12 = a + n1, a22 = a + n1 * ld + n1;
        Blas<T>.SolveUpperTransposed(a, ld, n1, a12, ld, n2, threads);                // U12 = U11^-T A12
        Blas<T>.Gemm(n2, n2, n1, -T.One, a12, 1, ld, a12, ld, 1, a22, ld,              // A22 -= U12^T U12 (upper)
            accumulate: true, upperOnly: true, threads: threads);
        failed = Recursive(a22, ld, n2, threads);
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

    /// <summary>
    /// The tile factorization's state: tile (i, j), i &lt;= j, has taken the updates of panels 0..Applied - 1 (panel p is
    /// tile row p of U) and is final once factored (i = j) or solved (i &lt; j) after all i of them. Every participating
    /// thread runs <see cref="Work"/>: pick the first ready tile in row-major order under the lock, run its task outside it.
    /// </summary>
    private sealed class TileSchedule
    {
        private readonly object _gate = new();
        private readonly nint[] _tiles, _strides;
        private readonly T? _pivotFloor;
        private readonly Action<int>? _onPanel;
        private readonly int _n, _b, _count;
        private readonly int[] _applied;
        private readonly bool[] _final, _running;
        private int _remaining, _firstRow, _failed = -1;
        private bool _stop;
        private ExceptionDispatchInfo? _error;

        public TileSchedule(int n, int tile, nint[] tiles, nint[] strides, T? pivotFloor, Action<int>? onPanel)
        {
            _tiles = tiles;
            _strides = strides;
            _pivotFloor = pivotFloor;
            _onPanel = onPanel;
            _n = n;
            _b = tile;
            _count = (n + tile - 1) / tile;
            _remaining = _count * (_count + 1) / 2;
            _applied = new int[_remaining];
            _final = new bool[_remaining];
            _running = new bool[_remaining];
        }

        public int Run(int threads)
        {
            WorkerPool.Run(new Job(this), threads, threads);
            _error?.Throw();
            return _failed;
        }

        private readonly struct Job(TileSchedule schedule) : IWorkItems
        {
            public void Run(int item) => schedule.Work();
        }

        private int Index(int i, int j) => i * _count - i * (i - 1) / 2 + (j - i);

        private int Extent(int i) => Math.Min(_b, _n - i * _b);

        private T* Tile(int i, int j) => (T*)_tiles[Index(i, j)];

        private nint Ld(int i, int j) => _strides[Index(i, j)];

        private void Work()
        {
            lock (_gate)
            {
                while (!_stop && _remaining > 0)
                {
                    if (!TryPick(out int i, out int j))
                    {
                        Monitor.Wait(_gate);
                        continue;
                    }

                    int t = Index(i, j), panel = _applied[t];
                    _running[t] = true;
                    int failed = -1;
                    Exception? error = null;
                    Monitor.Exit(_gate);
                    try
                    {
                        failed = Execute(i, j, panel);
                    }
                    catch (Exception e)
                    {
                        error = e;
                    }
                    finally
                    {
                        Monitor.Enter(_gate);
                    }

                    _running[t] = false;
                    if (error is not null)
                    {
                        _error ??= ExceptionDispatchInfo.Capture(error);
                        _stop = true;
                    }
                    else if (failed >= 0)
                    {
                        _failed = failed;
                        _stop = true;
                    }
                    else if (panel < i) _applied[t] = panel + 1;
                    else
                    {
                        _final[t] = true;
                        _remaining--;
                        for (; _firstRow < _count && RowFinal(_firstRow); _firstRow++) _onPanel?.Invoke(_firstRow);
                    }

                    Monitor.PulseAll(_gate);
                }
            }
        }

        private bool RowFinal(int i)
        {
            for (int j = i; j < _count; j++)
                if (!_final[Index(i, j)]) return false;
            return true;
        }

        // Ready: the next panel's tiles (p, i) and (p, j) are final (an update), or all i updates are in and, off the
        // diagonal, the diagonal tile (i, i) is factored (the factorization or solve).
        private bool TryPick(out int i, out int j)
        {
            for (i = _firstRow; i < _count; i++)
                for (j = i; j < _count; j++)
                {
                    int t = Index(i, j);
                    if (_final[t] || _running[t]) continue;
                    int p = _applied[t];
                    if (p < i ? _final[Index(p, i)] && _final[Index(p, j)] : i == j || _final[Index(i, i)]) return true;
                }

            i = j = -1;
            return false;
        }

        // Returns the failed pivot (global index) of a diagonal factorization, else -1.
        private int Execute(int i, int j, int panel)
        {
            int ei = Extent(i), ej = Extent(j);
            if (panel < i)
            {
                // A_ij -= U_pi^T U_pj (the upper triangle on the diagonal).
                Blas<T>.Gemm(ei, ej, Extent(panel), -T.One, Tile(panel, i), 1, Ld(panel, i), Tile(panel, j), Ld(panel, j), 1,
                    Tile(i, j), Ld(i, j), accumulate: true, upperOnly: i == j, threads: 1);
                return -1;
            }

            if (i == j)
            {
                T* u = Tile(i, i);
                nint ld = Ld(i, i);
                int failed = Recursive(u, ld, ei, 1);
                if (failed < 0 && _pivotFloor is { } floor)
                    for (int q = 0; q < ei && failed < 0; q++)
                        if (!(u[q * ld + q] * u[q * ld + q] > floor)) failed = q;
                return failed >= 0 ? i * _b + failed : -1;
            }

            Blas<T>.SolveUpperTransposed(Tile(i, i), Ld(i, i), ei, Tile(i, j), Ld(i, j), ej, threads: 1);   // U_ij = U_ii^-T A_ij
            return -1;
        }
    }
}

using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu;

/// <summary>Options of <see cref="TiledNtk"/>.</summary>
public sealed record TiledNtkOptions
{
    /// <summary>
    /// Upper bound for the managed memory the tiled computation holds at once (workspace, Grams, tile
    /// buffers, GEMM pack buffers), in bytes; the caller's inputs and destination are not counted.
    /// Default 256 MiB.
    /// </summary>
    public long MemoryBudgetBytes { get; init; } = 256L << 20;

    /// <summary>
    /// Samples per tile side (rows of x1 and of x2 per block). 0 (default): the largest that fits the budget.
    /// A value whose estimate exceeds <see cref="MemoryBudgetBytes"/> is rejected.
    /// </summary>
    public int TileRows { get; init; }
}

/// <summary>
/// Which block of the kernel a tile holds, in samples: Theta(x1[RowStart .. RowStart + RowCount),
/// x2[ColumnStart .. ColumnStart + ColumnCount)). The tile's values are laid out as
/// <see cref="NtkMode"/> lays out a whole kernel for those samples.
/// </summary>
/// <param name="RowStart">First sample of x1 in the tile.</param>
/// <param name="RowCount">Number of x1 samples.</param>
/// <param name="ColumnStart">First sample of x2 in the tile.</param>
/// <param name="ColumnCount">Number of x2 samples.</param>
public readonly record struct NtkTile(int RowStart, int RowCount, int ColumnStart, int ColumnCount);

/// <summary>
/// The empirical NTK of a generated network for large N, computed in tiles: Theta(x1_block, x2_block) is
/// exactly a block of Theta(x1, x2), so the generated structured Ntk runs on row blocks of x1 and x2 and
/// memory stays O(tile n L + tile^2) instead of O(N n L + N^2) (and never O(N P): no Jacobian is formed).
/// Results equal the untiled kernel up to rounding.
/// </summary>
public static class TiledNtk
{
    /// <summary>
    /// Writes Theta(x1, x2) into <paramref name="destination"/> (shape per <see cref="NtkMode"/>), one tile at a
    /// time. With x2 = null (x1 against itself) only tiles on and above the block diagonal are computed and
    /// the rest mirrored, so the result is exactly symmetric.
    /// </summary>
    /// <exception cref="ArgumentException">Bad shapes, non-finite inputs, or a budget too small for a 1-sample tile.</exception>
    public static void Compute<TNet, T>(T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkMode mode, Matrix<T> destination, TiledNtkOptions? options = null)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x1);
        ArgumentNullException.ThrowIfNull(destination);
        var (rows, cols) = NtkModes.ResultShape(mode, x1.Rows, (x2 ?? x1).Rows, TNet.OutputSize);
        if (destination.Rows != rows || destination.Cols != cols)
            throw new ArgumentException($"'{nameof(destination)}' must have shape [{rows}, {cols}], but has shape [{destination.Rows}, {destination.Cols}].", nameof(destination));
        Run<TNet, T>(parameters, x1, x2, mode, options ?? new(), destination, null);
    }

    /// <summary>
    /// Computes Theta(x1, x2) tile by tile and hands each tile to <paramref name="onTile"/>; the tiles cover the
    /// kernel exactly once, in an unspecified order. The matrix passed to the callback is reused: copy what
    /// you keep before returning.
    /// </summary>
    /// <exception cref="ArgumentException">Bad shapes, non-finite inputs, or a budget too small for a 1-sample tile.</exception>
    public static void Compute<TNet, T>(T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkMode mode, Action<NtkTile, Matrix<T>> onTile, TiledNtkOptions? options = null)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(onTile);
        Run<TNet, T>(parameters, x1, x2, mode, options ?? new(), null, onTile);
    }

    /// <summary>
    /// Estimated managed bytes held while computing one tile of <paramref name="tileRows"/> x1 samples by
    /// <paramref name="tileCols"/> x2 samples (an upper bound of the generated workspace, the Grams, the tile
    /// buffers and the GEMM pack buffers of every thread). This is what the budget is checked against.
    /// </summary>
    public static long EstimateTileBytes<TNet, T>(int tileRows, int tileCols, NtkMode mode)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long t1 = tileRows, t2 = tileCols;
        var (rows, cols) = NtkModes.ResultShape(mode, 1, 1, TNet.OutputSize);
        long result = rows * t1 * cols * t2;
        long elements =
            TNet.NtkWorkspaceElements(t1, t2, sameInputs: false, mode) // the generated buffer plan of one Ntk call
            + 2 * result // the tile and one exact-size copy for callbacks
            + (t1 + t2) * TNet.InputSize; // padded input blocks
        int threads = Math.Max(1, CpuSettings.MaxDegreeOfParallelism > 0 ? CpuSettings.MaxDegreeOfParallelism : Environment.ProcessorCount);
        long pack = threads * (long)(PackedGemm<T>.MC * PackedGemm<T>.KC + PackedGemm<T>.KC * PackedGemm<T>.NC + 128);
        return (elements + pack) * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
    }

    private static void Run<TNet, T>(T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkMode mode, TiledNtkOptions options,
        Matrix<T>? destination, Action<NtkTile, Matrix<T>>? onTile)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Length != TNet.ParameterCount)
            throw new ArgumentException($"'{nameof(parameters)}' must have length ParameterCount = {TNet.ParameterCount}, but has length {parameters.Length}.", nameof(parameters));
        CheckFinite(parameters, nameof(parameters));
        CheckInput<TNet, T>(x1, nameof(x1));
        bool same = x2 is null || ReferenceEquals(x1, x2);
        if (!same) CheckInput<TNet, T>(x2!, nameof(x2));
        _ = NtkModes.ResultShape(mode, 1, 1, TNet.OutputSize);
        var xs = same ? x1 : x2!;
        int n1 = x1.Rows, n2 = xs.Rows, d = TNet.InputSize, o = TNet.OutputSize;

        int t = ChooseTile<TNet, T>(n1, n2, mode, options, same);
        // Balance the blocks so the last one is nearly full: all tiles then share one shape, the workspace is
        // allocated once, and a short last block is zero-padded (padding rows only add discarded entries).
        int blocks1 = (n1 + Math.Min(t, n1) - 1) / Math.Min(t, n1);
        int tr = (n1 + blocks1 - 1) / blocks1;
        int blocks2 = same ? blocks1 : (n2 + Math.Min(t, n2) - 1) / Math.Min(t, n2);
        int tc = same ? tr : (n2 + blocks2 - 1) / blocks2;

        var backend = new CpuBackend<T>(CpuSettings.MaxDegreeOfParallelism);
        var workspace = new Workspace<CpuTensor<T>>();
        var theta = CpuTensor<T>.Of(parameters);
        var (tileRows, tileCols) = NtkModes.ResultShape(mode, tr, tc, TNet.OutputSize);
        var tile = new Matrix<T>(tileRows, tileCols);
        T[]? pad1 = null, pad2 = null;
        Matrix<T>? exact = null;

        for (int ib = 0; ib < blocks1; ib++)
        {
            int r0 = ib * tr, rc = Math.Min(tr, n1 - r0);
            var xa = Block(x1, r0, rc, tr, d, ref pad1);
            for (int jb = 0; jb < blocks2; jb++)
            {
                if (same && destination is not null && jb < ib) continue; // mirrored from (jb, ib)
                int c0 = jb * tc, cc = Math.Min(tc, n2 - c0);
                bool diagonalBlock = same && ib == jb;
                var xb = diagonalBlock ? xa : Block(xs, c0, cc, tc, d, ref pad2);
                TNet.Ntk(backend, theta, xa, xb, diagonalBlock, mode, CpuTensor<T>.Of(tile), workspace);

                if (destination is not null)
                {
                    Place(tile, mode, o, tr, rc, cc, destination, n1, r0, c0, transpose: false);
                    if (same && jb > ib) Place(tile, mode, o, tr, rc, cc, destination, n1, c0, r0, transpose: true);
                }
                else
                {
                    var values = tile;
                    if (rc != tr || cc != tc)
                    {
                        var (er, ec) = NtkModes.ResultShape(mode, rc, cc, TNet.OutputSize);
                        if (exact is null || exact.Rows != er || exact.Cols != ec) exact = new Matrix<T>(er, ec);
                        Place(tile, mode, o, tr, rc, cc, exact, rc, 0, 0, transpose: false);
                        values = exact;
                    }

                    onTile!(new NtkTile(r0, rc, c0, cc), values);
                }
            }
        }
    }

    private static int ChooseTile<TNet, T>(int n1, int n2, NtkMode mode, TiledNtkOptions options, bool same)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long budget = options.MemoryBudgetBytes;
        long Cost(int s) => EstimateTileBytes<TNet, T>(Math.Min(s, n1), Math.Min(s, same ? n1 : n2), mode);
        if (options.TileRows < 0) throw new ArgumentOutOfRangeException(nameof(options), options.TileRows, "TileRows must be >= 0.");
        if (options.TileRows > 0)
        {
            if (Cost(options.TileRows) > budget)
                throw new ArgumentException($"TileRows = {options.TileRows} needs about {Cost(options.TileRows)} bytes, more than MemoryBudgetBytes = {budget}.", nameof(options));
            return options.TileRows;
        }

        if (Cost(1) > budget)
            throw new ArgumentException($"MemoryBudgetBytes = {budget} is too small: even a 1 x 1 tile needs about {Cost(1)} bytes.", nameof(options));
        int lo = 1, hi = Math.Max(n1, n2);
        while (lo < hi)
        {
            int mid = lo + (hi - lo + 1) / 2;
            if (Cost(mid) <= budget) lo = mid;
            else hi = mid - 1;
        }

        return lo;
    }

    // Rows [start, start + count) of x as a [size, d] tensor: a view when full, else a zero-padded copy.
    private static CpuTensor<T> Block<T>(Matrix<T> x, int start, int count, int size, int d, ref T[]? pad)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (count == size) return new CpuTensor<T>(x.Data, start * d, size, d);
        pad ??= new T[size * d];
        Array.Copy(x.Data, start * d, pad, 0, count * d);
        Array.Clear(pad, count * d, (size - count) * d);
        return new CpuTensor<T>(pad, 0, size, d);
    }

    // Copies the valid rc x cc samples of a tile (computed on tr rows) into dst at sample (r0, c0); dstSamples
    // is dst's number of row samples (the block height in Diagonal mode). transpose writes the mirrored block.
    private static void Place<T>(Matrix<T> tile, NtkMode mode, int o, int tr, int rc, int cc, Matrix<T> dst, int dstSamples, int r0, int c0, bool transpose)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (mode)
        {
            case NtkMode.Full:
                Copy(tile, 0, rc * o, cc * o, dst, r0 * o, c0 * o, transpose);
                break;
            case NtkMode.Diagonal:
                for (int k = 0; k < o; k++) Copy(tile, k * tr, rc, cc, dst, k * dstSamples + r0, c0, transpose);
                break;
            default:
                Copy(tile, 0, rc, cc, dst, r0, c0, transpose);
                break;
        }
    }

    private static void Copy<T>(Matrix<T> src, int srcRow, int rows, int cols, Matrix<T> dst, int dstRow, int dstCol, bool transpose)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!transpose)
        {
            for (int i = 0; i < rows; i++)
                Array.Copy(src.Data, (srcRow + i) * src.Cols, dst.Data, (dstRow + i) * dst.Cols + dstCol, cols);
            return;
        }

        // dst[dstRow + q, dstCol + p] = src[srcRow + p, q]
        for (int p = 0; p < rows; p++)
        {
            int s = (srcRow + p) * src.Cols;
            for (int q = 0; q < cols; q++) dst.Data[(dstRow + q) * dst.Cols + dstCol + p] = src.Data[s + q];
        }
    }

    private static void CheckInput<TNet, T>(Matrix<T> x, string name)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (x.Cols != TNet.InputSize || x.Rows == 0)
            throw new ArgumentException($"'{name}' must have shape [N >= 1, {TNet.InputSize}], but has shape [{x.Rows}, {x.Cols}].", name);
        CheckFinite(x.Data, name);
    }

    private static void CheckFinite<T>(ReadOnlySpan<T> values, string name) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!T.IsFinite(values[i]))
                throw new ArgumentException($"'{name}' contains {values[i]} at index {i}; inputs must be finite (no NaN or infinity).", name);
        }
    }
}

using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu.Gemm;
using NtkDsl.Tiling;

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
        Run<TNet, T>(parameters, x1, x2, mode, options ?? new(), new MatrixTileSink<T>(destination, mode, TNet.OutputSize, x1.Rows));
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
        Run<TNet, T>(parameters, x1, x2, mode, options ?? new(), new CallbackTileSink<T>(onTile));
    }

    /// <summary>
    /// Computes Theta(x1, x2) tile by tile on the CPU and hands the tiles to <paramref name="sink"/> (a
    /// <see cref="MatrixTileSink{T}"/>, <see cref="NpyTileSink{T}"/>, <see cref="CallbackTileSink{T}"/> or your own).
    /// A sink that mirrors gets only the tiles on and above the diagonal of a symmetric kernel.
    /// </summary>
    /// <exception cref="ArgumentException">Bad shapes, non-finite inputs, or a budget too small for a 1-sample tile.</exception>
    public static void Compute<TNet, T>(T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkMode mode, INtkTileSink<T> sink, TiledNtkOptions? options = null)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(sink);
        Run<TNet, T>(parameters, x1, x2, mode, options ?? new(), sink);
    }

    /// <summary>
    /// The tiling <see cref="Compute{TNet, T}(T[], Matrix{T}, Matrix{T}?, NtkMode, INtkTileSink{T}, TiledNtkOptions?)"/> uses: the
    /// largest square tiles whose <see cref="EstimateTileBytes"/> fits the budget (or <see cref="TiledNtkOptions.TileRows"/>).
    /// A pure function of the sizes, so the same plan can run on any executor.
    /// </summary>
    public static NtkTilePlan Plan<TNet, T>(int n1, int n2, bool symmetric, NtkMode mode, TiledNtkOptions? options = null, bool mirrorLower = true)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        _ = NtkModes.ResultShape(mode, 1, 1, TNet.OutputSize);
        int tile = ChooseTile<TNet, T>(n1, n2, mode, options ?? new(), symmetric);
        return NtkTilePlan.Create(n1, n2, tile, symmetric, mirrorLower);
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
            TNet.NtkWorkspaceElements(t1, t2, sameInputs: false, mode, default(CpuBackend<T>).TraceOutputGroupLimit) // the generated buffer plan of one Ntk call
            + 2 * result // the tile and one exact-size copy for callbacks
            + (t1 + t2) * TNet.InputSize; // padded input blocks
        int threads = Math.Max(1, CpuSettings.MaxDegreeOfParallelism > 0 ? CpuSettings.MaxDegreeOfParallelism : Environment.ProcessorCount);
        long pack = threads * (long)(PackedGemm<T>.MC * PackedGemm<T>.KC + PackedGemm<T>.KC * PackedGemm<T>.NC + 128);
        return (elements + pack) * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
    }

    private static void Run<TNet, T>(T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkMode mode, TiledNtkOptions options, INtkTileSink<T> sink)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireParameters(parameters, nameof(parameters), TNet.Description);
        Shapes.RequireInput(x1, nameof(x1), TNet.Description);
        bool same = x2 is null || ReferenceEquals(x1, x2);
        if (!same) Shapes.RequireInput(x2, nameof(x2), TNet.Description);
        var xs = same ? x1 : x2!;

        var plan = Plan<TNet, T>(x1.Rows, xs.Rows, same, mode, options, sink.MirrorsLower);
        using var executor = new CpuNtkTileExecutor<TNet, T>(parameters, x1, xs, mode, plan);
        Matrix<T>? values = null;
        foreach (var tile in plan.Tiles)
        {
            var (rows, cols) = NtkModes.ResultShape(mode, tile.RowCount, tile.ColumnCount, TNet.OutputSize);
            if (values is null || values.Rows != rows || values.Cols != cols) values = new Matrix<T>(rows, cols);
            executor.Compute(tile, values);
            sink.Write(tile, values, plan.Symmetric);
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
}

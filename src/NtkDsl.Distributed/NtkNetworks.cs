using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Tiling;

namespace NtkDsl.Distributed;

/// <summary>The networks a silo can compute kernels of: the user's generated network types, registered by <see cref="Add{TNet}"/>.</summary>
public sealed class NtkNetworks
{
    private readonly Dictionary<string, INetworkEntry> _entries = new(StringComparer.Ordinal);

    /// <summary>Makes <typeparamref name="TNet"/>'s kernels (empirical NTK in float and double, infinite width) available on the silo.</summary>
    public NtkNetworks Add<TNet>() where TNet : INetwork<TNet>
    {
        var entry = new NetworkEntry<TNet>();
        _entries[entry.Name] = entry;
        return this;
    }

    /// <summary>The registered network type names.</summary>
    public IReadOnlyCollection<string> Names => _entries.Keys;

    // The entry for a job, after the checks that must fail before any tile runs: known network, same architecture,
    // tiles within the silo's memory budget.
    internal INetworkEntry Require(NtkJob job, NtkSiloOptions options)
    {
        if (!_entries.TryGetValue(job.Network, out var entry))
            throw new ArgumentException($"This silo has no network '{job.Network}' (it hosts: {(Names.Count == 0 ? "none" : string.Join(", ", Names))}). " +
                "Register it with NtkNetworks.Add<TNet>() in the silo program.", nameof(job));
        if (entry.Fingerprint != job.Fingerprint)
            throw new ArgumentException($"Network '{job.Network}' differs between client and silo: the client's architecture has fingerprint {job.Fingerprint}, " +
                $"this silo's {entry.Fingerprint} ({entry.Describe()}). Build client and silos from the same declaration.", nameof(job));
        if (job.InputSize != entry.InputSize)
            throw new ArgumentException($"Network '{job.Network}' takes {entry.InputSize} inputs per sample on this silo, the job has {job.InputSize}.", nameof(job));
        var plan = job.Plan;
        long tile = entry.EstimateTileBytes(job, plan.TileRows, plan.TileColumns, options);
        long dataBytes = (long)job.X1.Length + job.X2.Length + job.Parameters.Length;
        long need = tile * options.MaxConcurrentTiles + dataBytes;
        if (need > options.MemoryBudgetBytes)
            throw new ArgumentException($"Tiles of {plan.TileRows} x {plan.TileColumns} samples need about {tile:N0} bytes each on a silo " +
                $"(x {options.MaxConcurrentTiles} concurrent tiles, plus {dataBytes:N0} bytes of inputs and parameters = {need:N0}), " +
                $"more than the silo's MemoryBudgetBytes = {options.MemoryBudgetBytes:N0}. Plan smaller tiles (TiledNtk.Plan with a smaller " +
                "MemoryBudgetBytes, or NtkTilePlan.Create with a smaller tile) or give the silos a larger budget.", nameof(job));
        return entry;
    }
}

// What the silo knows of one network type: its fingerprint, and how to compute a job's tiles.
internal interface INetworkEntry
{
    string Name { get; }

    string Fingerprint { get; }

    int InputSize { get; }

    string Describe();

    long EstimateTileBytes(NtkJob job, int tileRows, int tileCols, NtkSiloOptions options);

    // A new computer of the job's tiles (one per concurrent tile: computers hold workspaces and are not thread-safe).
    Func<ITileComputer> Computers(NtkJob job, NtkSiloOptions options);
}

internal interface ITileComputer : IDisposable
{
    // The tile's values as raw little-endian element bytes, in the job's layout.
    byte[] Compute(NtkTile tile);
}

internal sealed class NetworkEntry<TNet> : INetworkEntry where TNet : INetwork<TNet>
{
    public string Name { get; } = typeof(TNet).FullName!;

    public string Fingerprint { get; } = NetworkFingerprint.Of<TNet>();

    public int InputSize => TNet.InputSize;

    public string Describe() => TNet.Description.ToString();

    public long EstimateTileBytes(NtkJob job, int tileRows, int tileCols, NtkSiloOptions options) => job.Kind switch
    {
        NtkKernelKind.Empirical when job.Float32 => TiledNtk.EstimateTileBytes<TNet, float>(tileRows, tileCols, job.Mode),
        NtkKernelKind.Empirical => TiledNtk.EstimateTileBytes<TNet, double>(tileRows, tileCols, job.Mode),
        _ => InfiniteWidthTileExecutor.EstimateTileBytes(TNet.Description, tileRows, tileCols, TileOptions(options)),
    };

    // Infinite-width tiles on this silo: its threads, and at most half a tile's share of the silo budget for the
    // position-pair buffers of spatial networks (256 MiB, the single-process default, on a silo with room for it).
    private static InfiniteWidthOptions TileOptions(NtkSiloOptions options) => new()
    {
        MaxDegreeOfParallelism = options.ThreadsPerTile > 0 ? options.ThreadsPerTile : -1,
        SpatialTileBudgetBytes = Math.Clamp(options.MemoryBudgetBytes / (2L * options.MaxConcurrentTiles), 1, InfiniteWidthOptions.Default.SpatialTileBudgetBytes),
    };

    // The closures hold the typed inputs only (not the job's bytes, which can then be collected).
    public Func<ITileComputer> Computers(NtkJob job, NtkSiloOptions siloOptions)
    {
        var plan = job.Plan;
        var (mode, outputs) = (job.Mode, job.Outputs);
        if (job.Kind != NtkKernelKind.Empirical)
        {
            if (job.Float32) throw new ArgumentException("Infinite-width kernels are computed in float64.", nameof(job));
            var (x1, x2) = Inputs<double>(job);
            var kernel = job.Kind == NtkKernelKind.InfiniteWidthNngp ? InfiniteWidthKernel.Nngp : InfiniteWidthKernel.Ntk;
            var options = TileOptions(siloOptions);
            return () => new TileComputer<double>(mode, outputs, new InfiniteWidthTileExecutor(TNet.Description, x1, x2, kernel, plan.Symmetric, options));
        }

        return job.Float32 ? Empirical<float>(job, plan) : Empirical<double>(job, plan);
    }

    private static Func<ITileComputer> Empirical<T>(NtkJob job, NtkTilePlan plan) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var parameters = NtkJob.Values<T>(job.Parameters);
        if (parameters.Length != TNet.ParameterCount)
            throw new ArgumentException($"The job has {parameters.Length} parameters, {typeof(TNet).Name} has ParameterCount = {TNet.ParameterCount}.", nameof(job));
        var (x1, x2) = Inputs<T>(job);
        var (mode, outputs) = (job.Mode, job.Outputs);
        return () => new TileComputer<T>(mode, outputs, new CpuNtkTileExecutor<TNet, T>(parameters, x1, x2, mode, plan));
    }

    private static (Matrix<T> X1, Matrix<T> X2) Inputs<T>(NtkJob job) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var plan = job.Plan;
        var x1 = new Matrix<T>(plan.Rows, job.InputSize, NtkJob.Values<T>(job.X1));
        return (x1, plan.Symmetric ? x1 : new Matrix<T>(plan.Columns, job.InputSize, NtkJob.Values<T>(job.X2)));
    }
}

internal sealed class TileComputer<T>(NtkMode mode, int outputs, INtkTileExecutor<T> executor) : ITileComputer where T : unmanaged, IFloatingPointIeee754<T>
{
    public byte[] Compute(NtkTile tile)
    {
        var (rows, cols) = NtkModes.ResultShape(mode, tile.RowCount, tile.ColumnCount, outputs);
        var values = new Matrix<T>(rows, cols);
        executor.Compute(tile, values);
        return NtkJob.Bytes(values.Data);
    }

    public void Dispose() => (executor as IDisposable)?.Dispose();
}

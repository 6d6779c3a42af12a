using System.Collections.Concurrent;
using NtkDsl.Tiling;
using Orleans.Placement;

namespace NtkDsl.Distributed;

/// <summary>
/// The tile worker grain. The driver calls a fresh activation (a new key) for every tile attempt, and Orleans places it
/// on any live silo (random placement), so a retry after a lost silo lands on the silos that remain. Jobs live in the
/// silo's <see cref="NtkSiloWorkers"/>, not in the grain: inputs and parameters arrive once per silo.
/// </summary>
public interface INtkTileWorker : IGrainWithGuidKey
{
    /// <summary>Checks, without data, that this silo can run the job (network registered, same architecture, tiles within budget).</summary>
    /// <returns>The silo's address.</returns>
    /// <exception cref="ArgumentException">It cannot, with the reason.</exception>
    Task<string> Check(NtkJob header);

    /// <summary>Stores the job's data on this silo (checked as by <see cref="Check"/> and against its content hash).</summary>
    Task Load(NtkJob job);

    /// <summary>Computes one tile of a loaded job; <see cref="NtkTileReply.Values"/> is null when this silo does not hold the job (then <see cref="Load"/> it).</summary>
    /// <param name="jobHash">The job's <see cref="NtkJob.Hash"/>.</param>
    /// <param name="tile">RowStart, RowCount, ColumnStart, ColumnCount.</param>
    Task<NtkTileReply> Compute(string jobHash, int[] tile);
}

/// <summary>A tile's values (raw little-endian elements in the job's layout), or null when the silo lacks the job; and the silo that answered.</summary>
[GenerateSerializer, Immutable]
public sealed class NtkTileReply
{
    /// <summary>The silo's address.</summary>
    [Id(0)] public required string Silo { get; init; }

    /// <summary>The values, or null: the silo does not hold the job.</summary>
    [Id(1)] public byte[]? Values { get; init; }
}

[RandomPlacement]
internal sealed class NtkTileWorker(NtkSiloWorkers workers) : Grain, INtkTileWorker
{
    public Task<string> Check(NtkJob header)
    {
        workers.Check(header);
        return Task.FromResult(workers.Silo);
    }

    public Task Load(NtkJob job)
    {
        workers.Load(job);
        return Task.CompletedTask;
    }

    public async Task<NtkTileReply> Compute(string jobHash, int[] tile)
    {
        ArgumentNullException.ThrowIfNull(tile);
        if (tile.Length != 4) throw new ArgumentException($"A tile is 4 numbers (RowStart, RowCount, ColumnStart, ColumnCount), got {tile.Length}.", nameof(tile));
        var values = await workers.ComputeAsync(jobHash, new NtkTile(tile[0], tile[1], tile[2], tile[3]));
        if (values is not null) DeactivateOnIdle(); // one activation per attempt: nothing to keep
        return new NtkTileReply { Silo = workers.Silo, Values = values };
    }
}

/// <summary>
/// A silo's side of the tile computation (one per silo): the registered networks, the jobs whose data this silo holds
/// (by content hash; the least recently used beyond <see cref="NtkSiloOptions.MaxCachedJobs"/> are dropped), a limit of
/// <see cref="NtkSiloOptions.MaxConcurrentTiles"/> tiles computing at once, and counters.
/// </summary>
public sealed class NtkSiloWorkers
{
    private readonly NtkNetworks _networks;
    private readonly NtkSiloOptions _options;
    private readonly SemaphoreSlim _slots;
    private readonly LinkedList<(string Hash, CachedJob Job)> _jobs = new(); // most recently used first
    private int _tilesComputed;
    private int _tilesInProgress;
    private int _jobsLoaded;

    /// <summary>The service of a silo at <paramref name="silo"/>.</summary>
    public NtkSiloWorkers(NtkNetworks networks, NtkSiloOptions options, ILocalSiloDetails silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        (_networks, _options) = (networks, options);
        _slots = new SemaphoreSlim(options.MaxConcurrentTiles);
        Silo = silo.SiloAddress.ToString();
    }

    /// <summary>This silo's address.</summary>
    public string Silo { get; }

    /// <summary>Tiles this silo has computed.</summary>
    public int TilesComputed => Volatile.Read(ref _tilesComputed);

    /// <summary>Tiles being computed right now.</summary>
    public int TilesInProgress => Volatile.Read(ref _tilesInProgress);

    /// <summary>Jobs whose data this silo has received (the driver sends a job once per silo).</summary>
    public int JobsLoaded => Volatile.Read(ref _jobsLoaded);

    internal void Check(NtkJob header) => _networks.Require(header, _options);

    internal void Load(NtkJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var entry = _networks.Require(job, _options);
        if (!job.HasValidData)
            throw new ArgumentException($"The data of job {job.Hash} does not match its content hash (or is missing): refusing it.", nameof(job));
        var cached = new CachedJob(job.Plan, entry.Computers(job, _options));
        lock (_jobs)
        {
            Remove(job.Hash);
            _jobs.AddFirst((job.Hash, cached));
            while (_jobs.Count > _options.MaxCachedJobs) _jobs.RemoveLast();
        }

        Interlocked.Increment(ref _jobsLoaded);
    }

    internal async Task<byte[]?> ComputeAsync(string hash, NtkTile tile)
    {
        CachedJob? job;
        lock (_jobs)
        {
            job = Find(hash);
        }

        if (job is null) return null;
        job.RequireTile(tile);
        await _slots.WaitAsync();
        try
        {
            var computer = job.Idle.TryTake(out var c) ? c : job.Create();
            Interlocked.Increment(ref _tilesInProgress);
            try
            {
                var values = await Task.Run(() => computer.Compute(tile));
                Interlocked.Increment(ref _tilesComputed);
                return values;
            }
            finally
            {
                Interlocked.Decrement(ref _tilesInProgress);
                job.Idle.Add(computer);
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    private CachedJob? Find(string hash)
    {
        for (var node = _jobs.First; node is not null; node = node.Next)
        {
            if (node.Value.Hash != hash) continue;
            _jobs.Remove(node);
            _jobs.AddFirst(node);
            return node.Value.Job;
        }

        return null;
    }

    private void Remove(string hash)
    {
        for (var node = _jobs.First; node is not null; node = node.Next)
            if (node.Value.Hash == hash)
            {
                _jobs.Remove(node);
                return;
            }
    }

    private sealed class CachedJob(NtkTilePlan plan, Func<ITileComputer> create)
    {
        public Func<ITileComputer> Create { get; } = create;

        public ConcurrentBag<ITileComputer> Idle { get; } = [];

        public void RequireTile(NtkTile tile)
        {
            bool inside = tile.RowCount >= 1 && tile.ColumnCount >= 1 && tile.RowCount <= plan.TileRows && tile.ColumnCount <= plan.TileColumns &&
                          tile.RowStart >= 0 && tile.ColumnStart >= 0 && tile.RowStart + tile.RowCount <= plan.Rows && tile.ColumnStart + tile.ColumnCount <= plan.Columns;
            if (!inside) throw new ArgumentException($"Tile {tile} is not within the plan's {plan.Rows} x {plan.Columns} samples in tiles of {plan.TileRows} x {plan.TileColumns}.", nameof(tile));
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NtkDsl.Tiling;
using Orleans.Configuration;

namespace NtkDsl.Distributed;

/// <summary>Settings of the client-side driver (<see cref="NtkCluster"/>).</summary>
public sealed record NtkClusterOptions
{
    /// <summary>Tiles requested at once (a bound on the driver's memory and on the silos' queues). Default 8.</summary>
    public int MaxTilesInFlight { get; init; } = 8;

    /// <summary>How long one attempt at a tile may take (queueing on the silo included) before it is retried elsewhere. Default 10 minutes.</summary>
    public TimeSpan TileTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Attempts per tile (lost silo, timeout, transport error) before the run fails. Default 5.</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Wait before attempt k + 1 (k times this), which gives the cluster time to notice a lost silo. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Receives progress after every finished tile (null: none).</summary>
    public IProgress<NtkClusterProgress>? Progress { get; init; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTilesInFlight, 1, nameof(MaxTilesInFlight));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAttempts, 1, nameof(MaxAttempts));
        if (TileTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(TileTimeout), TileTimeout, "TileTimeout must be positive.");
        if (RetryDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RetryDelay), RetryDelay, "RetryDelay must not be negative.");
    }
}

/// <summary>Progress of a run: tiles done (resumed from a journal included) of the total, throughput of this run, and an estimate of the time left.</summary>
/// <param name="TilesDone">Tiles in the sink (this run's and those resumed).</param>
/// <param name="TilesTotal">Tiles of the plan.</param>
/// <param name="TilesComputed">Tiles this run computed.</param>
/// <param name="Elapsed">Time since this run started.</param>
/// <param name="Retries">Attempts that failed and were retried.</param>
public readonly record struct NtkClusterProgress(int TilesDone, int TilesTotal, int TilesComputed, TimeSpan Elapsed, int Retries)
{
    /// <summary>Tiles computed per second in this run.</summary>
    public double TilesPerSecond => Elapsed > TimeSpan.Zero ? TilesComputed / Elapsed.TotalSeconds : 0;

    /// <summary>Time left at the current throughput (null before the first tile).</summary>
    public TimeSpan? Eta => TilesPerSecond > 0 ? TimeSpan.FromSeconds((TilesTotal - TilesDone) / TilesPerSecond) : null;

    /// <summary>For example <c>12/64 tiles (18.8%), 3.21 tiles/s, ETA 00:00:16, 1 retries</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{TilesDone}/{TilesTotal} tiles ({100.0 * TilesDone / TilesTotal:F1}%), {TilesPerSecond:F2} tiles/s, ETA {(Eta is { } eta ? eta.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "?")}, {Retries} retries");
}

/// <summary>What a run did.</summary>
/// <param name="TilesTotal">Tiles of the plan.</param>
/// <param name="TilesComputed">Tiles computed by this run.</param>
/// <param name="TilesResumed">Tiles a journal already held (not computed again).</param>
/// <param name="Retries">Failed attempts that were retried.</param>
/// <param name="TilesBySilo">Tiles computed per silo address.</param>
/// <param name="Uploads">Silos the job's data was sent to.</param>
/// <param name="Elapsed">Wall-clock time of the run.</param>
public sealed record NtkClusterRun(int TilesTotal, int TilesComputed, int TilesResumed, int Retries, IReadOnlyDictionary<string, int> TilesBySilo, int Uploads, TimeSpan Elapsed);

/// <summary>A tile that failed <see cref="NtkClusterOptions.MaxAttempts"/> times: the run stops (finished tiles stay in the sink and journal).</summary>
public sealed class NtkClusterException : Exception
{
    /// <summary>A failure with a message.</summary>
    public NtkClusterException(string message) : base(message)
    {
    }

    /// <summary>A failure with a message and its last cause.</summary>
    public NtkClusterException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>A failure.</summary>
    public NtkClusterException() : base("A tile failed on every attempt.")
    {
    }
}

/// <summary>
/// The client-side driver: runs a <see cref="NtkJob"/>'s tile plan on a cluster of silos hosting the job's network
/// (<see cref="NtkSilo"/>), at most <see cref="NtkClusterOptions.MaxTilesInFlight"/> tiles at a time, and writes each
/// finished tile into a sink. A silo that is lost mid-run loses no tile: its unfinished tiles are attempted again on the
/// silos that remain, up to <see cref="NtkClusterOptions.MaxAttempts"/> times per tile. Tiles are deterministic (fixed
/// shapes, fixed inputs), so a tile computed twice has the same bytes.
/// </summary>
public static class NtkCluster
{
    /// <summary>Computes the job into <paramref name="destination"/> (the whole kernel, shape <see cref="NtkJob.ResultShape"/>).</summary>
    /// <exception cref="ArgumentException">Bad shapes, or a job the cluster refuses (unknown or different network, tiles over a silo's budget), before any tile runs.</exception>
    /// <exception cref="NtkClusterException">A tile failed on every attempt.</exception>
    public static Task<NtkClusterRun> ComputeAsync<T>(IClusterClient client, NtkJob job, Matrix<T> destination, NtkClusterOptions? options = null,
        CancellationToken cancellation = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(destination);
        var (rows, cols) = job.ResultShape;
        if (destination.Rows != rows || destination.Cols != cols)
            throw new ArgumentException($"'{nameof(destination)}' must have shape [{rows}, {cols}], but has shape [{destination.Rows}, {destination.Cols}].", nameof(destination));
        return ComputeAsync(client, job, new MatrixTileSink<T>(destination, job.Mode, job.Outputs, job.Plan.Rows), options, cancellation);
    }

    /// <summary>Computes the job tile by tile into <paramref name="sink"/> (your own, or a <see cref="MatrixTileSink{T}"/>, <see cref="NpyTileSink{T}"/>, ...).</summary>
    /// <exception cref="ArgumentException">A sink that does not fit the plan, or a job the cluster refuses, before any tile runs.</exception>
    /// <exception cref="NtkClusterException">A tile failed on every attempt.</exception>
    public static Task<NtkClusterRun> ComputeAsync<T>(IClusterClient client, NtkJob job, INtkTileSink<T> sink, NtkClusterOptions? options = null,
        CancellationToken cancellation = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(sink);
        return RunAsync(client, job, sink, new HashSet<NtkTile>(), null, options, cancellation);
    }

    /// <summary>
    /// Computes the job into the .npy file <paramref name="path"/> (written in place, tile by tile, so the kernel may be
    /// larger than memory), keeping a journal of finished tiles in <c>path + ".tiles"</c>. If the run stops (a crash, a
    /// cancellation, spent retries), calling this again with the same job resumes: only the tiles missing from the journal
    /// are computed. A journal of a different job is an error (delete it to start over).
    /// </summary>
    /// <exception cref="ArgumentException">The file cannot be written, a journal of another job is there, or the cluster refuses the job, before any tile runs.</exception>
    /// <exception cref="NtkClusterException">A tile failed on every attempt.</exception>
    public static async Task<NtkClusterRun> ComputeToFileAsync<T>(IClusterClient client, NtkJob job, string path, NtkClusterOptions? options = null,
        CancellationToken cancellation = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrEmpty(path);
        RequireElementType<T>(job);
        var plan = job.Plan;
        NpyTileSink<T> sink;
        TileJournal journal;
        try
        {
            var done = TileJournal.Read(path, job);
            sink = new NpyTileSink<T>(path, plan.Rows, plan.Columns, job.Mode, job.Outputs, resume: done.Count > 0);
            journal = TileJournal.Open(path, job, done);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"Cannot write the kernel to '{path}' (or its journal '{TileJournal.PathOf(path)}'): {e.Message}", nameof(path), e);
        }

        using (sink)
        using (journal)
        {
            return await RunAsync(client, job, sink, journal.Done, tile =>
            {
                sink.Flush(); // the tile's bytes reach the file before the journal says so
                journal.Append(tile);
            }, options, cancellation);
        }
    }

    private static void RequireElementType<T>(NtkJob job)
    {
        if (job.Float32 != (typeof(T) == typeof(float)))
            throw new ArgumentException($"The job computes {(job.Float32 ? "float" : "double")} values; the sink takes {typeof(T).Name}.", nameof(job));
    }

    private static async Task<NtkClusterRun> RunAsync<T>(IClusterClient client, NtkJob job, INtkTileSink<T> sink, IReadOnlySet<NtkTile> done,
        Action<NtkTile>? written, NtkClusterOptions? options, CancellationToken cancellation)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(job);
        options ??= new NtkClusterOptions();
        options.Validate();
        RequireElementType<T>(job);
        var plan = job.Plan;
        if (plan.MirrorLower && !sink.MirrorsLower)
            throw new ArgumentException("The plan leaves out the tiles below the diagonal, but the sink does not mirror them: plan with mirrorLower: false.", nameof(sink));

        var clock = Stopwatch.StartNew();
        var tiles = plan.Tiles.ToList();
        var todo = new Queue<(NtkTile Tile, int Attempt)>(tiles.Where(t => !done.Contains(t)).Select(t => (t, 0)));
        int resumed = tiles.Count - todo.Count, computed = 0, retries = 0;
        var bySilo = new Dictionary<string, int>(StringComparer.Ordinal);
        var uploads = new ConcurrentDictionary<string, Lazy<Task>>(StringComparer.Ordinal);

        // Checks before any tile runs: the network is known on the cluster, with the same architecture, and its tiles fit.
        for (int attempt = 0; todo.Count > 0; attempt++)
        {
            try
            {
                if (attempt > 0) await Task.Delay(options.RetryDelay * attempt, cancellation);
                await client.GetGrain<INtkTileWorker>(Guid.NewGuid()).Check(job.Header).WaitAsync(options.TileTimeout, cancellation);
                break;
            }
            catch (Exception e) when (e is not ArgumentException && !cancellation.IsCancellationRequested)
            {
                if (attempt + 1 >= options.MaxAttempts)
                    throw new NtkClusterException($"No silo answered the job check in {options.MaxAttempts} attempts (last: {e.GetType().Name}: {e.Message}).", e);
            }
        }

        var running = new Dictionary<Task<NtkTileReply>, (NtkTile Tile, int Attempt)>();
        while (todo.Count > 0 || running.Count > 0)
        {
            while (running.Count < options.MaxTilesInFlight && todo.TryDequeue(out var next))
                running.Add(AttemptAsync(client, job, next.Tile, next.Attempt, uploads, options, cancellation), next);
            var finished = await Task.WhenAny(running.Keys);
            var (tile, attempt) = running[finished];
            running.Remove(finished);
            NtkTileReply reply;
            try
            {
                reply = await finished;
            }
            catch (Exception e) when (e is not ArgumentException && !cancellation.IsCancellationRequested)
            {
                if (attempt + 1 >= options.MaxAttempts)
                    throw new NtkClusterException($"Tile {tile} failed on all {options.MaxAttempts} attempts (last: {e.GetType().Name}: {e.Message}). " +
                        $"{computed + resumed} of {tiles.Count} tiles are done; run again to resume where a journal is kept.", e);
                retries++;
                todo.Enqueue((tile, attempt + 1));
                continue;
            }

            var (rows, cols) = job.TileShape(tile);
            sink.Write(tile, new Matrix<T>(rows, cols, NtkJob.Values<T>(reply.Values!)), plan.Symmetric);
            written?.Invoke(tile);
            computed++;
            bySilo[reply.Silo] = bySilo.GetValueOrDefault(reply.Silo) + 1;
            options.Progress?.Report(new NtkClusterProgress(computed + resumed, tiles.Count, computed, clock.Elapsed, retries));
        }

        return new NtkClusterRun(tiles.Count, computed, resumed, retries, bySilo, uploads.Count, clock.Elapsed);
    }

    // One attempt at a tile on a fresh worker activation; the job's data goes to the worker's silo first if that silo lacks it
    // (one upload per silo: concurrent attempts on the same silo wait for the same upload).
    private static async Task<NtkTileReply> AttemptAsync(IClusterClient client, NtkJob job, NtkTile tile, int attempt,
        ConcurrentDictionary<string, Lazy<Task>> uploads, NtkClusterOptions options, CancellationToken cancellation)
    {
        if (attempt > 0) await Task.Delay(options.RetryDelay * attempt, cancellation);
        var worker = client.GetGrain<INtkTileWorker>(Guid.NewGuid());
        int[] bounds = [tile.RowStart, tile.RowCount, tile.ColumnStart, tile.ColumnCount];
        var reply = await worker.Compute(job.Hash, bounds).WaitAsync(options.TileTimeout, cancellation);
        if (reply.Values is not null) return reply;

        var upload = uploads.GetOrAdd(reply.Silo, _ => new Lazy<Task>(() => worker.Load(job)));
        try
        {
            await upload.Value.WaitAsync(options.TileTimeout, cancellation);
        }
        catch
        {
            uploads.TryRemove(KeyValuePair.Create(reply.Silo, upload));
            throw;
        }

        reply = await worker.Compute(job.Hash, bounds).WaitAsync(options.TileTimeout, cancellation);
        return reply.Values is not null ? reply : throw new InvalidOperationException($"Silo {reply.Silo} dropped job {job.Hash[..12]} right after receiving it.");
    }
}

/// <summary>A connection to a cluster for the driver (an Orleans client host with settings for large messages and long tiles).</summary>
public sealed class NtkClusterConnection : IAsyncDisposable
{
    private readonly IHost _host;

    private NtkClusterConnection(IHost host) => _host = host;

    /// <summary>The Orleans client (pass it to <see cref="NtkCluster"/>).</summary>
    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Connects to the cluster that <paramref name="clustering"/> finds (<see cref="Loopback"/>, or your membership provider).</summary>
    public static async Task<NtkClusterConnection> ConnectAsync(Action<IClientBuilder> clustering, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(clustering);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            clustering(client);
            client.AddNtkDefaults();
        });
        var host = builder.Build();
        await host.StartAsync(cancellation);
        return new NtkClusterConnection(host);
    }

    /// <summary>Development clustering: the gateways of silos 0 .. <paramref name="silos"/> - 1 of <see cref="NtkSilo.Loopback"/> on 127.0.0.1.</summary>
    public static Action<IClientBuilder> Loopback(int silos, int gatewayPort = 30000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(silos, 1);
        return client => client.UseLocalhostClustering(Enumerable.Range(gatewayPort, silos).ToArray());
    }

    /// <summary>Stops the client.</summary>
    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>Client settings the driver relies on.</summary>
public static class NtkClientBuilderExtensions
{
    /// <summary>
    /// Large messages (a job's inputs, a tile's values: up to 2 GiB) and no Orleans response timeout shorter than the
    /// driver's own <see cref="NtkClusterOptions.TileTimeout"/>.
    /// </summary>
    public static IClientBuilder AddNtkDefaults(this IClientBuilder client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.Configure<ClientMessagingOptions>(o =>
        {
            o.MaxMessageBodySize = NtkSilo.MaxMessageBytes;
            o.ResponseTimeout = TimeSpan.FromDays(1);
        });
    }
}

using System.Numerics;

namespace NtkDsl;

/// <summary>
/// Draws a parameter vector from the initialization distribution of a network: N(0, 1) for every
/// parameter under NTK parameterization; W ~ N(0, sigma_w^2 / fan_in) and b ~ N(0, sigma_b^2) under
/// standard parameterization; the per-layer stds of <see cref="AbcParameterization"/> (n^-b, times the constants when
/// they are in the initialization) under the others. Deterministic for a given seed on every platform (a fixed-algorithm RNG).
/// </summary>
public static class ParameterInitializer
{
    // Parameters are drawn in fixed chunks, each from its own stream (seed, chunk index), so the values do
    // not depend on how many threads draw them. Wide networks have 10^8 parameters: drawing them in
    // parallel matters.
    private const int ChunkLength = 1 << 16;

    /// <summary>Fills <paramref name="destination"/> (length = parameter count) from <paramref name="seed"/>.</summary>
    public static void Initialize<T>(NetworkDescription network, Span<T> destination, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var segments = Segments(network, destination.Length, nameof(destination));
        for (int chunk = 0; chunk * (long)ChunkLength < destination.Length; chunk++) FillChunk(segments, destination, seed, chunk);
    }

    /// <summary>A new parameter vector drawn from <paramref name="seed"/> (in parallel; the same values as the span overload).</summary>
    public static T[] Initialize<T>(NetworkDescription network, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        var parameters = new T[network.ParameterCount];
        var segments = Segments(network, parameters.Length, nameof(network));
        int chunks = (int)((parameters.Length + (long)ChunkLength - 1) / ChunkLength);
        Parallel.For(0, chunks, chunk => FillChunk(segments, parameters, seed, chunk));
        return parameters;
    }

    // Consecutive runs of the flat vector with one standard deviation each, in layout order.
    private static (int Offset, int Length, double Std)[] Segments(NetworkDescription network, int length, string name)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (length != network.ParameterCount)
            throw new ArgumentException($"Expected {network.ParameterCount} parameters, got a span of {length}.", name);
        return [.. network.Layers.SelectMany(l => l.Segments(network.Abc)).Select(s => (s.Offset, s.Length, s.Std))];
    }

    private static void FillChunk<T>((int Offset, int Length, double Std)[] segments, Span<T> destination, int seed, int chunk)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var normal = new GaussianSource(seed, chunk);
        int start = chunk * ChunkLength, end = (int)Math.Min(destination.Length, (long)start + ChunkLength);
        foreach (var (offset, length, std) in segments)
        {
            int from = Math.Max(start, offset), to = Math.Min(end, offset + length);
            for (int i = from; i < to; i++) destination[i] = T.CreateChecked(std * normal.Next());
        }
    }
}

/// <summary>Standard normal samples from a seeded SplitMix64 stream (Box-Muller), identical on every platform and runtime.</summary>
public sealed class GaussianSource
{
    private ulong _state;
    private double? _spare;

    /// <summary>The stream of <paramref name="seed"/>; <paramref name="stream"/> selects one of its independent substreams.</summary>
    public GaussianSource(int seed, long stream = 0)
    {
        // Start states are hashes, not scaled seeds: SplitMix64 advances its state by a fixed increment, so
        // start states differing by that increment would give the same stream shifted by one draw.
        _state = Mix(Mix((ulong)(uint)seed + 0x632BE59BD9B4E019UL) ^ ((ulong)stream * 0xD1B54A32D192ED03UL));
    }

    /// <summary>The next N(0, 1) sample.</summary>
    public double Next()
    {
        if (_spare is { } spare)
        {
            _spare = null;
            return spare;
        }

        double u1 = NextUniform(), u2 = NextUniform();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1));
        _spare = radius * Math.Sin(2 * Math.PI * u2);
        return radius * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>A uniform sample in (0, 1].</summary>
    public double NextUniform() => ((NextBits() >> 11) + 1) * (1.0 / (1UL << 53));

    private ulong NextBits() => Mix(_state += 0x9E3779B97F4A7C15UL);

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

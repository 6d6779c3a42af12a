using System.Numerics;

namespace NtkDsl;

/// <summary>
/// Draws a parameter vector from the initialization distribution of a network: N(0, 1) for every
/// parameter under NTK parameterization; W ~ N(0, sigma_w^2 / fan_in) and b ~ N(0, sigma_b^2) under
/// standard parameterization. Deterministic for a given seed on every platform (a fixed-algorithm RNG).
/// </summary>
public static class ParameterInitializer
{
    /// <summary>Fills <paramref name="destination"/> (length = parameter count) from <paramref name="seed"/>.</summary>
    public static void Initialize<T>(NetworkDescription network, Span<T> destination, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        if (destination.Length != network.ParameterCount)
            throw new ArgumentException($"Expected {network.ParameterCount} parameters, got a span of {destination.Length}.", nameof(destination));
        var normal = new GaussianSource(seed);
        bool standard = network.Parameterization == Parameterization.Standard;
        foreach (var layer in network.DenseLayers)
        {
            double wStd = standard ? layer.WeightStd / Math.Sqrt(layer.Inputs) : 1.0;
            double bStd = standard ? layer.BiasStd : 1.0;
            for (int i = 0; i < layer.Width * layer.Inputs; i++) destination[layer.WeightOffset + i] = T.CreateChecked(wStd * normal.Next());
            if (!layer.HasBias) continue;
            for (int i = 0; i < layer.Width; i++) destination[layer.BiasOffset + i] = T.CreateChecked(bStd * normal.Next());
        }
    }

    /// <summary>A new parameter vector drawn from <paramref name="seed"/>.</summary>
    public static T[] Initialize<T>(NetworkDescription network, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        var parameters = new T[network.ParameterCount];
        Initialize<T>(network, parameters, seed);
        return parameters;
    }
}

/// <summary>Standard normal samples from a seeded SplitMix64 stream (Box-Muller), identical on every platform and runtime.</summary>
public sealed class GaussianSource(int seed)
{
    // The start state is the seed hashed, not the seed scaled: SplitMix64 advances its state by a fixed
    // increment, so seeds whose states differ by that increment would give the same stream shifted by one.
    private ulong _state = Mix((ulong)(uint)seed + 0x632BE59BD9B4E019UL);
    private double? _spare;

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

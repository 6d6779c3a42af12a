using System.Runtime.CompilerServices;

namespace NtkDsl.Backends;

/// <summary>
/// The gather map of a window, computed once per <see cref="SpatialWindow"/> instance (the generated code keeps its
/// windows in static fields, so every call after the first finds its map): entry t * P + p is the input position
/// (row * width + column) read by output position p at tap t = i * kw + j, or -1 where it falls in zero padding.
/// Backends add c * Hin * Win for channel c; every window operation (im2col, col2im, pooling) reads this one map.
/// </summary>
public static class SpatialIndex
{
    private static readonly ConditionalWeakTable<SpatialWindow, int[]> s_maps = new();

    /// <summary>The gather map of <paramref name="window"/>, [taps, output positions] row-major.</summary>
    public static int[] Of(SpatialWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return s_maps.GetValue(window, Build);
    }

    private static readonly ConditionalWeakTable<SpatialWindow, int[]> s_runs = new();

    /// <summary>
    /// The map of <paramref name="window"/> as runs, triples (first entry, first input position or -1, length): entries
    /// that read consecutive input positions (or all fall in padding), so window operations copy or add whole spans.
    /// </summary>
    public static int[] RunsOf(SpatialWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return s_runs.GetValue(window, static w =>
        {
            var map = Of(w);
            var runs = new List<int>();
            for (int e = 0; e < map.Length;)
            {
                int start = e, source = map[e++];
                while (e < map.Length && (source < 0 ? map[e] < 0 : map[e] == source + (e - start))) e++;
                runs.Add(start);
                runs.Add(source);
                runs.Add(e - start);
            }

            return runs.ToArray();
        });
    }

    private static readonly ConditionalWeakTable<SpatialWindow, InverseMap> s_inverses = new();

    /// <summary>
    /// The map of <paramref name="window"/> inverted: for each input position q (row * width + column), the (tap, output
    /// position) pairs of the gather map that read it, in map order. Col2im sums exactly these terms into q.
    /// </summary>
    public static InverseMap InverseOf(SpatialWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return s_inverses.GetValue(window, static w =>
        {
            var map = Of(w);
            int positions = w.Output.Positions, inputs = w.Input.Positions;
            var starts = new int[inputs + 1];
            foreach (int q in map)
                if (q >= 0) starts[q + 1]++;
            for (int q = 0; q < inputs; q++) starts[q + 1] += starts[q];
            var taps = new int[starts[inputs]];
            var sources = new int[starts[inputs]];
            var next = (int[])starts.Clone();
            for (int e = 0; e < map.Length; e++)
            {
                if (map[e] < 0) continue;
                int k = next[map[e]]++;
                taps[k] = e / positions;
                sources[k] = e % positions;
            }

            return new InverseMap(starts, taps, sources);
        });
    }

    private static int[] Build(SpatialWindow window)
    {
        var output = window.Output;
        int positions = output.Positions;
        var map = new int[window.Taps * positions];
        for (int i = 0; i < window.Height; i++)
        for (int j = 0; j < window.Width; j++)
        {
            int t = i * window.Width + j;
            for (int oh = 0; oh < output.Height; oh++)
            {
                int ih = window.InputRow(oh, i);
                for (int ow = 0; ow < output.Width; ow++)
                {
                    int iw = window.InputColumn(ow, j);
                    map[t * positions + oh * output.Width + ow] = ih < 0 || iw < 0 ? -1 : ih * window.Input.Width + iw;
                }
            }
        }

        return map;
    }
}

/// <summary>
/// A window's gather map by input position (<see cref="SpatialIndex.InverseOf"/>): the pairs of input position q are
/// entries [Starts[q], Starts[q + 1]) of <see cref="Taps"/> (tap t = i * kw + j) and <see cref="Positions"/> (the output
/// position that reads q at that tap).
/// </summary>
/// <param name="Starts">Offsets per input position, [Hin Win + 1].</param>
/// <param name="Taps">The tap of each pair.</param>
/// <param name="Positions">The output position of each pair.</param>
public sealed record InverseMap(int[] Starts, int[] Taps, int[] Positions);

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

    private static readonly ConditionalWeakTable<SpatialWindow, int[][]> s_inverses = new();

    /// <summary>
    /// The map of <paramref name="window"/> inverted: for each input position q (row * width + column), the entries
    /// t * P + p of the gather map that read it, in map order ([Hin Win] arrays; empty where no tap reads q). Col2im
    /// sums exactly these terms into q.
    /// </summary>
    public static int[][] InverseOf(SpatialWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return s_inverses.GetValue(window, static w =>
        {
            var map = Of(w);
            var lists = new List<int>[w.Input.Positions];
            for (int e = 0; e < map.Length; e++)
                if (map[e] >= 0) (lists[map[e]] ??= new List<int>()).Add(e);
            return lists.Select(l => l?.ToArray() ?? []).ToArray();
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

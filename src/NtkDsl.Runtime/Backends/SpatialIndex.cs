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

    private static readonly ConditionalWeakTable<SpatialWindow, ShiftedMap> s_shifted = new();

    /// <summary>
    /// The transposed window (col2im) as one shifted sum: with the output copied into a padded buffer u (<see
    /// cref="ShiftedMap.Sources"/>), the col2im of w at input position q = (y, x) is sum_t w[t] u[y Wp + x + Offsets[t]],
    /// so every tap is a contiguous, vectorizable pass. Strides leave zeros between the copied positions and circular
    /// padding copies wrapped ones; the map is checked against the gather map entry by entry when it is built.
    /// </summary>
    public static ShiftedMap ShiftedOf(SpatialWindow window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return s_shifted.GetValue(window, static w =>
        {
            var map = Of(w);
            int kh = w.Height, kw = w.Width, height = w.Input.Height, width = w.Input.Width, positions = w.Output.Positions;
            int paddedWidth = width + kw - 1, padded = (height + kh - 1) * paddedWidth;
            var offsets = new int[w.Taps];
            for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++)
                offsets[i * kw + j] = (kh - 1 - i) * paddedWidth + kw - 1 - j;

            // u[z] = d[p] for every pair (tap t, output p) reading q, z = y Wp + x + Offsets[t]; one p per z.
            var sources = new int[padded];
            Array.Fill(sources, -1);
            var reader = new int[w.Input.Positions];
            for (int t = 0; t < w.Taps; t++)
            {
                Array.Fill(reader, -1);
                for (int p = 0; p < positions; p++)
                {
                    int q = map[t * positions + p];
                    if (q < 0) continue;
                    int z = q / width * paddedWidth + q % width + offsets[t];
                    if (reader[q] >= 0 || (sources[z] >= 0 && sources[z] != p)) return Unshiftable(w);
                    reader[q] = p;
                    sources[z] = p;
                }
            }

            // Where no output reads q at tap t, the shifted sum must read a zero.
            for (int t = 0; t < w.Taps; t++)
            {
                Array.Fill(reader, -1);
                for (int p = 0; p < positions; p++)
                    if (map[t * positions + p] >= 0) reader[map[t * positions + p]] = p;
                for (int q = 0; q < reader.Length; q++)
                    if (sources[q / width * paddedWidth + q % width + offsets[t]] != reader[q]) return Unshiftable(w);
            }

            return new ShiftedMap(paddedWidth, sources, offsets);
        });
    }

    // Every window of the DSL is shiftable (strides dilate, circular padding wraps); anything else is a bug here.
    private static ShiftedMap Unshiftable(SpatialWindow w) =>
        throw new InvalidOperationException($"The transposed window {w} has no shifted form.");

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
/// A transposed window as a shifted sum (<see cref="SpatialIndex.ShiftedOf"/>): entry z of the padded buffer holds output
/// position Sources[z] (zero where -1), and tap t reads it at offset Offsets[t] from the input position y Wp + x.
/// </summary>
/// <param name="Width">The padded row length Wp = Win + kw - 1 (input rows are read at y Wp + x).</param>
/// <param name="Sources">Per padded entry, the output position copied there, or -1 for zero; (Hin + kh - 1) Wp entries.</param>
/// <param name="Offsets">Per tap t = i kw + j, (kh - 1 - i) Wp + kw - 1 - j.</param>
public sealed record ShiftedMap(int Width, int[] Sources, int[] Offsets);


using System.Buffers;
using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu;

// A convolution read out by a global average pool (ITensorBackend.Readout.cs).
public readonly partial struct CpuBackend<T>
{
    /// <inheritdoc/>
    public void ChannelGrams(CpuTensor<T> a, CpuTensor<T> b, int channels, double scale, CpuTensor<T> dst, bool accumulate)
    {
        if (channels <= 0 || a.Cols % channels != 0)
            throw new ArgumentException($"Rows of {a.Cols} elements do not hold {channels} channels.", nameof(channels));
        int k = a.Cols / channels;
        RequireShape(b, b.Rows, a.Cols, nameof(b));
        RequireShape(dst, channels * a.Rows, b.Rows, nameof(dst));
        // Channel c's Gram reads columns [c K, (c + 1) K) of both operands through the GEMM's strides (op(B) = b^T); the
        // same operand is a SYRK (upper triangle, then mirrored: exactly symmetric).
        bool symmetric = ReferenceEquals(a.Array, b.Array) && a.Offset == b.Offset && a.Rows == b.Rows;
        for (int c = 0; c < channels; c++)
            Gemm(From(a, c * k), a.Cols, 1, From(b, c * k), 1, b.Cols, a.Rows, b.Rows, k, RowMatrix(dst, c * a.Rows, a.Rows, b.Rows), scale, accumulate,
                null, 0, 0, upperOnly: symmetric);
    }

    /// <inheritdoc/>
    public void ChannelGramAccumulate(CpuTensor<T> v1, CpuTensor<T> v2, CpuTensor<T> channelGrams, int repeat, bool sumOutputs, CpuTensor<T> dst)
    {
        int channels = v1.Cols;
        if (repeat <= 0 || v1.Rows % repeat != 0 || v2.Rows % repeat != 0)
            throw new ArgumentException($"Cotangents of {v1.Rows} and {v2.Rows} rows do not hold {repeat} rows per sample.", nameof(repeat));
        int n1 = v1.Rows / repeat, n2 = v2.Rows / repeat;
        RequireShape(v2, v2.Rows, channels, nameof(v2));
        RequireShape(channelGrams, channels * n1, n2, nameof(channelGrams));
        RequireShape(dst, sumOutputs ? n1 : v1.Rows, sumOutputs ? n2 : v2.Rows, nameof(dst));
        if (n1 == 0 || n2 == 0) return;

        // v2 channel-major, so the inner loops run over contiguous columns: entry (c, j r + o) (every output pair), or
        // (c, o, j) (sums over the outputs).
        var transposed = ArrayPool<T>.Shared.Rent(v2.Rows * channels);
        try
        {
            for (int j = 0; j < n2; j++)
            for (int o = 0; o < repeat; o++)
            {
                var row = v2.Row(j * repeat + o);
                for (int c = 0; c < channels; c++)
                    transposed[sumOutputs ? ((long)c * repeat + o) * n2 + j : (long)c * v2.Rows + j * repeat + o] = row[c];
            }

            long work = (long)channels * repeat * (sumOutputs ? n2 : v2.Rows);
            RunRows(new ChannelGramRows(v1, transposed, channelGrams, repeat, sumOutputs, n1, n2, dst), n1, work);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(transposed);
        }
    }

    /// <inheritdoc/>
    public void ChannelCol2Im(CpuTensor<T> w, CpuTensor<T> d, double scale, int channels, SpatialWindow window, CpuTensor<T> dst)
    {
        ArgumentNullException.ThrowIfNull(window);
        int taps = window.Taps, positions = window.Output.Positions, inputs = window.Input.Positions, outChannels = w.Rows;
        RequireShape(w, outChannels, channels * taps, nameof(w));
        RequireShape(d, d.Rows, outChannels * positions, nameof(d));
        RequireShape(dst, d.Rows, channels * inputs * outChannels, nameof(dst));
        if (d.Rows == 0) return;

        // Each sample's [C, P] block position-major once ([P, C]: the channels of a position side by side), then one item
        // per sample and input channel sums the taps that read each input position, C channels at a time.
        var positionMajor = ArrayPool<T>.Shared.Rent(d.Rows * d.Cols);
        try
        {
            RunRows(new PositionMajorRows(d, positions, outChannels, new CpuTensor<T>(positionMajor, 0, d.Rows * positions, outChannels)), d.Rows, d.Cols);
            int items = d.Rows * channels;
            long work = (long)outChannels * taps * positions;
            var job = new ChannelCol2ImItems(w, positionMajor, SpatialIndex.InverseOf(window), T.CreateChecked(scale), channels, taps, positions, inputs, dst);
            WorkerPool.Run(job, items, items * work < PackedGemm<T>.ParallelThreshold ? 1 : Threads);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(positionMajor);
        }
    }

    // The elements of t from element offset on (the GEMM reads them through its own strides).
    private static CpuTensor<T> From(CpuTensor<T> t, int offset) => new(t.Array, t.Offset + offset, 1, t.Rows * t.Cols - offset);

    // acc += a x.
    private static void MultiplyAdd(T a, ReadOnlySpan<T> x, Span<T> acc)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = new Vector<T>(a);
            for (; k <= acc.Length - Vector<T>.Count; k += Vector<T>.Count)
                (new Vector<T>(acc[k..]) + va * new Vector<T>(x[k..])).CopyTo(acc[k..]);
        }

        for (; k < acc.Length; k++) acc[k] += a * x[k];
    }

    // acc += h .* x.
    private static void AddProduct(ReadOnlySpan<T> h, ReadOnlySpan<T> x, Span<T> acc)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; k <= acc.Length - Vector<T>.Count; k += Vector<T>.Count)
                (new Vector<T>(acc[k..]) + new Vector<T>(h[k..]) * new Vector<T>(x[k..])).CopyTo(acc[k..]);
        }

        for (; k < acc.Length; k++) acc[k] += h[k] * x[k];
    }

    // acc += h .* (a x).
    private static void AddScaledProduct(ReadOnlySpan<T> h, T a, ReadOnlySpan<T> x, Span<T> acc)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = new Vector<T>(a);
            for (; k <= acc.Length - Vector<T>.Count; k += Vector<T>.Count)
                (new Vector<T>(acc[k..]) + new Vector<T>(h[k..]) * (va * new Vector<T>(x[k..]))).CopyTo(acc[k..]);
        }

        for (; k < acc.Length; k++) acc[k] += h[k] * (a * x[k]);
    }

    // dst rows of samples [rowStart, rowEnd) of v1 += sum_c (v1_c v2_c^T) .* H_c, each term formed as H * (v1 * v2) so that
    // swapping the two operands (one batch) gives the same bits.
    private readonly struct ChannelGramRows(CpuTensor<T> v1, T[] transposed, CpuTensor<T> grams, int repeat, bool sumOutputs, int n1, int n2, CpuTensor<T> dst) : IRowBlocks
    {
        public void Run(int rowStart, int rowEnd)
        {
            int channels = v1.Cols, width = sumOutputs ? n2 : n2 * repeat;
            var scratch = ArrayPool<T>.Shared.Rent(width);
            try
            {
                var buffer = scratch.AsSpan(0, width);
                for (int i = rowStart; i < rowEnd; i++)
                for (int c = 0; c < channels; c++)
                {
                    var h = grams.Row(c * n1 + i);
                    if (sumOutputs)
                    {
                        // buffer[j] = sum_o v1[i r + o, c] v2[j r + o, c], then dst[i, j] += H_c[i, j] buffer[j].
                        buffer.Clear();
                        for (int o = 0; o < repeat; o++)
                            MultiplyAdd(v1.Row(i * repeat + o)[c], transposed.AsSpan((c * repeat + o) * n2, n2), buffer);
                        AddProduct(h, buffer, dst.Row(i));
                        continue;
                    }

                    // buffer[j r + o'] = H_c[i, j]; dst[i r + o, j r + o'] += buffer * (v1[i r + o, c] v2[j r + o', c]).
                    for (int j = 0; j < n2; j++) buffer.Slice(j * repeat, repeat).Fill(h[j]);
                    var column = transposed.AsSpan(c * width, width);
                    for (int o = 0; o < repeat; o++) AddScaledProduct(buffer, v1.Row(i * repeat + o)[c], column, dst.Row(i * repeat + o));
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(scratch);
            }
        }
    }

    // Item n C_in + i: rows (i Hin Win + q) of sample n's [C_in Hin Win, C] block, each the sum over the taps t reading input
    // position q (from output position p) of scale w[:, i taps + t] .* d[n, p, :], in map order.
    private readonly struct ChannelCol2ImItems(CpuTensor<T> w, T[] positionMajor, int[][] inverse, T scale, int channels, int taps, int positions, int inputs,
        CpuTensor<T> dst) : IWorkItems
    {
        public void Run(int item)
        {
            int n = item / channels, i = item - n * channels, outChannels = w.Rows;
            var filters = ArrayPool<T>.Shared.Rent(taps * outChannels);
            try
            {
                // filters[t C + c] = scale w[c, i taps + t]: the taps of input channel i, channels side by side.
                for (int c = 0; c < outChannels; c++)
                {
                    var wr = w.Row(c);
                    for (int t = 0; t < taps; t++) filters[t * outChannels + c] = scale * wr[i * taps + t];
                }

                var sample = positionMajor.AsSpan(n * positions * outChannels, positions * outChannels);
                var block = dst.Row(n).Slice(i * inputs * outChannels, inputs * outChannels);
                for (int q = 0; q < inputs; q++)
                {
                    var acc = block.Slice(q * outChannels, outChannels);
                    acc.Clear();
                    foreach (int e in inverse[q])
                    {
                        int t = e / positions, p = e - t * positions;
                        AddProduct(filters.AsSpan(t * outChannels, outChannels), sample.Slice(p * outChannels, outChannels), acc);
                    }
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(filters);
            }
        }
    }
}

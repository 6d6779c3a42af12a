using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
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
    public void SeparableConvCotangent(CpuTensor<T> w, CpuTensor<T> d, CpuTensor<T> v, int repeat, double scale, int channels, SpatialWindow window, CpuTensor<T> dst)
    {
        ArgumentNullException.ThrowIfNull(window);
        int taps = window.Taps, positions = window.Output.Positions, inputs = window.Input.Positions, outChannels = w.Rows;
        RequireShape(w, outChannels, channels * taps, nameof(w));
        RequireShape(d, d.Rows, outChannels * positions, nameof(d));
        RequireShape(v, d.Rows * repeat, outChannels, nameof(v));
        RequireShape(dst, v.Rows, channels * inputs, nameof(dst));
        if (d.Rows == 0) return;

        // Each sample's [C, P] block position-major once ([P, C]: the channels of a position side by side); then one item
        // per sample and input channel forms that channel's [Hin Win, C] maps in a buffer of its own (in cache) and
        // contracts them with the sample's rows of v, a [repeat, C] x [C, Hin Win] product into dst.
        var positionMajor = ArrayPool<T>.Shared.Rent(d.Rows * d.Cols);
        try
        {
            RunRows(new PositionMajorRows(d, positions, outChannels, new CpuTensor<T>(positionMajor, 0, d.Rows * positions, outChannels)), d.Rows, d.Cols);
            int items = d.Rows * channels;
            long work = (long)outChannels * (taps * positions + repeat * inputs);
            var job = new SeparableCotangentItems(this, w, positionMajor, v, repeat, SpatialIndex.InverseOf(window), T.CreateChecked(scale), channels, taps, positions, inputs, dst);
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

    // Item n C_in + i: the [Hin Win, C] maps of input channel i of sample n, row q the sum over the (tap t, output position
    // p) pairs reading input position q of scale w[:, i taps + t] .* d[n, p, :] in map order (C channels at a time in
    // registers, chunks of four Vector256), then dst[n repeat + o, i Hin Win + q] = <v[n repeat + o], maps[q]>.
    private readonly unsafe struct SeparableCotangentItems(CpuBackend<T> backend, CpuTensor<T> w, T[] positionMajor, CpuTensor<T> v, int repeat, InverseMap inverse,
        T scale, int channels, int taps, int positions, int inputs, CpuTensor<T> dst) : IWorkItems
    {
        public void Run(int item)
        {
            int n = item / channels, i = item - n * channels, outChannels = w.Rows;
            var filters = ArrayPool<T>.Shared.Rent(taps * outChannels);
            var maps = ArrayPool<T>.Shared.Rent(inputs * outChannels);
            try
            {
                // filters[t C + c] = scale w[c, i taps + t]: the taps of input channel i, channels side by side.
                for (int c = 0; c < outChannels; c++)
                {
                    var wr = w.Row(c);
                    for (int t = 0; t < taps; t++) filters[t * outChannels + c] = scale * wr[i * taps + t];
                }

                fixed (T* pf = filters)
                fixed (T* pd = &positionMajor[n * positions * outChannels])
                fixed (T* pe = maps)
                fixed (int* starts = inverse.Starts)
                fixed (int* tapOf = inverse.Taps)
                fixed (int* positionOf = inverse.Positions)
                {
                    for (int q = 0; q < inputs; q++)
                        Accumulate(pf, pd, pe + (long)q * outChannels, tapOf + starts[q], positionOf + starts[q], starts[q + 1] - starts[q], outChannels);
                }

                // [repeat, C] (v's rows of the sample) x [C, Hin Win] (op(B)(c, q) = maps[q C + c]) into dst's columns of channel i.
                backend.Gemm(From(v, n * repeat * outChannels), outChannels, 1, new CpuTensor<T>(maps, 0, inputs, outChannels), 1, outChannels, repeat, inputs, outChannels,
                    From(dst, n * repeat * dst.Cols + i * inputs), 1.0, false, null, 0, 0, upperOnly: false, threads: 1, ldc: dst.Cols);
            }
            finally
            {
                ArrayPool<T>.Shared.Return(maps);
                ArrayPool<T>.Shared.Return(filters);
            }
        }

        // acc[0, C) = sum over the pairs k of filters[tap_k C + c] * sample[position_k C + c].
        private static void Accumulate(T* filters, T* sample, T* acc, int* tapOf, int* positionOf, int pairs, int c)
        {
            int j = 0;
            if (Vector256.IsHardwareAccelerated)
            {
                int width = Vector256<T>.Count;
                for (; j + 4 * width <= c; j += 4 * width)
                {
                    Vector256<T> a0 = Vector256<T>.Zero, a1 = a0, a2 = a0, a3 = a0;
                    for (int k = 0; k < pairs; k++)
                    {
                        T* f = filters + (long)tapOf[k] * c + j, s = sample + (long)positionOf[k] * c + j;
                        a0 = MultiplyAdd(Vector256.Load(f), Vector256.Load(s), a0);
                        a1 = MultiplyAdd(Vector256.Load(f + width), Vector256.Load(s + width), a1);
                        a2 = MultiplyAdd(Vector256.Load(f + 2 * width), Vector256.Load(s + 2 * width), a2);
                        a3 = MultiplyAdd(Vector256.Load(f + 3 * width), Vector256.Load(s + 3 * width), a3);
                    }

                    Vector256.Store(a0, acc + j);
                    Vector256.Store(a1, acc + j + width);
                    Vector256.Store(a2, acc + j + 2 * width);
                    Vector256.Store(a3, acc + j + 3 * width);
                }

                for (; j + width <= c; j += width)
                {
                    Vector256<T> a0 = Vector256<T>.Zero;
                    for (int k = 0; k < pairs; k++)
                        a0 = MultiplyAdd(Vector256.Load(filters + (long)tapOf[k] * c + j), Vector256.Load(sample + (long)positionOf[k] * c + j), a0);
                    Vector256.Store(a0, acc + j);
                }
            }

            for (; j < c; j++)
            {
                T sum = T.Zero;
                for (int k = 0; k < pairs; k++) sum += filters[(long)tapOf[k] * c + j] * sample[(long)positionOf[k] * c + j];
                acc[j] = sum;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<T> MultiplyAdd(Vector256<T> a, Vector256<T> b, Vector256<T> c)
        {
            if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
            if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
            return a * b + c;
        }
    }
}

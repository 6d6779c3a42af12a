using System.Buffers;
using System.Numerics;
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
    public void SeparableConvCotangent(CpuTensor<T> w, CpuTensor<T> d, CpuTensor<T> v, int repeat, double scale, int channels, SpatialWindow window, CpuTensor<T> dst,
        Activation? activation = null, CpuTensor<T> activationInput = default)
    {
        RequireSeparable(w, d, v, repeat, channels, window, activation, activationInput);
        RequireShape(dst, v.Rows, channels * window.Input.Positions, nameof(dst));
        Separable(w, d, v, repeat, scale, channels, window, dst, null, activation, activationInput);
    }

    /// <inheritdoc/>
    public void SeparableConvJacobian(CpuTensor<T> w, CpuTensor<T> d, CpuTensor<T> v, int repeat, double scale, int channels, SpatialWindow window,
        CpuTensor<T> columns, double weightScale, CpuTensor<T> jacobian, double biasScale, CpuTensor<T> biasJacobian, Activation? activation = null, CpuTensor<T> activationInput = default)
    {
        RequireSeparable(w, d, v, repeat, channels, window, activation, activationInput);
        int inputs = window.Input.Positions;
        if (columns.Cols % inputs != 0)
            throw new ArgumentException($"Rows of {columns.Cols} elements do not hold whole maps of the {inputs} positions the cotangent has.", nameof(columns));
        int fan = columns.Cols / inputs;
        RequireShape(columns, d.Rows, columns.Cols, nameof(columns));
        RequireShape(jacobian, v.Rows, channels * fan, nameof(jacobian));
        if (biasJacobian.Array is not null) RequireShape(biasJacobian, v.Rows, channels, nameof(biasJacobian));
        var sink = new JacobianSink(columns, fan, T.CreateChecked(weightScale), jacobian, T.CreateChecked(biasScale), biasJacobian);
        Separable(w, d, v, repeat, scale, channels, window, default, sink, activation, activationInput);
    }

    private static void RequireSeparable(CpuTensor<T> w, CpuTensor<T> d, CpuTensor<T> v, int repeat, int channels, SpatialWindow window, Activation? activation,
        CpuTensor<T> activationInput)
    {
        ArgumentNullException.ThrowIfNull(window);
        int taps = window.Taps, positions = window.Output.Positions, outChannels = w.Rows;
        RequireShape(w, outChannels, channels * taps, nameof(w));
        RequireShape(d, d.Rows, outChannels * positions, nameof(d));
        RequireShape(v, d.Rows * repeat, outChannels, nameof(v));
        if (activation is not null) RequireShape(activationInput, d.Rows, channels * window.Input.Positions, nameof(activationInput));
    }

    // The rows of the input cotangent into dst, or (sink given) contracted into the Jacobian blocks of the layer below.
    private void Separable(CpuTensor<T> w, CpuTensor<T> d, CpuTensor<T> v, int repeat, double scale, int channels, SpatialWindow window, CpuTensor<T> dst,
        JacobianSink? sink, Activation? activation, CpuTensor<T> activationInput)
    {
        int taps = window.Taps, positions = window.Output.Positions, outChannels = w.Rows;
        if (d.Rows == 0) return;

        // Each sample's C maps d[n, c] copied once into padded buffers (SpatialIndex.ShiftedOf), so a channel's
        // transposed convolution is taps contiguous multiply-adds; then one item per sample and input channel forms that
        // channel's C maps (in cache) and contracts them with the sample's rows of v, [repeat, C] x [C, Hin Wp], in
        // registers. Both passes run over the padded row length Wp = Win + kw - 1; the kw - 1 extra columns per row are
        // dropped when the result is copied into dst.
        var shifted = SpatialIndex.ShiftedOf(window);
        int vector = PackedGemm<T>.UsesAvx512 ? Vector512<T>.Count : Vector256<T>.Count, span = window.Input.Height * shifted.Width;
        int mapLength = (span + 2 * vector - 1) / (2 * vector) * (2 * vector);
        int paddedLength = Math.Max(mapLength + shifted.Offsets.Max(), shifted.Sources.Length);
        var padded = ArrayPool<T>.Shared.Rent(checked(d.Rows * outChannels * paddedLength)); // the padded input grids: larger than d (s^2 times for stride s)
        try
        {
            RunRows(new PaddedRows(d, shifted.Sources, positions, outChannels, paddedLength, padded), d.Rows, d.Cols);
            int items = d.Rows * ((channels + 1) / 2); // a pair of input channels per item (SeparableCotangentItems)
            long work = 2 * ((long)outChannels * mapLength * (taps + repeat) + (sink is { } j ? (long)repeat * j.Fan * window.Input.Positions : 0));
            var job = new SeparableCotangentItems(w, padded, paddedLength, shifted, v, repeat, T.CreateChecked(scale), channels, taps, mapLength, window.Input, dst,
                sink, activation is { Kind: not ActivationKind.Identity } ? activation : null, activationInput);
            WorkerPool.Run(job, items, items * work < PackedGemm<T>.ParallelThreshold ? 1 : Threads);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(padded);
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

    // Rows [rowStart, rowEnd) of d, channel by channel, into padded buffers of paddedLength: entry z = d[n, c, sources[z]],
    // zero where sources[z] < 0 and past the sources.
    private readonly struct PaddedRows(CpuTensor<T> d, int[] sources, int positions, int channels, int paddedLength, T[] padded) : IRowBlocks
    {
        public void Run(int rowStart, int rowEnd)
        {
            for (int n = rowStart; n < rowEnd; n++)
            {
                var row = d.Row(n);
                for (int c = 0; c < channels; c++)
                {
                    var map = row.Slice(c * positions, positions);
                    var target = padded.AsSpan((int)((long)(n * channels + c) * paddedLength), paddedLength);
                    for (int z = 0; z < sources.Length; z++) target[z] = sources[z] < 0 ? T.Zero : map[sources[z]];
                    target[sources.Length..].Clear();
                }
            }
        }
    }

    // The Jacobian blocks of the convolution below a readout (SeparableConvJacobian): columns [N, fan P], weights
    // [N repeat, C_in fan], bias [N repeat, C_in] or none.
    private readonly unsafe struct JacobianSink(CpuTensor<T> columns, int fan, T weightScale, CpuTensor<T> weights, T biasScale, CpuTensor<T> bias)
    {
        public int Fan => fan;

        // Rows n repeat + o, o < repeat, of channel i from block [repeat, positions].
        public void Contract(T[] block, int repeat, int positions, int n, int i)
        {
            if (fan > 0)
            {
                fixed (T* pa = block)
                fixed (T* pb = &columns.Array[columns.Offset + (long)n * columns.Cols])
                fixed (T* pc = &weights.Array[weights.Offset + (long)n * repeat * weights.Cols + (long)i * fan])
                    RowDots<T>.Run(pa, positions, repeat, pb, positions, fan, positions, pc, weights.Cols, weightScale);
            }

            if (bias.Array is null) return;
            for (int o = 0; o < repeat; o++)
                bias.Row(n * repeat + o)[i] = biasScale * System.Numerics.Tensors.TensorPrimitives.Sum<T>(block.AsSpan(o * positions, positions));
        }
    }

    // Item (n, input channels i = 2k, 2k + 1): for each i, maps[c, y Wp + x] = sum_t scale w[c, i taps + t] u[n, c, y Wp + x +
    // Offsets[t]] (the transposed convolution of channel c, for every c), then dst[n repeat + o, i Hin Win + y Win + x] =
    // sum_c v[n repeat + o, c] maps[c, y Wp + x]: a register-tiled product (5 rows x 2 vectors) straight from the maps,
    // which need no packing. With an activation below, the rows are multiplied by phi'(z[n, i]) as they are copied out
    // (phi' evaluated once per channel, for all repeat rows).
    // With a sink, the rows of item (n, i) go to a scratch block instead of dst, and from there into the Jacobian blocks of
    // the layer below: RowDots against the sample's columns and the positions' sums (RowProducts' and SumPositions'
    // arithmetic, so the same values as the two ops on the stored cotangent).
    private readonly unsafe struct SeparableCotangentItems(CpuTensor<T> w, T[] padded, int paddedLength, ShiftedMap shifted, CpuTensor<T> v, int repeat,
        T scale, int channels, int taps, int mapLength, SpatialShape input, CpuTensor<T> dst, JacobianSink? sink, Activation? activation, CpuTensor<T> activationInput)
        : IWorkItems
    {
        public void Run(int item)
        {
            // Item n pairs + k: input channels 2k and 2k + 1 of sample n (one, for an odd last channel).
            int pairs = (channels + 1) / 2, n = item / pairs, i0 = 2 * (item - n * pairs), count = Math.Min(2, channels - i0), outChannels = w.Rows;
            var filters = ArrayPool<T>.Shared.Rent(2 * taps);
            var maps = ArrayPool<T>.Shared.Rent(2 * outChannels * mapLength);
            var products = ArrayPool<T>.Shared.Rent(2 * repeat * mapLength);
            var derivative = activation is null ? null : ArrayPool<T>.Shared.Rent(input.Positions);
            var block = sink is null ? null : ArrayPool<T>.Shared.Rent(repeat * input.Positions);
            try
            {
                fixed (T* pf = filters)
                fixed (T* pu = &padded[(long)n * outChannels * paddedLength])
                fixed (T* pm = maps)
                fixed (T* pp = products)
                fixed (T* pv = &v.Array[v.Offset + n * repeat * outChannels])
                fixed (int* offsets = shifted.Offsets)
                {
                    if (PackedGemm<T>.UsesAvx512) Maps<PackedGemm<T>.Simd512, Vector512<T>>(i0, count, pf, offsets, pu, pm, pv, pp);
                    else Maps<PackedGemm<T>.Simd256, Vector256<T>>(i0, count, pf, offsets, pu, pm, pv, pp);
                }

                for (int k = 0; k < count; k++) CopyOut(n, i0 + k, products.AsSpan(k * repeat * mapLength, repeat * mapLength), derivative, block);
            }
            finally
            {
                if (block is not null) ArrayPool<T>.Shared.Return(block);
                if (derivative is not null) ArrayPool<T>.Shared.Return(derivative);
                ArrayPool<T>.Shared.Return(products);
                ArrayPool<T>.Shared.Return(maps);
                ArrayPool<T>.Shared.Return(filters);
            }
        }

        // Channel i's rows [repeat, mapLength] without the padded columns (row y is products[o, y Wp, y Wp + Win)), times
        // phi'(z[n, i]) where there is an activation, into dst or (sink) into the scratch block and the Jacobian.
        private void CopyOut(int n, int i, ReadOnlySpan<T> products, T[]? derivative, T[]? block)
        {
            int width = input.Width, inputs = input.Positions;
            if (activation is { } phi) Derivatives(phi, activationInput.Row(n).Slice(i * inputs, inputs), derivative.AsSpan(0, inputs));
            for (int o = 0; o < repeat; o++)
            {
                var target = block is null ? dst.Row(n * repeat + o).Slice(i * inputs, inputs) : block.AsSpan(o * inputs, inputs);
                fixed (T* ps = products.Slice(o * mapLength))
                fixed (T* pd = target)
                fixed (T* ph = derivative)
                    CopyRows(ps, shifted.Width, width, input.Height, ph, pd); // ph: null without an activation
            }

            if (sink is { } j) j.Contract(block!, repeat, inputs, n, i);
        }

        // dst[y width + x] = src[y stride + x], times h[y width + x] when h is given, for x < width, y < height: the
        // map's rows without their padded columns. Rows of an image are short (28 here), so per-row library calls
        // would cost more than the copy; each row goes as whole vectors, the last one ending at the row's end
        // (overlapping the one before it with the same values).
        private static void CopyRows(T* src, int stride, int width, int height, T* h, T* dst)
        {
            if (PackedGemm<T>.UsesAvx512 && width >= Vector512<T>.Count) CopyRows<PackedGemm<T>.Simd512, Vector512<T>>(src, stride, width, height, h, dst);
            else if (Vector256.IsHardwareAccelerated && width >= Vector256<T>.Count) CopyRows<PackedGemm<T>.Simd256, Vector256<T>>(src, stride, width, height, h, dst);
            else
            {
                for (int y = 0; y < height; y++)
                    for (int x = 0; x < width; x++)
                        dst[y * width + x] = h is null ? src[y * stride + x] : src[y * stride + x] * h[y * width + x];
            }
        }

        private static void CopyRows<TS, TV>(T* src, int stride, int width, int height, T* h, T* dst) where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
        {
            int v = TS.Count, last = width - v;
            for (int y = 0; y < height; y++, src += stride, dst += width)
            {
                T* hy = h is null ? null : h + y * width;
                for (int x = 0; ; x += v)
                {
                    if (x > last) x = last;
                    var value = TS.Load(src + x);
                    TS.Store(hy is null ? value : TS.Multiply(value, TS.Load(hy + x)), dst + x);
                    if (x == last) break;
                }
            }
        }

        // The C maps of input channels i0 .. i0 + count - 1 (count 1 or 2) from the sample's padded buffers u, a pair at
        // once (each load of u feeds both channels' multiply-adds), then each channel's contraction with v into products.
        private void Maps<TS, TV>(int i0, int count, T* filters, int* offsets, T* u, T* maps, T* v, T* products) where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
        {
            int outChannels = w.Rows;
            long mapsLength = (long)outChannels * mapLength;
            for (int c = 0; c < outChannels; c++)
            {
                for (int k = 0; k < count; k++)
                {
                    var wr = w.Row(c).Slice((i0 + k) * taps, taps);
                    for (int t = 0; t < taps; t++) filters[k * taps + t] = scale * wr[t];
                }

                T* uc = u + (long)c * paddedLength, mc = maps + (long)c * mapLength;
                if (count == 2) TransposedPair<TS, TV>(filters, filters + taps, offsets, taps, uc, mc, mc + mapsLength, mapLength);
                else Transposed<TS, TV>(filters, offsets, taps, uc, mc, mapLength);
            }

            for (int k = 0; k < count; k++)
                Contract<TS, TV>(v, repeat, outChannels, maps + k * mapsLength, mapLength, products + (long)k * repeat * mapLength);
        }

        // out0[j] = sum_t f0[t] u[j + offsets[t]] and out1[j] likewise with f1, for j < length (a multiple of two vectors),
        // four vectors of both at a time: eight accumulator chains, and every load of u feeds two multiply-adds (the single
        // channel's kernel below is bound by its one load per multiply-add).
        private static void TransposedPair<TS, TV>(T* f0, T* f1, int* offsets, int taps, T* u, T* out0, T* out1, int length)
            where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
        {
            int width = TS.Count, j = 0;
            for (; j + 4 * width <= length; j += 4 * width)
            {
                TV a0 = default, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                for (int t = 0; t < taps; t++)
                {
                    var g = TS.Broadcast(f0[t]);
                    var h = TS.Broadcast(f1[t]);
                    T* s = u + offsets[t] + j;
                    var x = TS.Load(s);
                    a0 = TS.MultiplyAdd(g, x, a0);
                    b0 = TS.MultiplyAdd(h, x, b0);
                    x = TS.Load(s + width);
                    a1 = TS.MultiplyAdd(g, x, a1);
                    b1 = TS.MultiplyAdd(h, x, b1);
                    x = TS.Load(s + 2 * width);
                    a2 = TS.MultiplyAdd(g, x, a2);
                    b2 = TS.MultiplyAdd(h, x, b2);
                    x = TS.Load(s + 3 * width);
                    a3 = TS.MultiplyAdd(g, x, a3);
                    b3 = TS.MultiplyAdd(h, x, b3);
                }

                TS.Store(a0, out0 + j);
                TS.Store(a1, out0 + j + width);
                TS.Store(a2, out0 + j + 2 * width);
                TS.Store(a3, out0 + j + 3 * width);
                TS.Store(b0, out1 + j);
                TS.Store(b1, out1 + j + width);
                TS.Store(b2, out1 + j + 2 * width);
                TS.Store(b3, out1 + j + 3 * width);
            }

            for (; j < length; j += width)
            {
                TV a = default, b = default;
                for (int t = 0; t < taps; t++)
                {
                    var x = TS.Load(u + offsets[t] + j);
                    a = TS.MultiplyAdd(TS.Broadcast(f0[t]), x, a);
                    b = TS.MultiplyAdd(TS.Broadcast(f1[t]), x, b);
                }

                TS.Store(a, out0 + j);
                TS.Store(b, out1 + j);
            }
        }

        // out[j] = sum_t f[t] u[j + offsets[t]] for j < length (a multiple of the vector width), eight vectors at a time:
        // eight independent accumulator chains keep both FMA pipes busy through the 4-cycle latency.
        private static void Transposed<TS, TV>(T* f, int* offsets, int taps, T* u, T* output, int length) where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
        {
            int width = TS.Count, j = 0;
            for (; j + 8 * width <= length; j += 8 * width)
            {
                TV a0 = default, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                for (int t = 0; t < taps; t++)
                {
                    var ft = TS.Broadcast(f[t]);
                    T* s = u + offsets[t] + j;
                    a0 = TS.MultiplyAdd(ft, TS.Load(s), a0);
                    a1 = TS.MultiplyAdd(ft, TS.Load(s + width), a1);
                    a2 = TS.MultiplyAdd(ft, TS.Load(s + 2 * width), a2);
                    a3 = TS.MultiplyAdd(ft, TS.Load(s + 3 * width), a3);
                    a4 = TS.MultiplyAdd(ft, TS.Load(s + 4 * width), a4);
                    a5 = TS.MultiplyAdd(ft, TS.Load(s + 5 * width), a5);
                    a6 = TS.MultiplyAdd(ft, TS.Load(s + 6 * width), a6);
                    a7 = TS.MultiplyAdd(ft, TS.Load(s + 7 * width), a7);
                }

                T* o = output + j;
                TS.Store(a0, o);
                TS.Store(a1, o + width);
                TS.Store(a2, o + 2 * width);
                TS.Store(a3, o + 3 * width);
                TS.Store(a4, o + 4 * width);
                TS.Store(a5, o + 5 * width);
                TS.Store(a6, o + 6 * width);
                TS.Store(a7, o + 7 * width);
            }

            for (; j < length; j += width)
            {
                TV a0 = default;
                for (int t = 0; t < taps; t++) a0 = TS.MultiplyAdd(TS.Broadcast(f[t]), TS.Load(u + offsets[t] + j), a0);
                TS.Store(a0, output + j);
            }
        }

        // out[o, j] = sum_c v[o, c] maps[c, j] for o < rows, j < length (a multiple of two vectors): 5 x 2-vector tiles
        // (10 accumulators, 2 loads and 5 broadcasts per channel), then single rows.
        private static void Contract<TS, TV>(T* v, int rows, int channels, T* maps, int length, T* output) where TS : struct, PackedGemm<T>.ISimd<TV> where TV : struct
        {
            int width = TS.Count, o = 0;
            for (; o + 5 <= rows; o += 5)
            {
                T* v0 = v + (long)o * channels;
                for (int j = 0; j < length; j += 2 * width)
                {
                    TV c00 = default, c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00;
                    T* m = maps + j;
                    for (int c = 0; c < channels; c++, m += length)
                    {
                        var b0 = TS.Load(m);
                        var b1 = TS.Load(m + width);
                        var a = TS.Broadcast(v0[c]);
                        c00 = TS.MultiplyAdd(a, b0, c00);
                        c01 = TS.MultiplyAdd(a, b1, c01);
                        a = TS.Broadcast(v0[channels + c]);
                        c10 = TS.MultiplyAdd(a, b0, c10);
                        c11 = TS.MultiplyAdd(a, b1, c11);
                        a = TS.Broadcast(v0[2 * channels + c]);
                        c20 = TS.MultiplyAdd(a, b0, c20);
                        c21 = TS.MultiplyAdd(a, b1, c21);
                        a = TS.Broadcast(v0[3 * channels + c]);
                        c30 = TS.MultiplyAdd(a, b0, c30);
                        c31 = TS.MultiplyAdd(a, b1, c31);
                        a = TS.Broadcast(v0[4 * channels + c]);
                        c40 = TS.MultiplyAdd(a, b0, c40);
                        c41 = TS.MultiplyAdd(a, b1, c41);
                    }

                    T* target = output + (long)o * length + j;
                    TS.Store(c00, target);
                    TS.Store(c01, target + width);
                    TS.Store(c10, target + length);
                    TS.Store(c11, target + length + width);
                    TS.Store(c20, target + 2 * length);
                    TS.Store(c21, target + 2 * length + width);
                    TS.Store(c30, target + 3 * length);
                    TS.Store(c31, target + 3 * length + width);
                    TS.Store(c40, target + 4 * length);
                    TS.Store(c41, target + 4 * length + width);
                }
            }

            for (; o < rows; o++)
            {
                T* vo = v + (long)o * channels;
                for (int j = 0; j < length; j += 2 * width)
                {
                    TV c0 = default, c1 = c0;
                    T* m = maps + j;
                    for (int c = 0; c < channels; c++, m += length)
                    {
                        var a = TS.Broadcast(vo[c]);
                        c0 = TS.MultiplyAdd(a, TS.Load(m), c0);
                        c1 = TS.MultiplyAdd(a, TS.Load(m + width), c1);
                    }

                    TS.Store(c0, output + (long)o * length + j);
                    TS.Store(c1, output + (long)o * length + j + width);
                }
            }
        }
    }
}

using NtkDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

// A convolution read out by a global average pool (ITensorBackend.Readout.cs), in plain torch ops.
public readonly partial struct TorchBackend
{
    /// <inheritdoc/>
    public void ChannelGrams(Tensor a, Tensor b, int channels, double scale, Tensor dst, bool accumulate)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        long r1 = a.size(0), r2 = b.size(0), k = a.size(1) / channels;
        // [C, R1, K] x [C, K, R2]: one batched product over the channels.
        var grams = a.reshape(r1, channels, k).transpose(0, 1).bmm(b.reshape(r2, channels, k).permute(1, 2, 0));
        Store(grams.reshape(channels * r1, r2), s, dst, accumulate);
    }

    /// <inheritdoc/>
    public void ChannelGramAccumulate(Tensor v1, Tensor v2, Tensor channelGrams, int repeat, bool sumOutputs, Tensor dst)
    {
        using var scope = NewDisposeScope();
        long channels = v1.size(1), n1 = v1.size(0) / repeat, n2 = v2.size(0) / repeat;
        var h = channelGrams.reshape(channels, n1, n2);
        if (sumOutputs)
        {
            // sum_o v1[i, o, c] v2[j, o, c] per channel ([C, N1, r] x [C, r, N2]), weighted by H_c and summed over c.
            var pairs = v1.reshape(n1, repeat, channels).permute(2, 0, 1).bmm(v2.reshape(n2, repeat, channels).permute(2, 1, 0));
            dst.add_(pairs.mul_(h).sum(0L)); // 0L: a literal 0 would bind to sum(ScalarType?)
            return;
        }

        // [N1, N2, r, C] = v1[i, o, c] H_c[i, j], then times v2[j]^T [C, r'] for every pair: [N1, N2, r, r'].
        var weighted = v1.reshape(n1, 1, repeat, channels).mul(h.permute(1, 2, 0).reshape(n1, n2, 1, channels));
        var blocks = weighted.matmul(v2.reshape(1, n2, repeat, channels).transpose(2, 3));
        dst.add_(blocks.permute(0, 2, 1, 3).reshape(n1 * repeat, n2 * repeat));
    }

    /// <inheritdoc/>
    public void SeparableConvCotangent(Tensor w, Tensor d, Tensor v, int repeat, double scale, int channels, SpatialWindow window, Tensor dst,
        Activation? activation = null, Tensor activationInput = default!)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (activation is not null) ArgumentNullException.ThrowIfNull(activationInput);
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        using var one = 1.0.ToScalar();
        long samples = d.size(0), outChannels = w.size(0), taps = window.Taps, positions = window.Output.Positions, inputs = window.Input.Positions;
        var index = TapIndex(window, d.device);
        var filters = w.reshape(outChannels, channels, taps);
        // Blocks of samples whose per-channel maps [B, C, C_in, Hin Win] stay near ConvCotangentBlockElements (2^22).
        long block = Math.Max(1, ConvCotangentBlockElements / (outChannels * channels * inputs));
        for (long start = 0; start < samples; start += block)
        {
            using var inner = NewDisposeScope();
            long count = Math.Min(block, samples - start);
            // Each channel's map spread onto the input positions its taps read, per tap ([B, C, taps, Hin Win]; padding taps
            // land in a dropped column), then the filters contract the taps: [C, C_in, taps] x [C, taps, B Hin Win].
            var spread = zeros(count, outChannels, taps * inputs + 1, dtype: d.dtype, device: d.device);
            var source = d.narrow(0, start, count).reshape(count, outChannels, 1, positions).expand(count, outChannels, taps, positions).reshape(count, outChannels, taps * positions);
            spread.index_add_(2, index, source, one);
            var perTap = spread.narrow(2, 0, taps * inputs).reshape(count, outChannels, taps, inputs).permute(1, 2, 0, 3).reshape(outChannels, taps, count * inputs);
            var maps = filters.bmm(perTap).reshape(outChannels, channels * count * inputs); // [C, C_in B Hin Win]
            // dst rows of the block: v [B, repeat, C] times the maps [B, C, C_in Hin Win].
            var perSample = maps.reshape(outChannels, channels, count, inputs).permute(2, 0, 1, 3).reshape(count, outChannels, channels * inputs);
            var rows = v.narrow(0, start * repeat, count * repeat).reshape(count, repeat, outChannels).bmm(perSample);
            rows.mul_(s);
            dst.narrow(0, start * repeat, count * repeat).copy_(rows.reshape(count * repeat, channels * inputs));
        }

        if (activation is { } phi) MultiplyByDerivative(phi, activationInput, dst, repeat);
    }

    /// <inheritdoc/>
    public void SeparableConvJacobian(Tensor w, Tensor d, Tensor v, int repeat, double scale, int channels, SpatialWindow window,
        Tensor columns, double weightScale, Tensor jacobian, double biasScale, Tensor biasJacobian, Activation? activation = null, Tensor activationInput = default!)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(jacobian);
        // The composition the CPU backend fuses: the cotangent (one [N repeat, C_in P] tensor), then its two contractions.
        using var scope = NewDisposeScope();
        int inputs = window.Input.Positions;
        var cotangent = empty(v.size(0), (long)channels * inputs, dtype: v.dtype, device: v.device);
        SeparableConvCotangent(w, d, v, repeat, scale, channels, window, cotangent, activation, activationInput);
        RowProducts(cotangent, columns, inputs, repeat, weightScale, jacobian, 0);
        if (biasJacobian is not null) SumPositions(cotangent, inputs, biasScale, biasJacobian, 0);
    }

    // Entry t P + p of the gather map as an index into [taps, Hin Win] (t Hin Win + input position), padding taps at the end.
    private static Tensor TapIndex(SpatialWindow window, Device device)
    {
        var map = SpatialIndex.Of(window);
        int positions = window.Output.Positions, inputs = window.Input.Positions;
        var index = new long[map.Length];
        for (int e = 0; e < map.Length; e++)
            index[e] = map[e] < 0 ? (long)window.Taps * inputs : (long)(e / positions) * inputs + map[e];
        return tensor(index, device: device);
    }
}

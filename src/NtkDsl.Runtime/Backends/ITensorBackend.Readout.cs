namespace NtkDsl.Backends;

/// <summary>
/// The operations of a convolution read out by a global average pool (the generated NTK's readout route): behind the
/// pool and elementwise activations the cotangent of the convolution's output is channel-separable,
/// c[r, c, p] = v[r, c] d[r / repeat, c, p], with v the cotangent of the pool's output (one row per sample and output)
/// and d the readout factor of the sample (the pool's 1 / P times the activations' derivatives). So each sample's
/// per-channel Jacobian factor d[n, c] X_n^T, each channel's Gram of them and each channel's transposed convolution are
/// computed once per sample (or sample pair), not once per output.
/// </summary>
public partial interface ITensorBackend<TTensor>
{
    /// <summary>
    /// Per-channel Grams: dst[c * R1 + i, j] (=, or += when <paramref name="accumulate"/>) scale * sum_k
    /// a[i, c * K + k] b[j, c * K + k], for a [R1, C * K], b [R2, C * K] and dst [C * R1, R2] (C =
    /// <paramref name="channels"/>): the Gram of every channel's K columns. When a is b a backend may compute half of
    /// each Gram (and must then keep them exactly symmetric).
    /// </summary>
    void ChannelGrams(TTensor a, TTensor b, int channels, double scale, TTensor dst, bool accumulate);

    /// <summary>
    /// dst += sum_c (v1[:, c] v2[:, c]^T) .* H_c, for per-channel Grams H [C * N1, N2] (<see cref="ChannelGrams"/>),
    /// v1 [N1 r, C] and v2 [N2 r, C] (r = <paramref name="repeat"/> rows per sample): without
    /// <paramref name="sumOutputs"/> dst [N1 r, N2 r] gets dst[i r + o, j r + o'] += sum_c v1[i r + o, c] H[c N1 + i, j]
    /// v2[j r + o', c]; with it dst [N1, N2] gets the sum over o of the diagonal blocks, dst[i, j] += sum_o sum_c
    /// v1[i r + o, c] H[c N1 + i, j] v2[j r + o, c]. With v1 = v2 and H symmetric the result stays exactly symmetric.
    /// </summary>
    void ChannelGramAccumulate(TTensor v1, TTensor v2, TTensor channelGrams, int repeat, bool sumOutputs, TTensor dst);

    /// <summary>
    /// Per-channel col2im, the transposed convolution of every output channel alone: for w [C, C_in taps] (C_out rows,
    /// PyTorch's weight layout), d [N, C * P] (NCHW rows of the window's P output positions) and dst
    /// [N, C_in Hin Win * C], dst[n, (i Hin Win + q) C + c] = scale * sum over taps t and positions p whose tap t reads
    /// input position q of channel i of w[c, i taps + t] d[n, c P + p]. Column c of each sample's [C_in Hin Win, C]
    /// block is the input cotangent of the convolution for the cotangent d[n, c, :] on channel c alone.
    /// </summary>
    void ChannelCol2Im(TTensor w, TTensor d, double scale, int channels, SpatialWindow window, TTensor dst);
}

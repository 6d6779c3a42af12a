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
    /// The input cotangent of a convolution whose output cotangent is channel-separable, c[r, c, p] = v[r, c]
    /// d[r / repeat, c, p]: dst[r] = sum_c v[r, c] col2im(scale w[c]^T d[r / repeat, c]), for w [C, C_in taps] (PyTorch's
    /// weight layout), d [N, C P] (NCHW rows of the window's P output positions), v [N repeat, C] and dst
    /// [N repeat, C_in Hin Win]. Each sample's C per-channel maps col2im(w[c]^T d[n, c]) (one transposed convolution)
    /// are formed once and contracted with its rows' v: 2 C C_in Hin Win FLOPs per row instead of col2im(W^T c_r)'s
    /// 2 C C_in kh kw P. With <paramref name="activation"/>, dst is then multiplied by phi'(z) of that activation below
    /// the convolution, z = <paramref name="activationInput"/> [N, C_in Hin Win] (the same z for a sample's repeat rows),
    /// while each row is still in cache (MultiplyByDerivative fused).
    /// </summary>
    void SeparableConvCotangent(TTensor w, TTensor d, TTensor v, int repeat, double scale, int channels, SpatialWindow window, TTensor dst,
        Activation? activation = null, TTensor activationInput = default!);

    /// <summary>
    /// <see cref="SeparableConvCotangent"/>'s input cotangent c [N repeat, C_in P] (P = Hin Win, the output positions of
    /// the convolution below) contracted at once into that convolution's Jacobian blocks, for a layer below whose only
    /// use of c is its own parameter term (it has no parameters before it): jacobian[r, i F + f] = weightScale
    /// sum_p c[r, i, p] columns[r / repeat, f, p] and biasJacobian[r, i] = biasScale sum_p c[r, i, p] (RowProducts and
    /// SumPositions of c), for columns [N, F P] (the layer's im2col, F = its C_in kh kw), jacobian [N repeat, C_in F] and
    /// biasJacobian [N repeat, C_in], or default for a layer without bias. c is never stored: each sample's channel
    /// block is contracted while it is in cache.
    /// </summary>
    void SeparableConvJacobian(TTensor w, TTensor d, TTensor v, int repeat, double scale, int channels, SpatialWindow window,
        TTensor columns, double weightScale, TTensor jacobian, double biasScale, TTensor biasJacobian, Activation? activation = null, TTensor activationInput = default!);
}

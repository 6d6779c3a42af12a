namespace NtkDsl.Backends;

/// <summary>
/// The input cotangent of a convolution, col2im(scale W^T D), in row blocks: the im2col-shaped product W^T D_r
/// [C_in kh kw, P] of a block of cotangent rows goes through one scratch buffer of <c>Rows(scratch)</c> rows, so the
/// pass holds a bounded scratch instead of one [F P] row per cotangent row (N O of them in Full-mode NTKs).
/// </summary>
public static class ConvCotangent
{
    /// <summary>
    /// dst [R, C_in Hin Win] = col2im(scale W^T c) for c [R, C_out P] and w [C_out, C_in kh kw], through scratch
    /// [B, C_in kh kw P] (B &gt;= 1 rows per block).
    /// </summary>
    public static void Input<TBackend, TTensor>(TBackend backend, TTensor w, TTensor c, double scale, int channels, SpatialWindow window, TTensor scratch, TTensor dst)
        where TBackend : ITensorBackend<TTensor>
    {
        int rows = backend.Rows(c), block = backend.Rows(scratch);
        if (block < 1 && rows > 0)
            throw new ArgumentException($"Expected a scratch buffer of at least one row, got [{block}, {backend.Cols(scratch)}].", nameof(scratch));
        if (block >= rows)
        {
            var cols = block == rows ? scratch : backend.RowSlice(scratch, 0, rows);
            backend.MatMulRows(w, true, c, scale, cols, false);
            backend.Col2Im(cols, channels, window, dst);
            return;
        }

        for (int start = 0; start < rows; start += block)
        {
            int count = Math.Min(block, rows - start);
            var cols = count == block ? scratch : backend.RowSlice(scratch, 0, count);
            backend.MatMulRows(w, true, backend.RowSlice(c, start, count), scale, cols, false);
            backend.Col2Im(cols, channels, window, backend.RowSlice(dst, start, count));
        }
    }

    /// <summary>
    /// dst [R, C_in Hin Win] = the input cotangent of a convolution whose output cotangent is channel-separable,
    /// c[r, c, p] = v[r, c] d[r / repeat, c, p] (a global average pool reads the layer out; see
    /// <see cref="ITensorBackend{TTensor}.ChannelCol2Im"/>): sum_c v[r, c] col2im(scale w[c]^T d[n, c]). Each sample's
    /// per-channel maps are formed once, one transposed convolution per sample, and every row contracts them with its v[r]
    /// (2 C C_in Hin Win FLOPs a row instead of col2im(W^T D_r)'s 2 C C_in kh kw P). Samples go in blocks of
    /// <c>Rows(scratch)</c> (scratch [B, C_in Hin Win C], B &gt;= 1); v [R, C] with R = repeat * Rows(d), d [N, C P].
    /// </summary>
    public static void Separable<TBackend, TTensor>(TBackend backend, TTensor w, TTensor d, TTensor v, int repeat, double scale, int channels, SpatialWindow window, TTensor scratch, TTensor dst)
        where TBackend : ITensorBackend<TTensor>
    {
        int samples = backend.Rows(d), block = backend.Rows(scratch), outChannels = backend.Cols(v);
        if (block < 1 && samples > 0)
            throw new ArgumentException($"Expected a scratch buffer of at least one row, got [{block}, {backend.Cols(scratch)}].", nameof(scratch));
        if (backend.Rows(v) != samples * repeat)
            throw new ArgumentException($"Expected v of {samples * repeat} rows ({samples} samples times {repeat}), got [{backend.Rows(v)}, {outChannels}].", nameof(v));
        for (int start = 0; start < samples; start += block)
        {
            int count = Math.Min(block, samples - start);
            var maps = count == block ? scratch : backend.RowSlice(scratch, 0, count);
            backend.ChannelCol2Im(w, count == samples ? d : backend.RowSlice(d, start, count), scale, channels, window, maps);
            var rows = count == samples ? v : backend.RowSlice(v, start * repeat, count * repeat);
            var target = count == samples ? dst : backend.RowSlice(dst, start * repeat, count * repeat);
            backend.RowProducts(rows, maps, outChannels, repeat, 1.0, target, 0);
        }
    }
}

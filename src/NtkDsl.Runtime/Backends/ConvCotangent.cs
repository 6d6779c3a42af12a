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
}

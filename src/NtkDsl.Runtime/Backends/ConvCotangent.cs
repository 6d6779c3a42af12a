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
        int rows = backend.Rows(c), block = backend.Rows(scratch), cols = backend.Cols(scratch);
        if (block < 1 && rows > 0)
            throw new ArgumentException($"Expected a scratch buffer of at least one row, got [{block}, {cols}].", nameof(scratch));
        // A backend that prefers larger blocks than the scratch holds gets them in a temporary of its own.
        long preferred = System.Math.Min(rows, backend.ConvCotangentBlockElements / System.Math.Max(cols, 1));
        TTensor? temporary = default;
        if (preferred > block)
        {
            block = (int)preferred;
            temporary = backend.Allocate(block, cols);
            scratch = temporary;
        }

        try
        {
            for (int start = 0; start < rows; start += block)
            {
                int count = System.Math.Min(block, rows - start);
                var part = count == block ? scratch : backend.RowSlice(scratch, 0, count);
                var cotangent = count == rows ? c : backend.RowSlice(c, start, count);
                backend.MatMulRows(w, true, cotangent, scale, part, false);
                backend.Col2Im(part, channels, window, count == rows ? dst : backend.RowSlice(dst, start, count));
            }
        }
        finally
        {
            (temporary as IDisposable)?.Dispose();
        }
    }
}

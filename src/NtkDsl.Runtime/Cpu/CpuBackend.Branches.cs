using System.Numerics.Tensors;

namespace NtkDsl.Cpu;

// Joins of branches and layer normalization (ITensorBackend.Branches.cs).
public readonly partial struct CpuBackend<T>
{
    /// <inheritdoc/>
    public void AddScaled(CpuTensor<T> src, double scale, CpuTensor<T> dst)
    {
        RequireShape(dst, src.Rows, src.Cols, nameof(dst));
        if (scale == 1) TensorPrimitives.Add(dst.Span, src.Span, dst.Span);
        else TensorPrimitives.MultiplyAdd(src.Span, T.CreateChecked(scale), dst.Span, dst.Span);
    }

    /// <inheritdoc/>
    public void CopyColumns(CpuTensor<T> src, int srcOffset, CpuTensor<T> dst, int dstOffset, int count)
    {
        RequireShape(dst, src.Rows, dst.Cols, nameof(dst));
        if (count < 0 || srcOffset < 0 || dstOffset < 0 || srcOffset + count > src.Cols || dstOffset + count > dst.Cols)
            throw new ArgumentOutOfRangeException(nameof(count),
                $"Columns [{srcOffset}, {srcOffset + count}) of {src.Cols} into [{dstOffset}, {dstOffset + count}) of {dst.Cols} do not fit.");
        for (int r = 0; r < src.Rows; r++) src.Row(r).Slice(srcOffset, count).CopyTo(dst.Row(r).Slice(dstOffset, count));
    }

    /// <inheritdoc/>
    public void LayerNorm(CpuTensor<T> x, int positions, double epsilon, CpuTensor<T> dst)
    {
        RequireShape(dst, x.Rows, x.Cols, nameof(dst));
        int channels = NormChannels(x, positions);
        for (int r = 0; r < x.Rows; r++)
        {
            var xr = x.Row(r);
            var dr = dst.Row(r);
            for (int p = 0; p < positions; p++)
            {
                var (mean, inv) = Moments(xr, p, positions, channels, epsilon);
                for (int c = 0; c < channels; c++) dr[c * positions + p] = T.CreateTruncating((double.CreateTruncating(xr[c * positions + p]) - mean) * inv);
            }
        }
    }

    /// <inheritdoc/>
    public void MultiplyByLayerNormJacobian(CpuTensor<T> x, int positions, double epsilon, CpuTensor<T> dst, int repeat)
    {
        RequireShape(dst, x.Rows * repeat, x.Cols, nameof(dst));
        int channels = NormChannels(x, positions);
        for (int n = 0; n < x.Rows; n++)
        {
            var xr = x.Row(n);
            for (int p = 0; p < positions; p++)
            {
                var (mean, inv) = Moments(xr, p, positions, channels, epsilon);
                for (int k = 0; k < repeat; k++)
                {
                    var g = dst.Row(n * repeat + k);
                    double sumG = 0, sumGy = 0;
                    for (int c = 0; c < channels; c++)
                    {
                        int i = c * positions + p;
                        double gi = double.CreateTruncating(g[i]), yi = (double.CreateTruncating(xr[i]) - mean) * inv;
                        sumG += gi;
                        sumGy += gi * yi;
                    }

                    double meanG = sumG / channels, meanGy = sumGy / channels;
                    for (int c = 0; c < channels; c++)
                    {
                        int i = c * positions + p;
                        double yi = (double.CreateTruncating(xr[i]) - mean) * inv;
                        g[i] = T.CreateTruncating((double.CreateTruncating(g[i]) - meanG - yi * meanGy) * inv);
                    }
                }
            }
        }
    }

    private static int NormChannels(CpuTensor<T> x, int positions)
    {
        if (positions <= 0 || x.Cols % positions != 0)
            throw new ArgumentException($"x has {x.Cols} columns, not a multiple of {positions} positions.", nameof(positions));
        return x.Cols / positions;
    }

    // Mean and 1 / sqrt(var + epsilon) over the channels of position p (two passes, in double).
    private static (double Mean, double Inverse) Moments(Span<T> row, int p, int positions, int channels, double epsilon)
    {
        double sum = 0;
        for (int c = 0; c < channels; c++) sum += double.CreateTruncating(row[c * positions + p]);
        double mean = sum / channels, squares = 0;
        for (int c = 0; c < channels; c++)
        {
            double d = double.CreateTruncating(row[c * positions + p]) - mean;
            squares += d * d;
        }

        return (mean, 1.0 / Math.Sqrt(squares / channels + epsilon));
    }
}

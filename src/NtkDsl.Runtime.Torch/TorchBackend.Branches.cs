using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

// Joins of branches and layer normalization (ITensorBackend.Branches.cs).
public readonly partial struct TorchBackend
{
    /// <inheritdoc/>
    public void AddScaled(Tensor src, double scale, Tensor dst)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        dst.add_(src, s);
    }

    /// <inheritdoc/>
    public void CopyColumns(Tensor src, int srcOffset, Tensor dst, int dstOffset, int count)
    {
        using var scope = NewDisposeScope();
        dst.narrow(1, dstOffset, count).copy_(src.narrow(1, srcOffset, count));
    }

    /// <inheritdoc/>
    public void LayerNorm(Tensor x, int positions, double epsilon, Tensor dst)
    {
        using var scope = NewDisposeScope();
        var (y, _) = Normalized(x, positions, epsilon);
        dst.copy_(y.reshape(x.size(0), x.size(1)));
    }

    /// <inheritdoc/>
    public void MultiplyByLayerNormJacobian(Tensor x, int positions, double epsilon, Tensor dst, int repeat)
    {
        using var scope = NewDisposeScope();
        long samples = x.size(0), channels = x.size(1) / positions;
        var (y, inv) = Normalized(x, positions, epsilon); // [N, 1, C, P], [N, 1, 1, P]
        var g = dst.reshape(samples, repeat, channels, positions);
        var result = (g - g.mean([2], keepdim: true) - y * (g * y).mean([2], keepdim: true)) * inv;
        dst.copy_(result.reshape(dst.size(0), dst.size(1)));
    }

    // y = (x - mean) / sqrt(var + epsilon) over the channels of each position, as [N, 1, C, P], and the inverse std [N, 1, 1, P].
    private static (Tensor Y, Tensor Inverse) Normalized(Tensor x, int positions, double epsilon)
    {
        long samples = x.size(0), channels = x.size(1) / positions;
        var v = x.reshape(samples, 1, channels, positions);
        var centered = v - v.mean([2], keepdim: true);
        var inv = ((centered * centered).mean([2], keepdim: true) + epsilon).rsqrt();
        return (centered * inv, inv);
    }
}

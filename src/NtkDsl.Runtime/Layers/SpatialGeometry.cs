using System;

namespace NtkDsl.Layers;

/// <summary>
/// Output sizes and padding of convolution and pooling windows along one spatial axis, written once. Compiled
/// into both the runtime and the source generator (like <see cref="DenseScaling"/>), so the shapes the generator
/// checks and emits are the shapes the runtime computes.
/// </summary>
internal static class SpatialGeometry
{
    /// <summary>
    /// Number of window positions along an axis of <paramref name="input"/> elements, or 0 when none fits
    /// (a Valid window larger than the input). Arguments must be positive.
    /// </summary>
    public static int OutputSize(int input, int window, int stride, Padding padding) => padding switch
    {
        Padding.Valid => input < window ? 0 : (input - window) / stride + 1,
        _ => (input + stride - 1) / stride,
    };

    /// <summary>Padding elements before the first input element (0 for Valid; the smaller half for Same and Circular).</summary>
    public static int PadBefore(int input, int window, int stride, Padding padding)
    {
        if (padding == Padding.Valid) return 0;
        int total = Math.Max((OutputSize(input, window, stride, padding) - 1) * stride + window - input, 0);
        return total / 2;
    }

    /// <summary>
    /// The input index read by window position <paramref name="output"/> at tap <paramref name="tap"/>, or -1 when it
    /// falls in zero padding; Circular wraps it into [0, input).
    /// </summary>
    public static int InputIndex(int output, int tap, int input, int window, int stride, Padding padding)
    {
        int i = output * stride + tap - PadBefore(input, window, stride, padding);
        if (i >= 0 && i < input) return i;
        return padding == Padding.Circular ? ((i % input) + input) % input : -1;
    }
}

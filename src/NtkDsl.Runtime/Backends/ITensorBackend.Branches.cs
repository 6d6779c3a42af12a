namespace NtkDsl.Backends;

/// <summary>The operations branching networks (joins of branches) and layer normalization add to the core.</summary>
public partial interface ITensorBackend<TTensor>
{
    /// <summary>dst += scale src, elementwise (the sum of branches, and cotangents of a fan-out adding up).</summary>
    void AddScaled(TTensor src, double scale, TTensor dst);

    /// <summary>
    /// dst[r, dstOffset + j] = src[r, srcOffset + j] for j &lt; count (a concatenation of features, or of channels of
    /// NCHW rows, and its adjoint).
    /// </summary>
    void CopyColumns(TTensor src, int srcOffset, TTensor dst, int dstOffset, int count);

    /// <summary>
    /// Layer normalization without affine parameters: each row of <paramref name="x"/> holds C channels of
    /// <paramref name="positions"/> positions (NCHW; 1 for feature vectors) and every position is normalized over its
    /// channels, y = (x - mean) / sqrt(var + epsilon), with the biased variance (PyTorch's and neural-tangents' convention).
    /// </summary>
    void LayerNorm(TTensor x, int positions, double epsilon, TTensor dst);

    /// <summary>
    /// Multiplies <paramref name="dst"/> in place by the Jacobian of <see cref="LayerNorm"/> at <paramref name="x"/>
    /// (rows n * repeat + k use sample n). The Jacobian is symmetric, J g = (g - mean(g) - y mean(g y)) / sqrt(var + epsilon)
    /// per position, so this is both the tangent and the cotangent step.
    /// </summary>
    void MultiplyByLayerNormJacobian(TTensor x, int positions, double epsilon, TTensor dst, int repeat);
}

namespace NtkDsl;

/// <summary>
/// A residual connection x + Block(x): the block is a type (usually a nested partial class) that carries its own layer
/// attributes, and its output must have the shape of its input. For a projection on the shortcut, use
/// <see cref="FanInSumAttribute"/> with the projection as the second branch.
/// </summary>
/// <param name="block">The block type.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ResidualAttribute(Type block) : LayerAttribute
{
    /// <summary>The block type.</summary>
    public Type Block { get; } = block;
}

/// <summary>
/// Parallel branches on the same input whose outputs add up (neural-tangents' <c>FanOut</c>, <c>parallel</c>,
/// <c>FanInSum</c> in one attribute): every branch is a block type and all outputs have the same shape.
/// </summary>
/// <param name="branches">Two or more block types.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class FanInSumAttribute(params Type[] branches) : LayerAttribute
{
    /// <summary>The branch block types.</summary>
    public IReadOnlyList<Type> Branches { get; } = branches;
}

/// <summary>
/// Parallel branches on the same input whose outputs are concatenated (neural-tangents' <c>FanInConcat</c>): along the
/// features of feature vectors, along the channels of [C, H, W] activations (the spatial sizes must agree).
/// </summary>
/// <param name="branches">Two or more block types.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class FanInConcatAttribute(params Type[] branches) : LayerAttribute
{
    /// <summary>The branch block types.</summary>
    public IReadOnlyList<Type> Branches { get; } = branches;
}

/// <summary>The block's layers <paramref name="count"/> times in sequence (each repetition with its own parameters).</summary>
/// <param name="block">The block type.</param>
/// <param name="count">Number of repetitions (positive).</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class RepeatAttribute(Type block, int count) : LayerAttribute
{
    /// <summary>The block type.</summary>
    public Type Block { get; } = block;

    /// <summary>Number of repetitions.</summary>
    public int Count { get; } = count;
}

/// <summary>
/// Layer normalization without learned scale or shift: every sample is normalized over its features, and [C, H, W]
/// activations over their channels at each position, y = (x - mean) / sqrt(var + <see cref="Epsilon"/>) (PyTorch's
/// <c>LayerNorm(elementwise_affine: false)</c> over the feature axis; neural-tangents' <c>LayerNorm</c> with the channel axis).
/// Its infinite-width map divides each covariance by the square roots of the two variances, which needs a Gaussian input
/// (put it directly after a Dense or Conv layer, or a sum of them).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class LayerNormAttribute : LayerAttribute
{
    /// <summary>Added to the variance (default 1e-5, PyTorch's); finite and non-negative.</summary>
    public double Epsilon { get; set; } = 1e-5;
}

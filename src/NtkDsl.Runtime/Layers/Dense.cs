namespace NtkDsl;

/// <summary>A fully connected layer with resolved standard deviations.</summary>
/// <param name="Inputs">Fan-in.</param>
/// <param name="Width">Number of output units.</param>
/// <param name="WeightStd">sigma_w.</param>
/// <param name="BiasStd">sigma_b (irrelevant when <paramref name="HasBias"/> is false).</param>
/// <param name="HasBias">Whether the layer has a bias vector.</param>
/// <param name="WeightOffset">Index of W[0, 0] in the flat parameter vector (W is [Width, Inputs] row-major).</param>
/// <param name="BiasOffset">Index of b[0] in the flat parameter vector (equals WeightOffset + Width * Inputs).</param>
public sealed record DenseLayer(int Inputs, int Width, double WeightStd, double BiasStd, bool HasBias, int WeightOffset, int BiasOffset) : WeightedLayer
{
    /// <inheritdoc/>
    public override int FanIn => Inputs;

    /// <inheritdoc/>
    public override int FanOut => Width;
}

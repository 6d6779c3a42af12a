namespace NtkDsl;

/// <summary>A fully connected layer with resolved standard deviations.</summary>
/// <param name="Inputs">Fan-in.</param>
/// <param name="Width">Number of output units.</param>
/// <param name="WeightStd">sigma_w.</param>
/// <param name="BiasStd">sigma_b (irrelevant when <paramref name="HasBias"/> is false).</param>
/// <param name="HasBias">Whether the layer has a bias vector.</param>
/// <param name="WeightOffset">Index of W[0, 0] in the flat parameter vector (W is [Width, Inputs] row-major).</param>
/// <param name="BiasOffset">Index of b[0] in the flat parameter vector (equals WeightOffset + Width * Inputs).</param>
public sealed record DenseLayer(int Inputs, int Width, double WeightStd, double BiasStd, bool HasBias, int WeightOffset, int BiasOffset) : Layer
{
    /// <summary>Number of parameters of this layer.</summary>
    public override int ParameterCount => Width * Inputs + (HasBias ? Width : 0);

    /// <inheritdoc/>
    public override IEnumerable<ParameterSegment> Segments(Parameterization parameterization)
    {
        yield return new(WeightOffset, Width * Inputs, WeightInitStd(parameterization));
        if (HasBias) yield return new(BiasOffset, Width, BiasInitStd(parameterization));
    }

    /// <summary>Input, hidden or output layer (which dimension grows with width; see <see cref="AbcParameterization"/>). Set by <see cref="NetworkDescription"/>.</summary>
    public LayerRole Role { get; init; }

    /// <summary>Every scaling of this layer under <paramref name="parameterization"/> (one formula, shared with the generator).</summary>
    internal Layers.LayerScaling Scaling(Parameterization parameterization) =>
        Layers.DenseScaling.Of(parameterization, Role, WeightStd, BiasStd, HasBias, Inputs, Width);

    /// <summary>The factor of W a in the forward pass: w_std / sqrt(fan_in) under NTK parameterization, 1 under standard (the others: <see cref="AbcParameterization"/>).</summary>
    public double WeightScale(Parameterization parameterization) => Scaling(parameterization).WeightScale;

    /// <summary>The factor of b in the forward pass: b_std under NTK parameterization, 1 under standard, 0 without a bias (the others: <see cref="AbcParameterization"/>).</summary>
    public double BiasScale(Parameterization parameterization) => Scaling(parameterization).BiasScale;

    /// <summary>The standard deviation W is initialized with: 1 under NTK parameterization, w_std / sqrt(fan_in) under standard (the others: <see cref="AbcParameterization"/>).</summary>
    public double WeightInitStd(Parameterization parameterization) => Scaling(parameterization).WeightInitStd;

    /// <summary>The standard deviation b is initialized with: 1 under NTK parameterization, b_std under standard (the others: <see cref="AbcParameterization"/>).</summary>
    public double BiasInitStd(Parameterization parameterization) => Scaling(parameterization).BiasInitStd;

    /// <inheritdoc/>
    public override IEnumerable<LearningRateSegment> LearningRates(Parameterization parameterization)
    {
        var s = Scaling(parameterization);
        yield return new(WeightOffset, Width * Inputs, s.WeightLearningRate);
        if (HasBias) yield return new(BiasOffset, Width, s.BiasLearningRate);
    }
}

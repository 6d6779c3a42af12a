namespace NtkDsl;

/// <summary>One layer of a network description.</summary>
public abstract record Layer
{
    /// <summary>Number of trainable parameters of this layer (0 for layers without weights).</summary>
    public virtual int ParameterCount => 0;

    /// <summary>
    /// The runs of the flat parameter vector this layer owns, each with the standard deviation it is initialized
    /// with (weights, then the bias), in layout order.
    /// </summary>
    public virtual IEnumerable<ParameterSegment> Segments(AbcParameterization parameterization) => [];

    /// <summary>
    /// The runs of the flat parameter vector this layer owns, each with its learning-rate multiplier rho: 1 under NTK
    /// and standard parameterization, powers of the width n^-c otherwise (see <see cref="AbcParameterization"/>).
    /// </summary>
    public virtual IEnumerable<LearningRateSegment> LearningRates(AbcParameterization parameterization) => [];
}

/// <summary>
/// A layer with weights W [FanOut, FanIn] (a convolution's FanIn is C_in kh kw) at <see cref="WeightOffset"/> and an
/// optional bias [FanOut] at <see cref="BiasOffset"/>: its role and every scaling of <see cref="AbcParameterization"/>,
/// held once for Dense and Conv.
/// </summary>
public abstract record WeightedLayer : Layer
{
    /// <summary>Fan-in k of one output unit or channel.</summary>
    public abstract int FanIn { get; }

    /// <summary>Output units or channels.</summary>
    public abstract int FanOut { get; }

    /// <summary>sigma_w.</summary>
    public abstract double WeightStd { get; init; }

    /// <summary>sigma_b (irrelevant without a bias).</summary>
    public abstract double BiasStd { get; init; }

    /// <summary>Whether the layer has a bias.</summary>
    public abstract bool HasBias { get; init; }

    /// <summary>Index of the first weight in the flat parameter vector.</summary>
    public abstract int WeightOffset { get; init; }

    /// <summary>Index of the first bias entry (WeightOffset + FanOut * FanIn).</summary>
    public abstract int BiasOffset { get; init; }

    /// <summary>Input, hidden or output layer (which dimension grows with width; see <see cref="AbcParameterization"/>). Set by <see cref="NetworkDescription"/>.</summary>
    public LayerRole Role { get; init; }

    /// <inheritdoc/>
    public override int ParameterCount => FanOut * FanIn + (HasBias ? FanOut : 0);

    /// <summary>Every scaling of this layer under <paramref name="parameterization"/> (one formula, shared with the generator).</summary>
    internal Layers.LayerScaling Scaling(AbcParameterization parameterization) =>
        Layers.DenseScaling.Of(parameterization, Role, WeightStd, BiasStd, HasBias, FanIn, FanOut);

    /// <summary>The factor m_W of W a in the forward pass: w_std / sqrt(fan_in) under NTK parameterization, 1 under standard (the others: <see cref="AbcParameterization"/>).</summary>
    public double WeightScale(AbcParameterization parameterization) => Scaling(parameterization).WeightScale;

    /// <summary>The factor m_b of b in the forward pass: b_std under NTK parameterization, 1 under standard, 0 without a bias.</summary>
    public double BiasScale(AbcParameterization parameterization) => Scaling(parameterization).BiasScale;

    /// <summary>The standard deviation W is initialized with: 1 under NTK parameterization, w_std / sqrt(fan_in) under standard.</summary>
    public double WeightInitStd(AbcParameterization parameterization) => Scaling(parameterization).WeightInitStd;

    /// <summary>The standard deviation b is initialized with: 1 under NTK parameterization, b_std under standard.</summary>
    public double BiasInitStd(AbcParameterization parameterization) => Scaling(parameterization).BiasInitStd;

    /// <inheritdoc/>
    public override IEnumerable<ParameterSegment> Segments(AbcParameterization parameterization)
    {
        var s = Scaling(parameterization);
        yield return new(WeightOffset, FanOut * FanIn, s.WeightInitStd);
        if (HasBias) yield return new(BiasOffset, FanOut, s.BiasInitStd);
    }

    /// <inheritdoc/>
    public override IEnumerable<LearningRateSegment> LearningRates(AbcParameterization parameterization)
    {
        var s = Scaling(parameterization);
        yield return new(WeightOffset, FanOut * FanIn, s.WeightLearningRate);
        if (HasBias) yield return new(BiasOffset, FanOut, s.BiasLearningRate);
    }
}

/// <summary>A run of the flat parameter vector drawn from N(0, Std^2) at initialization.</summary>
/// <param name="Offset">Index of the first element.</param>
/// <param name="Length">Number of elements.</param>
/// <param name="Std">Initialization standard deviation.</param>
public readonly record struct ParameterSegment(int Offset, int Length, double Std);

/// <summary>A run of the flat parameter vector trained with learning rate eta * Multiplier.</summary>
/// <param name="Offset">Index of the first element.</param>
/// <param name="Length">Number of elements.</param>
/// <param name="Multiplier">The learning-rate multiplier rho of these parameters.</param>
public readonly record struct LearningRateSegment(int Offset, int Length, double Multiplier);

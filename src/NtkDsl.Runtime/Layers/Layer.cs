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
    public virtual IEnumerable<ParameterSegment> Segments(Parameterization parameterization) => [];

    /// <summary>
    /// The runs of the flat parameter vector this layer owns, each with its learning-rate multiplier rho: 1 under NTK
    /// and standard parameterization, powers of the width under mean-field and maximal-update parameterization (see
    /// <see cref="AbcParameterization"/>).
    /// </summary>
    public virtual IEnumerable<LearningRateSegment> LearningRates(Parameterization parameterization) => [];
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

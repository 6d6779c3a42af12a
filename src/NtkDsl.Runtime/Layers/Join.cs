namespace NtkDsl;

/// <summary>How a join combines its branches.</summary>
public enum JoinKind
{
    /// <summary>The elementwise sum (<see cref="FanInSumAttribute"/>, <see cref="ResidualAttribute"/>).</summary>
    Sum,

    /// <summary>Concatenation of features, or of channels of [C, H, W] activations (<see cref="FanInConcatAttribute"/>).</summary>
    Concat,
}

/// <summary>
/// Where branches meet: the outputs of the layers <see cref="Inputs"/> (indices into the description's layers, -1 for the
/// network input) are added or concatenated. <see cref="Widths"/> are the channels (features for feature vectors) of each
/// input, which a concatenation's infinite-width kernel averages by.
/// </summary>
/// <param name="Kind">Sum or concatenation.</param>
/// <param name="Inputs">The joined layers, in order.</param>
/// <param name="Widths">Channels (or features) of each input.</param>
/// <param name="Spatial">The spatial shape of [C, H, W] inputs; null for feature vectors.</param>
public sealed record JoinLayer(JoinKind Kind, IReadOnlyList<int> Inputs, IReadOnlyList<int> Widths, SpatialShape? Spatial) : Layer
{
    /// <inheritdoc/>
    public bool Equals(JoinLayer? other) =>
        other is not null && Kind == other.Kind && Inputs.SequenceEqual(other.Inputs) && Widths.SequenceEqual(other.Widths) && Spatial == other.Spatial;

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, Inputs.Count, Widths.Sum(), Spatial);
}

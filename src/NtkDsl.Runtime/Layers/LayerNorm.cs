namespace NtkDsl;

/// <summary>
/// Layer normalization without affine parameters (<see cref="LayerNormAttribute"/>): feature vectors are normalized over
/// their <see cref="Channels"/> features, [C, H, W] activations over their channels at each of the
/// <see cref="Positions"/> positions.
/// </summary>
/// <param name="Channels">Features (or channels) normalized together.</param>
/// <param name="Spatial">The spatial shape of [C, H, W] activations; null for feature vectors.</param>
/// <param name="Epsilon">Added to the variance.</param>
public sealed record LayerNormLayer(int Channels, SpatialShape? Spatial, double Epsilon) : Layer
{
    /// <summary>Positions normalized separately (1 for feature vectors).</summary>
    public int Positions => Spatial?.Positions ?? 1;
}

#if NTKDSL_GENERATOR
namespace NtkDsl.Layers;
#else
namespace NtkDsl;
#endif

/// <summary>
/// How a convolution or pooling window treats the edges of its input (neural-tangents' <c>Padding</c>).
/// This file is compiled into both the runtime (public, NtkDsl.Padding) and the source generator (internal, in
/// NtkDsl.Layers beside the other shared layer code, so assemblies that see the generator's internals, such as its
/// tests, still find one <c>NtkDsl.Padding</c>); the generator reads the attribute's value as this enum.
/// </summary>
#if NTKDSL_GENERATOR
internal
#else
public
#endif
enum Padding
{
    /// <summary>No padding: only windows that fit inside the input; out = floor((in - k) / stride) + 1.</summary>
    Valid,

    /// <summary>
    /// Zero padding so that out = ceil(in / stride); the total padding max((out - 1) stride + k - in, 0) is split
    /// with the smaller half before (JAX's and PyTorch's <c>padding="same"</c> convention).
    /// </summary>
    Same,

    /// <summary>Periodic (wrap-around) padding with the sizes of <see cref="Same"/>.</summary>
    Circular,
}

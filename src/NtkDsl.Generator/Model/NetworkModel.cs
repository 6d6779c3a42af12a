using System.Linq;
using NtkDsl.Generator.Helpers;

namespace NtkDsl.Generator.Model;

/// <summary>The layer kinds the generator knows (mirrors NtkDsl.ActivationKind plus Dense).</summary>
internal enum LayerKind
{
    Dense,
    Relu,
    LeakyRelu,
    Abs,
    Erf,
    Tanh,
    Sigmoid,
    Gelu,
    Softplus,
    Sin,
    Identity,
}

/// <summary>One declared layer. Std overrides are null when the attribute does not set them.</summary>
internal sealed record LayerModel(LayerKind Kind, int Width, double? WeightStd, double? BiasStd, bool HasBias, double A, double B, double C)
{
    public bool IsDense => Kind == LayerKind.Dense;
}

/// <summary>A type that encloses the network, outermost first ("class", "struct", "record", ...).</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>Everything the emitter needs, and nothing else: equal models produce equal source.</summary>
internal sealed record NetworkModel(
    string? Namespace,
    string TypeName,
    EquatableArray<ContainingType> ContainingTypes,
    int Inputs,
    double WeightStd,
    double BiasStd,
    bool Standard,
    EquatableArray<LayerModel> Layers)
{
    public string FullName => string.Join(".", new[] { Namespace }.Concat(ContainingTypes.Select(t => t.Name)).Concat(new[] { TypeName }).Where(s => !string.IsNullOrEmpty(s)));
}

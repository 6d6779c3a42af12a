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
    Elementwise,
}

/// <summary>
/// One declared layer. Std overrides are null when the attribute does not set them. An Elementwise layer names the
/// user's methods for phi and phi' (<see cref="Function"/>, <see cref="Derivative"/>, escaped) and carries what is
/// wrong with them in <see cref="Problem"/> (null when both are usable).
/// </summary>
internal sealed record LayerModel(LayerKind Kind, int Width, double? WeightStd, double? BiasStd, bool HasBias, double A, double B, double C,
    string? Function = null, string? Derivative = null, string? Problem = null)
{
    public bool IsDense => Kind == LayerKind.Dense;
}

/// <summary>A type that encloses the network, outermost first: its keyword ("class", "struct", "record", ...) and C# name (escaped).</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>
/// Everything the emitter needs, and nothing else: equal models produce equal source. Names are C# source
/// text (keywords escaped with '@'); <see cref="TypeName"/> is the plain name for messages and descriptions.
/// </summary>
internal sealed record NetworkModel(
    string? Namespace,
    string TypeName,
    string TypeKeyword,
    EquatableArray<ContainingType> ContainingTypes,
    int Inputs,
    double WeightStd,
    double BiasStd,
    bool Standard,
    EquatableArray<LayerModel> Layers)
{
    /// <summary>The network's name as C# source (escaped when it is a keyword, e.g. <c>@class</c>).</summary>
    public string TypeIdentifier => Identifiers.Escape(TypeName);

    /// <summary>Namespace, containing types and name, dot-separated (containing types joined by '+', as in metadata).</summary>
    public string FullName =>
        string.Join(".", new[] { Namespace, string.Join("+", ContainingTypes.Select(t => t.Name).Concat(new[] { TypeIdentifier })) }.Where(s => !string.IsNullOrEmpty(s)));
}

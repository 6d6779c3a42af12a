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
    Conv,
    AvgPool,
    SumPool,
    GlobalAvgPool,
    Flatten,
    LayerNorm,

    /// <summary>x + Block(x) (<see cref="LayerModel.Blocks"/> has one block).</summary>
    Residual,

    /// <summary>The sum of parallel blocks.</summary>
    FanInSum,

    /// <summary>The concatenation of parallel blocks.</summary>
    FanInConcat,

    /// <summary>A block <see cref="LayerModel.Width"/> times in sequence.</summary>
    Repeat,
}

/// <summary>
/// One declared layer. Std overrides are null when the attribute does not set them. An Elementwise layer names the
/// user's methods for phi and phi' (<see cref="Function"/>, <see cref="Derivative"/>, escaped) and carries what is
/// wrong with them in <see cref="Problem"/> (null when both are usable). Spatial layers carry their window
/// (<see cref="Kernel"/>, <see cref="Stride"/> as declared, 0 meaning the default, and the <see cref="Padding"/> value);
/// a convolution's output channels are its <see cref="Width"/>. Block references (Residual, FanInSum, FanInConcat, Repeat)
/// name their blocks in <see cref="Blocks"/> (keys of <see cref="NetworkModel.Blocks"/>), a Repeat its count in Width;
/// LayerNorm carries its epsilon in A. An Elementwise layer of a block names methods of the network.
/// </summary>
internal sealed record LayerModel(LayerKind Kind, int Width, double? WeightStd, double? BiasStd, bool HasBias, double A, double B, double C,
    string? Function = null, string? Derivative = null, string? Problem = null, int Kernel = 0, int Stride = 0, int Padding = 0,
    EquatableArray<string> Blocks = default)
{
    /// <summary>Whether the layer refers to blocks (Residual, FanInSum, FanInConcat, Repeat).</summary>
    public bool IsBlockReference => Kind is LayerKind.Residual or LayerKind.FanInSum or LayerKind.FanInConcat or LayerKind.Repeat;

    /// <summary>Whether the layer joins branches (Residual, FanInSum, FanInConcat).</summary>
    public bool IsJoin => Kind is LayerKind.Residual or LayerKind.FanInSum or LayerKind.FanInConcat;

    public bool IsDense => Kind == LayerKind.Dense;

    /// <summary>Whether the layer has weights (Dense and Conv).</summary>
    public bool HasWeights => Kind is LayerKind.Dense or LayerKind.Conv;

    /// <summary>Whether the layer reads spatial activations (Conv, pooling, Flatten).</summary>
    public bool IsSpatial => Kind is LayerKind.Conv or LayerKind.AvgPool or LayerKind.SumPool or LayerKind.GlobalAvgPool or LayerKind.Flatten;

    /// <summary>Whether the layer is an elementwise activation (built-in or user-defined).</summary>
    public bool IsActivation => !HasWeights && !IsSpatial && !IsBlockReference && Kind != LayerKind.LayerNorm;
}

/// <summary>
/// A block type the network refers to: its key (the fully qualified type name), its C# name for messages, its layers, and
/// what makes it unusable (<see cref="Problem"/>: not a named type, generic, a [Network]; null when usable).
/// </summary>
internal sealed record BlockModel(string Key, string Name, EquatableArray<LayerModel> Layers, string? Problem);

/// <summary>
/// The spatial input of [Network] as declared: Channels with Height and Width (images) or with Length (sequences);
/// all zero for a network on feature vectors.
/// </summary>
internal sealed record SpatialInput(int Channels, int Height, int Width, int Length)
{
    public static readonly SpatialInput None = new(0, 0, 0, 0);

    /// <summary>Whether any spatial property is set.</summary>
    public bool IsDeclared => Channels != 0 || Height != 0 || Width != 0 || Length != 0;

    /// <summary>Whether the properties form an image ([C, H, W]) or a sequence ([C, L]) with positive sizes.</summary>
    public bool IsValid => Channels > 0 && ((Height > 0 && Width > 0 && Length == 0) || (Length > 0 && Height == 0 && Width == 0));

    /// <summary>The spatial rows (1 for sequences) and columns.</summary>
    public (int Height, int Width) Extent => Length > 0 ? (1, Length) : (Height, Width);

    /// <summary>Elements per sample, C * H * W (saturating at long.MaxValue / 4).</summary>
    public long Size => IsValid ? System.Math.Min(long.MaxValue / 4, (long)Channels * Extent.Height * Extent.Width) : 0;

    public override string ToString() => Length > 0 ? $"[{Channels}, {Length}]" : $"[{Channels}, {Height}, {Width}]";
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
    SpatialInput Spatial,
    double WeightStd,
    double BiasStd,
    NtkDsl.Layers.AbcParameterization Abc,
    EquatableArray<LayerModel> Layers,
    EquatableArray<BlockModel> Blocks = default)
{
    /// <summary>The named parameterization (<c>Abc</c> for user-chosen exponents, which <see cref="Abc"/> holds).</summary>
    public NtkDsl.Layers.Parameterization Parameterization => Abc.Kind;

    /// <summary>The block with <paramref name="key"/>, or null.</summary>
    public BlockModel? Block(string key) => Blocks.FirstOrDefault(b => b.Key == key);

    /// <summary>The network's name as C# source (escaped when it is a keyword, e.g. <c>@class</c>).</summary>
    public string TypeIdentifier => Identifiers.Escape(TypeName);

    /// <summary>Namespace, containing types and name, dot-separated (containing types joined by '+', as in metadata).</summary>
    public string FullName =>
        string.Join(".", new[] { Namespace, string.Join("+", ContainingTypes.Select(t => t.Name).Concat(new[] { TypeIdentifier })) }.Where(s => !string.IsNullOrEmpty(s)));
}

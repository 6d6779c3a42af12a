using NtkDsl.Layers;
using System.Collections.Generic;
using System.Linq;
using NtkDsl.Generator.Model;

namespace NtkDsl.Generator.Ir;

/// <summary>
/// The shape of one sample's tensor: [features] (no Height, -1) or spatial [C, H, W] (sequences [C, L] have Height 1;
/// an axis of size 0 is a window that does not fit, which validation reports).
/// Rows of a batch hold one sample each, flattened row-major in NCHW order (PyTorch's <c>x.reshape(N, -1)</c>).
/// </summary>
internal sealed record TensorShape(long Channels, int Height = -1, int Width = -1, bool Sequence = false)
{
    /// <summary>Whether the tensor has spatial axes.</summary>
    public bool IsSpatial => Height >= 0;

    /// <summary>Spatial positions H * W (1 for feature vectors).</summary>
    public long Positions => IsSpatial ? (long)Height * Width : 1;

    /// <summary>Elements per sample (saturating far above int.MaxValue, so oversized shapes are measured, not wrapped).</summary>
    public long Size => Channels == 0 || Positions == 0 ? 0 : Channels > Saturated / Positions ? Saturated : Channels * Positions;

    private const long Saturated = long.MaxValue / 4;

    public override string ToString() => !IsSpatial ? $"[{Channels}]" : Sequence ? $"[{Channels}, {Width}]" : $"[{Channels}, {Height}, {Width}]";
}

/// <summary>
/// The window of a convolution or pooling layer on its input (as the runtime's SpatialWindow): kernel rows and columns
/// (1 row for sequences), strides and padding.
/// </summary>
internal sealed record WindowIr(int Height, int Width, int StrideHeight, int StrideWidth, Padding Padding)
{
    public int Taps => Height * Width;
}

/// <summary>
/// The trainable parameters of a layer: where they sit in the flat vector and how they are scaled. Offsets and
/// counts are 64-bit so that an oversized declaration is measured, not wrapped (NTK0012 judges it).
/// </summary>
/// <param name="WeightOffset">Index of W[0, 0]; W is [Width, FanIn] row-major ([C_out, C_in, kh, kw] for a convolution).</param>
/// <param name="BiasOffset">Index of b[0], right after W.</param>
/// <param name="WeightScale">Forward factor of W a.</param>
/// <param name="BiasScale">Forward factor of b (0 without a bias).</param>
/// <param name="NtkWeight">Factor of the input Gram in the layer's NTK term.</param>
/// <param name="NtkBias">Constant added to the input Gram in the layer's NTK term.</param>
/// <param name="WeightRate">Learning-rate multiplier rho of W (1 except under mean-field and maximal-update parameterization).</param>
/// <param name="BiasRate">Learning-rate multiplier rho of b.</param>
internal sealed record LayerParameters(
    long WeightOffset,
    long BiasOffset,
    long Count,
    bool HasBias,
    double WeightStd,
    double BiasStd,
    double WeightScale,
    double BiasScale,
    double NtkWeight,
    double NtkBias,
    double WeightRate = 1,
    double BiasRate = 1)
{
    /// <summary>Whether the layer's NTK term needs the learning-rate multipliers (rho != 1), so sqrt(rho) scales its Jacobian blocks.</summary>
    public bool HasRates => WeightRate != 1 || (HasBias && BiasRate != 1);

    /// <summary>Every scale the emitted code writes as a literal (they must be finite).</summary>
    public IEnumerable<double> Scales => new[] { WeightScale, BiasScale, NtkWeight, NtkBias };
}

/// <summary>
/// One layer node: its kind and declaration, the node that feeds it (-1: the network input), the shapes in and out,
/// its parameters if it has any, and the window of convolution and pooling layers. A join (Kind FanInSum or FanInConcat;
/// a Residual lowers to a FanInSum of its input and its block) reads every node of <see cref="Joined"/> (its
/// <see cref="Input"/> is the first of them, <see cref="InShape"/> that one's shape).
/// <see cref="HasParametersBefore"/>: some node the layer reads from, directly or not, has parameters (so cotangents must
/// flow to its input). <see cref="Origin"/> is the declaration the node comes from (a block key or null for the network,
/// and the index of the attribute there); <see cref="Scope"/> names the block instances it sits in, for comments.
/// </summary>
internal sealed record LayerNode(
    int Index,
    LayerKind Kind,
    LayerModel Declaration,
    int Input,
    TensorShape InShape,
    TensorShape OutShape,
    LayerParameters? Parameters,
    bool HasParametersBefore,
    WindowIr? Window = null)
{
    /// <summary>1-based number used in comments, names and messages ("layer 3").</summary>
    public int Number => Index + 1;

    /// <summary>The nodes a join reads, in order (empty for other layers).</summary>
    public IReadOnlyList<int> Joined { get; init; } = [];

    /// <summary>The block (key; null for the network) and attribute index the node was declared by.</summary>
    public (string? Block, int Layer) Origin { get; init; }

    /// <summary>The block instances the node sits in ("" at the top level), e.g. "Residual(Block) #2".</summary>
    public string Scope { get; init; } = "";

    /// <summary>Whether the node joins branches.</summary>
    public bool IsJoin => Kind is LayerKind.FanInSum or LayerKind.FanInConcat;

    /// <summary>The nodes the layer reads: <see cref="Joined"/> for a join, else its <see cref="Input"/>.</summary>
    public IReadOnlyList<int> Reads => IsJoin ? Joined : [Input];
}

/// <summary>A lowered network: nodes in evaluation order with everything the rules need as numbers.</summary>
internal sealed record NetworkIr(NetworkModel Model, IReadOnlyList<LayerNode> Nodes, long ParameterCount)
{
    public LayerNode Last => Nodes[Nodes.Count - 1];

    public long Outputs => Last.OutShape.Size;

    public IEnumerable<LayerNode> WithParameters => Nodes.Where(n => n.Parameters is not null);

    /// <summary>True when some node reads another node than the one before it (residual connections, parallel branches).</summary>
    public bool IsBranching => Nodes.Any(n => n.IsJoin);

    /// <summary>The shape of a_k's node output (k = node index; -1: the network input).</summary>
    public TensorShape OutputOf(int index) => index < 0 ? Input : Nodes[index].OutShape;

    /// <summary>The network input's shape.</summary>
    public TensorShape Input { get; init; } = new(0);

    /// <summary>Nodes that read the output of node <paramref name="index"/> (-1: the input), in order.</summary>
    public IEnumerable<LayerNode> Readers(int index) => Nodes.Where(n => n.Reads.Contains(index));

    /// <summary>Nodes expanded beyond this are not lowered (NTK0035 reports the declaration).</summary>
    public const int MaxNodes = 4096;

    /// <summary>True when the declaration expands to more than <see cref="MaxNodes"/> nodes (lowering stopped there).</summary>
    public bool Truncated { get; init; }
}

namespace NtkDsl;

/// <summary>
/// The architecture of a declared network, as the generator resolved it: every layer with weights knows its
/// fan-in, standard deviations and where its parameters live in the flat parameter vector; spatial layers know
/// their windows.
/// </summary>
/// <param name="Name">The declaring type's name.</param>
/// <param name="Inputs">Input size d (C * H * W for spatial inputs).</param>
/// <param name="Parameterization">How weights, initialization and learning rates scale with width: the named one, or <see cref="Parameterization.Abc"/> with the exponents in <see cref="Abc"/>.</param>
/// <param name="Layers">Layers in order.</param>
public sealed record NetworkDescription(string Name, int Inputs, Parameterization Parameterization, IReadOnlyList<Layer> Layers)
{
    /// <summary>
    /// The exponents and constants of every role (<see cref="AbcParameterization"/>): the built-in instance of
    /// <see cref="Parameterization"/>, or the user's exponents under <see cref="Parameterization.Abc"/>. The initializer,
    /// the trainer's learning-rate multipliers and the Torch autograd baseline read them here.
    /// </summary>
    public AbcParameterization Abc
    {
        get => _abc ?? AbcParameterization.Of(Parameterization);
        init => _abc = value is null || value.Kind == Parameterization ? value
            : throw new ArgumentException($"The parameterization's kind {value.Kind} differs from the description's {Parameterization}.", nameof(Abc));
    }

    private readonly AbcParameterization? _abc;

    /// <summary>
    /// The built-in (NTK or standard) whose infinite-width kernel maps this network has (<see cref="AbcParameterization.KernelForm"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Without one (mean-field, muP, an abc outside those classes), saying why.</exception>
    public Parameterization KernelParameterization => Abc.KernelForm ??
        throw new ArgumentException($"{Name} ({Abc.Name} parameterization) has no infinite-width kernel: {Abc.NoKernelReason}. Use the empirical NTK.", "network");

    /// <summary>Channels of a spatial input (0 for feature vectors).</summary>
    public int InputChannels { get; init; }

    /// <summary>The spatial shape of a spatial input (default for feature vectors).</summary>
    public SpatialShape InputSpatial { get; init; }

    /// <summary>
    /// For each layer, the index of the layer whose output it reads (-1: the network input); layer l - 1 in a serial
    /// network. A <see cref="JoinLayer"/> reads its own <see cref="JoinLayer.Inputs"/> instead.
    /// </summary>
    public IReadOnlyList<int> Sources
    {
        get => _sources ?? [.. Enumerable.Range(-1, Layers.Count)];
        init => _sources = value;
    }

    private readonly IReadOnlyList<int>? _sources;

    /// <summary>True when some layer does not simply read the layer before it (residual connections, parallel branches).</summary>
    public bool IsBranching => Layers.Any(l => l is JoinLayer);

    /// <summary>True for networks on [C, H, W] (or [C, L]) inputs.</summary>
    public bool IsSpatial => InputChannels > 0;

    /// <summary>
    /// True when a pooling layer (AvgPool, SumPool, GlobalAvgPool) mixes spatial positions, so the infinite-width
    /// state must keep the covariances of every pair of positions (otherwise same positions suffice).
    /// </summary>
    public bool NeedsPositionPairs => Layers.Any(l => l is PoolLayer or GlobalAvgPoolLayer);

    /// <summary>Output size (width of the last Dense layer).</summary>
    public int Outputs => Layers.OfType<DenseLayer>().Last().Width;

    /// <summary>Total number of parameters.</summary>
    public int ParameterCount => Layers.Sum(l => l.ParameterCount);

    /// <summary>The Dense layers in order.</summary>
    public IEnumerable<DenseLayer> DenseLayers => Layers.OfType<DenseLayer>();

    /// <summary>
    /// Builds a description of a network on feature vectors from a layer list, resolving fan-ins and parameter offsets
    /// (a Dense layer's stds default to the network's). Used by the generator's output and by code that builds
    /// networks at run time.
    /// </summary>
    public static NetworkDescription Create(string name, int inputs, AbcParameterization parameterization, double weightStd, double biasStd,
        params IEnumerable<LayerSpec> layers) =>
        Resolve(name, inputs, 0, default, parameterization, weightStd, biasStd, layers);

    /// <summary>
    /// Builds a description of a network on [<paramref name="channels"/>, H, W] images or [C, L] sequences (height 1),
    /// resolving every layer's input shape, window and parameter offsets.
    /// </summary>
    public static NetworkDescription Create(string name, int channels, SpatialShape spatial, AbcParameterization parameterization, double weightStd,
        double biasStd, params IEnumerable<LayerSpec> layers) =>
        Resolve(name, channels * spatial.Positions, channels, spatial, parameterization, weightStd, biasStd, layers);

    private static NetworkDescription Resolve(string name, int inputs, int channels, SpatialShape spatial, AbcParameterization parameterization,
        double weightStd, double biasStd, IEnumerable<LayerSpec> layers)
    {
        ArgumentNullException.ThrowIfNull(parameterization);
        var resolved = new List<Layer>();
        var sources = new List<int>();
        var outputs = new List<(int Channels, SpatialShape Spatial, int Features)>(); // channels > 0: [channels, spatial]; else features
        var (inputChannels, inputSpatial) = (channels, spatial);
        int offset = 0;
        foreach (var spec in layers)
        {
            int number = resolved.Count + 1;
            int source = spec.Source ?? resolved.Count - 1;
            if (source < -1 || source >= resolved.Count)
                throw new ArgumentException($"Layer {number} reads layer {source + 1}, which is not before it.", nameof(layers));
            (channels, spatial, int features) = source < 0 ? (inputChannels, inputSpatial, inputs) : outputs[source];
            Layer layer;
            if (spec.Join is { } join)
            {
                var shapes = join.Inputs.Select(i => i >= -1 && i < resolved.Count ? (i < 0 ? (inputChannels, inputSpatial, inputs) : outputs[i])
                    : throw new ArgumentException($"Join layer {number} reads layer {i + 1}, which is not before it.", nameof(layers))).ToList();
                if (shapes.Count < 2 || shapes.Any(s => s.Item1 != shapes[0].Item1 && join.Kind == JoinKind.Sum || s.Item2 != shapes[0].Item2 ||
                                                        (s.Item1 == 0 && join.Kind == JoinKind.Sum && s.Item3 != shapes[0].Item3)))
                    throw new ArgumentException($"Join layer {number} ({join.Kind}) needs two or more inputs of matching shapes.", nameof(layers));
                bool isSpatial = shapes[0].Item1 > 0;
                var widths = shapes.Select(s => isSpatial ? s.Item1 : s.Item3).ToArray();
                layer = new JoinLayer(join.Kind, join.Inputs, widths, isSpatial ? shapes[0].Item2 : null);
                int total = join.Kind == JoinKind.Sum ? widths[0] : widths.Sum();
                (channels, spatial, features) = isSpatial ? (total, shapes[0].Item2, total * shapes[0].Item2.Positions) : (0, default, total);
            }
            else if (spec.NormEpsilon is { } epsilon)
            {
                layer = channels > 0 ? new LayerNormLayer(channels, spatial, epsilon) : new LayerNormLayer(features, null, epsilon);
            }
            else if (spec.Activation is { } activation)
            {
                layer = new ActivationLayer(activation);
            }
            else if (spec.Function is { } function)
            {
                layer = new ElementwiseLayer(spec.FunctionName ?? function.GetType().Name, function);
            }
            else if (spec.Spatial is { } s)
            {
                if (channels == 0)
                    throw new ArgumentException($"Layer {number} ({s.Kind}) needs spatial activations, but its input is {features} features.", nameof(layers));
                var window = SpatialWindow.Of(spatial, s.Kernel, s.Stride, s.Padding);
                switch (s.Kind)
                {
                    case SpatialLayerKind.Conv:
                        int fanIn = channels * window.Taps;
                        layer = new ConvLayer(channels, spec.Width, window, spec.WeightStd ?? weightStd, spec.BiasStd ?? biasStd, spec.HasBias,
                            offset, offset + spec.Width * fanIn);
                        channels = spec.Width;
                        spatial = window.Output;
                        break;
                    case SpatialLayerKind.AvgPool or SpatialLayerKind.SumPool:
                        layer = new PoolLayer(channels, window, s.Kind == SpatialLayerKind.SumPool);
                        spatial = window.Output;
                        break;
                    case SpatialLayerKind.GlobalAvgPool:
                        layer = new GlobalAvgPoolLayer(channels, spatial);
                        features = channels;
                        channels = 0;
                        break;
                    default:
                        layer = new FlattenLayer(channels, spatial);
                        features = channels * spatial.Positions;
                        channels = 0;
                        break;
                }

                if (channels > 0) features = channels * spatial.Positions;
            }
            else
            {
                if (channels != 0)
                    throw new ArgumentException($"Layer {number} (Dense) needs feature vectors; flatten or pool the spatial activations first.", nameof(layers));
                layer = new DenseLayer(features, spec.Width, spec.WeightStd ?? weightStd, spec.BiasStd ?? biasStd, spec.HasBias,
                    offset, offset + spec.Width * features);
                features = spec.Width;
            }

            resolved.Add(layer);
            sources.Add(source);
            outputs.Add((channels, spatial, features));
            offset += layer.ParameterCount;
        }

        return new NetworkDescription(name, inputs, parameterization.Kind, WithRoles(resolved))
        {
            Abc = parameterization,
            InputChannels = inputChannels,
            InputSpatial = inputSpatial,
            Sources = sources,
        };
    }

    // Each layer with weights learns its role (input, hidden, output), which its scalings depend on.
    private static List<Layer> WithRoles(List<Layer> layers)
    {
        var weighted = layers.Select((l, i) => (l, i)).Where(p => p.l is WeightedLayer).Select(p => p.i).ToList();
        for (int j = 0; j < weighted.Count; j++)
        {
            var role = NtkDsl.Layers.DenseScaling.RoleOf(j, weighted.Count);
            layers[weighted[j]] = ((WeightedLayer)layers[weighted[j]]) with { Role = role };
        }

        return layers;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {Inputs} -> " + string.Join(" -> ", Layers.Select(l => l switch
        {
            DenseLayer d => $"Dense({d.Width})",
            ActivationLayer a => a.Activation.ToString(),
            ElementwiseLayer e => $"Elementwise({e.Name})",
            ConvLayer c => $"Conv({c.OutChannels}, {c.Window.Height}x{c.Window.Width}, {c.Window.Padding})",
            PoolLayer p => $"{(p.Sum ? "SumPool" : "AvgPool")}({p.Window.Height}x{p.Window.Width})",
            GlobalAvgPoolLayer => "GlobalAvgPool",
            FlattenLayer => "Flatten",
            LayerNormLayer => "LayerNorm",
            JoinLayer j => $"{j.Kind}({string.Join(", ", j.Inputs.Select(i => i + 1))})",
            _ => "?",
        }));
}

/// <summary>The spatial layer kinds of <see cref="LayerSpec"/>.</summary>
public enum SpatialLayerKind
{
    /// <summary>A convolution (<see cref="ConvAttribute"/>).</summary>
    Conv,

    /// <summary>Average pooling (<see cref="AvgPoolAttribute"/>).</summary>
    AvgPool,

    /// <summary>Sum pooling (<see cref="SumPoolAttribute"/>).</summary>
    SumPool,

    /// <summary>Global average pooling (<see cref="GlobalAvgPoolAttribute"/>).</summary>
    GlobalAvgPool,

    /// <summary>Flatten (<see cref="FlattenAttribute"/>).</summary>
    Flatten,
}

/// <summary>The inputs of a join layer spec.</summary>
/// <param name="Kind">Sum or concatenation.</param>
/// <param name="Inputs">Indices of the joined layers (-1 for the network input).</param>
public sealed record JoinSpec(JoinKind Kind, IReadOnlyList<int> Inputs);

/// <summary>The window of a spatial layer spec (size 0 for GlobalAvgPool and Flatten, which have none).</summary>
/// <param name="Kind">The layer kind.</param>
/// <param name="Kernel">Window size along every spatial axis.</param>
/// <param name="Stride">Step between windows.</param>
/// <param name="Padding">Edge treatment.</param>
public readonly record struct SpatialSpec(SpatialLayerKind Kind, int Kernel, int Stride, Padding Padding);

/// <summary>
/// An unresolved layer, as declared: a Dense layer (width, optional std overrides, bias flag), an activation, or a
/// spatial layer (<see cref="Spatial"/>; a convolution uses Width for its output channels).
/// </summary>
public readonly record struct LayerSpec(int Width, double? WeightStd, double? BiasStd, bool HasBias, Activation? Activation)
{
    /// <summary>A Dense layer.</summary>
    public static LayerSpec Dense(int width, double? weightStd = null, double? biasStd = null, bool bias = true) =>
        new(width, weightStd, biasStd, bias, null);

    /// <summary>A convolution with <paramref name="channels"/> output channels and a square (or 1-D) window.</summary>
    public static LayerSpec Conv(int channels, int kernel, int stride, Padding padding, double? weightStd = null, double? biasStd = null, bool bias = true) =>
        new(channels, weightStd, biasStd, bias, null) { Spatial = new(SpatialLayerKind.Conv, kernel, stride, padding) };

    /// <summary>Average (<paramref name="sum"/> false) or sum pooling.</summary>
    public static LayerSpec Pool(int window, int stride, Padding padding, bool sum) =>
        new(0, null, null, false, null) { Spatial = new(sum ? SpatialLayerKind.SumPool : SpatialLayerKind.AvgPool, window, stride, padding) };

    /// <summary>Global average pooling.</summary>
    public static LayerSpec GlobalAvgPool() => new(0, null, null, false, null) { Spatial = new(SpatialLayerKind.GlobalAvgPool, 1, 1, Padding.Valid) };

    /// <summary>Flatten.</summary>
    public static LayerSpec Flatten() => new(0, null, null, false, null) { Spatial = new(SpatialLayerKind.Flatten, 1, 1, Padding.Valid) };

    /// <summary>The window of a spatial layer (null otherwise).</summary>
    public SpatialSpec? Spatial { get; init; }

    /// <summary>Layer normalization (<see cref="LayerNormAttribute"/>) with this epsilon.</summary>
    public static LayerSpec LayerNorm(double epsilon) => new(0, null, null, false, null) { NormEpsilon = epsilon };

    /// <summary>The epsilon of a LayerNorm layer (null otherwise).</summary>
    public double? NormEpsilon { get; init; }

    /// <summary>A join of the outputs of earlier layers (indices into the list, -1 for the network input).</summary>
    public static LayerSpec Joined(JoinKind kind, params int[] inputs) => new(0, null, null, false, null) { Join = new JoinSpec(kind, inputs) };

    /// <summary>The join of a join layer (null otherwise).</summary>
    public JoinSpec? Join { get; init; }

    /// <summary>The index of the layer whose output this layer reads (-1: the network input); null for the layer before it.</summary>
    public int? Source { get; init; }

    /// <summary>This layer reading the output of layer <paramref name="source"/> (-1: the network input) instead of the previous one.</summary>
    public LayerSpec From(int source) => this with { Source = source };
    /// <summary>An activation layer.</summary>
    public static LayerSpec Act(Activation activation) => new(0, null, null, false, activation);

    /// <summary>A user-defined elementwise activation given by code, named <paramref name="name"/> in descriptions.</summary>
    public static LayerSpec Elementwise(string name, IScalarActivation function) =>
        new(0, null, null, false, null) { Function = function, FunctionName = name };

    /// <summary>The function of an elementwise layer (null otherwise).</summary>
    public IScalarActivation? Function { get; init; }

    /// <summary>The name of an elementwise layer (null otherwise).</summary>
    public string? FunctionName { get; init; }
}

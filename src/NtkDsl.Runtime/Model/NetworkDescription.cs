namespace NtkDsl;

/// <summary>One layer of a network description.</summary>
public abstract record Layer;

/// <summary>A fully connected layer with resolved standard deviations.</summary>
/// <param name="Inputs">Fan-in.</param>
/// <param name="Width">Number of output units.</param>
/// <param name="WeightStd">sigma_w.</param>
/// <param name="BiasStd">sigma_b (irrelevant when <paramref name="HasBias"/> is false).</param>
/// <param name="HasBias">Whether the layer has a bias vector.</param>
/// <param name="WeightOffset">Index of W[0, 0] in the flat parameter vector (W is [Width, Inputs] row-major).</param>
/// <param name="BiasOffset">Index of b[0] in the flat parameter vector (equals WeightOffset + Width * Inputs).</param>
public sealed record DenseLayer(int Inputs, int Width, double WeightStd, double BiasStd, bool HasBias, int WeightOffset, int BiasOffset) : Layer
{
    /// <summary>Number of parameters of this layer.</summary>
    public int ParameterCount => Width * Inputs + (HasBias ? Width : 0);

    /// <summary>The factor of W a in the forward pass: w_std / sqrt(fan_in) under NTK parameterization, 1 under standard.</summary>
    public double WeightScale(Parameterization parameterization) =>
        Layers.DenseScaling.WeightScale(WeightStd, Inputs, parameterization == Parameterization.Standard);

    /// <summary>The factor of b in the forward pass: b_std under NTK parameterization, 1 under standard, 0 without a bias.</summary>
    public double BiasScale(Parameterization parameterization) =>
        Layers.DenseScaling.BiasScale(BiasStd, HasBias, parameterization == Parameterization.Standard);

    /// <summary>The standard deviation W is initialized with: 1 under NTK parameterization, w_std / sqrt(fan_in) under standard.</summary>
    public double WeightInitStd(Parameterization parameterization) =>
        Layers.DenseScaling.WeightInitStd(WeightStd, Inputs, parameterization == Parameterization.Standard);

    /// <summary>The standard deviation b is initialized with: 1 under NTK parameterization, b_std under standard.</summary>
    public double BiasInitStd(Parameterization parameterization) =>
        Layers.DenseScaling.BiasInitStd(BiasStd, parameterization == Parameterization.Standard);
}

/// <summary>An elementwise activation layer.</summary>
/// <param name="Activation">The function.</param>
public sealed record ActivationLayer(Activation Activation) : Layer;

/// <summary>A user-defined elementwise activation (<see cref="ElementwiseAttribute"/>).</summary>
/// <param name="Name">The declared name, "Function/Derivative" (the methods phi and phi').</param>
/// <param name="Function">phi and phi' as code.</param>
public sealed record ElementwiseLayer(string Name, IScalarActivation Function) : Layer;

/// <summary>
/// The architecture of a declared network, as the generator resolved it: every Dense layer knows its
/// fan-in, standard deviations and where its parameters live in the flat parameter vector.
/// </summary>
/// <param name="Name">The declaring type's name.</param>
/// <param name="Inputs">Input size d.</param>
/// <param name="Parameterization">NTK or standard parameterization.</param>
/// <param name="Layers">Layers in order.</param>
public sealed record NetworkDescription(string Name, int Inputs, Parameterization Parameterization, IReadOnlyList<Layer> Layers)
{
    /// <summary>Output size (width of the last Dense layer).</summary>
    public int Outputs => Layers.OfType<DenseLayer>().Last().Width;

    /// <summary>Total number of parameters.</summary>
    public int ParameterCount => Layers.OfType<DenseLayer>().Sum(l => l.ParameterCount);

    /// <summary>The Dense layers in order.</summary>
    public IEnumerable<DenseLayer> DenseLayers => Layers.OfType<DenseLayer>();

    /// <summary>
    /// Builds a description from a layer list, resolving fan-ins and parameter offsets (a Dense layer's
    /// stds default to the network's). Used by the generator's output and by code that builds networks at run time.
    /// </summary>
    public static NetworkDescription Create(string name, int inputs, Parameterization parameterization, double weightStd, double biasStd,
        params IEnumerable<LayerSpec> layers)
    {
        var resolved = new List<Layer>();
        int fanIn = inputs, offset = 0;
        foreach (var spec in layers)
        {
            if (spec.Activation is { } activation)
            {
                resolved.Add(new ActivationLayer(activation));
                continue;
            }

            if (spec.Function is { } function)
            {
                resolved.Add(new ElementwiseLayer(spec.FunctionName ?? function.GetType().Name, function));
                continue;
            }

            var dense = new DenseLayer(fanIn, spec.Width, spec.WeightStd ?? weightStd, spec.BiasStd ?? biasStd, spec.HasBias,
                offset, offset + spec.Width * fanIn);
            resolved.Add(dense);
            offset += dense.ParameterCount;
            fanIn = spec.Width;
        }

        return new NetworkDescription(name, inputs, parameterization, resolved);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {Inputs} -> " + string.Join(" -> ", Layers.Select(l => l switch
        {
            DenseLayer d => $"Dense({d.Width})",
            ActivationLayer a => a.Activation.ToString(),
            ElementwiseLayer e => $"Elementwise({e.Name})",
            _ => "?",
        }));
}

/// <summary>An unresolved layer, as declared: a Dense layer (width, optional std overrides, bias flag) or an activation.</summary>
public readonly record struct LayerSpec(int Width, double? WeightStd, double? BiasStd, bool HasBias, Activation? Activation)
{
    /// <summary>A Dense layer.</summary>
    public static LayerSpec Dense(int width, double? weightStd = null, double? biasStd = null, bool bias = true) =>
        new(width, weightStd, biasStd, bias, null);

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

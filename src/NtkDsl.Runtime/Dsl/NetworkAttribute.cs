namespace NtkDsl;

/// <summary>
/// Declares a fully connected network on a <c>partial</c> class. The layer attributes that follow
/// (<see cref="DenseAttribute"/> and the activation attributes) are applied in source order, like
/// <c>stax.serial</c>. The source generator emits the forward pass, gradients, Jacobians and kernels.
/// </summary>
/// <example>
/// <code>
/// [Network(Inputs = 2, WeightStd = 1.5, BiasStd = 0.1)]
/// [Dense(512), Relu]
/// [Dense(1)]
/// public partial class MyNet;
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class NetworkAttribute : Attribute
{
    /// <summary>Number of input features d of a network on feature vectors (positive; or declare a spatial input instead).</summary>
    public int Inputs { get; set; }

    /// <summary>
    /// Channels C of a spatial input: images [C, <see cref="Height"/>, <see cref="Width"/>] or sequences
    /// [C, <see cref="Length"/>]; each input row holds one sample in NCHW (NCL) order, what <c>tensor.reshape(N, -1)</c> gives.
    /// </summary>
    public int Channels { get; set; }

    /// <summary>Height H of image inputs (with <see cref="Channels"/> and <see cref="Width"/>).</summary>
    public int Height { get; set; }

    /// <summary>Width W of image inputs (with <see cref="Channels"/> and <see cref="Height"/>).</summary>
    public int Width { get; set; }

    /// <summary>Length L of sequence inputs (with <see cref="Channels"/>).</summary>
    public int Length { get; set; }

    /// <summary>Default weight standard deviation sigma_w of every Dense layer (default 1).</summary>
    public double WeightStd { get; set; } = 1.0;

    /// <summary>Default bias standard deviation sigma_b of every Dense layer (default 0).</summary>
    public double BiasStd { get; set; }

    /// <summary>
    /// How weights, initialization and learning rates scale with width; <see cref="NtkDsl.Parameterization.Ntk"/> by default.
    /// <see cref="NtkDsl.Parameterization.MeanField"/> and <see cref="NtkDsl.Parameterization.MaximalUpdate"/> learn features at
    /// every width and have no infinite-width kernel (no InfiniteWidth member; info NTK0040). <see cref="NtkDsl.Parameterization.Abc"/>
    /// takes the exponents from one <see cref="AbcAttribute"/> per role. See <see cref="AbcParameterization"/>.
    /// </summary>
    public Parameterization Parameterization { get; set; } = Parameterization.Ntk;

    /// <summary>
    /// Under <see cref="NtkDsl.Parameterization.Abc"/> only: whether the constants sigma_w, sigma_b and 1/sqrt(d) go into the forward
    /// multipliers (true: the NTK and mean-field forms, raw parameters N(0, n^-2b)) or into the initialization (false, the
    /// default: the standard and muTransfer forms, multipliers n^-a).
    /// </summary>
    public bool ConstantsInMultiplier { get; set; }

    /// <summary>
    /// muTransfer's base width n0 (Yang et al. 2022), 0 (the default) for none; under <see cref="NtkDsl.Parameterization.MaximalUpdate"/>
    /// or an <see cref="NtkDsl.Parameterization.Abc"/> with the constants in the initialization. Every width factor n^-e becomes
    /// n^-e_SP (n / n0)^-(e - e_SP), e_SP the standard parameterization's exponent, so the network is the standard one at
    /// width n0 (a learning rate tuned there for standard parameterization carries over) and scales as the exponents say.
    /// </summary>
    public int BaseWidth { get; set; }
}

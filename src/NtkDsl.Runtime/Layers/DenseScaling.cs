using System;

// The one place the scalings of every parameterization live. This file is compiled into both the runtime (the
// enums and AbcParameterization are public there, in namespace NtkDsl) and the source generator (internal, in
// NtkDsl.Layers, like Padding.cs), so the constants the generator writes into network code and the numbers the
// runtime uses (initializer, learning-rate multipliers, Torch autograd baseline, description) cannot drift apart.
#if NTKDSL_GENERATOR
namespace NtkDsl.Layers
#else
namespace NtkDsl
#endif
{
    /// <summary>
    /// How the weights of a network are scaled with width: four instances of the abc-parameterization of Yang &amp; Hu
    /// (2021), see <see cref="AbcParameterization"/> for the formulas and docs/parameterizations.md for the derivations.
    /// </summary>
#if NTKDSL_GENERATOR
    internal
#else
    public
#endif
    enum Parameterization
    {
        /// <summary>NTK parameterization (neural-tangents' default): z = (sigma_w / sqrt(fan_in)) W a + sigma_b b with W, b ~ N(0, 1); one learning rate.</summary>
        Ntk,

        /// <summary>Standard parameterization (neural-tangents' "standard"): z = W a + b with W ~ N(0, sigma_w^2 / fan_in) and b ~ N(0, sigma_b^2); one learning rate.</summary>
        Standard,

        /// <summary>
        /// Mean-field parameterization: the NTK parameterization with the output layer's multiplier sigma_w / n instead of
        /// sigma_w / sqrt(n) (the mean-field 1/n readout) and learning rate eta n for every weight and hidden bias. In the
        /// same abc-class as <see cref="MaximalUpdate"/> (the same width scaling of the dynamics; Yang &amp; Hu's muP is the
        /// mean-field limit for one hidden layer). No infinite-width kernel: features keep moving at every width.
        /// </summary>
        MeanField,

        /// <summary>
        /// Maximal-update parameterization (muP) in the form of Yang et al. 2022 (muTransfer, Table 3, SGD): multipliers 1,
        /// W ~ N(0, sigma_w^2 / fan_in) except the output layer's N(0, sigma_w^2 / fan_in^2); learning rates eta fan_out for the
        /// input layer and every hidden bias, eta for hidden weights, eta / fan_in for the output weights. No infinite-width kernel.
        /// </summary>
        MaximalUpdate,
    }

    /// <summary>The role of a layer with weights, which decides which of its dimensions grows with width.</summary>
#if NTKDSL_GENERATOR
    internal
#else
    public
#endif
    enum LayerRole
    {
        /// <summary>A layer between two others with weights: width n is its fan-in (finite taps of a convolution included).</summary>
        Hidden,

        /// <summary>The first layer with weights (its fan-in is the fixed input size): width n is its fan-out.</summary>
        Input,

        /// <summary>The last layer with weights (its fan-out is the fixed output size): width n is its fan-in. A network with one layer with weights has only this one.</summary>
        Output,
    }

    /// <summary>
    /// The exponents of one layer role in an abc-parameterization, on the layer's width n: forward multiplier n^-a,
    /// initialization standard deviation n^-b, learning-rate multiplier n^-c.
    /// </summary>
    /// <param name="A">Output-multiplier exponent a.</param>
    /// <param name="B">Initialization exponent b (the variance is n^-2b).</param>
    /// <param name="C">Learning-rate exponent c.</param>
#if NTKDSL_GENERATOR
    internal
#else
    public
#endif
    readonly record struct AbcExponents(double A, double B, double C);

    /// <summary>
    /// An abc-parameterization (Yang &amp; Hu 2021, "Feature Learning in Infinite-Width Neural Networks", Definition 3.1 with
    /// per-layer learning rates). A layer with weights of role r, fan-in k and width n (fan-out for the input layer, fan-in
    /// otherwise) and exponents (a, b, c) = the role's computes z = m_W W a + m_b b, draws W ~ N(0, s_W^2), b ~ N(0, s_b^2)
    /// and is trained with per-parameter learning rates eta rho_W, eta rho_b:
    /// <code>
    /// m_W = n^-a kappa_W (constants in the multiplier) or n^-a,     s_W = n^-b or n^-b kappa_W,     rho_W = n^-c
    /// kappa_W = sigma_w / sqrt(k) for the input layer (k fixed), sigma_w otherwise (there 1/sqrt(k) is part of n^-a or n^-b)
    /// </code>
    /// A bias is a weight from a constant input into the layer's n outputs: it takes the input role's exponents (with
    /// n = the layer's fan-out) and kappa_b = sigma_b, except the output layer's bias, whose size is fixed: (0, 0, 0).
    /// The empirical NTK of the layer is rho_W m_W^2 &lt;D, D'&gt; &lt;a, a'&gt; + rho_b m_b^2 &lt;D, D'&gt;: the kernel of gradient
    /// flow with the per-layer rates, Theta = J diag(rho) J^T, which is invariant under Yang &amp; Hu's symmetry
    /// (a, b, c) -&gt; (a + t, b - t, c - 2t) and is the kernel that drives the trained function.
    /// </summary>
    /// <param name="Name">Lower-case name used in descriptions ("NTK", "standard", ...).</param>
    /// <param name="Input">Exponents of the input layer (n = fan-out).</param>
    /// <param name="Hidden">Exponents of hidden layers (n = fan-in).</param>
    /// <param name="Output">Exponents of the output layer (n = fan-in).</param>
    /// <param name="ConstantsInMultiplier">
    /// Where the width-independent constants kappa go: the forward multiplier (NTK and mean-field forms: raw parameters
    /// N(0, n^-2b)) or the initialization (standard and muTransfer forms: multipliers n^-a).
    /// </param>
    /// <param name="HasKernelLimit">
    /// Whether training at infinite width is kernel gradient descent with a fixed kernel (Yang &amp; Hu's kernel regime), so
    /// that the infinite-width NNGP/NTK describe the trained network. False in the feature-learning regime.
    /// </param>
#if NTKDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record AbcParameterization(string Name, AbcExponents Input, AbcExponents Hidden, AbcExponents Output, bool ConstantsInMultiplier, bool HasKernelLimit)
    {
        /// <summary>NTK: a = (0, 1/2, 1/2), b = 0, c = 0 (input, hidden, output), constants in the multiplier.</summary>
        public static AbcParameterization Ntk { get; } = new("NTK", new(0, 0, 0), new(0.5, 0, 0), new(0.5, 0, 0), true, true);

        /// <summary>Standard: a = 0, b = (0, 1/2, 1/2), c = 0, constants in the initialization.</summary>
        public static AbcParameterization Standard { get; } = new("standard", new(0, 0, 0), new(0, 0.5, 0), new(0, 0.5, 0), false, true);

        /// <summary>Mean-field form of muP: a = (0, 1/2, 1), b = 0, c = -1, constants in the multiplier.</summary>
        public static AbcParameterization MeanField { get; } = new("mean-field", new(0, 0, -1), new(0.5, 0, -1), new(1, 0, -1), true, false);

        /// <summary>muTransfer form of muP: a = 0, b = (0, 1/2, 1), c = (-1, 0, 1), constants in the initialization.</summary>
        public static AbcParameterization MaximalUpdate { get; } = new("maximal-update", new(0, 0, -1), new(0, 0.5, 0), new(0, 1, 1), false, false);

        /// <summary>The instance of a named parameterization (NTK for a value outside the enum, so that callers stay total).</summary>
        public static AbcParameterization Of(Parameterization parameterization) => parameterization switch
        {
            Parameterization.Standard => Standard,
            Parameterization.MeanField => MeanField,
            Parameterization.MaximalUpdate => MaximalUpdate,
            _ => Ntk,
        };

        /// <summary>The exponents of the weights of a layer of <paramref name="role"/>.</summary>
        public AbcExponents Weights(LayerRole role) => role switch
        {
            LayerRole.Input => Input,
            LayerRole.Output => Output,
            _ => Hidden,
        };

        /// <summary>The exponents of the bias of a layer of <paramref name="role"/>: the input role's, or 0 for the output layer.</summary>
        public AbcExponents Bias(LayerRole role) => role == LayerRole.Output ? default : Input;
    }
}

namespace NtkDsl.Layers
{
    /// <summary>
    /// The resolved scalings of one layer with weights (see <see cref="AbcParameterization"/>): forward multipliers,
    /// initialization standard deviations, learning-rate multipliers and the factors of its empirical NTK term
    /// &lt;D, D'&gt; (NtkWeight &lt;a, a'&gt; + NtkBias).
    /// </summary>
    internal readonly record struct LayerScaling(
        double WeightScale,
        double BiasScale,
        double WeightInitStd,
        double BiasInitStd,
        double WeightLearningRate,
        double BiasLearningRate,
        double NtkWeight,
        double NtkBias);

    /// <summary>The scalings of a Dense or Conv layer under each parameterization, written once (see the file comment).</summary>
    internal static class DenseScaling
    {
        /// <summary>
        /// The scalings of a layer with fan-in <paramref name="fanIn"/> (C_in kh kw for a convolution) and fan-out
        /// <paramref name="fanOut"/> (output units or channels). Total: sizes below 1 count as 1.
        /// </summary>
        public static LayerScaling Of(Parameterization parameterization, LayerRole role, double weightStd, double biasStd, bool hasBias, long fanIn, long fanOut)
        {
            var abc = AbcParameterization.Of(parameterization);
            long k = Math.Max(1, fanIn), width = role == LayerRole.Input ? Math.Max(1, fanOut) : k;
            bool inMultiplier = abc.ConstantsInMultiplier;

            // Weights: kappa = sigma_w / sqrt(k) for the input layer, sigma_w otherwise; kappa^2 is formed from sigma_w^2 so
            // that the NTK and standard parameterizations keep their historical literals (sigma_w^2 / k) bit for bit.
            var w = abc.Weights(role);
            double kappa = role == LayerRole.Input ? weightStd / Math.Sqrt(k) : weightStd;
            double kappa2 = role == LayerRole.Input ? weightStd * weightStd / k : weightStd * weightStd;
            double weightScale = Scale(inMultiplier ? kappa : 1, width, w.A), weightInit = Scale(inMultiplier ? 1 : kappa, width, w.B);
            double weightRate = Scale(1, width, w.C);
            double ntkWeight = Scale(Scale(inMultiplier ? kappa2 : 1, width, 2 * w.A), width, w.C);

            // Bias: a weight from a constant input into the layer's fan-out outputs (fixed size for the output layer).
            var b = abc.Bias(role);
            long biasWidth = Math.Max(1, fanOut);
            double biasScale = !hasBias ? 0 : Scale(inMultiplier ? biasStd : 1, biasWidth, b.A);
            double biasInit = Scale(inMultiplier ? 1 : biasStd, biasWidth, b.B);
            double biasRate = !hasBias ? 0 : Scale(1, biasWidth, b.C);
            double ntkBias = !hasBias ? 0 : Scale(Scale(inMultiplier ? biasStd * biasStd : 1, biasWidth, 2 * b.A), biasWidth, b.C);
            return new LayerScaling(weightScale, biasScale, weightInit, biasInit, weightRate, biasRate, ntkWeight, ntkBias);
        }

        /// <summary>
        /// The role of the layer with weights number <paramref name="index"/> (0-based) among <paramref name="count"/>:
        /// the first is the input layer, the last the output layer, a single one the output layer.
        /// </summary>
        public static LayerRole RoleOf(int index, int count) =>
            index == count - 1 ? LayerRole.Output : index == 0 ? LayerRole.Input : LayerRole.Hidden;

        // constant * n^-exponent, dividing by exact powers for the half-integer exponents used (so sqrt(n), n, n^2 appear
        // exactly as a hand-written formula would have them).
        private static double Scale(double constant, long n, double exponent) =>
            exponent == 0 ? constant : exponent > 0 ? constant / Power(n, exponent) : constant * Power(n, -exponent);

        private static double Power(long n, double exponent) => exponent switch
        {
            0.5 => Math.Sqrt(n),
            1 => n,
            1.5 => n * Math.Sqrt(n),
            2 => (double)n * n,
            _ => Math.Pow(n, exponent),
        };
    }
}

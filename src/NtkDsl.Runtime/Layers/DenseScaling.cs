using System;
using System.Linq;

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

        /// <summary>
        /// A user-chosen abc-parameterization: one <c>[Abc(LayerRole.X, a: .., b: .., c: ..)]</c> per role on the network (see
        /// <c>AbcAttribute</c>) and <c>ConstantsInMultiplier</c> on [Network]; at run time <see cref="AbcParameterization.Custom"/>.
        /// It has an infinite-width kernel exactly when it is NTK's or SP's up to Yang &amp; Hu's symmetry (<see cref="AbcParameterization.KernelForm"/>).
        /// </summary>
        Abc,
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
    /// With a base width n0 (<see cref="BaseWidth"/>, muTransfer's base shape) every factor n^-e becomes
    /// n^-e_SP (n / n0)^-(e - e_SP), e_SP the standard parameterization's exponent: the network is the standard one at n = n0.
    /// The empirical NTK of the layer is rho_W m_W^2 &lt;D, D'&gt; &lt;a, a'&gt; + rho_b m_b^2 &lt;D, D'&gt;: the kernel of gradient
    /// flow with the per-layer rates, Theta = J diag(rho) J^T, which is invariant under Yang &amp; Hu's symmetry
    /// (a, b, c) -&gt; (a + t, b - t, c - 2t) and is the kernel that drives the trained function.
    /// </summary>
#if NTKDSL_GENERATOR
    internal
#else
    public
#endif
    sealed record AbcParameterization
    {
        /// <summary>The largest |exponent| accepted: n^(2a + c) stays far inside a double for every int width.</summary>
        public const double MaxExponent = 4;

        private AbcParameterization(Parameterization kind, AbcExponents input, AbcExponents hidden, AbcExponents output, bool constantsInMultiplier, int baseWidth)
        {
            Kind = kind;
            Input = input;
            Hidden = hidden;
            Output = output;
            ConstantsInMultiplier = constantsInMultiplier;
            BaseWidth = baseWidth;
        }

        /// <summary>The named parameterization this is (<see cref="Parameterization.Abc"/> for one built from user-chosen exponents).</summary>
        public Parameterization Kind { get; }

        /// <summary>Exponents of the input layer (n = fan-out).</summary>
        public AbcExponents Input { get; }

        /// <summary>Exponents of hidden layers (n = fan-in).</summary>
        public AbcExponents Hidden { get; }

        /// <summary>Exponents of the output layer (n = fan-in).</summary>
        public AbcExponents Output { get; }

        /// <summary>
        /// Where the width-independent constants kappa go: the forward multiplier (NTK and mean-field forms: raw parameters
        /// N(0, n^-2b)) or the initialization (standard and muTransfer forms: multipliers n^-a).
        /// </summary>
        public bool ConstantsInMultiplier { get; }

        /// <summary>
        /// muTransfer's base width n0 (0: none): the exponents act on n / n0 relative to the standard parameterization, so the
        /// network equals the standard one at width n0 and a learning rate tuned there transfers. Only with constants in the
        /// initialization (the standard form); the NTK, the kernel regime and the width scaling are those of the exponents.
        /// </summary>
        public int BaseWidth { get; }

        /// <summary>NTK: a = (0, 1/2, 1/2), b = 0, c = 0 (input, hidden, output), constants in the multiplier.</summary>
        public static AbcParameterization Ntk { get; } = new(Parameterization.Ntk, new(0, 0, 0), new(0.5, 0, 0), new(0.5, 0, 0), true, 0);

        /// <summary>Standard: a = 0, b = (0, 1/2, 1/2), c = 0, constants in the initialization.</summary>
        public static AbcParameterization Standard { get; } = new(Parameterization.Standard, new(0, 0, 0), new(0, 0.5, 0), new(0, 0.5, 0), false, 0);

        /// <summary>Mean-field form of muP: a = (0, 1/2, 1), b = 0, c = -1, constants in the multiplier.</summary>
        public static AbcParameterization MeanField { get; } = new(Parameterization.MeanField, new(0, 0, -1), new(0.5, 0, -1), new(1, 0, -1), true, 0);

        /// <summary>muTransfer form of muP: a = 0, b = (0, 1/2, 1), c = (-1, 0, 1), constants in the initialization.</summary>
        public static AbcParameterization MaximalUpdate { get; } = new(Parameterization.MaximalUpdate, new(0, 0, -1), new(0, 0.5, 0), new(0, 1, 1), false, 0);

        /// <summary>Lower-case name used in descriptions ("NTK", "standard", "mean-field", "maximal-update", "abc").</summary>
        public string Name => Kind switch
        {
            Parameterization.Ntk => "NTK",
            Parameterization.Standard => "standard",
            Parameterization.MeanField => "mean-field",
            Parameterization.MaximalUpdate => "maximal-update",
            _ => "abc",
        };

        /// <summary>
        /// The instance of a named parameterization. <see cref="Parameterization.Abc"/> names no exponents: use
        /// <see cref="Custom"/>. (In the source generator, which must stay total, anything else gives NTK.)
        /// </summary>
        public static AbcParameterization Of(Parameterization parameterization) => parameterization switch
        {
            Parameterization.Standard => Standard,
            Parameterization.MeanField => MeanField,
            Parameterization.MaximalUpdate => MaximalUpdate,
#if !NTKDSL_GENERATOR
            Parameterization.Abc => throw new ArgumentException(
                "Parameterization.Abc names no exponents; build the parameterization with AbcParameterization.Custom(input, hidden, output, constantsInMultiplier).",
                nameof(parameterization)),
            Parameterization.Ntk => Ntk,
            _ => throw new ArgumentOutOfRangeException(nameof(parameterization), parameterization, "Unknown parameterization."),
#else
            _ => Ntk,
#endif
        };

        /// <summary>The built-in parameterizations as values of this type (so every API that takes one takes both).</summary>
        public static implicit operator AbcParameterization(Parameterization parameterization) => Of(parameterization);

        /// <summary>
        /// A user-chosen abc-parameterization (<see cref="Kind"/> <see cref="Parameterization.Abc"/>): the exponents of each role
        /// and where the constants go. Every exponent must be finite with |e| &lt;= <see cref="MaxExponent"/>.
        /// </summary>
        public static AbcParameterization Custom(AbcExponents input, AbcExponents hidden, AbcExponents output, bool constantsInMultiplier)
        {
#if !NTKDSL_GENERATOR
            foreach (var (exponents, role) in new[] { (input, nameof(input)), (hidden, nameof(hidden)), (output, nameof(output)) })
            {
                if (ExponentProblem(exponents) is { } problem) throw new ArgumentOutOfRangeException(role, exponents, problem);
            }
#endif
            return new(Parameterization.Abc, input, hidden, output, constantsInMultiplier, 0);
        }

        /// <summary>
        /// This parameterization with muTransfer's base width <paramref name="baseWidth"/> (at least 1; constants in the
        /// initialization, see <see cref="BaseWidth"/>).
        /// </summary>
        public AbcParameterization WithBaseWidth(int baseWidth)
        {
#if !NTKDSL_GENERATOR
            if (baseWidth < 1) throw new ArgumentOutOfRangeException(nameof(baseWidth), baseWidth, "The base width must be at least 1.");
            if (ConstantsInMultiplier)
                throw new ArgumentException($"A base width needs the constants in the initialization (the standard form); the {Name} parameterization has them in the multiplier.", nameof(baseWidth));
#endif
            return new(Kind, Input, Hidden, Output, ConstantsInMultiplier, baseWidth);
        }

        /// <summary>Why exponents are not accepted (null: they are): each must be finite with |e| &lt;= <see cref="MaxExponent"/>.</summary>
        public static string? ExponentProblem(AbcExponents exponents) =>
            new[] { exponents.A, exponents.B, exponents.C }.Any(e => double.IsNaN(e) || double.IsInfinity(e))
                ? "every exponent must be finite"
                : new[] { exponents.A, exponents.B, exponents.C }.Any(e => Math.Abs(e) > MaxExponent)
                    ? $"every exponent must lie in [-{MaxExponent}, {MaxExponent}] (n^e overflows beyond)"
                    : null;

        /// <summary>The exponents of the weights of a layer of <paramref name="role"/>.</summary>
        public AbcExponents Weights(LayerRole role) => role switch
        {
            LayerRole.Input => Input,
            LayerRole.Output => Output,
            _ => Hidden,
        };

        /// <summary>The exponents of the bias of a layer of <paramref name="role"/>: the input role's, or 0 for the output layer.</summary>
        public AbcExponents Bias(LayerRole role) => role == LayerRole.Output ? default : Input;

        /// <summary>
        /// The built-in whose infinite-width NNGP and NTK this parameterization has (null: none). The distribution of the
        /// network at initialization depends on each role's exponents only through a + b and the kernel J diag(rho) J^T
        /// through 2a + c (Yang &amp; Hu's symmetry), the constants through where they go: a parameterization with the invariants
        /// and the constants of <see cref="Ntk"/> (or <see cref="Standard"/>) has, at every width, the same function and
        /// kernel distribution as that one, so its kernel regime and infinite-width kernel. Every other (mean-field, muP, or a
        /// user's abc outside these two classes) is either in the feature-learning regime or has a different kernel limit.
        /// </summary>
        public Parameterization? KernelForm =>
            Equivalent(Ntk) ? Parameterization.Ntk : Equivalent(Standard) ? Parameterization.Standard : null;

        /// <summary>Whether training at infinite width is kernel gradient descent with the NNGP/NTK NtkDsl computes (<see cref="KernelForm"/>).</summary>
        public bool HasKernelLimit => KernelForm is not null;

        /// <summary>Why there is no infinite-width kernel (null when there is one), as one clause.</summary>
        public string? NoKernelReason => HasKernelLimit ? null : Kind is Parameterization.Abc
            ? "its abc exponents are not those of Parameterization.Ntk (constants in the multiplier) or Parameterization.Standard (constants in the " +
              "initialization) up to Yang & Hu's symmetry (a, b, c) -> (a + t, b - t, c - 2t) per layer, the two classes whose infinite-width kernel " +
              "NtkDsl computes; any other abc-parameterization learns features at every width or tends to a different kernel (see docs/parameterizations.md)"
            : $"under Parameterization.{Kind} the network learns features at every width (Yang & Hu 2021), so its NTK keeps moving during training " +
              "and no fixed infinite-width kernel describes the trained network";

        private bool Equivalent(AbcParameterization builtin) =>
            ConstantsInMultiplier == builtin.ConstantsInMultiplier &&
            SameInvariants(Input, builtin.Input) && SameInvariants(Hidden, builtin.Hidden) && SameInvariants(Output, builtin.Output);

        private static bool SameInvariants(AbcExponents x, AbcExponents y) => x.A + x.B == y.A + y.B && 2 * x.A + x.C == 2 * y.A + y.C;

        /// <summary>"NTK parameterization", ..., or for a user's abc its exponents and where the constants go; and the base width if any.</summary>
        public override string ToString() =>
            (Kind == Parameterization.Abc
                ? $"abc parameterization (input {Format(Input)}, hidden {Format(Hidden)}, output {Format(Output)}, constants in the {(ConstantsInMultiplier ? "multiplier" : "initialization")})"
                : $"{Name} parameterization") + (BaseWidth > 0 ? $" with base width {BaseWidth}" : "");

        private static string Format(AbcExponents e) =>
            string.Format(System.Globalization.CultureInfo.InvariantCulture, "({0:R}, {1:R}, {2:R})", e.A, e.B, e.C);
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
        public static LayerScaling Of(AbcParameterization abc, LayerRole role, double weightStd, double biasStd, bool hasBias, long fanIn, long fanOut)
        {
            long k = Math.Max(1, fanIn), width = role == LayerRole.Input ? Math.Max(1, fanOut) : k;
            bool inMultiplier = abc.ConstantsInMultiplier;

            // Weights: kappa = sigma_w / sqrt(k) for the input layer, sigma_w otherwise; kappa^2 is formed from sigma_w^2 so
            // that the NTK and standard parameterizations keep their historical literals (sigma_w^2 / k) bit for bit.
            var w = abc.Weights(role);
            var sp = AbcParameterization.Standard.Weights(role);
            double kappa = role == LayerRole.Input ? weightStd / Math.Sqrt(k) : weightStd;
            double kappa2 = role == LayerRole.Input ? weightStd * weightStd / k : weightStd * weightStd;
            double weightScale = Scale(inMultiplier ? kappa : 1, width, w.A, sp.A);
            double weightInit = Scale(inMultiplier ? 1 : kappa, width, w.B, sp.B);
            double weightRate = Scale(1, width, w.C, sp.C);
            double ntkWeight = Scale(Scale(inMultiplier ? kappa2 : 1, width, 2 * w.A, 2 * sp.A), width, w.C, sp.C);

            // Bias: a weight from a constant input into the layer's fan-out outputs (fixed size for the output layer).
            var b = abc.Bias(role);
            var spb = AbcParameterization.Standard.Bias(role);
            long biasWidth = Math.Max(1, fanOut);
            double biasScale = !hasBias ? 0 : Scale(inMultiplier ? biasStd : 1, biasWidth, b.A, spb.A);
            double biasInit = Scale(inMultiplier ? 1 : biasStd, biasWidth, b.B, spb.B);
            double biasRate = !hasBias ? 0 : Scale(1, biasWidth, b.C, spb.C);
            double ntkBias = !hasBias ? 0 : Scale(Scale(inMultiplier ? biasStd * biasStd : 1, biasWidth, 2 * b.A, 2 * spb.A), biasWidth, b.C, spb.C);
            return new LayerScaling(weightScale, biasScale, weightInit, biasInit, weightRate, biasRate, ntkWeight, ntkBias);

            // constant n^-e, or with a base width n0 constant n^-e_SP (n / n0)^-(e - e_SP): exactly the standard value at n = n0.
            double Scale(double constant, long n, double exponent, double standard) =>
                abc.BaseWidth <= 0 ? Power(constant, n, exponent)
                : n == abc.BaseWidth ? Power(constant, n, standard)
                : Power(Power(constant, n, standard), (double)n / abc.BaseWidth, exponent - standard);
        }

        /// <summary>
        /// The role of the layer with weights number <paramref name="index"/> (0-based) among <paramref name="count"/>:
        /// the first is the input layer, the last the output layer, a single one the output layer.
        /// </summary>
        public static LayerRole RoleOf(int index, int count) =>
            index == count - 1 ? LayerRole.Output : index == 0 ? LayerRole.Input : LayerRole.Hidden;

        // constant * n^-exponent, dividing by exact powers for the half-integer exponents used (so sqrt(n), n, n^2 appear
        // exactly as a hand-written formula would have them).
        private static double Power(double constant, double n, double exponent) =>
            exponent == 0 ? constant : exponent > 0 ? constant / Power(n, exponent) : constant * Power(n, -exponent);

        private static double Power(double n, double exponent) => exponent switch
        {
            0.5 => Math.Sqrt(n),
            1 => n,
            1.5 => n * Math.Sqrt(n),
            2 => n * n,
            _ => Math.Pow(n, exponent),
        };
    }
}

using System;

namespace NtkDsl.Layers;

/// <summary>
/// The scalings of a Dense layer under each parameterization, written once. This file is compiled into both
/// the runtime and the source generator (linked from src/NtkDsl.Generator), so the constants the generator
/// writes into network code and the numbers the runtime uses (initializer, Torch autograd baseline,
/// description) cannot drift apart.
/// </summary>
/// <remarks>
/// NTK parameterization: z = (w_std / sqrt(fan_in)) W a + b_std b with W, b ~ N(0, 1).
/// Standard parameterization: z = W a + b with W ~ N(0, w_std^2 / fan_in), b ~ N(0, b_std^2).
/// The layer's empirical NTK term is &lt;D, D'&gt; (NtkWeightCoefficient &lt;a, a'&gt; + NtkBiasCoefficient).
/// </remarks>
internal static class DenseScaling
{
    /// <summary>The factor of W a in the forward pass.</summary>
    public static double WeightScale(double weightStd, long fanIn, bool standard) => standard ? 1.0 : weightStd / Math.Sqrt(fanIn);

    /// <summary>The factor of b in the forward pass (0 without a bias).</summary>
    public static double BiasScale(double biasStd, bool hasBias, bool standard) => !hasBias ? 0.0 : standard ? 1.0 : biasStd;

    /// <summary>The standard deviation W is drawn with.</summary>
    public static double WeightInitStd(double weightStd, long fanIn, bool standard) => standard ? weightStd / Math.Sqrt(fanIn) : 1.0;

    /// <summary>The standard deviation b is drawn with.</summary>
    public static double BiasInitStd(double biasStd, bool standard) => standard ? biasStd : 1.0;

    /// <summary>The factor of the input Gram &lt;a, a'&gt; in the layer's empirical NTK term.</summary>
    public static double NtkWeightCoefficient(double weightStd, long fanIn, bool standard) => standard ? 1.0 : weightStd * weightStd / fanIn;

    /// <summary>The constant added to the input Gram in the layer's empirical NTK term (0 without a bias).</summary>
    public static double NtkBiasCoefficient(double biasStd, bool hasBias, bool standard) => !hasBias ? 0.0 : standard ? 1.0 : biasStd * biasStd;
}

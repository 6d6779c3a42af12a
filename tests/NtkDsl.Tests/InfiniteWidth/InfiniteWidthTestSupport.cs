using MathNet.Numerics.LinearAlgebra;
using Xunit;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>Shared helpers: random inputs, norms, eigenvalues.</summary>
internal static class InfiniteWidthTestSupport
{
    /// <summary>Standard normal N x d matrix.</summary>
    public static Matrix<double> RandomInputs(int n, int d, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        var m = new Matrix<double>(n, d);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = scale * Gaussian(rng);
        return m;
    }

    /// <summary>Box-Muller standard normal.</summary>
    public static double Gaussian(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble();
        double u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>||a - b||_F / ||b||_F.</summary>
    public static double RelativeFrobenius(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++)
        {
            diff += (a[i] - b[i]) * (a[i] - b[i]);
            norm += b[i] * b[i];
        }

        return Math.Sqrt(diff / norm);
    }

    /// <summary>Smallest and largest eigenvalue of a symmetric matrix.</summary>
    public static (double Min, double Max) EigenRange(Matrix<double> m)
    {
        var dense = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(m.Rows, m.Cols, (r, c) => m[r, c]);
        var values = dense.Evd(Symmetricity.Symmetric).EigenValues;
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var v in values)
        {
            min = Math.Min(min, v.Real);
            max = Math.Max(max, v.Real);
        }

        return (min, max);
    }

    /// <summary>A d -> width (-> act -> width)* -> outputs network.</summary>
    public static NetworkDescription Mlp(int inputs, int width, int hidden, Activation activation, Parameterization parameterization,
        double weightStd = 1.3, double biasStd = 0.2, int outputs = 1, bool bias = true)
    {
        var layers = new List<LayerSpec>();
        for (int l = 0; l < hidden; l++)
        {
            layers.Add(LayerSpec.Dense(width, bias: bias));
            layers.Add(LayerSpec.Act(activation));
        }

        layers.Add(LayerSpec.Dense(outputs, bias: bias));
        return NetworkDescription.Create($"Mlp{hidden}x{width}{activation}", inputs, parameterization, weightStd, biasStd, layers);
    }

    /// <summary>Every activation kind with representative coefficients.</summary>
    public static IEnumerable<Activation> AllActivations() =>
    [
        Activation.Relu, Activation.LeakyRelu(0.1), Activation.Abs, Activation.Erf(), Activation.Erf(0.7, 1.3, 0.2),
        Activation.Plain(ActivationKind.Tanh), Activation.Plain(ActivationKind.Sigmoid), Activation.Plain(ActivationKind.Gelu),
        Activation.Plain(ActivationKind.Softplus), Activation.Sin(), Activation.Sin(1.2, 0.8, 0.5), Activation.Plain(ActivationKind.Identity),
    ];

    /// <summary>Activations as xunit theory data.</summary>
    public static TheoryData<string> ActivationNames()
    {
        var data = new TheoryData<string>();
        foreach (var a in AllActivations()) data.Add(a.ToString());
        return data;
    }

    /// <summary>The activation named by <see cref="ActivationNames"/>.</summary>
    public static Activation ByName(string name) => AllActivations().Single(a => a.ToString() == name);
}

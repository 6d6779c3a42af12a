using System.Globalization;
using System.Reflection;
using CsCheck;

namespace NtkDsl.Generator.Tests;

/// <summary>
/// Property-based tests: random valid architectures generate code that compiles and whose Jacobian matches
/// finite differences; random invalid declarations give diagnostics and never an exception.
/// </summary>
public class PropertyTests
{
    private static readonly string[] Activations =
        ["Relu", "LeakyRelu(0.15)", "Abs", "Erf", "Erf(A = 0.8, B = 1.3, C = -0.2)", "Tanh", "Sigmoid", "Gelu", "Softplus", "Sin", "Sin(A = 1.5, B = 0.5, C = 1.0)", "Identity"];

    private sealed record Arch(int Inputs, bool Standard, double WeightStd, double BiasStd, (int Width, bool Bias, string Activation)[] Hidden, int Outputs)
    {
        public string Source(string name) =>
            $"[Network(Inputs = {Inputs}, WeightStd = {WeightStd.ToString("R", CultureInfo.InvariantCulture)}, BiasStd = {BiasStd.ToString("R", CultureInfo.InvariantCulture)}" +
            $"{(Standard ? ", Parameterization = Parameterization.Standard" : "")})]\n" +
            string.Concat(Hidden.Select(h => $"[Dense({h.Width}{(h.Bias ? "" : ", Bias = false")}), {h.Activation}]\n")) +
            $"[Dense({Outputs})]\npublic partial class {name};\n";
    }

    private static readonly Gen<Arch> ArchGen =
        from inputs in Gen.Int[1, 5]
        from standard in Gen.Bool
        from weightStd in Gen.Double[0.5, 2.0]
        from biasStd in Gen.Double[0.05, 1.0]
        // Every hidden layer has a bias: without one, a layer behind a dead ReLU unit gets a pre-activation of
        // exactly 0, a kink where finite differences measure the mean slope while every framework (PyTorch, us)
        // uses one side. Layers without bias are covered by the fixed networks of the numerics tests.
        from hidden in Gen.Select(Gen.Int[1, 12], Gen.Int[0, Activations.Length - 1], (w, a) => (w, true, Activations[a])).Array[0, 5]
        from outputs in Gen.Int[1, 3]
        select new Arch(inputs, standard, weightStd, biasStd, hidden, outputs);

    [Fact]
    public void Random_architectures_compile_and_their_Jacobians_match_finite_differences()
    {
        // Depth 1-6 Dense layers, widths 1-12 (1-64 is the issue's range; small widths keep finite differences cheap), every activation.
        ArchGen.Array[6, 6].Sample(archs =>
        {
            var source = "using NtkDsl;\nnamespace Random;\n" + string.Concat(archs.Select((a, i) => a.Source($"Net{i}")));
            var assembly = GeneratorHarness.CompileAndLoad(source);
            for (int i = 0; i < archs.Length; i++)
            {
                var type = assembly.GetType($"Random.Net{i}")!;
                double error = JacobianVsFiniteDifferences(type, archs[i].Inputs);
                if (error > 1e-6) throw new Xunit.Sdk.XunitException($"Net{i}: relative error {error:E2}\n{archs[i].Source($"Net{i}")}");
            }
        }, iter: 4, threads: 1);
    }

    [Fact]
    public void Random_invalid_declarations_give_diagnostics_and_never_throw()
    {
        var attribute = OneOf(
            "[Dense(0)]", "[Dense(-4)]", "[Dense(3)]", "[Dense(2, WeightStd = -1)]", "[Dense(2, BiasStd = double.NaN)]", "[Relu]",
            "[LeakyRelu(double.NaN)]", "[Erf(A = double.PositiveInfinity)]", "[Tanh]", "[Dense(2, Bias = false, BiasStd = 1)]");
        var header = OneOf(
            "[Network(Inputs = 0)]", "[Network(Inputs = -1)]", "[Network]", "[Network(Inputs = 2, WeightStd = double.NaN)]",
            "[Network(Inputs = 2, BiasStd = -0.1)]", "[Network(Inputs = 2, Parameterization = (Parameterization)3)]", "[Network(Inputs = 2)]");
        var keyword = OneOf("public partial class", "public class", "public static partial class", "internal partial class");
        Gen.Select(header, attribute.Array[0, 6], keyword).Sample((h, layers, k) =>
        {
            var body = k.Contains("static") ? " { }" : ";";
            var source = $"using NtkDsl;\nnamespace Bad;\n{h}\n{string.Concat(layers.Select(l => l + "\n"))}{k} Net{body}\n";
            var (result, _, _) = GeneratorHarness.Run(source);
            if (result.Exception is not null) throw new Xunit.Sdk.XunitException($"Generator threw on:\n{source}\n{result.Exception}");
            bool hasError = result.Diagnostics.Any(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
            bool generated = result.GeneratedSources.Length > 0;
            if (hasError == generated) throw new Xunit.Sdk.XunitException($"Errors ({hasError}) and generated source ({generated}) must exclude each other:\n{source}");
            if (hasError == LooksValid(h, layers, k)) throw new Xunit.Sdk.XunitException($"Expected {(hasError ? "no" : "an")} error diagnostic for:\n{source}");
        }, iter: 300, threads: 1);
    }

    private static Gen<string> OneOf(params string[] choices) => Gen.Int[0, choices.Length - 1].Select(i => choices[i]);

    // Valid iff: a sane header, a partial non-static class, every layer valid, last layer Dense.
    private static bool LooksValid(string header, string[] layers, string keyword) =>
        header == "[Network(Inputs = 2)]" && keyword is "public partial class" or "internal partial class" && layers.Length > 0 &&
        layers.All(l => l is "[Dense(3)]" or "[Relu]" or "[Tanh]" or "[Dense(2, Bias = false, BiasStd = 1)]") &&
        layers[^1].StartsWith("[Dense", StringComparison.Ordinal);

    private static double JacobianVsFiniteDifferences(Type net, int inputs)
    {
        int parameters = (int)net.GetField("ParameterCount")!.GetValue(null)!;
        var theta = (double[])Generic(net, "InitializeParameters").Invoke(null, [7])!;
        var random = new Random(11);
        var x = new Matrix<double>(3, inputs);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] = 2 * random.NextDouble() - 1;
        var forward = Generic(net, "Forward");
        var jacobian = (Matrix<double>)Generic(net, "Jacobian").Invoke(null, [theta, x])!;
        const double h = 1e-5;
        double diff = 0, scale = 1e-12;
        for (int p = 0; p < parameters; p++)
        {
            var plus = (double[])theta.Clone();
            var minus = (double[])theta.Clone();
            plus[p] += h;
            minus[p] -= h;
            var fp = (Matrix<double>)forward.Invoke(null, [plus, x])!;
            var fm = (Matrix<double>)forward.Invoke(null, [minus, x])!;
            for (int r = 0; r < jacobian.Rows; r++)
            {
                double fd = (fp.Data[r] - fm.Data[r]) / (2 * h);
                diff = Math.Max(diff, Math.Abs(fd - jacobian[r, p]));
                scale = Math.Max(scale, Math.Abs(jacobian[r, p]));
            }
        }
        return diff / Math.Max(scale, 1.0);
    }

    private static MethodInfo Generic(Type net, string name) =>
        net.GetMethods(BindingFlags.Public | BindingFlags.Static).Single(m => m.Name == name && m.GetGenericArguments().Length == 1).MakeGenericMethod(typeof(double));
}

namespace NtkDsl.Generator.Tests;

/// <summary>Locks down the generated code of representative networks (review diffs of the .verified.cs files).</summary>
public class SnapshotTests
{
    private static void Verify(string source, string test)
    {
        var (result, _, diagnostics) = GeneratorHarness.Run(source);
        Assert.Null(result.Exception);
        Assert.Empty(diagnostics.Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error));
        Assert.NotEmpty(result.GeneratedSources);
        foreach (var generated in result.GeneratedSources)
            SnapshotAssert.MatchesGenerated(generated.HintName, generated.SourceText.ToString(), nameof(SnapshotTests), test);
    }

    [Fact]
    public void ReadmeNetwork() => Verify("""
        using NtkDsl;
        namespace Demo;

        [Network(Inputs = 2, WeightStd = 1.5, BiasStd = 0.1)]
        [Dense(512), Relu]
        [Dense(512), Erf]
        [Dense(1)]
        public partial class TwoLayerNet;
        """, nameof(ReadmeNetwork));

    [Fact]
    public void ConvNetwork() => Verify("""
        using NtkDsl;
        namespace Demo;

        [Network(Channels = 1, Height = 8, Width = 8, WeightStd = 1.4, BiasStd = 0.1)]
        [Conv(8, 3, Padding = Padding.Same), Relu]
        [AvgPool(2)]
        [Conv(16, 3, Bias = false), Erf]
        [GlobalAvgPool]
        [Dense(2)]
        public partial class ConvNet;
        """, nameof(ConvNetwork));

    // A convolution read out by the global pool with a smooth activation below it, whose derivative the readout's input
    // cotangent takes as it is formed (ConvRule.ActivationBelow).
    [Fact]
    public void ConvReadoutThroughAnActivation() => Verify("""
        using NtkDsl;
        namespace Demo;

        [Network(Channels = 2, Height = 6, Width = 6, WeightStd = 1.4, BiasStd = 0.1)]
        [Conv(4, 3, Padding = Padding.Same), Tanh]
        [Conv(4, 3), Relu]
        [GlobalAvgPool]
        [Dense(3)]
        public partial class ReadoutNet;
        """, nameof(ConvReadoutThroughAnActivation));

    [Fact]
    public void ResidualNetwork() => Verify("""
        using NtkDsl;
        namespace Demo;

        [Network(Channels = 1, Height = 6, Width = 6, WeightStd = 1.4, BiasStd = 0.1)]
        [Conv(4, 3, Padding = Padding.Same)]
        [Repeat(typeof(Block), 2)]
        [FanInConcat(typeof(Wide), typeof(Pointwise))]
        [Relu, GlobalAvgPool]
        [Dense(2)]
        public partial class ResNet
        {
            [Residual(typeof(Inner))]
            private sealed class Block;

            [LayerNorm, Relu, Conv(4, 3, Padding = Padding.Same)]
            private sealed class Inner;

            [Conv(2, 3, Padding = Padding.Same)]
            private sealed class Wide;

            [Conv(2, 1)]
            private sealed class Pointwise;
        }
        """, nameof(ResidualNetwork));

    [Fact]
    public void MultiOutputNetwork() => Verify("""
        using NtkDsl;
        namespace Demo.Models;

        [Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.1)]
        [Dense(256), Relu]
        [Dense(256), Erf]
        [Dense(2)]
        public partial class MyNet;
        """, nameof(MultiOutputNetwork));

    [Fact]
    public void StandardParameterizationWithoutBias() => Verify("""
        using NtkDsl;
        namespace Demo;

        [Network(Inputs = 4, WeightStd = 2.0, BiasStd = 0.05, Parameterization = Parameterization.Standard)]
        [Dense(16, Bias = false), LeakyRelu(0.2)]
        [Dense(8, WeightStd = 1.0), Abs]
        [Dense(3)]
        internal partial class StandardNet;
        """, nameof(StandardParameterizationWithoutBias));

    [Fact]
    public void MaximalUpdateParameterization() => Verify("""
        using NtkDsl;
        namespace Demo;

        [Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.1, Parameterization = Parameterization.MaximalUpdate)]
        [Dense(64), Relu]
        [Dense(32), Tanh]
        [Dense(2)]
        public partial class MupNet;
        """, nameof(MaximalUpdateParameterization));

    [Fact]
    public void MeanFieldParameterization() => Verify("""
        using NtkDsl;
        namespace Demo;

        [Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.1, Parameterization = Parameterization.MeanField)]
        [Dense(64), Relu]
        [Dense(2)]
        public partial class MeanFieldNet;
        """, nameof(MeanFieldParameterization));

    [Fact]
    public void NestedNetworkWithCoefficients() => Verify("""
        using NtkDsl;
        namespace Demo;

        public static partial class Outer
        {
            public partial record Holder
            {
                [Network(Inputs = 1)]
                [Dense(32, BiasStd = 0.5), Sin(A = 2.0, B = 0.5, C = 0.25)]
                [Dense(32), Gelu]
                [Dense(1, WeightStd = 0.7)]
                internal partial class Inner;
            }
        }
        """, nameof(NestedNetworkWithCoefficients));

    [Fact]
    public void QuadratureActivationsInGlobalNamespace() => Verify("""
        using NtkDsl;

        [Network(Inputs = 5, WeightStd = 1.3, BiasStd = 0.2)]
        [Dense(10), Tanh]
        [Dense(10), Sigmoid]
        [Dense(10), Softplus, Identity]
        [Dense(2)]
        public partial class ManyActivations;
        """, nameof(QuadratureActivationsInGlobalNamespace));

    [Fact]
    public void LinearModel() => Verify("""
        using NtkDsl;
        namespace Demo;

        [Network(Inputs = 3, BiasStd = 1)]
        [Dense(1)]
        public partial class Linear;
        """, nameof(LinearModel));

    [Fact]
    public void UserDefinedActivation() => Verify("""
        using NtkDsl;
        namespace Demo;

        [Network(Inputs = 2, WeightStd = 1.4, BiasStd = 0.1)]
        [Dense(8), Elementwise(nameof(Swish), nameof(SwishDerivative))]
        [Dense(1)]
        public partial class SwishNet
        {
            private static double Swish(double x) => x / (1 + System.Math.Exp(-x));
            private static double SwishDerivative(double x) { double s = 1 / (1 + System.Math.Exp(-x)); return s + x * s * (1 - s); }
        }
        """, nameof(UserDefinedActivation));

    [Fact]
    public void DiagnosticsOfBadDeclarations()
    {
        var diagnostics = GeneratorHarness.Diagnostics("""
            using NtkDsl;
            namespace Demo;

            [Network(Inputs = 0)]
            [Dense(0), Relu]
            public partial class Bad1;

            [Network(Inputs = 2, WeightStd = -1)]
            [Dense(4), Relu]
            public partial class Bad2;

            [Network(Inputs = 2)]
            public class Bad3;

            [Network(Inputs = 2)]
            [Dense(4, Bias = false, BiasStd = 1.0)]
            public partial class Warn1;
            """);
        var text = string.Join("\n", diagnostics.Select(d =>
            $"{d.Id} {d.Severity} ({d.Location.GetLineSpan().StartLinePosition.Line + 1},{d.Location.GetLineSpan().StartLinePosition.Character + 1}): {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}")) + "\n";
        SnapshotAssert.MatchesText(text, nameof(SnapshotTests), nameof(DiagnosticsOfBadDeclarations));
    }
}

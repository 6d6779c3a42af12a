using NtkDsl.Generator.Emitting.Rules;

namespace NtkDsl.Generator.Tests;

/// <summary>
/// The conv NTK cost model: each layer's choice between Jacobian contraction and position pairs follows its documented
/// FLOP counts, and the generated comment states both counts and the choice. The numbers of both strategies are
/// checked against explicit J J^T on networks where each is chosen (NtkDsl.Tests Conv/ConvNetworks.cs).
/// </summary>
public class ConvStrategyTests
{
    private const string Source = """
        using NtkDsl;
        namespace Demo;

        [Network(Channels = 1, Height = 8, Width = 8)]
        [Conv(8, 3, Padding = Padding.Same), Relu]
        [AvgPool(4)]
        [Conv(64, 2), Relu]
        [GlobalAvgPool]
        [Dense(3)]
        public partial class TwoStrategies;
        """;

    [Fact]
    public void Each_conv_layer_states_both_counts_and_picks_the_cheaper_strategy()
    {
        var (result, _, diagnostics) = GeneratorHarness.Run(Source);
        Assert.DoesNotContain(diagnostics, d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        string text = result.GeneratedSources.Single().SourceText.ToString();

        // Layer 1: F = 9, O = 8, P = 64: J contraction 3 * 2 * 8 * 10 = 480; position pairs 2 * 9 * 4096 + 3 * 2 * 4096 * 9.
        Assert.Contains("Jacobian contraction 480 FLOPs", text);
        Assert.Contains("position pairs 294,912 FLOPs", text);
        Assert.Contains("Jacobian contraction chosen.", text);
        // Layer 4: input [8, 2, 2], F = 32, O = 64, P = 1: J contraction 3 * 2 * 64 * 33 = 12,672; position pairs 64 + 3 * 2 * 65 = 454.
        Assert.Contains("Jacobian contraction 12,672 FLOPs", text);
        Assert.Contains("position pairs 454 FLOPs", text);
        Assert.Contains("position pairs chosen.", text);
        Assert.Contains("backend.PositionPairAccumulate(", text);
        Assert.Contains("backend.MatMulTransposeB(NtkGenerated.Fold(backend, j1_1, fold), NtkGenerated.Fold(backend, j2_1, fold)", text);
    }

    [Theory]
    [InlineData(16, 16, 3, 2, 2, true)]   // small spatial extent, wide channels
    [InlineData(1, 32, 3, 28, 28, false)] // ntk-cnn-small's first layer
    [InlineData(32, 32, 3, 28, 28, false)]
    public void Cost_model_prefers_position_pairs_only_where_P_squared_is_small_against_the_fan_in(int channelsIn, int channelsOut, int kernel, int height, int width, bool positionPairs)
    {
        long f = (long)channelsIn * kernel * kernel, p = (long)height * width;
        var (jacobian, pairs) = ConvRule.Costs(channelsOut, f, p, outputs: 10);
        Assert.Equal(10 * 2 * channelsOut * (f + 1), jacobian);
        Assert.Equal(2 * f * p * p + 10 * 2 * p * p * (channelsOut + 1), pairs);
        Assert.Equal(positionPairs, pairs < jacobian);
    }

    // Readout-route declarations: ntk-cnn-small, and the shapes of the networks NtkDsl.Tests checks against explicit J J^T.
    public static TheoryData<string, string, string> Readouts() => new()
    {
        {
            "[Network(Channels = 1, Height = 28, Width = 28)] [Conv(32, 3, Padding = Padding.Same), Relu] [Conv(32, 3, Padding = Padding.Same), Relu] [GlobalAvgPool] [Dense(10)]",
            // C = 32, F = 288, P = 784, C_in Hin Win = 25,088, O = 10: per pair 2 * 32 * 289 + 10 * 2 * 32; per sample 2 * (2 * 32 * 288 * 784) + 10 * 2 * 32 * 25,088.
            "readout through layer 5's global average pool 19,136 FLOPs (+ 44,957,696 per sample with the input cotangent; the other two 289,013,760 and 144,506,880 per sample",
            "readout chosen."
        },
        { "[Network(Channels = 2, Height = 5, Width = 5)] [Conv(3, 3, Padding = Padding.Same), Relu] [Conv(4, 3, Padding = Padding.Same), Tanh, LeakyRelu(0.1)] [GlobalAvgPool] [Dense(5), Erf] [Dense(3)]", "readout through layer 6's", "readout chosen." },
        { "[Network(Channels = 2, Length = 9)] [Conv(6, 3, Stride = 2, Bias = false), Tanh] [GlobalAvgPool] [Dense(2)]", "readout through layer 3's", "readout chosen." },
        // One output: the readout costs 2 C more per sample pair than the Jacobian contraction.
        { "[Network(Channels = 1, Height = 4, Width = 4)] [Conv(3, 3, Padding = Padding.Same), Relu] [Conv(3, 2), Erf] [GlobalAvgPool] [Dense(4), Relu] [Dense(1)]", "readout through layer 5's", "Jacobian contraction chosen." },
    };

    [Theory]
    [MemberData(nameof(Readouts))]
    public void A_convolution_read_out_by_a_global_pool_states_the_readout_counts_and_takes_it_where_cheaper(string layers, string counts, string choice)
    {
        var (result, _, diagnostics) = GeneratorHarness.Run($"using NtkDsl;\nnamespace Demo;\n{layers}\npublic partial class Net;");
        Assert.DoesNotContain(diagnostics, d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        string text = result.GeneratedSources.Single().SourceText.ToString();
        Assert.Contains(counts, text);
        var line = text.Split('\n').Single(l => l.Contains("// readout through") && l.Contains("per sample"));
        Assert.EndsWith(choice, line.Trim());
        Assert.Equal(choice == "readout chosen.", text.Contains("backend.ChannelGramAccumulate("));
        // The input cotangent goes through the per-channel maps only where parameters come before the convolution.
        Assert.Equal(choice == "readout chosen." && line.Contains("with the input cotangent"),
            text.Contains("backend.SeparableConvCotangent(") || text.Contains("backend.SeparableConvJacobian("));
    }

    // The readout's input cotangent is contracted straight into the Jacobian of the convolution below when that is its only
    // use: the convolution is the first layer with parameters, reads the readout (or its activation) alone and takes the
    // Jacobian contraction. Otherwise the cotangent is stored and the walk goes on through it.
    [Theory]
    [InlineData("[Network(Channels = 1, Height = 28, Width = 28)] [Conv(32, 3, Padding = Padding.Same), Relu] [Conv(32, 3, Padding = Padding.Same), Relu] [GlobalAvgPool] [Dense(10)]", true)]
    [InlineData("[Network(Channels = 2, Height = 6, Width = 6)] [Conv(4, 3, Padding = Padding.Same, Bias = false)] [Conv(4, 3), Relu] [GlobalAvgPool] [Dense(3)]", true)]
    [InlineData("[Network(Channels = 1, Height = 8, Width = 8)] [Conv(4, 3, Padding = Padding.Same), Relu] [Conv(4, 3, Padding = Padding.Same), Relu] [Conv(4, 3), Relu] [GlobalAvgPool] [Dense(3)]", false)]
    public void The_readout_cotangent_goes_straight_into_the_first_convolutions_jacobian(string layers, bool fused)
    {
        var (result, _, diagnostics) = GeneratorHarness.Run($"using NtkDsl;\nnamespace Demo;\n{layers}\npublic partial class Net;");
        Assert.DoesNotContain(diagnostics, d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        string text = result.GeneratedSources.Single().SourceText.ToString();
        string pass = text[text.IndexOf("public static void NtkPass", StringComparison.Ordinal)..];
        Assert.Equal(fused, pass.Contains("backend.SeparableConvJacobian("));
        Assert.Equal(!fused, pass.Contains("backend.SeparableConvCotangent("));
        // Fused, the layer's Jacobian blocks come from the readout alone (no RowProducts or SumPositions on a stored cotangent).
        if (fused) Assert.DoesNotContain("backend.RowProducts(", pass);
        Assert.Equal(fused, text.Contains("Its Jacobian blocks are contracted from the input cotangent"));
    }

    [Fact]
    public void The_readout_route_needs_the_pool_to_read_the_convolution_alone_through_activations()
    {
        // A pooling layer between the convolution and the global pool, and a fan-out of the convolution's output: no readout line.
        foreach (var layers in new[]
                 {
                     "[Network(Channels = 1, Height = 8, Width = 8)] [Conv(8, 3), Relu] [AvgPool(2)] [GlobalAvgPool] [Dense(3)]",
                     "[Network(Channels = 1, Height = 6, Width = 6)] [Conv(4, 3, Padding = Padding.Same)] [Residual(typeof(Block))] [GlobalAvgPool] [Dense(3)]",
                 })
        {
            var (result, _, diagnostics) = GeneratorHarness.Run($"using NtkDsl;\nnamespace Demo;\n{layers}\npublic partial class Net\n{{\n    [Relu] private sealed class Block;\n}}");
            Assert.DoesNotContain(diagnostics, d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
            string text = result.GeneratedSources.Single().SourceText.ToString();
            Assert.DoesNotContain("readout through", text);
            Assert.DoesNotContain("ChannelGramAccumulate", text);
        }
    }

    [Fact]
    public void Readout_costs_follow_the_documented_formula()
    {
        // C = 4, F = 27, P = 25, C_in Hin Win = 50, O = 3.
        Assert.Equal((2 * 4 * 28 + 3 * 2 * 4, 2 * 4 * 27 * 25 + 2 * 4 * 27 * 25 + 3 * 2 * 4 * 50), ConvRule.ReadoutCosts(4, 27, 25, 50, 3, cotangent: true));
        Assert.Equal((2L * 4 * 28 + 3 * 2 * 4, 2L * 4 * 27 * 25), ConvRule.ReadoutCosts(4, 27, 25, 50, 3, cotangent: false));
        Assert.Equal((2L * 3 * 2 * 4 * 27 * 25, 3L * 2 * 4 * 27 * 25), ConvRule.PerSampleCosts(4, 27, 25, 3, cotangent: true));
    }
}

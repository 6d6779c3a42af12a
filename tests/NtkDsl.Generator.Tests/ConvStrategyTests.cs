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
}

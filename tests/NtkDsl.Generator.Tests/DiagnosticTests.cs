using Microsoft.CodeAnalysis;

namespace NtkDsl.Generator.Tests;

/// <summary>One test per diagnostic: its id, severity, and that it points at the offending attribute.</summary>
public class DiagnosticTests
{
    internal const string Usings = "using NtkDsl;\nnamespace Demo;\n";

    // Asserts exactly one generator diagnostic with this id, located on source text starting with `at`.
    internal static Diagnostic Single(string source, string id, string at, DiagnosticSeverity severity = DiagnosticSeverity.Error)
    {
        var (result, output, _) = GeneratorHarness.Run(Usings + source);
        Assert.Null(result.Exception);
        var matching = result.Diagnostics.Where(d => d.Id == id).ToList();
        var diagnostic = Assert.Single(matching);
        Assert.Equal(severity, diagnostic.Severity);
        // Generator locations are file/span pairs (no syntax tree is kept in the pipeline): resolve them by path.
        var tree = output.SyntaxTrees.Single(t => t.FilePath == diagnostic.Location.GetLineSpan().Path);
        var located = tree.GetText().ToString(diagnostic.Location.SourceSpan);
        Assert.StartsWith(at, located);
        if (severity == DiagnosticSeverity.Error) Assert.Empty(result.GeneratedSources);
        return diagnostic;
    }

    [Fact]
    public void Valid_network_produces_no_diagnostics_and_compiles()
    {
        var (result, _, diagnostics) = GeneratorHarness.Run(Usings + """
            [Network(Inputs = 3, WeightStd = 1.5, BiasStd = 0.1)]
            [Dense(256), Relu]
            [Dense(256), Erf]
            [Dense(2)]
            public partial class MyNet;
            """);
        Assert.Empty(result.Diagnostics);
        Assert.Empty(diagnostics);
        Assert.Single(result.GeneratedSources);
    }

    [Fact]
    public void NTK0001_class_not_partial() =>
        Single("[Network(Inputs = 2)]\n[Dense(1)]\npublic class Net;", "NTK0001", "Network(");

    [Fact]
    public void NTK0002_missing_inputs() =>
        Single("[Network]\n[Dense(1)]\npublic partial class Net;", "NTK0002", "Network");

    [Fact]
    public void NTK0002_negative_inputs() =>
        Assert.Contains("-3", Single("[Network(Inputs = -3)]\n[Dense(1)]\npublic partial class Net;", "NTK0002", "Network(").GetMessage());

    [Fact]
    public void NTK0003_no_layers() =>
        Single("[Network(Inputs = 2)]\npublic partial class Net;", "NTK0003", "Network(");

    [Fact]
    public void NTK0004_non_positive_width() =>
        Single("[Network(Inputs = 2)]\n[Dense(8), Relu, Dense(-1)]\npublic partial class Net;", "NTK0004", "Dense(-1)");

    [Theory]
    [InlineData("[Network(Inputs = 2, WeightStd = -0.5)]\n[Dense(1)]", "Network(")]
    [InlineData("[Network(Inputs = 2, BiasStd = double.NaN)]\n[Dense(1)]", "Network(")]
    [InlineData("[Network(Inputs = 2)]\n[Dense(1, WeightStd = double.PositiveInfinity)]", "Dense(1")]
    [InlineData("[Network(Inputs = 2)]\n[Dense(1, BiasStd = -1)]", "Dense(1")]
    public void NTK0005_negative_or_non_finite_std(string attributes, string at) =>
        Single(attributes + "\npublic partial class Net;", "NTK0005", at);

    [Fact]
    public void NTK0006_must_end_in_dense() =>
        Single("[Network(Inputs = 2)]\n[Dense(4), Tanh]\npublic partial class Net;", "NTK0006", "Tanh");

    [Fact]
    public void NTK0007_layers_split_over_partial_declarations() =>
        Single("[Network(Inputs = 2)]\n[Dense(4), Relu]\npublic partial class Net;\n[Dense(1)]\npublic partial class Net;", "NTK0007", "Dense(1)");

    [Fact]
    public void NTK0008_generic_network() =>
        Single("[Network(Inputs = 2)]\n[Dense(1)]\npublic partial class Net<T>;", "NTK0008", "Network(");

    [Fact]
    public void NTK0008_nested_in_generic_type() =>
        Single("public partial class Outer<T> {\n[Network(Inputs = 2)]\n[Dense(1)]\npublic partial class Net; }", "NTK0008", "Network(");

    [Fact]
    public void NTK0009_undefined_parameterization() =>
        Single("[Network(Inputs = 2, Parameterization = (Parameterization)7)]\n[Dense(1)]\npublic partial class Net;", "NTK0009", "Network(");

    [Fact]
    public void NTK0009_non_finite_activation_coefficient() =>
        Single("[Network(Inputs = 2)]\n[Dense(4), Erf(B = double.NaN)]\n[Dense(1)]\npublic partial class Net;", "NTK0009", "Erf(");

    [Fact]
    public void NTK0009_non_finite_leaky_relu_slope() =>
        Single("[Network(Inputs = 2)]\n[Dense(4), LeakyRelu(double.NegativeInfinity)]\n[Dense(1)]\npublic partial class Net;", "NTK0009", "LeakyRelu(");

    [Fact]
    public void NTK0010_containing_type_not_partial() =>
        Single("public class Outer {\n[Network(Inputs = 2)]\n[Dense(1)]\npublic partial class Net; }", "NTK0010", "Network(");

    [Fact]
    public void NTK0011_static_class() =>
        Single("[Network(Inputs = 2)]\n[Dense(1)]\npublic static partial class Net { }", "NTK0011", "Network(");

    [Fact]
    public void NTK0012_too_many_parameters() =>
        Single("[Network(Inputs = 100000)]\n[Dense(100000), Relu]\n[Dense(1)]\npublic partial class Net;", "NTK0012", "Network(");

    [Fact]
    public void NTK0013_bias_std_without_bias_is_a_warning_and_still_generates()
    {
        Single("[Network(Inputs = 2)]\n[Dense(1, Bias = false, BiasStd = 0.3)]\npublic partial class Net;", "NTK0013", "Dense(1", DiagnosticSeverity.Warning);
        Assert.Single(GeneratorHarness.Run(Usings + "[Network(Inputs = 2)]\n[Dense(1, Bias = false, BiasStd = 0.3)]\npublic partial class Net;").Result.GeneratedSources);
    }

    [Fact]
    public void NTK0014_unknown_layer_attribute() =>
        Single("public sealed class PoolAttribute : LayerAttribute { }\n[Network(Inputs = 2)]\n[Dense(4), Pool]\n[Dense(1)]\npublic partial class Net;", "NTK0014", "Pool");

    [Fact]
    public void NTK0015_quadrature_fallback_is_info() =>
        Single("[Network(Inputs = 2)]\n[Dense(4), Softplus]\n[Dense(1)]\npublic partial class Net;", "NTK0015", "Softplus", DiagnosticSeverity.Info);

    [Fact]
    public void NTK0016_no_infinite_width_kernel_when_an_activation_is_not_after_a_dense_layer()
    {
        Single("[Network(Inputs = 2)]\n[Dense(4), Relu, Tanh]\n[Dense(1)]\npublic partial class Net;", "NTK0016", "Tanh", DiagnosticSeverity.Warning);
        var generated = GeneratorHarness.Run(Usings + "[Network(Inputs = 2)]\n[Dense(4), Relu, Tanh]\n[Dense(1)]\npublic partial class Net;").Result.GeneratedSources.Single();
        Assert.DoesNotContain("InfiniteWidth(", generated.SourceText.ToString());
        Assert.Contains("Ntk<T>(", generated.SourceText.ToString());
    }

    [Theory]
    [InlineData("MeanField")]
    [InlineData("MaximalUpdate")]
    public void NTK0040_no_infinite_width_kernel_in_the_feature_learning_regime(string parameterization)
    {
        // Tanh would report NTK0015 (quadrature) and Relu, Tanh NTK0016 under NTK parameterization; here there is no
        // infinite-width kernel at all, so NTK0040 alone says so.
        string source = $"[Network(Inputs = 2, Parameterization = Parameterization.{parameterization})]\n[Dense(4), Relu, Tanh]\n[Dense(1)]\npublic partial class Net;";
        var diagnostic = Single(source, "NTK0040", "Network(", DiagnosticSeverity.Info);
        Assert.Contains(parameterization, diagnostic.GetMessage());
        var (result, _, compile) = GeneratorHarness.Run(Usings + source);
        Assert.Equal(["NTK0040"], result.Diagnostics.Select(d => d.Id));
        Assert.Empty(compile.Where(d => d.Severity == DiagnosticSeverity.Error));
        string generated = result.GeneratedSources.Single().SourceText.ToString();
        Assert.DoesNotContain("InfiniteWidth", generated);
        Assert.Contains("Ntk<T>(", generated);
        Assert.Contains($"Parameterization.{parameterization}", generated);
    }

    [Theory]
    [InlineData("Ntk")]
    [InlineData("Standard")]
    public void NTK0040_is_not_reported_in_the_kernel_regime(string parameterization)
    {
        var (result, _, _) = GeneratorHarness.Run(Usings + $"[Network(Inputs = 2, Parameterization = Parameterization.{parameterization})]\n[Dense(4), Relu]\n[Dense(1)]\npublic partial class Net;");
        Assert.Empty(result.Diagnostics);
        Assert.Contains("InfiniteWidth(", result.GeneratedSources.Single().SourceText.ToString());
    }

    [Fact]
    public void Attributes_that_do_not_compile_leave_the_report_to_the_compiler()
    {
        var (result, _, diagnostics) = GeneratorHarness.Run(Usings + "[Network(Inputs = \"two\")]\n[Dense(1)]\npublic partial class Net;");
        Assert.Null(result.Exception);
        Assert.Empty(result.Diagnostics);
        Assert.Contains(diagnostics, d => d.Severity == DiagnosticSeverity.Error && d.Id.StartsWith("CS", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("[Network(Channels = 1, Height = 8)]\n[Conv(2, 3)]\n[Flatten]\n[Dense(1)]", "NTK0020", "Network", "Channels = 1, Height = 8")]
    [InlineData("[Network(Channels = 1, Height = 3, Width = 3, Inputs = 8)]\n[Conv(2, 3)]\n[Flatten]\n[Dense(1)]", "NTK0020", "Network", "Inputs = 8 (C * H * W is 9)")]
    [InlineData("[Network(Channels = 1, Length = 4, Width = 4)]\n[Conv(2, 3)]\n[Flatten]\n[Dense(1)]", "NTK0020", "Network", "Width = 4, Length = 4")]
    [InlineData("[Network(Inputs = 9)]\n[Conv(2, 3)]\n[Flatten]\n[Dense(1)]", "NTK0021", "Conv", "its input is [9]")]
    [InlineData("[Network(Channels = 1, Height = 4, Width = 4)]\n[Flatten]\n[AvgPool(2)]\n[Dense(1)]", "NTK0021", "AvgPool", "its input is [16]")]
    [InlineData("[Network(Channels = 2, Height = 4, Width = 4)]\n[Conv(3, 3), Relu]\n[Dense(1)]", "NTK0022", "Dense", "[3, 2, 2]")]
    [InlineData("[Network(Channels = 1, Height = 4, Width = 4)]\n[Conv(2, 5)]\n[Flatten]\n[Dense(1)]", "NTK0023", "Conv", "input [1, 4, 4]: a 5x5 window with Valid padding does not fit")]
    [InlineData("[Network(Channels = 1, Length = 4)]\n[Conv(2, 5)]\n[Flatten]\n[Dense(1)]", "NTK0023", "Conv", "input [1, 4]: a 5 window")]
    [InlineData("[Network(Channels = 1, Height = 4, Width = 4)]\n[Conv(0, 3)]\n[Flatten]\n[Dense(1)]", "NTK0023", "Conv", "positive output channels (got 0)")]
    [InlineData("[Network(Channels = 1, Height = 4, Width = 4)]\n[Conv(2, 3, Stride = 0)]\n[Flatten]\n[Dense(1)]", "NTK0023", "Conv", "stride must be positive (got 0)")]
    [InlineData("[Network(Channels = 1, Height = 4, Width = 4)]\n[AvgPool(2, Padding = (Padding)5)]\n[Flatten]\n[Dense(1)]", "NTK0023", "AvgPool", "Padding = 5")]
    public void Spatial_declarations_are_checked_with_the_shapes_in_the_message(string declaration, string id, string at, string text)
    {
        var diagnostic = Single(declaration + "\npublic partial class MyNet;", id, at);
        Assert.Contains(text, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_stride_that_leaves_input_unread_is_a_warning_naming_the_axis()
    {
        var diagnostic = Single("[Network(Channels = 1, Height = 8, Width = 8)]\n[Conv(2, 3, Stride = 2)]\n[Flatten]\n[Dense(1)]\npublic partial class MyNet;",
            "NTK0024", "Conv", DiagnosticSeverity.Warning);
        Assert.Contains("never reads the last 1 input element(s), giving output [2, 3, 3]", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Every_descriptor_is_tracked_in_analyzer_releases()
    {
        var unshipped = File.ReadAllText(Path.Combine(RepoRoot(), "src", "NtkDsl.Generator", "AnalyzerReleases.Unshipped.md"));
        for (int i = 1; i <= 24; i++)
        {
            var id = $"NTK{i:0000}";
            var descriptor = NtkDsl.Generator.Diagnostics.DiagnosticDescriptors.ById(id);
            Assert.NotNull(descriptor);
            Assert.Contains($"{id} | NtkDsl | {descriptor!.DefaultSeverity} |", unshipped);
        }

        Assert.Null(NtkDsl.Generator.Diagnostics.DiagnosticDescriptors.ById("NTK0025"));
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NtkDsl.sln"))) return dir.FullName;
        throw new InvalidOperationException("NtkDsl.sln not found above " + AppContext.BaseDirectory);
    }

    private const string BlockNet = "[Network(Inputs = 2)]\n[Dense(8), Relu]\n{0}\n[Dense(1)]\npublic partial class Net\n{{\n{1}}}\n";

    private static string Blocks(string layers, string members) => string.Format(System.Globalization.CultureInfo.InvariantCulture, BlockNet, layers, members);

    [Fact]
    public void NTK0030_not_a_block_names_the_type_and_the_reason() =>
        Assert.Contains("'int'", Single(Blocks("[Residual(typeof(int))]", ""), "NTK0030", "Residual(").GetMessage());

    [Fact]
    public void NTK0031_empty_block_is_reported_on_the_reference() =>
        Single(Blocks("[Repeat(typeof(B), 2)]", "    private sealed class B;\n"), "NTK0031", "Repeat(");

    [Fact]
    public void NTK0032_cycle_names_the_path_on_the_attribute_that_closes_it()
    {
        var source = Blocks("[Residual(typeof(B))]", "    [Dense(8), FanInSum(typeof(C), typeof(C))] private sealed class B;\n    [Residual(typeof(B))] private sealed class C;\n");
        var diagnostic = Single(source, "NTK0032", "Residual(typeof(B))");
        Assert.Contains("B -> C -> B", diagnostic.GetMessage());
        int line = (Usings + source).Split('\n').ToList().FindIndex(l => l.Contains("class C;"));
        Assert.Equal(line, diagnostic.Location.GetLineSpan().StartLinePosition.Line); // in C, not on the network's reference
    }

    [Fact]
    public void NTK0033_shape_mismatch_lists_the_shapes_and_suggests_a_projection()
    {
        var message = Single(Blocks("[Residual(typeof(B))]", "    [Dense(16)] private sealed class B;\n"), "NTK0033", "Residual(").GetMessage();
        Assert.Contains("[8] and [16]", message);
        Assert.Contains("FanInSum(typeof(Block), typeof(Projection))", message);
    }

    [Fact]
    public void NTK0033_is_reported_inside_a_block_on_its_own_attribute() =>
        Single(Blocks("[Repeat(typeof(B), 2)]", "    [FanInSum(typeof(C), typeof(D))] private sealed class B;\n    [Dense(8)] private sealed class C;\n    [Dense(4)] private sealed class D;\n"),
            "NTK0033", "FanInSum(typeof(C)");

    [Fact]
    public void NTK0034_concat_of_features_and_spatial_activations() =>
        Assert.Contains("[2, 3, 3] and [4]", Single("""
            [Network(Channels = 1, Height = 3, Width = 3)]
            [FanInConcat(typeof(B), typeof(C)), Flatten]
            [Dense(1)]
            public partial class Net
            {
                [Conv(2, 3, Padding = Padding.Same)] private sealed class B;
                [Flatten, Dense(4)] private sealed class C;
            }
            """, "NTK0034", "FanInConcat(").GetMessage());

    [Fact]
    public void NTK0035_repeat_count_and_single_branch() =>
        Assert.Contains("got 0", Single(Blocks("[Repeat(typeof(B), 0)]", "    [Dense(8)] private sealed class B;\n"), "NTK0035", "Repeat(").GetMessage());

    [Fact]
    public void NTK0036_correlated_sum_is_a_warning_and_the_rest_is_generated()
    {
        var (result, _, compile) = GeneratorHarness.Run(Usings + Blocks("[Residual(typeof(B))]", "    [Dense(8), Relu] private sealed class B;\n"));
        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("NTK0036", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
        var source = Assert.Single(result.GeneratedSources).SourceText.ToString();
        Assert.Contains("Ntk", source);
        Assert.DoesNotContain("InfiniteWidth(", source);
        Assert.Empty(compile.Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void NTK0037_layer_norm_of_one_feature() =>
        Single("[Network(Inputs = 2)]\n[Dense(1), LayerNorm]\n[Dense(1)]\npublic partial class Net;", "NTK0037", "LayerNorm");
}

using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;

namespace NtkDsl.Generator.Tests;

/// <summary>
/// User-chosen abc-parameterizations ([Abc] per role under Parameterization.Abc) and muTransfer's BaseWidth: the
/// diagnostics NTK0045-NTK0049 on the offending attribute, the built-ins written out as [Abc] giving the same constants,
/// and the infinite-width kernel exactly for the NTK and SP classes.
/// </summary>
public class AbcParameterizationTests
{
    private const string Layers = "[Dense(8), Relu]\n[Dense(6), Erf]\n[Dense(2)]\npublic partial class Net;";

    private static string Abc(string input, string hidden, string output) =>
        $"[Abc(LayerRole.Input, {input}), Abc(LayerRole.Hidden, {hidden}), Abc(LayerRole.Output, {output})]\n";

    // The four built-ins spelled out as abc declarations.
    public static TheoryData<string, string> BuiltIns => new()
    {
        { "Ntk", ", ConstantsInMultiplier = true)]\n" + Abc("0, 0, 0", "0.5, 0, 0", "0.5, 0, 0") },
        { "Standard", ")]\n" + Abc("0, 0, 0", "0, 0.5, 0", "0, 0.5, 0") },
        { "MeanField", ", ConstantsInMultiplier = true)]\n" + Abc("0, 0, -1", "0.5, 0, -1", "1, 0, -1") },
        { "MaximalUpdate", ")]\n" + Abc("0, 0, -1", "0, 0.5, 0", "0, 1, 1") },
    };

    private static string Generated(string source)
    {
        var (result, _, compile) = GeneratorHarness.Run(DiagnosticTests.Usings + source);
        Assert.Null(result.Exception);
        Assert.DoesNotContain(result.Diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        Assert.Empty(compile.Where(d => d.Severity == DiagnosticSeverity.Error));
        return result.GeneratedSources.Single().SourceText.ToString();
    }

    // Every constant the generated code scales with (forward multipliers, NTK factors, rate-weighted Jacobian scales).
    private static string[] Constants(string generated) =>
        [.. Regex.Matches(generated, @"public const double \w+ = [^;]+;").Select(m => m.Value)];

    [Theory]
    [MemberData(nameof(BuiltIns))]
    public void A_built_in_written_as_abc_generates_the_same_constants_and_kernel(string builtIn, string declaration)
    {
        string named = Generated($"[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.{builtIn})]\n{Layers}");
        string custom = Generated($"[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.Abc{declaration}{Layers}");
        var constants = Constants(named);
        Assert.True(constants.Length >= 6, $"{constants.Length} constants");
        Assert.Equal(constants, Constants(custom));
        Assert.Contains("AbcParameterization.Custom(new global::NtkDsl.AbcExponents(", custom);
        // The kernel regime is decided by the exponents, not the name: NTK and SP keep InfiniteWidth, with their maps.
        bool kernel = builtIn is "Ntk" or "Standard";
        Assert.Equal(kernel, custom.Contains("InfiniteWidth("));
        if (kernel) Assert.Contains($"state.Dense(NtkGenerated.Layer1, global::NtkDsl.Parameterization.{builtIn});", custom);
    }

    [Fact]
    public void An_abc_equivalent_to_SP_under_Yang_and_Hus_symmetry_has_SPs_infinite_width_kernel()
    {
        // t = 1/2 on the hidden and output roles: (0, 1/2, 0) -> (1/2, 0, -1); the function and J diag(rho) J^T are SP's.
        string custom = Generated("[Network(Inputs = 3, Parameterization = Parameterization.Abc)]\n" + Abc("0, 0, 0", "0.5, 0, -1", "0.5, 0, -1") + Layers);
        Assert.Contains("state.Dense(NtkGenerated.Layer1, global::NtkDsl.Parameterization.Standard);", custom);
    }

    [Theory]
    [InlineData("0, 0, 0", "0.5, 0, 0", "0.5, 0, 0")] // NTK's exponents with the constants in the initialization
    [InlineData("0, 0, 0", "0, 0.5, 1", "0, 0.5, 1")] // SP with learning rates eta / n in the hidden and output layers
    [InlineData("0, 0, 0", "0, 0.5, 0", "0, 1, 1")] // muP's hidden and output, SP's input
    public void Any_other_abc_reports_NTK0040_with_the_reason(string input, string hidden, string output)
    {
        string source = "[Network(Inputs = 2, Parameterization = Parameterization.Abc)]\n" + Abc(input, hidden, output) + Layers;
        var diagnostic = DiagnosticTests.Single(source, "NTK0040", "Network(", DiagnosticSeverity.Info);
        Assert.Contains("up to Yang & Hu's symmetry", diagnostic.GetMessage());
        Assert.DoesNotContain("InfiniteWidth(", Generated(source));
    }

    [Fact]
    public void NTK0045_a_role_without_exponents()
    {
        var diagnostic = DiagnosticTests.Single("[Network(Inputs = 2, Parameterization = Parameterization.Abc)]\n[Abc(LayerRole.Input, 0, 0, 0), Abc(LayerRole.Output, 0, 0.5, 0)]\n" + Layers,
            "NTK0045", "Network(");
        Assert.Contains("Hidden", diagnostic.GetMessage());
    }

    [Fact]
    public void NTK0045_for_every_role_of_an_abc_without_any()
    {
        var (result, _, _) = GeneratorHarness.Run(DiagnosticTests.Usings + "[Network(Inputs = 2, Parameterization = Parameterization.Abc)]\n" + Layers);
        Assert.Equal(["NTK0045", "NTK0045", "NTK0045"], result.Diagnostics.Select(d => d.Id));
        Assert.Empty(result.GeneratedSources);
    }

    [Fact]
    public void NTK0046_a_role_given_twice_is_reported_on_the_second()
    {
        var diagnostic = DiagnosticTests.Single("[Network(Inputs = 2, Parameterization = Parameterization.Abc)]\n" + Abc("0, 0, 0", "0, 0.5, 0", "0, 0.5, 0") +
            "[Abc(LayerRole.Hidden, a: 0.5, b: 0, c: -1)]\n" + Layers, "NTK0046", "Abc(LayerRole.Hidden, a: 0.5");
        Assert.Contains("Hidden", diagnostic.GetMessage());
    }

    [Theory]
    [InlineData("double.NaN, 0, 0", "finite")]
    [InlineData("0, double.PositiveInfinity, 0", "finite")]
    [InlineData("0, 0, -4.5", "[-4, 4]")]
    public void NTK0047_non_finite_or_huge_exponents(string output, string expected)
    {
        var diagnostic = DiagnosticTests.Single("[Network(Inputs = 2, Parameterization = Parameterization.Abc)]\n" + Abc("0, 0, 0", "0, 0.5, 0", output) + Layers,
            "NTK0047", "Abc(LayerRole.Output");
        Assert.Contains(expected, diagnostic.GetMessage());
    }

    [Fact]
    public void NTK0047_an_unknown_role()
    {
        var diagnostic = DiagnosticTests.Single("[Network(Inputs = 2, Parameterization = Parameterization.Abc)]\n" + Abc("0, 0, 0", "0, 0.5, 0", "0, 0.5, 0") +
            "[Abc((LayerRole)7, 0, 0, 0)]\n" + Layers, "NTK0047", "Abc((LayerRole)7");
        Assert.Contains("role 7", diagnostic.GetMessage());
    }

    [Fact]
    public void NTK0048_exponents_without_Parameterization_Abc_on_each_attribute()
    {
        DiagnosticTests.Single("[Network(Inputs = 2, Parameterization = Parameterization.Standard)]\n[Abc(LayerRole.Hidden, 0, 0.5, 0)]\n" + Layers,
            "NTK0048", "Abc(LayerRole.Hidden");
        var diagnostic = DiagnosticTests.Single("[Network(Inputs = 2, ConstantsInMultiplier = true)]\n" + Layers, "NTK0048", "Network(");
        Assert.Contains("ConstantsInMultiplier", diagnostic.GetMessage());
        Assert.Contains("Parameterization.Ntk", diagnostic.GetMessage());
    }

    [Fact]
    public void NTK0048_exponents_on_a_block_type()
    {
        var diagnostic = DiagnosticTests.Single("[Network(Inputs = 2, Parameterization = Parameterization.Abc)]\n" + Abc("0, 0, 0", "0, 0.5, 0", "0, 0.5, 0") +
            "[Dense(4)]\n[Residual(typeof(Block))]\n[Dense(1)]\npublic partial class Net;\n[Abc(LayerRole.Hidden, 0.5, 0, -1)]\n[Relu, Dense(4)]\npublic class Block;",
            "NTK0048", "Abc(LayerRole.Hidden, 0.5");
        Assert.Contains("block 'Block'", diagnostic.GetMessage());
    }

    [Theory]
    [InlineData("Ntk", "64", "forward multiplier")]
    [InlineData("MeanField", "64", "forward multiplier")]
    [InlineData("Standard", "64", "no effect")]
    [InlineData("MaximalUpdate", "-1", "positive")]
    public void NTK0049_invalid_base_width(string parameterization, string baseWidth, string expected)
    {
        var diagnostic = DiagnosticTests.Single($"[Network(Inputs = 2, Parameterization = Parameterization.{parameterization}, BaseWidth = {baseWidth})]\n" + Layers,
            "NTK0049", "Network(");
        Assert.Contains(expected, diagnostic.GetMessage());
    }

    [Fact]
    public void NTK0049_a_base_width_on_an_abc_with_the_constants_in_the_multiplier()
    {
        DiagnosticTests.Single("[Network(Inputs = 2, Parameterization = Parameterization.Abc, ConstantsInMultiplier = true, BaseWidth = 8)]\n" +
            Abc("0, 0, 0", "0.5, 0, 0", "0.5, 0, 0") + Layers, "NTK0049", "Network(");
    }

    [Fact]
    public void MuP_at_its_base_width_generates_SPs_constants_and_elsewhere_differs()
    {
        // Every layer's width n is 8 (the input layer's fan-out, the others' fan-in): at n0 = 8 every constant is SP's.
        const string Uniform = "[Dense(8), Relu]\n[Dense(8), Erf]\n[Dense(2)]\npublic partial class Net;";
        string sp = Generated("[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.Standard)]\n" + Uniform);
        string mup = Generated("[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.MaximalUpdate, BaseWidth = 8)]\n" + Uniform);
        string plain = Generated("[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.MaximalUpdate)]\n" + Uniform);
        Assert.Equal(Constants(sp), Constants(mup));
        Assert.NotEqual(Constants(sp), Constants(plain));
        Assert.Contains("global::NtkDsl.AbcParameterization.MaximalUpdate.WithBaseWidth(8)", mup);
        Assert.NotEqual(Constants(sp), Constants(Generated(
            "[Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2, Parameterization = Parameterization.MaximalUpdate, BaseWidth = 4)]\n" + Uniform)));
    }
}

using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NtkDsl.Generator.Helpers;

namespace NtkDsl.Generator.Tests;

/// <summary>The pipeline caches: reruns and unrelated edits reuse outputs; layer edits do not.</summary>
public class IncrementalityTests
{
    private const string Network = """
        using NtkDsl;
        namespace Demo;

        [Network(Inputs = 2, WeightStd = 1.5, BiasStd = 0.1)]
        [Dense(64), Relu]
        [Dense(1)]
        public partial class Net;
        """;

    private const string Other = "namespace Demo; public class Unrelated { public int X; }";

    private static (GeneratorDriver Driver, Compilation Compilation) FirstRun()
    {
        var compilation = GeneratorHarness.Compile(Network, Other);
        var driver = GeneratorHarness.CreateDriver(trackSteps: true).RunGenerators(compilation);
        return (driver, compilation);
    }

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorDriver driver, string step) =>
        driver.GetRunResult().Results.Single().TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    private static IEnumerable<IncrementalStepRunReason> OutputReasons(GeneratorDriver driver) =>
        driver.GetRunResult().Results.Single().TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason);

    [Fact]
    public void Rerun_on_a_cloned_compilation_is_all_cached_or_unchanged()
    {
        var (driver, compilation) = FirstRun();
        driver = driver.RunGenerators(compilation.Clone());
        foreach (var step in new[] { NetworkGenerator.Steps.Parse, NetworkGenerator.Steps.Validate, NetworkGenerator.Steps.Emit, NetworkGenerator.Steps.Diagnostics })
            Assert.All(Reasons(driver, step), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
        Assert.All(OutputReasons(driver), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void Unrelated_edit_leaves_the_network_step_cached()
    {
        var (driver, compilation) = FirstRun();
        var old = compilation.SyntaxTrees.Single(t => t.ToString().Contains("Unrelated"));
        var edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(Other + " public class More { }", GeneratorHarness.ParseOptions, old.FilePath));
        driver = driver.RunGenerators(edited);
        // ForAttributeWithMetadataName re-runs the transform when the compilation changes and finds the
        // model equal (Unchanged); every step after it is then Cached.
        Assert.All(Reasons(driver, NetworkGenerator.Steps.Parse), r => Assert.Equal(IncrementalStepRunReason.Unchanged, r));
        foreach (var step in new[] { NetworkGenerator.Steps.Validate, NetworkGenerator.Steps.Emit, NetworkGenerator.Steps.Diagnostics })
            Assert.All(Reasons(driver, step), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
        Assert.All(OutputReasons(driver), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void Whitespace_edit_in_the_network_file_keeps_the_source_output_cached()
    {
        var (driver, compilation) = FirstRun();
        var old = compilation.SyntaxTrees.Single(t => t.ToString().Contains("Net;"));
        var edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText("\n\n" + Network, GeneratorHarness.ParseOptions, old.FilePath));
        driver = driver.RunGenerators(edited);
        // Locations moved, so parsing reruns, but the emission model is equal: no new source.
        Assert.All(Reasons(driver, NetworkGenerator.Steps.Emit), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, r.ToString()));
    }

    [Fact]
    public void Editing_a_layer_attribute_yields_modified()
    {
        var (driver, compilation) = FirstRun();
        var old = compilation.SyntaxTrees.Single(t => t.ToString().Contains("Net;"));
        var edited = compilation.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(Network.Replace("Dense(64)", "Dense(128)"), GeneratorHarness.ParseOptions, old.FilePath));
        driver = driver.RunGenerators(edited);
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(driver, NetworkGenerator.Steps.Parse));
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(driver, NetworkGenerator.Steps.Emit));
        Assert.Contains("128", driver.GetRunResult().GeneratedTrees.Single().ToString());
    }

    [Fact]
    public void Pipeline_models_hold_no_symbols_syntax_locations_or_compilations()
    {
        var forbidden = new[] { typeof(ISymbol), typeof(SyntaxNode), typeof(Location), typeof(Compilation), typeof(SemanticModel), typeof(SyntaxTree) };
        var seen = new HashSet<Type>();
        var pending = new Queue<Type>(new[] { typeof(NtkDsl.Generator.Model.ParsedNetwork), typeof(NtkDsl.Generator.Model.DiagnosticInfo) });
        while (pending.Count > 0)
        {
            var type = pending.Dequeue();
            if (!seen.Add(type) || type.IsPrimitive || type.IsEnum || type == typeof(string)) continue;
            Assert.DoesNotContain(forbidden, f => f.IsAssignableFrom(type));
            if (type.IsGenericType)
                foreach (var argument in type.GetGenericArguments()) pending.Enqueue(argument);
            if (type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true || type.Namespace?.StartsWith("Microsoft.CodeAnalysis.Text", StringComparison.Ordinal) == true)
                continue;
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                pending.Enqueue(field.FieldType.IsArray ? field.FieldType.GetElementType()! : field.FieldType);
        }

        Assert.Contains(typeof(EquatableArray<NtkDsl.Generator.Model.LayerModel>), seen);
    }
}

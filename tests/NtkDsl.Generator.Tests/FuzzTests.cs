using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace NtkDsl.Generator.Tests;

/// <summary>
/// The generator's contract on any input (Roslyn's rule: report, never throw, never emit code that does not
/// compile): for hand-written edge cases (issue 11's list) and hundreds of random declarations, the generator
/// throws nothing, and either reports an NTK error on a [Network] or layer attribute and emits nothing for that
/// network, or emits code that adds no compile error to the user's own code.
/// </summary>
public class FuzzTests
{
    private const string Layers = "[Dense(4), Relu]\n[Dense(2)]\n";

    public static TheoryData<string, string[]> HandWritten => new()
    {
        // Two files, each with a file-local network of the same name (duplicate hint names threw CS8785).
        { "NTK0018", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}file partial class Net;\n", $"using NtkDsl;\n[Network(Inputs = 3)]\n{Layers}file partial class Net;\n"] },
        { "NTK0018", [$"using NtkDsl;\nfile partial class Outer\n{{\n    [Network(Inputs = 2)]\n    {Layers}    partial class Net;\n}}\n"] },
        // Keyword namespaces and names.
        { "", [$"using NtkDsl;\nnamespace @event;\n[Network(Inputs = 2)]\n{Layers}public partial class Net;\n"] },
        { "", [$"using NtkDsl;\nnamespace @event.@class.ok;\n[Network(Inputs = 2)]\n{Layers}public partial class @class;\n"] },
        { "", [$"using NtkDsl;\nnamespace A;\npublic partial class @struct\n{{\n    [Network(Inputs = 2)]\n    {Layers}    public partial class @int;\n}}\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class var;\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class dynamic;\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class nameof;\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class nint;\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class async;\n"] },
        // [Network] on two partial declarations (CS0579 is the user's error; the generator must not throw).
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class Net;\n[Network(Inputs = 2)]\npublic partial class Net;\n"] },
        // Std whose square overflows.
        { "NTK0009", [$"using NtkDsl;\n[Network(Inputs = 2, WeightStd = 1e200)]\n{Layers}public partial class Net;\n"] },
        { "NTK0009", ["using NtkDsl;\n[Network(Inputs = 2)]\n[Dense(4, BiasStd = 1e160), Relu]\n[Dense(2)]\npublic partial class Net;\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2, WeightStd = 1e200, Parameterization = Parameterization.Standard)]\n{Layers}public partial class Net;\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2, WeightStd = 1e-200, BiasStd = 5e-324)]\n{Layers}public partial class Net;\n"] },
        // Names of generated members, type parameters and contextual keywords the generated code uses.
        { "NTK0017", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class Forward;\n"] },
        { "NTK0017", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class Ntk;\n"] },
        { "NTK0017", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class Description;\n"] },
        { "NTK0017", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class T;\n"] },
        { "NTK0017", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class TTensor;\n"] },
        { "NTK0017", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class unmanaged;\n"] },
        { "NTK0017", [$"using NtkDsl;\npublic partial class unmanaged\n{{\n    [Network(Inputs = 2)]\n    {Layers}    public partial class Net;\n}}\n"] },
        { "NTK0017", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class Net\n{{\n    public int Forward;\n}}\n"] },
        { "NTK0017", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class Net\n{{\n    private class NtkGenerated {{ }}\n}}\n"] },
        // Members named like the private helpers of the previous generator: fine now.
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class Net\n{{\n    private static int Activation1 = 1;\n    private void NtkPass() {{ }}\n    public static string RunForward => \"\";\n    public int A1, Layer1Weights, FirstBatch, n, backend, workspace;\n}}\n"] },
        // Parameter counts beyond int, without wrapping.
        { "NTK0012", ["using NtkDsl;\n[Network(Inputs = int.MaxValue)]\n[Dense(int.MaxValue), Relu]\n[Dense(int.MaxValue), Relu]\n[Dense(int.MaxValue)]\npublic partial class Net;\n"] },
        { "NTK0012", ["using NtkDsl;\n[Network(Inputs = int.MaxValue)]\n[Dense(2)]\npublic partial class Net;\n"] },
        { "NTK0012", ["using NtkDsl;\n[Network(Inputs = 65536)]\n[Dense(32768)]\npublic partial class Net;\n"] },
        // Blocks: every way a reference can be unusable, and usable nestings.
        { "NTK0030", [Blocks("[Residual(typeof(int))]", "")] },
        { "NTK0030", [Blocks("[Residual(null)]", "")] },
        { "NTK0030", [Blocks("[Residual(typeof(System.Collections.Generic.List<int>))]", "")] },
        { "NTK0030", [Blocks("[Residual(typeof(Net))]", "")] },
        { "NTK0030", [Blocks("[Residual(typeof(G<int>))]", "    [Dense(4)] private sealed class G<TX>;\n")] },
        { "NTK0030", [Blocks("[Residual(typeof(I))]", "    [Dense(4)] private interface I;\n")] },
        { "NTK0031", [Blocks("[Residual(typeof(B))]", "    private sealed class B;\n")] },
        { "NTK0032", [Blocks("[Residual(typeof(B))]", "    [Dense(4), Residual(typeof(C))] private sealed class B;\n    [Repeat(typeof(B), 2)] private sealed class C;\n")] },
        { "NTK0033", [Blocks("[Residual(typeof(B))]", "    [Dense(5)] private sealed class B;\n")] },
        { "NTK0033", [Blocks("[FanInSum(typeof(B), typeof(C))]", "    [Dense(5)] private sealed class B;\n    [Dense(4)] private sealed class C;\n")] },
        { "NTK0035", [Blocks("[FanInSum(typeof(B))]", "    [Dense(4)] private sealed class B;\n")] },
        { "NTK0035", [Blocks("[FanInConcat]", "")] },
        { "NTK0035", [Blocks("[Repeat(typeof(B), -1)]", "    [Dense(4)] private sealed class B;\n")] },
        { "NTK0035", [Blocks("[Repeat(typeof(B), int.MaxValue)]", "    [Dense(4), Relu] private sealed class B;\n")] },
        { "NTK0035", [Blocks("[Repeat(typeof(B), 100)]", "    [Repeat(typeof(C), 100)] private sealed class B;\n    [Dense(4)] private sealed class C;\n")] },
        { "NTK0014", [Blocks("[Residual(typeof(B))]", "    [Dense(4), System.Obsolete, Unknown] private sealed class B;\n    private sealed class UnknownAttribute : LayerAttribute;\n")] },
        { "NTK0004", [Blocks("[Residual(typeof(B))]", "    [Dense(0)] private sealed class B;\n")] },
        { "NTK0036", [Blocks("[Residual(typeof(B))]", "    [Dense(4), Relu] private sealed class B;\n")] },
        { "NTK0037", [Blocks("[Dense(1), LayerNorm]", "")] },
        { "NTK0009", [Blocks("[LayerNorm(Epsilon = double.NaN)]", "")] },
        { "", [Blocks("[Residual(typeof(B)), Residual(typeof(B))]", "    [LayerNorm, Relu, Dense(4)] private sealed class B;\n")] },
        { "", [Blocks("[FanInConcat(typeof(B), typeof(B)), Dense(4)]", "    [Elementwise(nameof(Phi), nameof(Phi)), Dense(3)] private sealed class B;\n    static double Phi(double x) => x;\n")] },
        { "", [Blocks("[Repeat(typeof(B), 3)]", "    [FanInSum(typeof(C), typeof(C))] private sealed class B;\n    [Dense(4)] private struct C;\n")] },
        { "", ["using NtkDsl;\n[Network(Channels = 2, Height = 3, Width = 3)]\n[Residual(typeof(B))]\n[FanInConcat(typeof(B), typeof(B)), LayerNorm, GlobalAvgPool]\n[Dense(1)]\npublic partial class Net\n{\n    [Conv(2, 3, Padding = Padding.Same)] private sealed class B;\n}\n"] },
        // Records and other type kinds.
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial record Net;\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial record class Net(int Seed);\n"] },
        { "", [$"using NtkDsl;\npublic partial record struct Outer\n{{\n    [Network(Inputs = 2)]\n    {Layers}    internal sealed partial record Net;\n}}\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public abstract partial class Net;\n"] },
        { "", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public sealed partial class Net : System.IDisposable {{ public void Dispose() {{ }} }}\n"] },
        { "NTK0008", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial record struct Net;\n"] },
        { "NTK0008", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public partial class Net<TX>;\n"] },
        { "NTK0011", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public static partial class Net {{ }}\n"] },
        { "NTK0001", [$"using NtkDsl;\n[Network(Inputs = 2)]\n{Layers}public class Net;\n"] },
        // User-defined activations: every way the named methods can be unusable, and the usable forms.
        { "NTK0019", [Elementwise("\"Phi\"", "\"Missing\"", "static double Phi(double x) => x;")] },
        { "NTK0019", [Elementwise("\"\"", "\"Phi\"", "static double Phi(double x) => x;")] },
        { "NTK0019", [Elementwise("\"Phi\"", "\"Phi\"", "double Phi(double x) => x;")] },
        { "NTK0019", [Elementwise("\"Phi\"", "\"Phi\"", "static double Phi<TX>(double x) => x;")] },
        { "NTK0019", [Elementwise("\"Phi\"", "\"Phi\"", "static float Phi(float x) => x;")] },
        { "NTK0019", [Elementwise("\"Phi\"", "\"Phi\"", "static double Phi(double x, double y) => x;")] },
        { "NTK0019", [Elementwise("\"Phi\"", "\"Phi\"", "static double Phi(ref double x) => x;")] },
        { "NTK0019", [Elementwise("\"Phi\"", "\"Phi\"", "static double Phi => 1;")] },
        { "NTK0019", [Elementwise("\"Phi\"", "\"Phi\"", "static double Phi;")] },
        { "", [Elementwise("nameof(Phi)", "nameof(PhiPrime)", "static double Phi(double x) => x * x; static double PhiPrime(double x) => 2 * x;")] },
        { "", [Elementwise("nameof(Phi)", "nameof(Phi)", "private static double Phi(double x) => x; static double Phi(float x) => x;")] },
        { "", [Elementwise("nameof(@int)", "nameof(@int)", "static double @int(double x) => x;")] },
        { "", [Elementwise("nameof(Phi)", "nameof(Phi)", "internal static double Phi(in double x) => x;").Replace("in double", "double")] },
    };

    // A network on 4 features: Dense(4), Relu, the given layers, Dense(1); the blocks are members.
    private static string Blocks(string layers, string members) =>
        $"using NtkDsl;\n[Network(Inputs = 2)]\n[Dense(4), Relu]\n{layers}\n[Dense(1)]\npublic partial class Net\n{{\n{members}}}\n";

    private static string Elementwise(string function, string derivative, string members) =>
        $"using NtkDsl;\n[Network(Inputs = 2)]\n[Dense(4), Elementwise({function}, {derivative})]\n[Dense(1)]\npublic partial class Net\n{{\n    {members}\n}}\n";

    [Theory]
    [MemberData(nameof(HandWritten))]
    public void Hand_written_edge_cases(string expectedId, string[] sources)
    {
        var diagnostics = Check(sources);
        if (expectedId.Length == 0) Assert.DoesNotContain(diagnostics, d => d.Severity == DiagnosticSeverity.Error);
        else Assert.Contains(diagnostics, d => d.Id == expectedId);
    }

    [Fact]
    public void Random_declarations()
    {
        var random = new Random(20261201);
        int rejected = 0, generated = 0;
        for (int i = 0; i < 300; i++)
        {
            var source = RandomSource(random);
            try
            {
                var diagnostics = Check([source], out int files);
                if (diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error)) rejected++;
                generated += files;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new Xunit.Sdk.XunitException($"Case {i}:\n{source}\n{e.Message}");
            }
        }

        // Both outcomes occur often, so the contract is exercised on each side.
        Assert.InRange(rejected, 60, 280);
        Assert.InRange(generated, 20, 240);
    }

    [Fact]
    public void Random_block_declarations()
    {
        var random = new Random(20261216);
        int rejected = 0, generated = 0;
        for (int i = 0; i < 200; i++)
        {
            var source = RandomBlockSource(random);
            try
            {
                var diagnostics = Check([source], out int files);
                if (diagnostics.Any(d => d.Severity == DiagnosticSeverity.Error)) rejected++;
                generated += files;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new Xunit.Sdk.XunitException($"Case {i}:\n{source}\n{e.Message}");
            }
        }

        Assert.True(rejected is >= 30 and <= 190 && generated is >= 10 and <= 170, $"{rejected} rejected, {generated} generated");
    }

    private static readonly string[] BlockLayerPool =
        ["[Dense(3)]", "[Relu]", "[Erf]", "[LayerNorm]", "[LayerNorm(Epsilon = -1)]", "[Dense(0)]", "[Conv(2, 3, Padding = Padding.Same)]", "[Flatten]",
         "[GlobalAvgPool]", "[Residual(typeof(B0))]", "[Residual(typeof(B1))]", "[Repeat(typeof(B1), 2)]", "[Repeat(typeof(B2), 0)]",
         "[Repeat(typeof(B0), 5000)]", "[FanInSum(typeof(B0), typeof(B1))]", "[FanInSum(typeof(B2))]", "[FanInConcat(typeof(B1), typeof(B2))]",
         "[FanInConcat(typeof(B0), typeof(B0))]", "[Residual(typeof(int))]", "[Residual(null)]", "[Residual(typeof(Net))]", "[Identity]"];

    // A network with three nested block types B0..B2: usually layers that fit (one width or channel count throughout, and
    // blocks that refer only to later blocks), otherwise anything of the pool (cycles, bad types, shape mismatches).
    private static string RandomBlockSource(Random r)
    {
        bool spatial = r.Next(3) == 0;
        string layer = spatial ? "[Conv(2, 3, Padding = Padding.Same)]" : "[Dense(3)]";
        string Layers(int count, int block) => string.Concat(Enumerable.Range(0, count).Select(_ =>
        {
            if (r.Next(4) == 0) return Pick(r, BlockLayerPool);
            var usual = new List<string> { layer, layer, "[Relu]", "[LayerNorm]" };
            for (int b = block + 1; b < 3; b++)
                usual.AddRange([$"[Residual(typeof(B{b}))]", $"[Repeat(typeof(B{b}), 2)]", $"[FanInSum(typeof(B{b}), typeof(B{b}))]", $"[FanInConcat(typeof(B{b}), typeof(B{b}))]"]);
            return Pick(r, [.. usual]);
        }));
        var blocks = string.Concat(Enumerable.Range(0, 3).Select(b =>
            r.Next(10) == 0 ? $"    private sealed class B{b};\n" : $"    {Layers(r.Next(1, 3), b)}{layer} private sealed class B{b};\n"));
        var layers = layer + Layers(r.Next(1, 4), -1) + (spatial ? "[Flatten]" : "") + (r.Next(8) > 0 ? "[Dense(2)]" : "");
        var header = spatial ? "Channels = 2, Height = 4, Width = 4" : "Inputs = 3";
        return $"using NtkDsl;\n[Network({header})]\n{layers}\npublic partial class Net\n{{\n{blocks}}}\n";
    }

    // Runs the generator and checks the contract; returns its diagnostics.
    private static IReadOnlyList<Diagnostic> Check(string[] sources) => Check(sources, out _);

    private static IReadOnlyList<Diagnostic> Check(string[] sources, out int files)
    {
        var (result, output, compile) = GeneratorHarness.Run(sources);
        Assert.Null(result.Exception);
        var user = GeneratorHarness.Compile(sources).GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(Key).ToHashSet();
        var added = compile.Where(d => d.Severity == DiagnosticSeverity.Error && !user.Contains(Key(d))).ToList();
        Assert.True(added.Count == 0, "Generated code adds compile errors:\n" + string.Join("\n", added.Take(5)) + "\n" +
                                      string.Join("\n", result.GeneratedSources.Select(s => s.HintName)));

        var trees = output.SyntaxTrees.ToList();
        // Generator diagnostics carry file path and span (no tree, so the pipeline caches no syntax); find their node.
        SyntaxNode At(Diagnostic d)
        {
            var tree = trees.SingleOrDefault(t => t.FilePath == d.Location.GetLineSpan().Path);
            Assert.True(tree is not null, $"{d.Id} has no source location");
            return tree!.GetRoot().FindNode(d.Location.SourceSpan);
        }

        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        foreach (var d in errors)
        {
            var node = At(d);
            Assert.True(node.FirstAncestorOrSelf<AttributeSyntax>() is not null, $"{d.Id} is not on an attribute: {node}");
        }

        // An NTK error means no code for that network (the names of generated files are unique by construction).
        // (An error inside a block, a type nested in the network, belongs to the network around it.)
        static bool IsNetwork(TypeDeclarationSyntax type) => type.AttributeLists.SelectMany(l => l.Attributes).Any(a => a.Name.ToString() is "Network" or "NetworkAttribute");
        int errored = errors.Select(d => At(d).AncestorsAndSelf().OfType<TypeDeclarationSyntax>().FirstOrDefault(IsNetwork) ?? At(d).FirstAncestorOrSelf<TypeDeclarationSyntax>()).Distinct().Count();
        int networks = trees.Take(sources.Length).Sum(t => t.GetRoot().DescendantNodes().OfType<TypeDeclarationSyntax>()
            .Count(type => type.AttributeLists.SelectMany(l => l.Attributes).Any(a => a.Name.ToString() is "Network" or "NetworkAttribute")));
        Assert.True(result.GeneratedSources.Length <= networks - errored, $"{result.GeneratedSources.Length} files for {networks} networks with {errored} in error");
        files = result.GeneratedSources.Length;
        return result.Diagnostics;
    }

    private static (string, string, int, int) Key(Diagnostic d) =>
        (d.Id, d.Location.SourceTree?.FilePath ?? "", d.Location.SourceSpan.Start, d.Location.SourceSpan.Length);

    private static readonly string[] Names =
        ["Net", "MyNet", "@class", "@event", "var", "dynamic", "nameof", "record", "async", "value", "Forward", "Ntk", "T", "TBackend",
         "unmanaged", "NtkGenerated", "RunForward", "NtkPass", "Activation1", "A1", "Layer1", "Description", "Jacobian", "Net2", "Ñet", "Net_\u00e9"];

    private static readonly string[] Members =
        ["public int Forward;", "private static void RunForward() { }", "private int Activation1;", "private static int NtkPass => 0;",
         "public class T { }", "public class unmanaged { }", "internal int InputSize;", "public void Ntk(int x) { }", "private int backend, workspace, n1;",
         "public static double InfiniteWidth;", "private int Layer1Weights;", "public string ToStringX() => \"\";",
         "private static double Phi(double x) => x;", "public double Phi(double x) => x;"];

    private static readonly string[] Headers =
        ["Inputs = 2", "Inputs = 1", "Inputs = 0", "Inputs = -3", "Inputs = int.MaxValue", "Inputs = 3, WeightStd = 1e200", "Inputs = 3, BiasStd = 1e155",
         "Inputs = 3, WeightStd = double.NaN", "Inputs = 2, WeightStd = 1.5, BiasStd = 0.1", "Inputs = 2, Parameterization = Parameterization.Standard",
         "Inputs = 2, Parameterization = (Parameterization)9", "Inputs = 4, WeightStd = 1e-300", "",
         "Inputs = 2, Parameterization = Parameterization.MeanField", "Inputs = 3, BiasStd = 0.2, Parameterization = Parameterization.MaximalUpdate",
         "Inputs = 2, Parameterization = Parameterization.Abc", "Inputs = 2, Parameterization = Parameterization.Abc, ConstantsInMultiplier = true",
         "Inputs = 2, Parameterization = Parameterization.Abc, BaseWidth = 3", "Inputs = 2, ConstantsInMultiplier = false",
         "Inputs = 2, Parameterization = Parameterization.MaximalUpdate, BaseWidth = 2", "Inputs = 2, Parameterization = Parameterization.MeanField, BaseWidth = -5",
         "Channels = 1, Height = 5, Width = 5", "Channels = 2, Length = 6", "Channels = 1, Height = 4", "Channels = 1, Height = 3, Width = 3, Inputs = 9",
         "Channels = 1, Height = 3, Width = 3, Inputs = 8", "Channels = 1, Height = 2, Width = 2, Length = 2", "Channels = int.MaxValue, Height = 2, Width = 2",
         "Channels = 0, Height = 3, Width = 3", "Channels = 2, Height = -3, Width = 3"];

    private static readonly string[] LayerPool =
        ["[Dense(3)]", "[Dense(1)]", "[Dense(0)]", "[Dense(-1)]", "[Dense(int.MaxValue)]", "[Dense(70000)]", "[Dense(2, Bias = false)]",
         "[Dense(2, WeightStd = 1e300)]", "[Dense(2, BiasStd = -1)]", "[Dense(2, Bias = false, BiasStd = 1)]", "[Relu]", "[Erf]", "[Tanh]",
         "[LeakyRelu(0.1)]", "[LeakyRelu(double.PositiveInfinity)]", "[Sin(A = 1e308)]", "[Identity]", "[Gelu]", "[Abs]",
         "[Elementwise(\"Phi\", \"Phi\")]", "[Elementwise(\"Phi\", \"Nope\")]", "[Elementwise(null, null)]",
         "[Conv(2, 3)]", "[Conv(2, 3, Padding = Padding.Same)]", "[Conv(2, 2, Stride = 2, Padding = Padding.Circular)]", "[Conv(0, 3)]", "[Conv(2, 0)]",
         "[Conv(2, 9)]", "[Conv(2, 3, Stride = 0)]", "[Conv(2, 3, Padding = (Padding)7)]", "[Conv(int.MaxValue, 3)]", "[Conv(2, 3, Bias = false, BiasStd = 1)]",
         "[Conv(2, 1, Stride = 2)]", "[AvgPool(2)]", "[SumPool(2, Stride = 1, Padding = Padding.Same)]", "[AvgPool(0)]", "[AvgPool(2, Stride = -1)]",
         "[GlobalAvgPool]", "[Flatten]", "[Abc(LayerRole.Input, 0, 0, -1)]", "[Abc(LayerRole.Hidden, a: 0.5, b: 0, c: -1)]",
         "[Abc(LayerRole.Output, 0, 1, 1)]", "[Abc(LayerRole.Output, double.NaN, 0, 1)]", "[Abc((LayerRole)9, 0, 0, 0)]", "[Abc(LayerRole.Hidden, 0, 4, -4)]",
         "[Abc(LayerRole.Input, 0, 0, 0), Abc(LayerRole.Hidden, 0.5, 0, -1), Abc(LayerRole.Output, 0.5, 0, -1)]"];

    private static string Pick(Random r, string[] items) => items[r.Next(items.Length)];

    // The first item with probability 3/4 (a legal, usable choice), otherwise any: most declarations get far
    // enough to be emitted, and every odd choice still comes up often.
    private static string Usually(Random r, string usual, string[] items) => r.Next(4) > 0 ? usual : Pick(r, items);

    private static string RandomSource(Random r)
    {
        var ns = r.Next(4) switch { 0 => "", 1 => "namespace Fuzz;\n", 2 => "namespace @event.@class;\n", _ => "namespace A.B.C;\n" };
        var layers = string.Concat(Enumerable.Range(0, r.Next(0, 4)).Select(_ => (r.Next(3) > 0 ? Pick(r, LayerPool.Where(l => l is "[Dense(3)]" or "[Relu]" or "[Erf]" or "[Identity]" or "[Dense(2, Bias = false)]" or "[Conv(2, 3, Padding = Padding.Same)]" or "[GlobalAvgPool]" or "[Flatten]").ToArray()) : Pick(r, LayerPool)) + "\n"));
        if (r.Next(5) > 0) layers += "[Dense(2)]\n";
        var keyword = r.Next(10) switch { 0 => "partial record", 1 => "static partial class", 2 => "class", 3 => "sealed partial class", 4 => "abstract partial class", _ => "partial class" };
        var modifier = r.Next(8) switch { 0 => "internal ", 1 => "file ", 2 => "", _ => "public " };
        var name = Usually(r, "Net", Names);
        var members = string.Concat(Enumerable.Range(0, r.Next(0, 3)).Select(_ => "    " + (r.Next(2) == 0 ? "private int Weights;" : Pick(r, Members)) + "\n"));
        if (keyword.Contains("static")) members = ""; // static classes cannot hold instance members (the user's own error)
        var header = Usually(r, r.Next(3) == 0 ? "Channels = 1, Height = 5, Width = 5" : "Inputs = 2", Headers);
        var network = $"[Network({header})]\n{layers}{modifier}{keyword} {name}\n{{\n{members}}}\n";
        int depth = r.Next(4) == 0 ? r.Next(1, 3) : 0;
        for (int d = 0; d < depth; d++)
        {
            var outerKeyword = r.Next(6) switch { 0 => "partial record", 1 => "partial struct", 2 => "class", 3 => "static partial class", _ => "partial class" };
            var outerName = r.Next(6) == 0 ? "unmanaged" : r.Next(4) == 0 ? "@class" : $"Outer{d}";
            if (modifier == "file ") modifier = "";
            network = $"{(r.Next(6) == 0 ? "file " : "public ")}{outerKeyword} {outerName}\n{{\n{Indent(network)}}}\n";
        }

        return "using NtkDsl;\n" + ns + network;
    }

    private static string Indent(string text) =>
        string.Concat(text.Split('\n').Where(l => l.Length > 0).Select(l => "    " + l + "\n"));

    static FuzzTests() => CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
}

using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NtkDsl.Tests.Support;
using Xunit.Abstractions;
using WideNet = NtkDsl.Tests.Networks.ErfWide1024;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests;

/// <summary>
/// The README's code: every C# block compiles as shown (<see cref="Every_csharp_block_of_the_readme_compiles_as_shown"/>),
/// and each runs as written there (on a small ReLU/erf network), so the README stays true.
/// </summary>
public partial class ReadmeTests(ITestOutputHelper output)
{
    [Network(Inputs = 2, WeightStd = 1.5, BiasStd = 0.1)]
    [Dense(64), Relu]
    [Dense(64), Erf]
    [Dense(1)]
    public partial class TwoLayerNet;

    private static readonly Matrix<double> xTrain = TestMath.RandomMatrix(8, 2, 1);
    private static readonly Matrix<double> xTest = TestMath.RandomMatrix(3, 2, 2);
    private static readonly Matrix<double> yTrain = TestMath.RandomMatrix(8, 1, 3);

    /// <summary>
    /// Each ```csharp block of README.md (and of the packages' README), compiled on its own with the generator against NtkDsl, NtkDsl.Torch and .NET 10
    /// (no errors allowed). A block may use what the README's text gives it: the types other blocks declare (the
    /// network of the first block), the first block's <c>using NtkDsl;</c>, and what <see cref="SnippetContext"/>
    /// declares (inputs xTrain, xTest, yTrain: Matrix&lt;double&gt;; WideNet, described in a comment).
    /// </summary>
    [Theory]
    [InlineData("README.md", 5)]
    [InlineData("src/PackageReadme.md", 1)]         // the packages' README.md
    public void Every_csharp_block_of_the_readme_compiles_as_shown(string readme, int atLeast)
    {
        var blocks = CSharpBlocks(File.ReadAllText(Path.Combine(RepositoryRoot(), readme)));
        Assert.True(blocks.Count >= atLeast, $"only {blocks.Count} C# blocks found in {readme}");
        var declarations = blocks.SelectMany(b => TypeDeclarations(b.Code)).DistinctBy(d => d.Name).ToList();
        var failures = new List<string>();
        foreach (var (line, code) in blocks)
        {
            var errors = CompileSnippet(code, declarations);
            output.WriteLine($"{readme}:{line}: {(errors.Count == 0 ? "compiles" : errors.Count + " errors")}");
            if (errors.Count > 0) failures.Add($"{readme}:{line}:\n{code}\n" + string.Join("\n", errors));
        }

        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [Fact]
    public void The_package_readme_has_only_absolute_links()
    {
        // A package page (nuget.org) cannot resolve links relative to the repository.
        var links = Regex.Matches(File.ReadAllText(Path.Combine(RepositoryRoot(), "src", "PackageReadme.md")), @"\]\(([^)]*)\)");
        Assert.All(links, l => Assert.Matches("^(https?://|#)", l.Groups[1].Value));
    }

    [Fact]
    public void The_snippet_compiler_reports_errors()
    {
        // The first block of README before issue 11: a type declared before top-level statements (CS8803).
        Assert.Contains(CompileSnippet("using NtkDsl;\n[Network(Inputs = 2)]\n[Dense(1)]\npublic partial class TwoLayerNet;\nvar t = TwoLayerNet.InitializeParameters<double>(0);\n", []),
            e => e.Contains("CS8803", StringComparison.Ordinal));
        Assert.Contains(CompileSnippet("var y = NoSuchNet.Forward(xTrain);", []), e => e.Contains("CS0103", StringComparison.Ordinal));
        Assert.Empty(CompileSnippet("var y = WideNet.Forward(WideNet.InitializeParameters<double>(0), xTrain);", []));
        var net = TypeDeclarations("[Network(Inputs = 2)]\n[Dense(1)]\npublic partial class Net;");
        Assert.Empty(CompileSnippet("var y = Net.Forward(Net.InitializeParameters<double>(0), xTrain);", net));
        Assert.NotEmpty(CompileSnippet("var y = Net.Forward(Net.InitializeParameters<double>(0), xTrain);", []));
    }

    [Fact]
    public void Quick_tour_members()
    {
        // --- README's first block (without the declaration of TwoLayerNet, above here) ---
        var x = Matrix<double>.FromArray(new double[,] { { 1, 0 }, { 0.6, 0.8 }, { -1, 0.5 } });   // N = 3 inputs of size 2
        var theta = TwoLayerNet.InitializeParameters<double>(seed: 0);   // flat vector, public layout
        var y     = TwoLayerNet.Forward(theta, x);                        // [N, 2] -> [N, 1]
        var grad  = TwoLayerNet.Vjp(theta, x, y);                         // gradient of <cotangent, f> (here cotangent = y)
        var jvp   = TwoLayerNet.Jvp(theta, x, grad);                      // J(x) tangent by forward mode (here tangent = grad)
        var theta12 = TwoLayerNet.Ntk(theta, x, x, NtkMode.Full);         // Theta(x1, x2), float or double
        // --- end of the block ---
        Assert.Equal((3, 1), (y.Rows, y.Cols));
        Assert.Equal(TwoLayerNet.ParameterCount, grad.Length);
        Assert.Equal((3, 1), (jvp.Rows, jvp.Cols));
        Assert.Equal((3, 3), (theta12.Rows, theta12.Cols));
    }

    [Fact]
    public void Infinite_width_section()
    {
        var k = TwoLayerNet.InfiniteWidth(xTrain, xTest);
        var d = TwoLayerNet.InfiniteWidthDiagonal(xTrain);
        var loose = TwoLayerNet.InfiniteWidth(xTrain, options: new InfiniteWidthOptions { QuadratureTolerance = 1e-6 });
        Assert.Equal((8, 3), (k.Ntk.Rows, k.Ntk.Cols));
        Assert.Equal(loose.Ntk[2, 2], d.Ntk[2], 1e-12);
    }

    [Fact]
    public void Dynamics_section()
    {
        var theta0 = TwoLayerNet.InitializeParameters<double>(0);
        var ntk = TwoLayerNet.Ntk(theta0, xTrain);
        var dynamics = new GradientDescentMse(ntk, yTrain, learningRate: 0.1, diagReg: 1e-6);
        var at10 = dynamics.Predict(10.0, TwoLayerNet.Forward(theta0, xTrain), TwoLayerNet.Forward(theta0, xTest),
                                    TwoLayerNet.Ntk(theta0, xTest, xTrain));
        Assert.Equal((8, 1), (at10.Train.Rows, at10.Train.Cols));
        Assert.Equal((3, 1), (at10.Test!.Rows, at10.Test.Cols));
    }

    // The training section's snippet, at width 1024 here (the README's width 4096 takes longer).
    [Fact]
    public void Training_section_runs_and_agrees_with_the_ntk_prediction()
    {
        var xTrain = Gaussian(16, 4, seed: 81);
        var xTest = Gaussian(8, 4, seed: 82);
        var yTrain = SmoothTarget(xTrain);

        // --- README snippet (verbatim from here) ---
        var theta0 = WideNet.InitializeParameters<double>(seed: 0);
        var ntk = WideNet.Ntk(theta0, xTrain);                                  // empirical NTK at initialization
        double lr = 0.1 * GradientDescentMse.MaxLearningRate(ntk, yTrain);
        var theta = (double[])theta0.Clone();                                   // trained in place
        var trainer = new Trainer<double>(new NetworkModel<WideNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(lr));
        trainer.Train(theta, xTrain, yTrain, new TrainingOptions<double> { Epochs = 200 });   // 200 full-batch GD steps
        var predicted = new GradientDescentMse(ntk, yTrain, lr).PredictTest(200, WideNet.Forward(theta0, xTrain),
            WideNet.Forward(theta0, xTest), WideNet.Ntk(theta0, xTest, xTrain));  // closed-form NTK dynamics after 200 steps
        var trained = WideNet.Forward(theta, xTest);
        // --- end of snippet ---

        double err = MaxAbsDiff(trained, predicted), moved = MaxAbsDiff(trained, WideNet.Forward(theta0, xTest));
        output.WriteLine($"width 1024: max |trained - predicted| = {err:E2} on test outputs that moved by up to {moved:F3}");
        Assert.True(err < 2e-2 && moved > 0.1, $"error {err:E2}, moved {moved:F3}");
    }

    /// <summary>What the README's snippets use without declaring it (compiled with each snippet).</summary>
    private const string SnippetContext = """
        global using NtkDsl;
        global using static SnippetInputs;

        public static class SnippetInputs
        {
            public static readonly Matrix<double> xTrain = new(8, 2), xTest = new(3, 2), yTrain = new(8, 1);
        }

        [Network(Inputs = 2)]
        [Dense(4096), Erf]
        [Dense(1)]
        public partial class WideNet;
        """;

    private static readonly MetadataReference[] SnippetReferences =
    [
        .. Basic.Reference.Assemblies.Net100.References.All,
        .. new[] { typeof(Matrix<>), typeof(NtkDsl.Torch.TorchConvert), typeof(TorchSharp.torch), typeof(MathNet.Numerics.LinearAlgebra.Matrix<>) }
            .Select(t => MetadataReference.CreateFromFile(t.Assembly.Location)),
    ];

    /// <summary>The ```csharp (or cs, c#) fenced blocks of a markdown text, with the line each starts on.</summary>
    internal static List<(int Line, string Code)> CSharpBlocks(string markdown)
    {
        var blocks = new List<(int, string)>();
        var lines = markdown.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            if (!Regex.IsMatch(lines[i], @"^\s*```\s*(csharp|cs|c#)\s*$", RegexOptions.IgnoreCase)) continue;
            int start = i + 1, end = start;
            while (end < lines.Length && !Regex.IsMatch(lines[end], @"^\s*```\s*$")) end++;
            blocks.Add((start, string.Join("\n", lines[start..end])));
            i = end;
        }

        return blocks;
    }

    /// <summary>The types a snippet declares, each with its attributes.</summary>
    internal static List<(string Name, string Source)> TypeDeclarations(string code) =>
        CSharpSyntaxTree.ParseText(code, SnippetParseOptions).GetCompilationUnitRoot().DescendantNodes()
            .OfType<BaseTypeDeclarationSyntax>()
            .Where(t => t.Parent is CompilationUnitSyntax or BaseNamespaceDeclarationSyntax)
            .Select(t => (t.Identifier.Text, t.ToFullString()))
            .ToList();

    private static readonly CSharpParseOptions SnippetParseOptions = new(LanguageVersion.Latest);

    /// <summary>
    /// Compile errors of one snippet (top-level statements make it a console program) after the generator ran, with
    /// <see cref="SnippetContext"/> and those of <paramref name="declarations"/> that the snippet does not declare itself.
    /// </summary>
    internal static List<string> CompileSnippet(string code, IEnumerable<(string Name, string Source)> declarations)
    {
        var snippet = CSharpSyntaxTree.ParseText(code, SnippetParseOptions, path: "Snippet.cs");
        var own = TypeDeclarations(code).Select(d => d.Name).ToHashSet();
        var others = string.Join("\n", declarations.Where(d => !own.Contains(d.Name)).Select(d => d.Source));
        bool program = snippet.GetRoot().DescendantNodes().OfType<GlobalStatementSyntax>().Any();
        var compilation = CSharpCompilation.Create("ReadmeSnippet",
            [snippet, CSharpSyntaxTree.ParseText(SnippetContext + "\n" + others, SnippetParseOptions, path: "Context.cs")],
            SnippetReferences,
            new CSharpCompilationOptions(program ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        CSharpGeneratorDriver.Create([new NtkDsl.Generator.NetworkGenerator().AsSourceGenerator()], parseOptions: SnippetParseOptions)
            .RunGeneratorsAndUpdateCompilation(compilation, out var generated, out var generatorDiagnostics);
        return generatorDiagnostics.Concat(generated.GetDiagnostics())
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => d.ToString())
            .ToList();
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NtkDsl.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("NtkDsl.sln not found above " + AppContext.BaseDirectory);
    }
}

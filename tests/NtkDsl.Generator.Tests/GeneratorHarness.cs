using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NtkDsl.Generator;

namespace NtkDsl.Generator.Tests;

/// <summary>Runs the generator on source text the way the compiler does, against .NET 10 reference assemblies and NtkDsl.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly ImmutableArray<MetadataReference> References =
    [
        .. Basic.Reference.Assemblies.Net100.References.All,
        MetadataReference.CreateFromFile(typeof(NtkDsl.Matrix<>).Assembly.Location),
    ];

    public static CSharpCompilation Compile(params string[] sources) =>
        CSharpCompilation.Create("UserAssembly",
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Source{i}.cs")),
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver CreateDriver(bool trackSteps = false) =>
        CSharpGeneratorDriver.Create([new NetworkGenerator().AsSourceGenerator()], parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    /// <summary>Runs the generator; returns its result and the compilation with generated sources added.</summary>
    public static (GeneratorRunResult Result, Compilation Output, ImmutableArray<Diagnostic> CompileDiagnostics) Run(params string[] sources)
    {
        var compilation = Compile(sources);
        var driver = CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        var result = driver.GetRunResult().Results.Single();
        return (result, output, output.GetDiagnostics());
    }

    /// <summary>Generator diagnostics (NTK####) of a source, sorted by position.</summary>
    public static ImmutableArray<Diagnostic> Diagnostics(params string[] sources) =>
        [.. Run(sources).Result.Diagnostics.OrderBy(d => d.Location.SourceSpan.Start)];

    /// <summary>Compiles sources plus generated code to an in-memory assembly and loads it in a collectable context.</summary>
    public static Assembly CompileAndLoad(params string[] sources)
    {
        var (result, output, diagnostics) = Run(sources);
        if (result.Exception is not null) throw result.Exception;
        var errors = diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0) throw new InvalidOperationException("Generated code does not compile:\n" + string.Join("\n", errors));
        using var stream = new MemoryStream();
        var emit = output.Emit(stream);
        if (!emit.Success) throw new InvalidOperationException(string.Join("\n", emit.Diagnostics));
        stream.Position = 0;
        return new AssemblyLoadContext("generated-" + Guid.NewGuid(), isCollectible: true).LoadFromStream(stream);
    }
}

using System.Reflection;
using Microsoft.CodeAnalysis;
using NtkDsl.Generator.Diagnostics;
using NtkDsl.Generator.Emitting;
using NtkDsl.Generator.Model;
using NtkDsl.Generator.Parsing;
using NtkDsl.Generator.Validation;

namespace NtkDsl.Generator;

/// <summary>
/// The pipeline only: find [Network] classes, parse them to plain values, validate (pure), then emit
/// source for valid networks and report diagnostics through a separate output, so that a diagnostic
/// change never invalidates cached source and vice versa.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class NetworkGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps (used by incrementality tests).</summary>
    public static class Steps
    {
        public const string Parse = nameof(Parse);
        public const string Validate = nameof(Validate);
        public const string Emit = nameof(Emit);
        public const string Diagnostics = nameof(Diagnostics);
    }

    // The package version without SourceLink's "+commit" build metadata, so generated code does not change with every commit.
    private static readonly string Version =
        (typeof(NetworkGenerator).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0")
        .Split('+')[0];

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var validated = context.SyntaxProvider
            .ForAttributeWithMetadataName(NetworkParser.NetworkAttributeName,
                static (node, _) => NetworkParser.IsCandidate(node),
                NetworkParser.Parse)
            .WithTrackingName(Steps.Parse)
            .Where(static parsed => parsed is not null)
            .Select(static (parsed, _) => (Network: parsed!, Diagnostics: NetworkValidator.Validate(parsed!)))
            .WithTrackingName(Steps.Validate);

        var models = validated
            .Where(static v => NetworkValidator.AllowsEmission(v.Diagnostics))
            .Select(static (v, _) => (v.Network.Model, v.Network.HintName))
            .WithTrackingName(Steps.Emit);
        context.RegisterSourceOutput(models, static (spc, network) =>
            spc.AddSource(network.HintName, NetworkEmitter.Emit(network.Model, Version)));

        var diagnostics = validated.Select(static (v, _) => v.Diagnostics).WithTrackingName(Steps.Diagnostics);
        context.RegisterSourceOutput(diagnostics, static (spc, found) =>
        {
            foreach (var info in found)
            {
                if (DiagnosticDescriptors.ById(info.Id) is { } descriptor)
                    spc.ReportDiagnostic(Diagnostic.Create(descriptor, info.Location?.ToLocation(), System.Linq.Enumerable.ToArray<object>(info.Arguments)));
            }
        });
    }
}

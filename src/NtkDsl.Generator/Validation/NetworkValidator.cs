using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using NtkDsl.Generator.Diagnostics;
using NtkDsl.Generator.Emitting;
using NtkDsl.Generator.Ir;
using NtkDsl.Generator.Helpers;
using NtkDsl.Generator.Model;

namespace NtkDsl.Generator.Validation;

/// <summary>Judges a parsed network. A pure function of its input, so its result caches with it.</summary>
internal static class NetworkValidator
{
    public static EquatableArray<DiagnosticInfo> Validate(ParsedNetwork network)
    {
        var found = new List<DiagnosticInfo>();
        var model = network.Model;
        var name = model.TypeName;
        var at = network.NetworkLocation;
        void Report(string id, LocationInfo? location, params string[] args) =>
            found.Add(new DiagnosticInfo(id, location ?? at, args.ToEquatableArray()));

        if (!network.Type.IsPartial) Report("NTK0001", at, name);
        if (model.TypeKeyword.Contains("struct")) Report("NTK0008", at, name, "a struct");
        if (network.Type.FileLocalType is { } fileLocal) Report("NTK0018", at, name, fileLocal == name ? "is file-local" : $"is nested in the file-local type '{fileLocal}'");
        if (GeneratedNames.IsReservedTypeName(name)) Report("NTK0017", at, name, $"the network is named '{name}'", "rename the network");
        foreach (var used in network.Type.ReservedNamesUsed)
            Report("NTK0017", at, name, GeneratedNames.ContextualKeywords.Contains(used) ? $"a type named '{used}' contains or is declared in it" : $"it declares a member named '{used}'", "rename that member");
        if (network.Type.IsStatic) Report("NTK0011", at, name);
        if (network.Type.IsGeneric) Report("NTK0008", at, name, "generic");
        else if (network.Type.InGenericType) Report("NTK0008", at, name, "nested in a generic type");
        if (network.Type.NonPartialContainer is { } container) Report("NTK0010", at, container, name);

        if (network.ParameterizationValue is not (0 or 1))
            Report("NTK0009", at, "Parameterization", $"[Network] on '{name}'", Format(network.ParameterizationValue), "use Parameterization.Ntk or Parameterization.Standard");
        if (model.Inputs <= 0) Report("NTK0002", at, name, Format(model.Inputs));
        CheckStd("WeightStd", model.WeightStd, $"[Network] on '{name}'", at);
        CheckStd("BiasStd", model.BiasStd, $"[Network] on '{name}'", at);

        foreach (var unknown in network.UnknownLayers) Report("NTK0014", unknown.Location, unknown.Name);
        if (model.Layers.Count == 0)
        {
            if (network.UnknownLayers.Count == 0) Report("NTK0003", at, name);
            return found.ToEquatableArray();
        }

        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var site = network.LayerSites[i].Location;
            string where = $"layer {i + 1} ({layer.Kind}) of '{name}'";
            switch (layer.Kind)
            {
                case LayerKind.Dense:
                    if (layer.Width <= 0) Report("NTK0004", site, (i + 1).ToString(CultureInfo.InvariantCulture), name, Format(layer.Width));
                    if (layer.WeightStd is { } ws) CheckStd("WeightStd", ws, where, site);
                    if (layer.BiasStd is { } bs) CheckStd("BiasStd", bs, where, site);
                    if (layer.BiasStd is not null && !layer.HasBias) Report("NTK0013", site, (i + 1).ToString(CultureInfo.InvariantCulture), name);
                    break;
                case LayerKind.LeakyRelu:
                    CheckFinite("Slope", layer.A, where, site);
                    break;
                case LayerKind.Erf:
                case LayerKind.Sin:
                    CheckFinite("A", layer.A, where, site);
                    CheckFinite("B", layer.B, where, site);
                    CheckFinite("C", layer.C, where, site);
                    break;
                case LayerKind.Elementwise:
                    if (layer.Problem is { } problem) Report("NTK0019", site, (i + 1).ToString(CultureInfo.InvariantCulture), name, problem);
                    break;
                case LayerKind.Tanh:
                case LayerKind.Sigmoid:
                case LayerKind.Softplus:
                    Report("NTK0015", site, layer.Kind.ToString(), (i + 1).ToString(CultureInfo.InvariantCulture), name);
                    break;
            }
        }

        var nonGaussian = FirstNonGaussianActivation(model);
        if (nonGaussian >= 0)
            Report("NTK0016", network.LayerSites[nonGaussian].Location, name, model.Layers[nonGaussian].Kind.ToString(), (nonGaussian + 1).ToString(CultureInfo.InvariantCulture));

        var last = model.Layers[model.Layers.Count - 1];
        if (!last.IsDense) Report("NTK0006", network.LayerSites[model.Layers.Count - 1].Location, name, last.Kind.ToString());

        var firstDeclaration = network.LayerSites[0].DeclarationIndex;
        var split = network.LayerSites.FirstOrDefault(s => s.DeclarationIndex != firstDeclaration);
        if (split is not null) Report("NTK0007", split.Location, name);

        if (!found.Any(d => IsError(d.Id)))
        {
            // What lowering derives must fit the emitted code: an int parameter vector and finite double literals.
            var ir = Lowering.Lower(model);
            if (ir.ParameterCount > int.MaxValue)
                Report("NTK0012", at, name, ir.ParameterCount >= long.MaxValue / 4 ? "more than 9.2e18" : ir.ParameterCount.ToString(CultureInfo.InvariantCulture));
            foreach (var node in ir.WithParameters)
            {
                var p = node.Parameters!;
                var site = network.LayerSites[node.Index].Location;
                string where = $"layer {node.Number} ({node.Kind}) of '{name}'";
                if (!IsFinite(p.WeightScale) || !IsFinite(p.NtkWeight))
                    Report("NTK0009", node.Declaration.WeightStd is null ? at : site, "WeightStd", node.Declaration.WeightStd is null ? $"[Network] on '{name}' (used by {where})" : where,
                        Format(p.WeightStd), "its square overflows a double; use a value below 1e154");
                if (!IsFinite(p.BiasScale) || !IsFinite(p.NtkBias))
                    Report("NTK0009", node.Declaration.BiasStd is null ? at : site, "BiasStd", node.Declaration.BiasStd is null ? $"[Network] on '{name}' (used by {where})" : where,
                        Format(p.BiasStd), "its square overflows a double; use a value below 1e154");
            }
        }

        return found.ToEquatableArray();

        void CheckStd(string property, double value, string owner, LocationInfo? location)
        {
            if (double.IsNaN(value) || double.IsInfinity(value) || value < 0)
                Report("NTK0005", location, property, owner, Format(value));
        }

        void CheckFinite(string property, double value, string owner, LocationInfo? location)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
                Report("NTK0009", location, property, owner, Format(value), "it must be a finite number");
        }
    }

    /// <summary>
    /// Index of the first activation (other than Identity) whose input is not a Dense layer's output, or -1.
    /// The infinite-width recursion needs Gaussian pre-activations, as in neural-tangents.
    /// </summary>
    public static int FirstNonGaussianActivation(NetworkModel model)
    {
        bool gaussian = false;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var kind = model.Layers[i].Kind;
            if (kind == LayerKind.Dense) gaussian = true;
            else if (kind == LayerKind.Identity) continue;
            else if (!gaussian) return i;
            else gaussian = false;
        }

        return -1;
    }

    private static bool IsFinite(double value) => !double.IsNaN(value) && !double.IsInfinity(value);

    private static bool IsError(string id) => DiagnosticDescriptors.ById(id)?.DefaultSeverity == DiagnosticSeverity.Error;

    /// <summary>True when no diagnostic is an error (warnings and infos still allow emitting code).</summary>
    public static bool AllowsEmission(EquatableArray<DiagnosticInfo> diagnostics) =>
        !diagnostics.Any(d => DiagnosticDescriptors.ById(d.Id)?.DefaultSeverity != DiagnosticSeverity.Info &&
                              DiagnosticDescriptors.ById(d.Id)?.DefaultSeverity != DiagnosticSeverity.Warning);

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);
}

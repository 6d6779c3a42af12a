using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis;
using NtkDsl.Generator.Diagnostics;
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

        long parameters = 0;
        long fanIn = model.Inputs;
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
                    parameters += fanIn * layer.Width + (layer.HasBias ? layer.Width : 0);
                    fanIn = layer.Width;
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
                case LayerKind.Tanh:
                case LayerKind.Sigmoid:
                case LayerKind.Softplus:
                    Report("NTK0015", site, layer.Kind.ToString(), (i + 1).ToString(CultureInfo.InvariantCulture), name);
                    break;
            }
        }

        if (parameters > int.MaxValue) Report("NTK0012", at, name, parameters.ToString(CultureInfo.InvariantCulture));

        var nonGaussian = FirstNonGaussianActivation(model);
        if (nonGaussian >= 0)
            Report("NTK0016", network.LayerSites[nonGaussian].Location, name, model.Layers[nonGaussian].Kind.ToString(), (nonGaussian + 1).ToString(CultureInfo.InvariantCulture));

        var last = model.Layers[model.Layers.Count - 1];
        if (!last.IsDense) Report("NTK0006", network.LayerSites[model.Layers.Count - 1].Location, name, last.Kind.ToString());

        var firstDeclaration = network.LayerSites[0].DeclarationIndex;
        var split = network.LayerSites.FirstOrDefault(s => s.DeclarationIndex != firstDeclaration);
        if (split is not null) Report("NTK0007", split.Location, name);

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

    /// <summary>True when no diagnostic is an error (warnings and infos still allow emitting code).</summary>
    public static bool AllowsEmission(EquatableArray<DiagnosticInfo> diagnostics) =>
        !diagnostics.Any(d => DiagnosticDescriptors.ById(d.Id)?.DefaultSeverity != DiagnosticSeverity.Info &&
                              DiagnosticDescriptors.ById(d.Id)?.DefaultSeverity != DiagnosticSeverity.Warning);

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);
}

using NtkDsl.Layers;
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

        bool kernelLimit = AbcParameterization.Of(model.Parameterization).HasKernelLimit;
        if (network.ParameterizationValue is not (>= 0 and <= 3))
            Report("NTK0009", at, "Parameterization", $"[Network] on '{name}'", Format(network.ParameterizationValue),
                "use Parameterization.Ntk, Standard, MeanField or MaximalUpdate");
        else if (!kernelLimit)
            Report("NTK0040", at, name, model.Parameterization.ToString());
        var spatial = model.Spatial;
        bool inputValid = spatial.IsDeclared ? spatial.IsValid && (model.Inputs == 0 || model.Inputs == spatial.Size) : model.Inputs > 0;
        if (spatial.IsDeclared && !inputValid) Report("NTK0020", at, name, DescribeInput(model));
        else if (!inputValid) Report("NTK0002", at, name, Format(model.Inputs));
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
                case LayerKind.Conv:
                    if (layer.Width <= 0 && layer.IsDense) Report("NTK0004", site, (i + 1).ToString(CultureInfo.InvariantCulture), name, Format(layer.Width));
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
                    if (kernelLimit) Report("NTK0015", site, layer.Kind.ToString(), (i + 1).ToString(CultureInfo.InvariantCulture), name);
                    break;
            }
        }

        var nonGaussian = FirstNonGaussianActivation(model);
        if (nonGaussian >= 0 && kernelLimit)
            Report("NTK0016", network.LayerSites[nonGaussian].Location, name, model.Layers[nonGaussian].Kind.ToString(), (nonGaussian + 1).ToString(CultureInfo.InvariantCulture));

        var last = model.Layers[model.Layers.Count - 1];
        if (!last.IsDense) Report("NTK0006", network.LayerSites[model.Layers.Count - 1].Location, name, last.Kind.ToString());

        var firstDeclaration = network.LayerSites[0].DeclarationIndex;
        var split = network.LayerSites.FirstOrDefault(s => s.DeclarationIndex != firstDeclaration);
        if (split is not null) Report("NTK0007", split.Location, name);

        if (inputValid) CheckShapes(network, found);

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
    /// Index of the first activation (other than Identity) whose input is not a linear image of a Dense or Conv
    /// layer's output (pooling and Flatten are linear), or -1. The infinite-width recursion needs Gaussian
    /// pre-activations, as in neural-tangents.
    /// </summary>
    public static int FirstNonGaussianActivation(NetworkModel model)
    {
        bool gaussian = false;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            if (layer.HasWeights) gaussian = true;
            else if (layer.IsSpatial || layer.Kind == LayerKind.Identity) continue;
            else if (!gaussian) return i;
            else gaussian = false;
        }

        return -1;
    }

    // The shapes through the layers (on a valid input): spatial layers need spatial inputs, Dense needs features,
    // windows must be well formed and fit. The first shape error stops the walk (later shapes would be guesses).
    private static void CheckShapes(ParsedNetwork network, List<DiagnosticInfo> found)
    {
        var ir = Lowering.Lower(network.Model);
        string name = network.Model.TypeName;
        foreach (var node in ir.Nodes)
        {
            var layer = node.Declaration;
            var site = network.LayerSites[node.Index].Location;
            string number = Format(node.Number), kind = layer.Kind.ToString(), input = node.InShape.ToString();
            void Report(string id, params string[] args) => found.Add(new DiagnosticInfo(id, site, args.ToEquatableArray()));
            if (layer.IsSpatial && !node.InShape.IsSpatial)
            {
                Report("NTK0021", number, kind, name, input);
                return;
            }

            if (layer.IsDense && node.InShape.IsSpatial)
            {
                Report("NTK0022", number, name, input);
                return;
            }

            if (node.Window is not { } window) continue;
            string? problem =
                layer.Kind == LayerKind.Conv && layer.Width <= 0 ? $"a convolution needs positive output channels (got {Format(layer.Width)})" :
                layer.Kernel <= 0 ? $"the window size must be positive (got {Format(layer.Kernel)})" :
                layer.Kind == LayerKind.Conv ? (layer.Stride <= 0 ? $"the stride must be positive (got {Format(layer.Stride)})" : null) :
                layer.Stride < 0 ? $"the stride must be positive, or 0 for the window size (got {Format(layer.Stride)})" : null;
            problem ??= layer.Padding is < 0 or > 2 ? $"Padding = {Format(layer.Padding)} is not Padding.Valid, Same or Circular" : null;
            problem ??= node.OutShape.Positions == 0
                ? $"a {Size(node.InShape, window.Height, window.Width)} window with Valid padding does not fit (it has no output position); use a smaller window or Same padding"
                : null;
            if (problem is not null)
            {
                Report("NTK0023", number, kind, name, input, problem);
                return;
            }

            if (window.Padding == Padding.Valid)
            {
                foreach (var (size, extent, stride, outSize) in new[]
                         {
                             (window.Height, node.InShape.Height, window.StrideHeight, node.OutShape.Height),
                             (window.Width, node.InShape.Width, window.StrideWidth, node.OutShape.Width),
                         })
                {
                    int unread = extent - ((outSize - 1) * stride + size);
                    if (unread > 0)
                    {
                        Report("NTK0024", number, kind, name, Format(size), Format(stride), Format(extent), Format(unread), node.OutShape.ToString());
                        break;
                    }
                }
            }
        }
    }

    private static string Size(TensorShape input, int height, int width) => input.Sequence ? Format(width) : $"{Format(height)}x{Format(width)}";

    // The spatial properties and Inputs as declared, for NTK0020.
    private static string DescribeInput(NetworkModel model)
    {
        var s = model.Spatial;
        var parts = new List<string>();
        if (s.Channels != 0) parts.Add($"Channels = {Format(s.Channels)}");
        if (s.Height != 0) parts.Add($"Height = {Format(s.Height)}");
        if (s.Width != 0) parts.Add($"Width = {Format(s.Width)}");
        if (s.Length != 0) parts.Add($"Length = {Format(s.Length)}");
        if (model.Inputs != 0) parts.Add($"Inputs = {Format(model.Inputs)}" + (s.IsValid ? $" (C * H * W is {s.Size.ToString(CultureInfo.InvariantCulture)})" : ""));
        return string.Join(", ", parts);
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

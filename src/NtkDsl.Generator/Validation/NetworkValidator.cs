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

        bool abcValid = CheckAbc(), kernelLimit = model.Abc.HasKernelLimit;
        if (network.ParameterizationValue is not (>= 0 and <= 4))
            Report("NTK0009", at, "Parameterization", $"[Network] on '{name}'", Format(network.ParameterizationValue),
                "use Parameterization.Ntk, Standard, MeanField, MaximalUpdate or Abc");
        else if (abcValid && model.Abc.NoKernelReason is { } reason)
            Report("NTK0040", at, name, reason);
        var spatial = model.Spatial;
        bool inputValid = spatial.IsDeclared ? spatial.IsValid && (model.Inputs == 0 || model.Inputs == spatial.Size) : model.Inputs > 0;
        if (spatial.IsDeclared && !inputValid) Report("NTK0020", at, name, DescribeInput(model));
        else if (!inputValid) Report("NTK0002", at, name, Format(model.Inputs));
        CheckStd("WeightStd", model.WeightStd, $"[Network] on '{name}'", at);
        CheckStd("BiasStd", model.BiasStd, $"[Network] on '{name}'", at);

        foreach (var unknown in network.UnknownLayers.Concat(network.BlockSites.SelectMany(b => b.UnknownLayers))) Report("NTK0014", unknown.Location, unknown.Name);
        if (model.Layers.Count == 0)
        {
            if (network.UnknownLayers.Count == 0) Report("NTK0003", at, name);
            return found.ToEquatableArray();
        }

        CheckLayers(model.Layers, null, $"'{name}'");
        foreach (var block in model.Blocks.Where(b => b.Problem is null)) CheckLayers(block.Layers, block.Key, $"block '{block.Name}'");
        CheckBlocks(network, found);

        void CheckLayers(EquatableArray<LayerModel> layers, string? block, string owner)
        {
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            var site = network.SiteOf(block, i);
            string where = $"layer {i + 1} ({layer.Kind}) of {owner}";
            switch (layer.Kind)
            {
                case LayerKind.Dense:
                case LayerKind.Conv:
                    if (layer.Width <= 0 && layer.IsDense) Report("NTK0004", site, (i + 1).ToString(CultureInfo.InvariantCulture), block is null ? name : owner, Format(layer.Width));
                    if (layer.WeightStd is { } ws) CheckStd("WeightStd", ws, where, site);
                    if (layer.BiasStd is { } bs) CheckStd("BiasStd", bs, where, site);
                    if (layer.BiasStd is not null && !layer.HasBias) Report("NTK0013", site, (i + 1).ToString(CultureInfo.InvariantCulture), block is null ? name : owner);
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
                    if (layer.Problem is { } problem) Report("NTK0019", site, (i + 1).ToString(CultureInfo.InvariantCulture), block is null ? name : owner, problem);
                    break;
                case LayerKind.Tanh:
                case LayerKind.Sigmoid:
                case LayerKind.Softplus:
                    if (kernelLimit) Report("NTK0015", site, layer.Kind.ToString(), (i + 1).ToString(CultureInfo.InvariantCulture), block is null ? name : owner);
                    break;
                case LayerKind.LayerNorm:
                    if (double.IsNaN(layer.A) || double.IsInfinity(layer.A) || layer.A < 0)
                        Report("NTK0009", site, "Epsilon", where, Format(layer.A), "it must be a finite number >= 0");
                    break;
            }
        }

            if (layers.Count > 0)
            {
                var sites = network.SitesOf(block);
                var split = sites.FirstOrDefault(s => s.DeclarationIndex != sites[0].DeclarationIndex);
                if (split is not null) Report("NTK0007", split.Location, block is null ? name : owner);
            }
        }

        var last = model.Layers[model.Layers.Count - 1];
        if (!last.IsDense) Report("NTK0006", network.LayerSites[model.Layers.Count - 1].Location, name, last.Kind.ToString());

        if (inputValid && !found.Any(d => IsError(d.Id))) CheckShapes(network, found);

        if (!found.Any(d => IsError(d.Id)))
        {
            // What lowering derives must fit the emitted code: an int parameter vector and finite double literals.
            var ir = Lowering.Lower(model);
            if (kernelLimit && InfiniteWidthObstacle(ir) is { } obstacle)
            {
                if (obstacle.IsJoin)
                    Report("NTK0036", network.SiteOf(obstacle.Origin.Block, obstacle.Origin.Layer), name, Describe(network, obstacle));
                else
                    Report("NTK0016", network.SiteOf(obstacle.Origin.Block, obstacle.Origin.Layer), name, obstacle.Kind.ToString(), Format(obstacle.Number));
            }

            if (ir.ParameterCount > int.MaxValue)
                Report("NTK0012", at, name, ir.ParameterCount >= long.MaxValue / 4 ? "more than 9.2e18" : ir.ParameterCount.ToString(CultureInfo.InvariantCulture));
            foreach (var node in ir.WithParameters)
            {
                var p = node.Parameters!;
                var site = network.SiteOf(node.Origin.Block, node.Origin.Layer);
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

        // The abc declaration: under Parameterization.Abc one valid [Abc] per role; otherwise none, nor ConstantsInMultiplier.
        bool CheckAbc()
        {
            var declared = network.Abc ?? new AbcDeclarations(EquatableArray<AbcDeclaration>.Empty, false, 0);
            int before = found.Count;
            bool isAbc = network.ParameterizationValue == (int)Parameterization.Abc;
            if (!isAbc)
            {
                string used = network.ParameterizationValue is >= 0 and <= 4 ? model.Parameterization.ToString() : Format(network.ParameterizationValue);
                string why = $"it applies to Parameterization.Abc only, and the network uses Parameterization.{used}; set Parameterization = Parameterization.Abc or remove it";
                foreach (var role in declared.Roles) Report("NTK0048", role.Location, "[Abc]", $"'{name}'", why);
                if (declared.ConstantsInMultiplierGiven) Report("NTK0048", at, "ConstantsInMultiplier", $"'{name}'", why);
            }

            foreach (var role in declared.OnBlocks)
                Report("NTK0048", role.Location, "[Abc]", $"block '{role.Block}' of '{name}'", $"a block has no parameterization of its own; put the exponents on '{name}', which declares [Network]");

            var seen = new HashSet<int>();
            foreach (var role in declared.Roles)
            {
                var exponents = new AbcExponents(role.A, role.B, role.C);
                if (role.RoleValue is < (int)LayerRole.Hidden or > (int)LayerRole.Output)
                    Report("NTK0047", role.Location, name, $"role {Format(role.RoleValue)}", "use LayerRole.Input, LayerRole.Hidden or LayerRole.Output");
                else if (AbcParameterization.ExponentProblem(exponents) is { } problem)
                    Report("NTK0047", role.Location, name, $"exponents a = {Format(role.A)}, b = {Format(role.B)}, c = {Format(role.C)}", problem);
                if (role.RoleValue is >= (int)LayerRole.Hidden and <= (int)LayerRole.Output && !seen.Add(role.RoleValue))
                    Report("NTK0046", role.Location, ((LayerRole)role.RoleValue).ToString(), name);
            }

            if (isAbc)
            {
                foreach (var role in new[] { LayerRole.Input, LayerRole.Hidden, LayerRole.Output })
                    if (!seen.Contains((int)role)) Report("NTK0045", at, name, role.ToString());
            }

            if (BaseWidthProblem(model.Abc, declared.BaseWidth) is { } baseProblem && network.ParameterizationValue is >= 0 and <= 4)
                Report("NTK0049", at, name, Format(declared.BaseWidth), baseProblem);
            return found.Count == before;
        }

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
    /// The first node that keeps the infinite-width kernel from being generated, or null: an activation (other than
    /// Identity) or LayerNorm whose input is not Gaussian in the limit (not a linear image of Dense or Conv outputs; pooling,
    /// Flatten and sums of Gaussians are linear), as in neural-tangents; or a FanInSum whose branches are correlated (more
    /// than one branch does not end in its own Dense or Conv layer followed only by linear maps or LayerNorm).
    /// </summary>
    public static LayerNode? InfiniteWidthObstacle(NetworkIr ir)
    {
        var gaussian = new bool[ir.Nodes.Count];
        var fresh = new bool[ir.Nodes.Count]; // odd in weights of its own: independent of other branches in the limit
        bool Gaussian(int k) => k >= 0 && gaussian[k];
        bool Fresh(int k) => k >= 0 && fresh[k];
        foreach (var node in ir.Nodes)
        {
            var layer = node.Declaration;
            int i = node.Index;
            if (layer.HasWeights)
            {
                gaussian[i] = fresh[i] = true;
            }
            else if (node.IsJoin)
            {
                if (node.Kind == LayerKind.FanInSum && node.Joined.Count(k => !Fresh(k)) > 1) return node;
                gaussian[i] = node.Joined.All(Gaussian);
            }
            else if (layer.IsSpatial || node.Kind == LayerKind.Identity)
            {
                (gaussian[i], fresh[i]) = (Gaussian(node.Input), Fresh(node.Input));
            }
            else if (!Gaussian(node.Input))
            {
                return node;
            }
            else if (node.Kind == LayerKind.LayerNorm)
            {
                (gaussian[i], fresh[i]) = (true, Fresh(node.Input));
            }
        }

        return null;
    }

    // [Residual(typeof(Block))] (layer 3 of 'Net'), for messages about a block reference.
    private static string Describe(ParsedNetwork network, LayerModel layer, string? block, int index)
    {
        var model = network.Model;
        string Name(string key) => model.Block(key)?.Name ?? key;
        string kind = layer.Kind.ToString();
        string args = layer.Kind == LayerKind.Repeat
            ? $"typeof({Name(layer.Blocks.Count > 0 ? layer.Blocks[0] : "null")}), {Format(layer.Width)}"
            : string.Join(", ", layer.Blocks.Select(b => $"typeof({Name(b)})"));
        string owner = block is null ? $"'{model.TypeName}'" : $"block '{Name(block)}'";
        return $"[{kind}({args})] (layer {Format(index + 1)} of {owner})";
    }

    private static string Describe(ParsedNetwork network, LayerNode join) => Describe(network, join.Declaration, join.Origin.Block, join.Origin.Layer);

    // Block references: usable types with layers, no cycles, positive repeat counts, at least two parallel branches,
    // and an expansion that fits NetworkIr.MaxNodes.
    private static void CheckBlocks(ParsedNetwork network, List<DiagnosticInfo> found)
    {
        var model = network.Model;
        var done = new HashSet<string>();
        void Check(EquatableArray<LayerModel> layers, string? block, List<string> path)
        {
            for (int i = 0; i < layers.Count; i++)
            {
                var layer = layers[i];
                if (!layer.IsBlockReference) continue;
                var site = network.SiteOf(block, i);
                string where = Describe(network, layer, block, i);
                void Report(string id, params string[] args) => found.Add(new DiagnosticInfo(id, site, args.ToEquatableArray()));
                if (layer.Kind == LayerKind.Repeat && layer.Width <= 0) Report("NTK0035", where, $"the repeat count must be positive (got {Format(layer.Width)})");
                if (layer.Kind is LayerKind.FanInSum or LayerKind.FanInConcat && layer.Blocks.Count < 2)
                    Report("NTK0035", where, $"parallel branches need at least two block types (got {Format(layer.Blocks.Count)}); for x + Block(x) use [Residual(typeof(Block))]");
                foreach (var key in layer.Blocks.Distinct())
                {
                    var target = model.Block(key);
                    string targetName = target?.Name ?? key;
                    if (target is null)
                    {
                        Report("NTK0030", key, where, "the network refers to more block types than the generator reads (256)");
                        continue;
                    }

                    if (target.Problem is { } problem)
                    {
                        Report("NTK0030", targetName, where, problem);
                        continue;
                    }

                    if (path.Contains(key))
                    {
                        Report("NTK0032", targetName, where, string.Join(" -> ", path.Skip(path.IndexOf(key)).Append(key).Select(k => model.Block(k)?.Name ?? k)));
                        continue;
                    }

                    if (target.Layers.Count == 0)
                    {
                        Report("NTK0031", targetName, where);
                        continue;
                    }

                    if (!done.Add(key)) continue; // its layers were checked already (blocks may be referenced many times)
                    path.Add(key);
                    Check(target.Layers, key, path);
                    path.RemoveAt(path.Count - 1);
                }
            }
        }

        Check(model.Layers, null, new List<string>());
        if (found.Any(d => IsError(d.Id))) return;
        if (Lowering.Lower(model).Truncated)
            found.Add(new DiagnosticInfo("NTK0035", network.NetworkLocation,
                new[] { $"'{model.TypeName}'", $"its blocks expand to more than {Format(NetworkIr.MaxNodes)} layers; use fewer repetitions" }.ToEquatableArray()));
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
            var site = network.SiteOf(node.Origin.Block, node.Origin.Layer);
            string number = Format(node.Number), kind = layer.Kind.ToString(), input = node.InShape.ToString();
            void Report(string id, params string[] args) => found.Add(new DiagnosticInfo(id, site, args.ToEquatableArray()));
            if (node.IsJoin)
            {
                var shapes = node.Joined.Select(ir.OutputOf).ToList();
                string list = string.Join(" and ", shapes.Select(s => s.ToString()));
                if (node.Kind == LayerKind.FanInSum && shapes.Any(s => s != shapes[0]))
                {
                    Report("NTK0033", Describe(network, node), list, layer.Kind == LayerKind.Residual
                        ? $"a residual block must give its input's shape {shapes[0]}; for a projection on the shortcut use [FanInSum(typeof(Block), typeof(Projection))]"
                        : "make every branch end in the same shape");
                    return;
                }

                if (node.Kind == LayerKind.FanInConcat && shapes.Any(s => s.IsSpatial != shapes[0].IsSpatial || s.Height != shapes[0].Height || s.Width != shapes[0].Width))
                {
                    Report("NTK0034", Describe(network, node), list);
                    return;
                }

                continue;
            }

            if (layer.IsSpatial && !node.InShape.IsSpatial)
            {
                Report("NTK0021", number, kind, name, input);
                return;
            }

            if (node.Kind == LayerKind.LayerNorm && node.InShape.Channels < 2)
            {
                Report("NTK0037", number, name, input);
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
    /// <summary>
    /// Why <paramref name="baseWidth"/> cannot be muTransfer's base width of <paramref name="abc"/> (null: it can, or it is 0,
    /// none): it must be positive, and the constants must be in the initialization, where the standard form has them.
    /// </summary>
    public static string? BaseWidthProblem(AbcParameterization abc, int baseWidth) =>
        baseWidth < 0 ? "a base width is positive (or 0 for none)"
        : baseWidth == 0 ? null
        : abc.Kind == Parameterization.Standard ? "it has no effect under Parameterization.Standard, which is the standard parameterization at every width; use it with Parameterization.MaximalUpdate"
        : abc.ConstantsInMultiplier ? $"the base width makes a parameterization the standard one at width n0, so it needs the constants in the initialization; Parameterization.{abc.Kind} has them in the forward multiplier (use Parameterization.MaximalUpdate, or Abc without ConstantsInMultiplier)"
        : null;

    public static bool AllowsEmission(EquatableArray<DiagnosticInfo> diagnostics) =>
        !diagnostics.Any(d => DiagnosticDescriptors.ById(d.Id)?.DefaultSeverity != DiagnosticSeverity.Info &&
                              DiagnosticDescriptors.ById(d.Id)?.DefaultSeverity != DiagnosticSeverity.Warning);

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);
}

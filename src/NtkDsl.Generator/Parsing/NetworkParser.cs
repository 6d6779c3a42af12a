using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using NtkDsl.Generator.Emitting;
using NtkDsl.Generator.Helpers;
using NtkDsl.Generator.Model;

namespace NtkDsl.Generator.Parsing;

/// <summary>Reads a [Network] class into plain values. Never throws on bad user code; validation judges it.</summary>
internal static class NetworkParser
{
    public const string NetworkAttributeName = "NtkDsl.NetworkAttribute";
    private const string LayerAttributeName = "NtkDsl.LayerAttribute";
    private const string AbcAttributeName = "NtkDsl.AbcAttribute";

    private static readonly Dictionary<string, LayerKind> KnownLayers = new()
    {
        ["NtkDsl.DenseAttribute"] = LayerKind.Dense,
        ["NtkDsl.ReluAttribute"] = LayerKind.Relu,
        ["NtkDsl.LeakyReluAttribute"] = LayerKind.LeakyRelu,
        ["NtkDsl.AbsAttribute"] = LayerKind.Abs,
        ["NtkDsl.ErfAttribute"] = LayerKind.Erf,
        ["NtkDsl.TanhAttribute"] = LayerKind.Tanh,
        ["NtkDsl.SigmoidAttribute"] = LayerKind.Sigmoid,
        ["NtkDsl.GeluAttribute"] = LayerKind.Gelu,
        ["NtkDsl.SoftplusAttribute"] = LayerKind.Softplus,
        ["NtkDsl.SinAttribute"] = LayerKind.Sin,
        ["NtkDsl.IdentityAttribute"] = LayerKind.Identity,
        ["NtkDsl.ElementwiseAttribute"] = LayerKind.Elementwise,
        ["NtkDsl.ConvAttribute"] = LayerKind.Conv,
        ["NtkDsl.AvgPoolAttribute"] = LayerKind.AvgPool,
        ["NtkDsl.SumPoolAttribute"] = LayerKind.SumPool,
        ["NtkDsl.GlobalAvgPoolAttribute"] = LayerKind.GlobalAvgPool,
        ["NtkDsl.FlattenAttribute"] = LayerKind.Flatten,
        ["NtkDsl.LayerNormAttribute"] = LayerKind.LayerNorm,
        ["NtkDsl.ResidualAttribute"] = LayerKind.Residual,
        ["NtkDsl.FanInSumAttribute"] = LayerKind.FanInSum,
        ["NtkDsl.FanInConcatAttribute"] = LayerKind.FanInConcat,
        ["NtkDsl.RepeatAttribute"] = LayerKind.Repeat,
    };

    // Blocks read per network at most (a guard for pathological declarations; more are left unread and reported as unknown).
    private const int MaxBlocks = 256;

    /// <summary>Classes and record classes carry [Network] (the attribute targets classes only).</summary>
    public static bool IsCandidate(SyntaxNode node) => node is ClassDeclarationSyntax or RecordDeclarationSyntax;

    /// <summary>
    /// Null when the attributes themselves do not compile (the compiler already reports that), and for every
    /// [Network] but the first when several partial declarations carry one (CS0579), so a type is emitted once.
    /// </summary>
    public static ParsedNetwork? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        if (context.TargetSymbol is not INamedTypeSymbol type || context.TargetNode is not TypeDeclarationSyntax node)
            return null;
        var network = context.Attributes[0];
        if (HasErrors(network)) return null;
        var first = type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == NetworkAttributeName);
        if (first?.ApplicationSyntaxReference is not { } firstReference || firstReference.SyntaxTree != node.SyntaxTree ||
            !node.Span.Contains(firstReference.Span)) return null;

        int inputs = 0, parameterization = 0, channels = 0, height = 0, width = 0, length = 0, baseWidth = 0;
        double weightStd = 1.0, biasStd = 0.0;
        bool constantsInMultiplier = false, constantsGiven = false;
        foreach (var argument in network.NamedArguments)
        {
            switch (argument.Key)
            {
                case "Inputs": inputs = AsInt(argument.Value); break;
                case "WeightStd": weightStd = AsDouble(argument.Value); break;
                case "BiasStd": biasStd = AsDouble(argument.Value); break;
                case "Parameterization": parameterization = AsInt(argument.Value); break;
                case "Channels": channels = AsInt(argument.Value); break;
                case "Height": height = AsInt(argument.Value); break;
                case "Width": width = AsInt(argument.Value); break;
                case "Length": length = AsInt(argument.Value); break;
                case "BaseWidth": baseWidth = AsInt(argument.Value); break;
                case "ConstantsInMultiplier": (constantsInMultiplier, constantsGiven) = (argument.Value.Value is true, true); break;
            }
        }

        var abcRoles = ReadAbc(type, cancellationToken);
        if (abcRoles is null) return null;
        var abcOnBlocks = new List<AbcDeclaration>();

        var referenced = new List<ITypeSymbol?>();
        var read = ReadLayers(type, type, referenced, cancellationToken);
        if (read is null) return null;
        var (layers, sites, unknown) = read.Value;

        // The blocks the layers refer to, breadth first, each read once (so a cycle ends here; validation reports it).
        var blocks = new List<BlockModel>();
        var blockSites = new List<BlockSites>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int next = 0; next < referenced.Count && blocks.Count < MaxBlocks; next++)
        {
            var block = referenced[next];
            string key = BlockKey(block);
            if (!seen.Add(key)) continue;
            string? problem = BlockProblem(block);
            if (problem is not null || block is not INamedTypeSymbol named)
            {
                blocks.Add(new BlockModel(key, BlockName(block), EquatableArray<LayerModel>.Empty, problem ?? "it is not a class or struct"));
                continue;
            }

            var blockRead = ReadLayers(named, type, referenced, cancellationToken);
            var blockAbc = ReadAbc(named, cancellationToken);
            if (blockRead is null || blockAbc is null) return null;
            abcOnBlocks.AddRange(blockAbc.Select(a => a with { Block = BlockName(block) }));
            blocks.Add(new BlockModel(key, BlockName(block), blockRead.Value.Layers.ToEquatableArray(), null));
            blockSites.Add(new BlockSites(key, blockRead.Value.Sites.ToEquatableArray(), blockRead.Value.Unknown.ToEquatableArray()));
        }

        var abcDeclarations = new AbcDeclarations(abcRoles.ToEquatableArray(), constantsGiven, baseWidth, abcOnBlocks.ToEquatableArray());
        var containing = new List<ContainingType>();
        var reserved = new SortedSet<string>(StringComparer.Ordinal);
        string? nonPartialContainer = null, fileLocal = type.IsFileLocal ? type.Name : null;
        bool inGeneric = false;
        for (var outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
        {
            containing.Insert(0, new ContainingType(Keyword(outer), Identifiers.Escape(outer.Name)));
            inGeneric |= outer.TypeParameters.Length > 0;
            if (outer.IsFileLocal) fileLocal ??= outer.Name;
            if (GeneratedNames.ContextualKeywords.Contains(outer.Name)) reserved.Add(outer.Name);
            if (!outer.DeclaringSyntaxReferences.Any(r => r.GetSyntax(cancellationToken) is TypeDeclarationSyntax t && t.Modifiers.Any(SyntaxKind.PartialKeyword)))
                nonPartialContainer ??= outer.Name;
        }

        foreach (var member in type.MemberNames.Concat(type.GetTypeMembers().Select(t => t.Name)))
        {
            if (GeneratedNames.Members.Contains(member) || GeneratedNames.ContextualKeywords.Contains(member)) reserved.Add(member);
        }

        var facts = new TypeFacts(
            IsPartial: node.Modifiers.Any(SyntaxKind.PartialKeyword),
            IsStatic: type.IsStatic,
            IsGeneric: type.TypeParameters.Length > 0,
            InGenericType: inGeneric,
            NonPartialContainer: nonPartialContainer,
            FileLocalType: fileLocal,
            ReservedNamesUsed: reserved.ToEquatableArray());

        var model = new NetworkModel(Namespace(type), type.Name, Keyword(type), containing.ToEquatableArray(), inputs,
            new SpatialInput(channels, height, width, length), weightStd, biasStd,
            Resolve(parameterization, abcDeclarations, constantsInMultiplier), layers.ToEquatableArray(), blocks.ToEquatableArray());
        return new ParsedNetwork(model, Identifiers.HintName(model.FullName),
            LocationInfo.From(network.ApplicationSyntaxReference?.GetSyntax(cancellationToken)),
            sites.ToEquatableArray(), facts, parameterization, unknown.ToEquatableArray(), blockSites.ToEquatableArray(), abcDeclarations);
    }

    // The [Abc] attributes of a network or block type in source order; null when one does not compile.
    private static List<AbcDeclaration>? ReadAbc(INamedTypeSymbol type, CancellationToken cancellationToken)
    {
        var found = new List<AbcDeclaration>();
        foreach (var attribute in type.GetAttributes())
        {
            if (attribute.AttributeClass?.ToDisplayString() != AbcAttributeName) continue;
            if (HasErrors(attribute)) return null;
            var arguments = attribute.ConstructorArguments;
            found.Add(new AbcDeclaration(arguments.Length > 0 ? AsInt(arguments[0]) : -1,
                arguments.Length > 1 ? AsDouble(arguments[1]) : double.NaN, arguments.Length > 2 ? AsDouble(arguments[2]) : double.NaN,
                arguments.Length > 3 ? AsDouble(arguments[3]) : double.NaN, LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken))));
        }

        return found;
    }

    // The parameterization as declared, always some instance (validation judges the declaration): under Abc each role takes
    // its first valid [Abc], NTK's exponents where there is none; the base width only where it is allowed.
    private static NtkDsl.Layers.AbcParameterization Resolve(int parameterization, AbcDeclarations declared, bool constantsInMultiplier)
    {
        var abc = parameterization == (int)NtkDsl.Layers.Parameterization.Abc
            ? NtkDsl.Layers.AbcParameterization.Custom(Role(NtkDsl.Layers.LayerRole.Input), Role(NtkDsl.Layers.LayerRole.Hidden),
                Role(NtkDsl.Layers.LayerRole.Output), constantsInMultiplier)
            : NtkDsl.Layers.AbcParameterization.Of((NtkDsl.Layers.Parameterization)parameterization);
        return Validation.NetworkValidator.BaseWidthProblem(abc, declared.BaseWidth) is null && declared.BaseWidth > 0 ? abc.WithBaseWidth(declared.BaseWidth) : abc;

        NtkDsl.Layers.AbcExponents Role(NtkDsl.Layers.LayerRole role)
        {
            foreach (var r in declared.Roles)
            {
                var exponents = new NtkDsl.Layers.AbcExponents(r.A, r.B, r.C);
                if (r.RoleValue == (int)role && NtkDsl.Layers.AbcParameterization.ExponentProblem(exponents) is null) return exponents;
            }

            return NtkDsl.Layers.AbcParameterization.Ntk.Weights(role);
        }
    }

    // The layer attributes of a network or block type in source order; null when an attribute does not compile. Block
    // references add their types to 'referenced'. Elementwise layers name methods of the network.
    private static (List<LayerModel> Layers, List<LayerSite> Sites, List<UnknownLayer> Unknown)? ReadLayers(
        INamedTypeSymbol type, INamedTypeSymbol network, List<ITypeSymbol?> referenced, CancellationToken cancellationToken)
    {
        var declarations = type.DeclaringSyntaxReferences;
        var layers = new List<LayerModel>();
        var sites = new List<LayerSite>();
        var unknown = new List<UnknownLayer>();
        foreach (var attribute in type.GetAttributes())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (attribute.AttributeClass is not { } attributeClass || !DerivesFromLayer(attributeClass)) continue;
            if (HasErrors(attribute)) return null;

            var syntax = attribute.ApplicationSyntaxReference;
            if (!KnownLayers.TryGetValue(attributeClass.ToDisplayString(), out var kind))
            {
                unknown.Add(new UnknownLayer(attributeClass.Name, LocationInfo.From(syntax?.GetSyntax(cancellationToken))));
                continue;
            }

            layers.Add(kind switch
            {
                LayerKind.Elementwise => ReadElementwise(network, attribute),
                LayerKind.Residual or LayerKind.FanInSum or LayerKind.FanInConcat or LayerKind.Repeat => ReadBlockReference(kind, attribute, referenced),
                _ => ReadLayer(kind, attribute),
            });
            int declarationIndex = syntax is null ? 0 : IndexOfDeclaration(declarations, syntax);
            sites.Add(new LayerSite(LocationInfo.From(syntax?.GetSyntax(cancellationToken)), declarationIndex));
        }

        return (layers, sites, unknown);
    }

    // [Residual(typeof(B))], [Repeat(typeof(B), n)], [FanInSum(typeof(A), typeof(B))], [FanInConcat(...)]: the block keys.
    private static LayerModel ReadBlockReference(LayerKind kind, AttributeData attribute, List<ITypeSymbol?> referenced)
    {
        var types = new List<ITypeSymbol?>();
        var arguments = attribute.ConstructorArguments;
        if (arguments.Length > 0)
        {
            if (arguments[0].Kind == TypedConstantKind.Array)
            {
                if (!arguments[0].IsNull) types.AddRange(arguments[0].Values.Select(v => v.Value as ITypeSymbol));
            }
            else
            {
                types.Add(arguments[0].Value as ITypeSymbol);
            }
        }

        int count = kind == LayerKind.Repeat && arguments.Length > 1 ? AsInt(arguments[1]) : 0;
        referenced.AddRange(types);
        return new LayerModel(kind, count, null, null, false, 1, 1, 0, Blocks: types.Select(BlockKey).ToEquatableArray());
    }

    private static string BlockKey(ITypeSymbol? type) => type is null ? "null" : type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);

    private static string BlockName(ITypeSymbol? type) => type is null ? "null" : type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat);

    // Why a type cannot be a block (null: it can).
    private static string? BlockProblem(ITypeSymbol? type) => type switch
    {
        null => "no type is given (typeof(...) of a class with layer attributes)",
        INamedTypeSymbol { TypeKind: TypeKind.Error } => "the type is not known",
        INamedTypeSymbol { TypeKind: not (TypeKind.Class or TypeKind.Struct) } => "it is not a class or struct",
        INamedTypeSymbol { IsGenericType: true } => "it is generic",
        INamedTypeSymbol { DeclaringSyntaxReferences.IsEmpty: true } => "it is not declared in this project's source (a block is a class or struct of yours with layer attributes)",
        INamedTypeSymbol named when named.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == NetworkAttributeName) =>
            "it is a [Network]; a block is a type with layer attributes and without [Network]",
        INamedTypeSymbol => null,
        _ => "it is not a class or struct",
    };

    // The namespace as source text, each part escaped (namespace @event -> "@event").
    private static string? Namespace(INamedTypeSymbol type)
    {
        var parts = new List<string>();
        for (var ns = type.ContainingNamespace; ns is { IsGlobalNamespace: false }; ns = ns.ContainingNamespace)
            parts.Insert(0, Identifiers.Escape(ns.Name));
        return parts.Count == 0 ? null : string.Join(".", parts);
    }

    // [Elementwise(function, derivative)]: both must name static, non-generic methods double -> double of the network.
    private static LayerModel ReadElementwise(INamedTypeSymbol type, AttributeData attribute)
    {
        string? function = attribute.ConstructorArguments.Length > 0 ? attribute.ConstructorArguments[0].Value as string : null;
        string? derivative = attribute.ConstructorArguments.Length > 1 ? attribute.ConstructorArguments[1].Value as string : null;
        string? problem = CheckMethod(type, function, "function phi") ?? CheckMethod(type, derivative, "derivative phi'");
        return new LayerModel(LayerKind.Elementwise, 0, null, null, false, 1, 1, 0,
            function is null ? null : Identifiers.Escape(function), derivative is null ? null : Identifiers.Escape(derivative), problem);
    }

    private static string? CheckMethod(INamedTypeSymbol type, string? name, string role)
    {
        string signature = $"static double {name}(double x)";
        if (string.IsNullOrEmpty(name)) return $"the name of the {role} is empty; name a method '{signature.Replace(" (", "(")}' of '{type.Name}'";
        var methods = type.GetMembers(name!).OfType<IMethodSymbol>().Where(m => m.MethodKind == MethodKind.Ordinary).ToList();
        if (methods.Count == 0) return $"'{type.Name}' has no method named '{name}' for the {role}; declare '{signature}' in it";
        if (methods.Any(IsUsable)) return null;
        var method = methods[0];
        if (!method.IsStatic) return $"the {role} '{name}' must be static ('{signature}')";
        if (method.IsGenericMethod) return $"the {role} '{name}' must not be generic ('{signature}')";
        return $"the {role} '{name}' must have the signature '{signature}'";

        static bool IsUsable(IMethodSymbol m) =>
            m.IsStatic && !m.IsGenericMethod && !m.ReturnsByRef && !m.ReturnsByRefReadonly && m.ReturnType.SpecialType == SpecialType.System_Double &&
            m.Parameters.Length == 1 && m.Parameters[0].RefKind == RefKind.None && m.Parameters[0].Type.SpecialType == SpecialType.System_Double;
    }

    private static LayerModel ReadLayer(LayerKind kind, AttributeData attribute)
    {
        int width = 0, kernel = 0, stride = 0, padding = 0;
        double? weightStd = null, biasStd = null;
        bool hasBias = true;
        double a = 1, b = 1, c = 0;
        var arguments = attribute.ConstructorArguments;
        if (arguments.Length > 0)
        {
            if (kind == LayerKind.Dense) width = AsInt(arguments[0]);
            if (kind == LayerKind.LeakyRelu) a = AsDouble(arguments[0]);
            if (kind == LayerKind.Conv && arguments.Length > 1) (width, kernel) = (AsInt(arguments[0]), AsInt(arguments[1]));
            if (kind is LayerKind.AvgPool or LayerKind.SumPool) kernel = AsInt(arguments[0]);
        }

        double epsilon = 1e-5;
        foreach (var argument in attribute.NamedArguments)
        {
            if (argument.Key == "Epsilon") epsilon = AsDouble(argument.Value);
        }

        // Conv's stride defaults to 1, a pool's to its window (0 here: the window).
        if (kind == LayerKind.Conv) stride = 1;

        foreach (var argument in attribute.NamedArguments)
        {
            switch (argument.Key)
            {
                case "WeightStd": weightStd = AsDouble(argument.Value); break;
                case "BiasStd": biasStd = AsDouble(argument.Value); break;
                case "Bias": hasBias = argument.Value.Value is true; break;
                case "A": a = AsDouble(argument.Value); break;
                case "B": b = AsDouble(argument.Value); break;
                case "C": c = AsDouble(argument.Value); break;
                case "Stride": stride = AsInt(argument.Value); break;
                case "Padding": padding = AsInt(argument.Value); break;
            }
        }

        // Piecewise-linear activations share one form: A min(x, 0) + B max(x, 0).
        return kind switch
        {
            LayerKind.Dense => new LayerModel(kind, width, weightStd, biasStd, hasBias, 1, 1, 0),
            LayerKind.Conv => new LayerModel(kind, width, weightStd, biasStd, hasBias, 1, 1, 0, Kernel: kernel, Stride: stride, Padding: padding),
            LayerKind.AvgPool or LayerKind.SumPool => new LayerModel(kind, 0, null, null, false, 1, 1, 0, Kernel: kernel, Stride: stride, Padding: padding),
            LayerKind.Relu => new LayerModel(kind, 0, null, null, false, 0, 1, 0),
            LayerKind.LayerNorm => new LayerModel(kind, 0, null, null, false, epsilon, 1, 0),
            LayerKind.LeakyRelu => new LayerModel(kind, 0, null, null, false, a, 1, 0),
            LayerKind.Abs => new LayerModel(kind, 0, null, null, false, -1, 1, 0),
            LayerKind.Erf or LayerKind.Sin => new LayerModel(kind, 0, null, null, false, a, b, c),
            _ => new LayerModel(kind, 0, null, null, false, 1, 1, 0),
        };
    }

    private static int IndexOfDeclaration(IReadOnlyList<SyntaxReference> declarations, SyntaxReference attribute)
    {
        for (int i = 0; i < declarations.Count; i++)
            if (declarations[i].SyntaxTree == attribute.SyntaxTree && declarations[i].Span.Contains(attribute.Span))
                return i;
        return 0;
    }

    private static bool DerivesFromLayer(INamedTypeSymbol type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
            if (t.ToDisplayString() == LayerAttributeName) return true;
        return false;
    }

    private static bool HasErrors(AttributeData attribute) =>
        attribute.AttributeClass is null or { TypeKind: TypeKind.Error } ||
        attribute.AttributeConstructor is null ||
        attribute.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error) ||
        attribute.NamedArguments.Any(a => a.Value.Kind == TypedConstantKind.Error);

    private static string Keyword(INamedTypeSymbol type) => type switch
    {
        { IsRecord: true, TypeKind: TypeKind.Struct } => "record struct",
        { IsRecord: true } => "record",
        { TypeKind: TypeKind.Struct } => "struct",
        { TypeKind: TypeKind.Interface } => "interface",
        _ => "class",
    };

    private static int AsInt(TypedConstant value) => value.Value switch
    {
        int i => i,
        _ => 0,
    };

    private static double AsDouble(TypedConstant value) => value.Value switch
    {
        double d => d,
        float f => f,
        int i => i,
        _ => double.NaN,
    };
}

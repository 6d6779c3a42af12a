using System.Linq;
using NtkDsl.Generator.Helpers;

namespace NtkDsl.Generator.Model;

/// <summary>A [Network] class as parsed: the emission model plus the facts and locations validation needs.</summary>
internal sealed record ParsedNetwork(
    NetworkModel Model,
    string HintName,
    LocationInfo? NetworkLocation,
    EquatableArray<LayerSite> LayerSites,
    TypeFacts Type,
    int ParameterizationValue,
    EquatableArray<UnknownLayer> UnknownLayers,
    EquatableArray<BlockSites> BlockSites = default,
    AbcDeclarations? Abc = null)
{
    /// <summary>The sites of the layers of a block (key of <see cref="NetworkModel.Blocks"/>) or of the network (null).</summary>
    public EquatableArray<LayerSite> SitesOf(string? block) =>
        block is null ? LayerSites : BlockSites.FirstOrDefault(b => b.Key == block)?.Sites ?? EquatableArray<LayerSite>.Empty;

    /// <summary>The location of layer <paramref name="index"/> of a block or of the network (null: unknown).</summary>
    public LocationInfo? SiteOf(string? block, int index)
    {
        var sites = SitesOf(block);
        return index >= 0 && index < sites.Count ? sites[index].Location : null;
    }
}

/// <summary>
/// The abc settings as declared: every [Abc(role, a, b, c)] on the network in source order, whether [Network] names
/// ConstantsInMultiplier, its BaseWidth (0: not given), and any [Abc] on a block type (which has no parameterization).
/// </summary>
internal sealed record AbcDeclarations(EquatableArray<AbcDeclaration> Roles, bool ConstantsInMultiplierGiven, int BaseWidth,
    EquatableArray<AbcDeclaration> OnBlocks = default);

/// <summary>One [Abc(role, a, b, c)] as declared (RoleValue may lie outside LayerRole), with its location and, on a block type, the block's name.</summary>
internal sealed record AbcDeclaration(int RoleValue, double A, double B, double C, LocationInfo? Location, string? Block = null);

/// <summary>Where the layer attributes of a block sit, and the attributes of it the generator does not know.</summary>
internal sealed record BlockSites(string Key, EquatableArray<LayerSite> Sites, EquatableArray<UnknownLayer> UnknownLayers);

/// <summary>A LayerAttribute subclass the generator does not know, with its location.</summary>
internal sealed record UnknownLayer(string Name, LocationInfo? Location);

/// <summary>Where a layer attribute sits and which declaration of a partial class carries it.</summary>
internal sealed record LayerSite(LocationInfo? Location, int DeclarationIndex);

/// <summary>
/// Facts about the declaring type that decide whether code can be generated for it. <see cref="FileLocalType"/>
/// names the type that is file-local (the network or a container), <see cref="ReservedNamesUsed"/> lists the names
/// the user declared (members of the network, names of its containers) that generated code needs for itself.
/// </summary>
internal sealed record TypeFacts(
    bool IsPartial,
    bool IsStatic,
    bool IsGeneric,
    bool InGenericType,
    string? NonPartialContainer,
    string? FileLocalType,
    EquatableArray<string> ReservedNamesUsed);

/// <summary>A diagnostic as plain values; turned into a Diagnostic only when reported.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments);

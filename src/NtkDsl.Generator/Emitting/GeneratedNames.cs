using System.Collections.Generic;

namespace NtkDsl.Generator.Emitting;

/// <summary>
/// The names generated code declares or relies on, so that validation can report a collision (NTK0017)
/// instead of emitting code that does not compile. Private helpers live in one nested class,
/// <see cref="HelperClass"/>, so user members can use any other name.
/// </summary>
internal static class GeneratedNames
{
    /// <summary>The nested class that holds the private generated helpers (constants, slots, passes).</summary>
    public const string HelperClass = "NtkGenerated";

    /// <summary>Members generated on the network type.</summary>
    public static readonly HashSet<string> Members = new HashSet<string>
    {
        "InputSize", "OutputSize", "ParameterCount", "Description", "InitializeParameters",
        "Forward", "Vjp", "Jvp", "Jacobian", "Ntk", "NtkWorkspaceElements", "InfiniteWidth", "InfiniteWidthDiagonal", HelperClass,
    };

    /// <summary>Type parameters of generated methods: a network (or a member type of it) with such a name would be shadowed.</summary>
    public static readonly HashSet<string> TypeParameters = new HashSet<string> { "T", "TBackend", "TTensor" };

    /// <summary>
    /// Contextual keywords generated code uses in their keyword meaning (<c>where T : unmanaged</c>): a type of
    /// that name around or inside the network would capture them.
    /// </summary>
    public static readonly HashSet<string> ContextualKeywords = new HashSet<string> { "unmanaged" };

    /// <summary>True when a network may not be called <paramref name="name"/>.</summary>
    public static bool IsReservedTypeName(string name) =>
        Members.Contains(name) || TypeParameters.Contains(name) || ContextualKeywords.Contains(name);
}

using System;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;

namespace NtkDsl.Generator.Helpers;

/// <summary>C# identifiers and hint names that are valid for every legal declaration.</summary>
internal static class Identifiers
{
    /// <summary>The identifier as source text: '@' before reserved keywords (<c>class</c> -> <c>@class</c>).</summary>
    public static string Escape(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

    /// <summary>
    /// A hint name for a type: letters, digits, '.', '_' and '+' only ('@' and other characters an identifier may
    /// hold are not allowed in hint names). When characters had to be replaced, a hash of the full name keeps
    /// two such names apart.
    /// </summary>
    public static string HintName(string fullName, string? discriminator = null)
    {
        var builder = new StringBuilder(fullName.Length);
        bool replaced = false;
        foreach (char c in fullName)
        {
            if (c < 128 && (char.IsLetterOrDigit(c) || c is '.' or '_' or '+')) builder.Append(c);
            else if (c == '@') replaced = true;
            else
            {
                builder.Append('_');
                replaced = true;
            }
        }

        if (replaced || discriminator is not null) builder.Append('.').Append(Hash(fullName + "|" + discriminator).ToString("x8"));
        return builder.Append(".g.cs").ToString();
    }

    // FNV-1a: stable across processes and platforms (string.GetHashCode is randomized).
    private static uint Hash(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text) hash = unchecked((hash ^ c) * 16777619);
        return hash;
    }
}

using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace NtkDsl.Generator.Helpers;

/// <summary>A source location as plain values (a Location would root the whole compilation in the pipeline cache).</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(SyntaxNode? node)
    {
        if (node is null) return null;
        var location = node.GetLocation();
        return location.SourceTree is null ? null : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }
}

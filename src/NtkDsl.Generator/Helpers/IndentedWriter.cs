using System.Text;

namespace NtkDsl.Generator.Helpers;

/// <summary>A minimal indented text writer for emitting C# (four spaces per level, LF line endings).</summary>
internal sealed class IndentedWriter
{
    private readonly StringBuilder _builder = new();
    private int _indent;

    public IndentedWriter(int indent = 0) => _indent = indent;

    public IndentedWriter Line(string text = "")
    {
        if (text.Length > 0) _builder.Append(' ', _indent * 4).Append(text);
        _builder.Append('\n');
        return this;
    }

    /// <summary>Writes each line of a multi-line block (e.g. a raw string) at the current indentation.</summary>
    public IndentedWriter Lines(string block)
    {
        foreach (var line in block.Replace("\r\n", "\n").Split('\n')) Line(line);
        return this;
    }

    public IndentedWriter Open(string header, string? continuation = null)
    {
        Line(header);
        if (continuation is not null) Line("    " + continuation);
        Line("{");
        _indent++;
        return this;
    }

    public IndentedWriter Close(string suffix = "")
    {
        _indent--;
        return Line("}" + suffix);
    }

    /// <summary>Appends text written by another writer verbatim.</summary>
    public IndentedWriter Raw(string text)
    {
        _builder.Append(text);
        return this;
    }

    public override string ToString() => _builder.ToString();
}

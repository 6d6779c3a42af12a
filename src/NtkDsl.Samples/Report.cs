using System.Globalization;
using System.Net;
using System.Text;
using Spectre.Console;

namespace NtkDsl.Samples;

/// <summary>A table shown on the console and in the HTML report.</summary>
internal sealed record SummaryTable(string Title, string[] Headers, List<string[]> Rows)
{
    public SummaryTable(string title, params string[] headers) : this(title, headers, []) { }

    public SummaryTable Add(params string[] cells)
    {
        Rows.Add(cells);
        return this;
    }

    public Table ToSpectre()
    {
        var t = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(Title)}[/]");
        for (int i = 0; i < Headers.Length; i++)
        {
            var col = new TableColumn(Markup.Escape(Headers[i]));
            if (i > 0) col.RightAligned();
            t.AddColumn(col);
        }

        foreach (var r in Rows) t.AddRow(r.Select(Markup.Escape).ToArray());
        return t;
    }

    public string ToHtml()
    {
        var sb = new StringBuilder();
        sb.Append("<table><caption>").Append(WebUtility.HtmlEncode(Title)).Append("</caption><thead><tr>");
        foreach (var h in Headers) sb.Append("<th>").Append(WebUtility.HtmlEncode(h)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var r in Rows)
        {
            sb.Append("<tr>");
            foreach (var c in r) sb.Append("<td>").Append(WebUtility.HtmlEncode(c)).Append("</td>");
            sb.Append("</tr>");
        }

        return sb.Append("</tbody></table>").ToString();
    }
}

/// <summary>Collects sections (text, tables, figures) and writes one self-contained report.html.</summary>
internal sealed class Report
{
    private readonly StringBuilder _body = new();
    private readonly List<string> _toc = [];

    public void Section(string id, string title, string intro)
    {
        _toc.Add($"<li><a href=\"#{id}\">{WebUtility.HtmlEncode(title)}</a></li>");
        _body.Append($"<section id=\"{id}\"><h2>{WebUtility.HtmlEncode(title)}</h2><p>{WebUtility.HtmlEncode(intro)}</p>");
    }

    public void Paragraph(string text) => _body.Append("<p>").Append(WebUtility.HtmlEncode(text)).Append("</p>");

    public void Preformatted(string text) => _body.Append("<pre>").Append(WebUtility.HtmlEncode(text)).Append("</pre>");

    public void Table(SummaryTable table) => _body.Append(table.ToHtml());

    /// <summary>Inlines an SVG file (its XML prolog removed) as a figure.</summary>
    public void Figure(string svgPath, string caption)
    {
        string svg = File.ReadAllText(svgPath);
        int start = svg.IndexOf("<svg", StringComparison.Ordinal);
        if (start > 0) svg = svg[start..];
        _body.Append("<figure>").Append(svg).Append("<figcaption>").Append(WebUtility.HtmlEncode(caption))
            .Append(" (").Append(WebUtility.HtmlEncode(Path.GetFileName(svgPath))).Append(", PNG beside it)</figcaption></figure>");
    }

    public void EndSection() => _body.Append("</section>");

    public void Write(string path, string title, string subtitle)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
            .Append(WebUtility.HtmlEncode(title))
            .Append("</title><style>")
            .Append("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}")
            .Append("h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}")
            .Append("table{border-collapse:collapse;margin:1em 0;font-size:.92em}caption{font-weight:600;text-align:left;padding:.3em 0}")
            .Append("th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}")
            .Append("figure{margin:1.5em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;color:#555}")
            .Append("pre{background:#f7f7f7;padding:.6em;overflow-x:auto}.sub{color:#666}")
            .Append("</style></head><body><h1>").Append(WebUtility.HtmlEncode(title)).Append("</h1><p class=\"sub\">")
            .Append(WebUtility.HtmlEncode(subtitle)).Append("</p><ol>").AppendJoin("", _toc).Append("</ol>")
            .Append(_body).Append("</body></html>\n");
        File.WriteAllText(path, html.ToString());
    }

    /// <summary>Invariant formatting; "e" means three significant digits in scientific notation (1.23e-04).</summary>
    public static string F(double v, string format = "G4") =>
        format == "e" ? v.ToString("0.00e+00", CultureInfo.InvariantCulture) : v.ToString(format, CultureInfo.InvariantCulture);
}

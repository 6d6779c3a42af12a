using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using NtkDsl.Generator.Diagnostics;

namespace NtkDsl.Generator.Tests;

/// <summary>
/// Every diagnostic has a help link to docs/diagnostics/NTK####.md, the page exists, states the descriptor's
/// title, severity and message, and its examples are honest: the bad one reports the id, the good one
/// reports nothing and compiles with the generated code.
/// </summary>
public class DiagnosticDocsTests
{
    public static TheoryData<string> Ids => [.. Enumerable.Range(1, 15).Concat([17, 18, 19]).Select(i => $"NTK{i:0000}")];

    private static string DocsFolder => Path.Combine(DiagnosticTests.RepoRoot(), "docs", "diagnostics");

    private static string Page(string id) => File.ReadAllText(Path.Combine(DocsFolder, id + ".md"));

    // The first ```csharp block after the given heading.
    private static string Example(string page, string heading)
    {
        var match = Regex.Match(page, "^" + Regex.Escape(heading) + @"\s*\n+```csharp\n(.*?)\n```", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(match.Success, $"no ```csharp block under '{heading}'");
        return match.Groups[1].Value;
    }

    [Fact]
    public void Help_links_come_from_the_repository_url_compiled_into_the_generator()
    {
        Assert.StartsWith("https://", DiagnosticDescriptors.HelpBaseUrl);
        Assert.EndsWith("/docs/diagnostics/", DiagnosticDescriptors.HelpBaseUrl);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Descriptor_has_a_help_link_to_an_existing_page(string id)
    {
        var descriptor = DiagnosticDescriptors.ById(id)!;
        Assert.Equal(DiagnosticDescriptors.HelpBaseUrl + id + ".md", descriptor.HelpLinkUri);
        Assert.True(File.Exists(Path.Combine(DocsFolder, id + ".md")), $"docs/diagnostics/{id}.md is missing");
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Page_states_title_severity_and_message(string id)
    {
        var descriptor = DiagnosticDescriptors.ById(id)!;
        var page = Page(id);
        Assert.StartsWith($"# {id}: {descriptor.Title}\n", page);
        Assert.Contains($"| {descriptor.DefaultSeverity} | NtkDsl |", page);
        Assert.Contains($"`{descriptor.MessageFormat}`", page);
        Assert.Contains("\n## Why\n", page);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Bad_example_reports_the_diagnostic(string id)
    {
        var (result, _, _) = GeneratorHarness.Run(Example(Page(id), "## Bad"));
        Assert.Null(result.Exception);
        Assert.Contains(result.Diagnostics, d => d.Id == id);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Good_example_reports_nothing_and_compiles(string id)
    {
        var (result, _, compile) = GeneratorHarness.Run(Example(Page(id), "## Good"));
        Assert.Null(result.Exception);
        Assert.Empty(result.Diagnostics);
        Assert.NotEmpty(result.GeneratedSources);
        Assert.Empty(compile.Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void Every_page_is_for_a_known_diagnostic_and_listed_in_the_index()
    {
        var index = File.ReadAllText(Path.Combine(DocsFolder, "README.md"));
        foreach (var file in Directory.GetFiles(DocsFolder, "NTK*.md"))
        {
            var id = Path.GetFileNameWithoutExtension(file);
            Assert.NotNull(DiagnosticDescriptors.ById(id));
            Assert.Contains($"[{id}]({id}.md)", index);
        }
    }
}

using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using NtkDsl.Generator.Diagnostics;

namespace NtkDsl.Generator.Tests;

/// <summary>
/// Every diagnostic has a help link to docs/diagnostics/NTK####.md, the page exists, states the descriptor's
/// title, severity and message, and its examples are honest: the bad one reports the id, the good one
/// reports nothing and compiles with the generated code. The ids are every descriptor the generator defines
/// (found by reflection), so a new diagnostic is covered without touching this file.
/// </summary>
public class DiagnosticDocsTests
{
    public static TheoryData<string> Ids => [.. Descriptors().Select(d => d.Id)];

    // Every static DiagnosticDescriptor field of the generator assembly, by id.
    private static DiagnosticDescriptor[] Descriptors() =>
    [
        .. typeof(DiagnosticDescriptors).Assembly.GetTypes()
            .Where(t => !t.ContainsGenericParameters)
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .DistinctBy(d => d.Id)
            .OrderBy(d => d.Id, StringComparer.Ordinal),
    ];

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
    public void The_descriptors_found_by_reflection_are_the_ones_ById_and_the_release_file_know()
    {
        var descriptors = Descriptors();
        Assert.True(descriptors.Length >= 16, $"only {descriptors.Length} descriptors found");
        string releases = File.ReadAllText(Path.Combine(DiagnosticTests.RepoRoot(), "src", "NtkDsl.Generator", "AnalyzerReleases.Unshipped.md"))
                          + File.ReadAllText(Path.Combine(DiagnosticTests.RepoRoot(), "src", "NtkDsl.Generator", "AnalyzerReleases.Shipped.md"));
        foreach (var d in descriptors)
        {
            Assert.Matches("^NTK[0-9]{4}$", d.Id);
            Assert.Same(d, DiagnosticDescriptors.ById(d.Id));
            Assert.Contains($"\n{d.Id} |", releases);
        }
    }

    [Fact]
    public void Help_links_come_from_the_repository_url_compiled_into_the_generator()
    {
        // NtkDslRepositoryUrl is empty until the project has a public home: the link is then the page's path in the
        // repository and in the NtkDsl package (docs/diagnostics/NTK####.md), never a placeholder address.
        Assert.EndsWith("docs/diagnostics/", DiagnosticDescriptors.HelpBaseUrl);
        Assert.DoesNotContain("REPLACE", DiagnosticDescriptors.HelpBaseUrl);
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
    public void Descriptor_carries_its_pages_why_section_as_description(string id)
    {
        // The full help text travels with the diagnostic (IDE tooltips, build logs), whatever the help link can reach.
        string description = DiagnosticDescriptors.ById(id)!.Description.ToString(CultureInfo.InvariantCulture);
        Assert.True(description.Length > 40, $"{id}: description '{description}'");
        string page = Page(id);
        int start = page.IndexOf("\n## Why\n", StringComparison.Ordinal) + "\n## Why\n".Length;
        string firstWords = string.Join(" ", page[start..].Split(['\n', ' '], StringSplitOptions.RemoveEmptyEntries).Take(6));
        Assert.StartsWith(firstWords, description, StringComparison.Ordinal);
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
            Assert.Contains(id, Descriptors().Select(d => d.Id));
            Assert.Contains($"[{id}]({id}.md)", index);
        }
    }
}

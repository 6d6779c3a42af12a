using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace NtkDsl.Samples.Tests;

/// <summary>Headless Chromium (Debian's chromium package; .ci/run installs it), or null when none is on the PATH.</summary>
internal static class Chromium
{
    public static string? Path { get; } = new[] { "chromium", "chromium-browser", "google-chrome" }
        .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator)
            .Select(dir => System.IO.Path.Combine(dir, name)))
        .FirstOrDefault(File.Exists);
}

/// <summary>A fact that is reported as skipped (never as passed) where no Chromium is installed.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Chromium.Path is null) Skip = "chromium not found on PATH (Debian: apt-get install chromium; .ci/run does it)";
    }
}

/// <summary>report.html as a browser shows it: every figure scales to the page instead of being cropped.</summary>
[Collection("tour")]
public sealed class ReportBrowserTests(QuickTourFixture tour)
{
    /// <summary>
    /// Measures, after layout, the page width and for each figure its svg element's box and the union of the boxes of
    /// everything drawn inside it (in page pixels; drawings outside the svg's box are cropped), and appends them as JSON.
    /// </summary>
    private const string Probe = """
        <script>
        (function () {
          var figures = [];
          document.querySelectorAll('figure svg').forEach(function (svg) {
            var box = svg.getBoundingClientRect(), left = Infinity, right = -Infinity;
            svg.querySelectorAll('*').forEach(function (e) {
              var r = e.getBoundingClientRect();
              if (r.width === 0 && r.height === 0) return;
              left = Math.min(left, r.left); right = Math.max(right, r.right);
            });
            figures.push({ svgLeft: box.left, svgRight: box.right, drawnLeft: left, drawnRight: right });
          });
          var pre = document.createElement('pre');
          pre.id = 'ntk-measure';
          pre.textContent = JSON.stringify({ page: document.documentElement.clientWidth, figures: figures });
          document.body.appendChild(pre);
        })();
        </script>
        """;

    [ChromiumFact]
    public void No_figure_is_cropped_or_wider_than_the_page_at_700_and_1200_pixels()
    {
        string probed = Path.Combine(tour.OutDir, "report-probe.html");
        File.WriteAllText(probed, File.ReadAllText(Path.Combine(tour.OutDir, "report.html")).Replace("</body>", Probe + "</body>", StringComparison.Ordinal));
        foreach (int width in new[] { 700, 1200 })
        {
            var measured = Measure(probed, width);
            double page = measured.GetProperty("page").GetDouble();
            Assert.InRange(page, width - 40, width);             // the window really had that width (less a scrollbar)
            var figures = measured.GetProperty("figures").EnumerateArray().ToArray();
            // Every figure of the report (TourTests checks which they are), so new tour sections need no edit here.
            Assert.Equal(System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(probed), "<figure><svg").Count, figures.Length);
            Assert.True(figures.Length >= 7, $"{figures.Length} figures");
            for (int i = 0; i < figures.Length; i++)
            {
                double svgLeft = figures[i].GetProperty("svgLeft").GetDouble(), svgRight = figures[i].GetProperty("svgRight").GetDouble();
                double drawnLeft = figures[i].GetProperty("drawnLeft").GetDouble(), drawnRight = figures[i].GetProperty("drawnRight").GetDouble();
                string where = $"figure {i} at {width} px: page {page}, svg [{svgLeft}, {svgRight}], drawing [{drawnLeft}, {drawnRight}]";
                Assert.True(svgLeft >= 0 && svgRight <= page + 0.5, "wider than the page: " + where);
                Assert.True(drawnLeft >= svgLeft - 0.5 && drawnRight <= svgRight + 0.5, "cropped: " + where);
                Assert.True(drawnRight - drawnLeft >= 0.9 * (svgRight - svgLeft), "does not fill its box: " + where);
            }
        }
    }

    private static JsonElement Measure(string htmlPath, int width)
    {
        string profile = Path.Combine(Path.GetTempPath(), "ntk-chromium-" + Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo(Chromium.Path!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile, $"--window-size={width},1000", "--dump-dom", new Uri(htmlPath).AbsoluteUri })
            start.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string dom = process.StandardOutput.ReadToEnd();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "chromium did not finish");
            var match = Regex.Match(dom, "<pre id=\"ntk-measure\">([^<]*)</pre>");
            Assert.True(match.Success, $"chromium (exit {process.ExitCode}) printed no measurements: {stderr.Result}");
            return JsonDocument.Parse(System.Net.WebUtility.HtmlDecode(match.Groups[1].Value)).RootElement.Clone();
        }
        finally
        {
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { }
        }
    }
}

using System.Text.RegularExpressions;
using ScottPlot;

namespace NtkDsl.Samples;

/// <summary>ScottPlot helpers: consistent styling, log axes, and saving each figure as PNG and SVG.</summary>
internal sealed class Plots(string outDir)
{
    public const int Width = 900, Height = 560;

    public List<string> Files { get; } = [];

    public static readonly Color[] Palette =
    [
        Color.FromHex("#1f77b4"), Color.FromHex("#d62728"), Color.FromHex("#2ca02c"), Color.FromHex("#ff7f0e"),
        Color.FromHex("#9467bd"), Color.FromHex("#8c564b"), Color.FromHex("#e377c2"), Color.FromHex("#17becf"),
    ];

    public static Plot New(string title, string xLabel, string yLabel)
    {
        var plt = new Plot();
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        return plt;
    }

    /// <summary>Axis shows log10 of the plotted values as powers of ten, with log-spaced minor ticks.</summary>
    public static void LogAxis(IAxis axis)
    {
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = v => FormatPower(v),
        };
    }

    private static string FormatPower(double log10)
    {
        double v = Math.Pow(10, log10);
        return Math.Abs(log10) < 4 ? v.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture) : $"1e{log10:0}";
    }

    public static double[] Log10(IEnumerable<double> v) => v.Select(Math.Log10).ToArray();

    /// <summary>Saves name.png and name.svg (with a viewBox, so that it scales); returns the SVG path.</summary>
    public string Save(Plot plt, string name, int width = Width, int height = Height)
    {
        string png = Path.Combine(outDir, name + ".png");
        string svg = Path.Combine(outDir, name + ".svg");
        plt.SavePng(png, width, height);
        plt.SaveSvg(svg, width, height);
        File.WriteAllText(svg, WithViewBox(File.ReadAllText(svg), width, height));
        Files.Add(png);
        Files.Add(svg);
        return svg;
    }

    /// <summary>
    /// Adds viewBox="0 0 width height" to the root svg element (ScottPlot writes only width and height): without it,
    /// CSS that narrows the element (max-width: 100% in report.html) crops the drawing instead of scaling it.
    /// </summary>
    internal static string WithViewBox(string svg, int width, int height)
    {
        var root = Regex.Match(svg, "<svg\\b[^>]*>");
        if (!root.Success) throw new InvalidOperationException("No <svg> element in the plot written by ScottPlot.");
        if (root.Value.Contains("viewBox=", StringComparison.Ordinal)) return svg;
        return svg.Insert(root.Index + "<svg".Length, $" viewBox=\"0 0 {width} {height}\"");
    }
}

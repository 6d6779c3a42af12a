namespace NtkDsl.Samples.Tests;

/// <summary>The tests of the "tour" collection share one quick tour run.</summary>
[CollectionDefinition("tour")]
public sealed class TourCollection : ICollectionFixture<QuickTourFixture>;

/// <summary>Unknown options are errors with a suggestion; output that is not a terminal is neither wrapped nor repeated.</summary>
[Collection("tour")]
public sealed class ConsoleAndOptionTests(QuickTourFixture tour)
{
    private static (int ExitCode, string Out, string Error) Run(params string[] args) => SamplesApp.Run(args);

    [Fact]
    public void A_misspelled_option_is_an_error_that_names_the_closest_option()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ntk-options-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string csv = Path.Combine(dir, "x.csv"), output = Path.Combine(dir, "k.npy");
            File.WriteAllText(csv, "1,0\n0,1\n");
            var (code, _, error) = Run("kernel", csv, "--infinte", "--output", output);
            Assert.Equal(2, code);
            Assert.Contains("Unknown option 'infinte'", error, StringComparison.Ordinal);
            Assert.Contains("Did you mean '--infinite'?", error, StringComparison.Ordinal);
            Assert.False(File.Exists(output));                       // nothing was computed
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void An_unknown_option_does_not_start_the_tour()
    {
        var (code, output, error) = Run("--bogus", "--out", Path.Combine(Path.GetTempPath(), "ntk-never-" + Guid.NewGuid().ToString("N")));
        Assert.Equal(2, code);
        Assert.Contains("Unknown option 'bogus'", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Did you mean", error, StringComparison.Ordinal);     // nothing is close to it
        Assert.DoesNotContain("NtkDsl tour", output, StringComparison.Ordinal);
        Assert.Equal(2, Run("--quik").ExitCode);
    }

    [Theory]
    [InlineData("--infinte", "--infinite")]
    [InlineData("--nnpg", "--nngp")]
    [InlineData("--thread", "--threads")]
    [InlineData("--ouptut", "--output")]
    public void Suggestions_pick_the_closest_declared_option(string typed, string expected) =>
        Assert.Equal($" Did you mean '{expected}'?", OptionSuggestions.For(["kernel", "x.csv", typed]));

    [Fact]
    public void Redirected_output_is_not_wrapped_at_80_columns()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        var backend = output.Split('\n').Single(l => l.Contains("--backend", StringComparison.Ordinal));
        Assert.Contains("(TorchSharp, CPU)", backend, StringComparison.Ordinal);   // the whole description on its line
        Assert.True(backend.TrimEnd().Length > 80, backend);

        var lines = tour.Output.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("dev. = sqrt(mean over gamma", StringComparison.Ordinal) && l.Contains("a rough check", StringComparison.Ordinal));
    }

    [Fact]
    public void Each_progress_line_is_printed_once()
    {
        var lines = tour.Output.Split('\n');
        foreach (var section in new[] { "a: ", "b: ", "c, d: " })
            Assert.Single(lines, l => l.StartsWith(section, StringComparison.Ordinal));
    }
}

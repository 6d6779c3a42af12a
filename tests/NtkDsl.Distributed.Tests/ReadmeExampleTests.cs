using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace NtkDsl.Distributed.Tests;

/// <summary>
/// The README's cluster section shows <see cref="ReadmeExample"/>'s regions verbatim (as text blocks: the README's own
/// snippet test compiles against NtkDsl only), and the example computes the kernel the single process does.
/// </summary>
[Collection(ClusterCollection.Name)]
public partial class ReadmeExampleTests(ClusterFixture fixture)
{
    [Theory]
    [InlineData("readme-program")]
    [InlineData("readme-production")]
    [InlineData("readme-job")]
    public void The_readme_shows_the_compiled_example(string region)
    {
        var source = File.ReadAllText(SourcePath()).ReplaceLineEndings("\n");
        var match = Regex.Match(source, $@"\n( *)#region {region}\n(.*?)\n *#endregion", RegexOptions.Singleline);
        Assert.True(match.Success, region);
        string indent = match.Groups[1].Value;
        string text = string.Join("\n", match.Groups[2].Value.Split('\n').Select(l => l.StartsWith(indent, StringComparison.Ordinal) ? l[indent.Length..] : l.TrimStart()));
        var readme = File.ReadAllText(Path.Combine(Path.GetDirectoryName(SourcePath())!, "..", "..", "README.md")).ReplaceLineEndings("\n");
        Assert.Contains("```text\n" + text + "\n```", readme);
    }

    [Fact]
    public async Task The_example_writes_the_single_process_kernel()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ntkdsl-readme-{Guid.NewGuid():N}.npy");
        try
        {
            var run = await ReadmeExample.ComputeKernelAsync(fixture.Cluster.Client, path);
            var expected = NtkDsl.Cpu.CpuNetwork<ClusterNet, double>.Ntk(ClusterNet.InitializeParameters<double>(seed: 0), ReadmeExample.Inputs(), null, NtkMode.Trace);
            var actual = NtkDsl.IO.Npy.ReadMatrix<double>(path);
            Assert.Equal(run.TilesTotal, run.TilesComputed);
            Assert.True(Max(actual.Data, expected.Data) < 1e-12, "tiled vs whole kernel");
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".tiles");
        }
    }

    // Relative max difference (tiles and the whole kernel round differently only in the last bits).
    private static double Max(double[] a, double[] b)
    {
        double diff = 0, scale = 0;
        for (int i = 0; i < a.Length; i++) (diff, scale) = (Math.Max(diff, Math.Abs(a[i] - b[i])), Math.Max(scale, Math.Abs(b[i])));
        return diff / scale;
    }

    private static string SourcePath([CallerFilePath] string path = "") => Path.Combine(Path.GetDirectoryName(path)!, "ReadmeExample.cs");
}

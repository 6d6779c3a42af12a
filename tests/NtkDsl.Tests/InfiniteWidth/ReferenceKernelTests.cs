using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// Agreement with tests/reference/analytic-kernels.json (float64 closed forms computed outside NtkDsl,
/// themselves checked against PyTorch Monte Carlo). Tolerance 1e-12 relative: both sides evaluate the same
/// closed forms in float64, so only rounding (~1e-15 per layer) separates them.
/// </summary>
public sealed class ReferenceKernelTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-12;

    private sealed record Case(string Name, NetworkDescription Network, Matrix<double> X1, Matrix<double> X2, Matrix<double> Nngp, Matrix<double> Ntk);

    private static List<Case> LoadCases()
    {
        var root = NtkDsl.Tests.Support.ReferenceData.Load("analytic-kernels.json");
        var cases = new List<Case>();
        foreach (var c in root.EnumerateArray())
        {
            var x1 = NtkDsl.Tests.Support.ReferenceData.Matrix(c.GetProperty("x1"));
            var x2 = NtkDsl.Tests.Support.ReferenceData.Matrix(c.GetProperty("x2"));
            var parameterization = c.GetProperty("parameterization").GetString() switch
            {
                "ntk" => Parameterization.Ntk,
                "standard" => Parameterization.Standard,
                var other => throw new InvalidDataException($"Unknown parameterization {other}."),
            };
            var layers = new List<LayerSpec>();
            foreach (var l in c.GetProperty("layers").EnumerateArray())
            {
                layers.Add(l.GetProperty("kind").GetString() switch
                {
                    "dense" => LayerSpec.Dense(l.GetProperty("width").GetInt32(), l.GetProperty("w_std").GetDouble(), l.GetProperty("b_std").GetDouble()),
                    "relu" => LayerSpec.Act(Activation.Relu),
                    "erf" => LayerSpec.Act(Activation.Erf()),
                    var other => throw new InvalidDataException($"Unknown layer kind {other}."),
                });
            }

            var name = c.GetProperty("name").GetString()!;
            var net = NetworkDescription.Create(name, x1.Cols, parameterization, 1.0, 0.0, layers);
            cases.Add(new Case(name, net, x1, x2, NtkDsl.Tests.Support.ReferenceData.Matrix(c.GetProperty("nngp")), NtkDsl.Tests.Support.ReferenceData.Matrix(c.GetProperty("ntk"))));
        }

        return cases;
    }

    [Fact]
    public void ReferenceFileHasTheExpectedCases()
    {
        var cases = LoadCases();
        Assert.Contains(cases, c => c.Name.Contains("relu", StringComparison.Ordinal));
        Assert.Contains(cases, c => c.Name.Contains("erf", StringComparison.Ordinal));
    }

    [Fact]
    public void KernelsMatchReferenceToOneInATrillion()
    {
        foreach (var c in LoadCases())
        {
            var k = NtkDsl.InfiniteWidth.Kernels(c.Network, c.X1, c.X2);
            double nngp = MaxRelativeError(k.Nngp, c.Nngp), ntk = MaxRelativeError(k.Ntk, c.Ntk);
            output.WriteLine($"{c.Name}: max relative error NNGP {nngp:E2}, NTK {ntk:E2}");
            Assert.True(nngp <= Tolerance, $"{c.Name}: NNGP relative error {nngp:E3}");
            Assert.True(ntk <= Tolerance, $"{c.Name}: NTK relative error {ntk:E3}");
        }
    }

    [Fact]
    public void TransposedCallGivesTransposedKernels()
    {
        foreach (var c in LoadCases())
        {
            var k = NtkDsl.InfiniteWidth.Kernels(c.Network, c.X2, c.X1);
            Assert.True(MaxRelativeError(k.Nngp, c.Nngp.Transpose()) <= Tolerance, c.Name);
            Assert.True(MaxRelativeError(k.Ntk, c.Ntk.Transpose()) <= Tolerance, c.Name);
        }
    }

    [Fact]
    public void DiagonalMatchesReferenceWhereInputsCoincide()
    {
        // The ReLU case compares x0 = (1, 0) with itself first: k(x0, x0) from Diagonal must match too.
        foreach (var c in LoadCases())
        {
            var d = NtkDsl.InfiniteWidth.Diagonal(c.Network, c.X1);
            for (int i = 0; i < c.X1.Rows; i++)
                for (int j = 0; j < c.X2.Rows; j++)
                {
                    if (!c.X1.Row(i).SequenceEqual(c.X2.Row(j))) continue;
                    Assert.Equal(c.Nngp[i, j], d.Nngp[i], Tolerance * Math.Abs(c.Nngp[i, j]));
                    Assert.Equal(c.Ntk[i, j], d.Ntk[i], Tolerance * Math.Abs(c.Ntk[i, j]));
                }
        }
    }

    [Fact]
    public void MultithreadedCallMatchesReference()
    {
        var options = new InfiniteWidthOptions { ParallelThreshold = 0, MaxDegreeOfParallelism = 2 };
        foreach (var c in LoadCases())
        {
            var k = NtkDsl.InfiniteWidth.Kernels(c.Network, c.X1, c.X2, options);
            Assert.True(MaxRelativeError(k.Nngp, c.Nngp) <= Tolerance, c.Name);
            Assert.True(MaxRelativeError(k.Ntk, c.Ntk) <= Tolerance, c.Name);
        }
    }

    private static double MaxRelativeError(Matrix<double> actual, Matrix<double> expected)
    {
        Assert.Equal(expected.Rows, actual.Rows);
        Assert.Equal(expected.Cols, actual.Cols);
        double scale = expected.Data.Max(Math.Abs), worst = 0;
        for (int i = 0; i < expected.Data.Length; i++)
            worst = Math.Max(worst, Math.Abs(actual.Data[i] - expected.Data[i]) / Math.Max(Math.Abs(expected.Data[i]), 1e-3 * scale));
        return worst;
    }
}

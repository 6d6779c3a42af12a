using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>Helpers shared by the tests: random host data, tensor round trips, comparisons, reference files.</summary>
internal static class TestSupport
{
    /// <summary>float64 ops are checked to 1e-12 (mixed absolute/relative), float32 to 1e-5.</summary>
    public static double Tolerance(ScalarType dtype) => dtype == ScalarType.Float64 ? 1e-12 : 1e-5;

    public static double[,] Random(int rows, int cols, int seed, double scale = 1.0)
    {
        var rng = new Random(seed);
        var a = new double[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                a[r, c] = scale * (2 * rng.NextDouble() - 1);
        return a;
    }

    /// <summary>The values as stored in <paramref name="dtype"/> (rounded to float for float32).</summary>
    public static double[,] Rounded(double[,] a, ScalarType dtype)
    {
        if (dtype == ScalarType.Float64) return (double[,])a.Clone();
        var b = new double[a.GetLength(0), a.GetLength(1)];
        for (int r = 0; r < a.GetLength(0); r++)
            for (int c = 0; c < a.GetLength(1); c++)
                b[r, c] = (float)a[r, c];
        return b;
    }

    public static Tensor ToTensor(double[,] a, ScalarType dtype)
    {
        var m = Matrix<double>.FromArray(a);
        if (dtype == ScalarType.Float64) return m.ToTensor();
        return m.Convert<float>().ToTensor();
    }

    public static double[,] ToHost(Tensor t)
    {
        if (t.dtype == ScalarType.Float64) return t.ToMatrix<double>().ToArray();
        return t.ToMatrix<float>().Convert<double>().ToArray();
    }

    public static void AssertClose(double[,] expected, double[,] actual, double tolerance, string what = "")
    {
        Assert.Equal(expected.GetLength(0), actual.GetLength(0));
        Assert.Equal(expected.GetLength(1), actual.GetLength(1));
        for (int r = 0; r < expected.GetLength(0); r++)
            for (int c = 0; c < expected.GetLength(1); c++)
            {
                double e = expected[r, c], a = actual[r, c];
                if (Math.Abs(e - a) > tolerance * Math.Max(1.0, Math.Abs(e)))
                    Assert.Fail($"{what} ({r}, {c}): expected {e:R}, got {a:R} (difference {Math.Abs(e - a):E2}, tolerance {tolerance:E0}).");
            }
    }

    /// <summary>Relative Frobenius-norm error, ||a - e|| / ||e||.</summary>
    public static double RelativeError(double[,] expected, double[,] actual)
    {
        Assert.Equal(expected.GetLength(0), actual.GetLength(0));
        Assert.Equal(expected.GetLength(1), actual.GetLength(1));
        double num = 0, den = 0;
        for (int r = 0; r < expected.GetLength(0); r++)
            for (int c = 0; c < expected.GetLength(1); c++)
            {
                num += (expected[r, c] - actual[r, c]) * (expected[r, c] - actual[r, c]);
                den += expected[r, c] * expected[r, c];
            }

        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), double.Epsilon);
    }

    /// <summary>The reference folder (one locator for all test projects: <see cref="NtkDsl.Tests.Support.ReferenceData"/>).</summary>
    public static string ReferenceDir() => NtkDsl.Tests.Support.ReferenceData.Directory;

    public static JsonElement[] EmpiricalCases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(ReferenceDir(), "empirical-ntk.json")));
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    public static double[] Vector(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    public static double[,] Matrix2(JsonElement e)
    {
        var rows = e.EnumerateArray().Select(Vector).ToArray();
        var m = new double[rows.Length, rows.Length == 0 ? 0 : rows[0].Length];
        for (int r = 0; r < rows.Length; r++)
            for (int c = 0; c < rows[r].Length; c++)
                m[r, c] = rows[r][c];
        return m;
    }

    /// <summary>The description of a reference case's <c>arch</c>.</summary>
    public static NetworkDescription Architecture(JsonElement arch)
    {
        var specs = new List<LayerSpec>();
        foreach (var layer in arch.GetProperty("layers").EnumerateArray())
        {
            specs.Add(layer.GetProperty("kind").GetString() switch
            {
                "dense" => LayerSpec.Dense(layer.GetProperty("width").GetInt32(), layer.GetProperty("w_std").GetDouble(), layer.GetProperty("b_std").GetDouble()),
                "relu" => LayerSpec.Act(Activation.Relu),
                "erf" => LayerSpec.Act(Activation.Erf()),
                "tanh" => LayerSpec.Act(Activation.Plain(ActivationKind.Tanh)),
                var other => throw new NotSupportedException($"Layer kind {other}"),
            });
        }

        var parameterization = arch.GetProperty("parameterization").GetString() == "standard" ? Parameterization.Standard : Parameterization.Ntk;
        return NetworkDescription.Create("Reference", arch.GetProperty("inputs").GetInt32(), parameterization, 1.0, 0.0, specs);
    }

    /// <summary>jacobian_x1 (N x O x P) as [N * O, P].</summary>
    public static double[,] JacobianRows(JsonElement e)
    {
        var samples = e.EnumerateArray().Select(Matrix2).ToArray();
        int o = samples[0].GetLength(0), p = samples[0].GetLength(1);
        var j = new double[samples.Length * o, p];
        for (int n = 0; n < samples.Length; n++)
            for (int k = 0; k < o; k++)
                for (int c = 0; c < p; c++)
                    j[n * o + k, c] = samples[n][k, c];
        return j;
    }

    /// <summary>ntk_full (N1 x N2 x O x O) as [N1 * O, N2 * O], entry (n1 * O + k, n2 * O + k').</summary>
    public static double[,] FullKernel(JsonElement e)
    {
        var rows = e.EnumerateArray().Select(r => r.EnumerateArray().Select(Matrix2).ToArray()).ToArray();
        int n1 = rows.Length, n2 = rows[0].Length, o = rows[0][0].GetLength(0);
        var k = new double[n1 * o, n2 * o];
        for (int a = 0; a < n1; a++)
            for (int b = 0; b < n2; b++)
                for (int i = 0; i < o; i++)
                    for (int j = 0; j < o; j++)
                        k[a * o + i, b * o + j] = rows[a][b][i, j];
        return k;
    }

    /// <summary>Live tensors on this thread (TorchSharp's dispose-scope statistics).</summary>
    public static long LiveTensors() => DisposeScopeManager.Statistics.ThreadTotalLiveCount;
}

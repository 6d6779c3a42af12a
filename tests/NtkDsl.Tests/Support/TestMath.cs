namespace NtkDsl.Tests.Support;

/// <summary>Independent helpers for tests: random inputs, explicit products, and error measures.</summary>
public static class TestMath
{
    public static Matrix<double> RandomMatrix(int rows, int cols, int seed, double scale = 1.0)
    {
        var random = new Random(seed);
        var m = new Matrix<double>(rows, cols);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = scale * (2 * random.NextDouble() - 1);
        return m;
    }

    public static double[] RandomVector(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => 2 * random.NextDouble() - 1).ToArray();
    }

    /// <summary>A B^T with plain loops.</summary>
    public static Matrix<double> TimesTranspose(Matrix<double> a, Matrix<double> b)
    {
        var c = new Matrix<double>(a.Rows, b.Rows);
        for (int i = 0; i < a.Rows; i++)
            for (int j = 0; j < b.Rows; j++)
            {
                double sum = 0;
                for (int k = 0; k < a.Cols; k++) sum += a[i, k] * b[j, k];
                c[i, j] = sum;
            }
        return c;
    }

    /// <summary>max |a - b| / max(|b|max, floor).</summary>
    public static double RelativeError(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, double floor = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, scale = floor;
        for (int i = 0; i < actual.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return diff / scale;
    }

    public static double RelativeError(Matrix<double> actual, Matrix<double> expected)
    {
        Assert.Equal((expected.Rows, expected.Cols), (actual.Rows, actual.Cols));
        return RelativeError(actual.Data, expected.Data);
    }
}

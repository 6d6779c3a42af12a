using MathNet.Numerics.LinearAlgebra;
using MathNetMatrix = MathNet.Numerics.LinearAlgebra.Matrix<double>;

namespace NtkDsl.Tests.Cpu;

/// <summary>
/// <see cref="GradientDescentMse"/>'s eigen route multiplies V by the scaled projections of a whole batch of times at once:
/// many times (several batches, three outputs sharing one kernel) against the closed form
/// f(t) = f0 + V diag(expm1(-l s)) V^T (f0 - y), f*(t) = f0* + Theta* V diag(expm1(-l s) / l) V^T (f0 - y), s = eta t / (n O),
/// evaluated here with MathNet's eigendecomposition.
/// </summary>
public class EigenRouteBatchingTests
{
    [Fact]
    public void Every_time_of_a_many_time_call_matches_the_closed_form()
    {
        int n = 40, o = 3, nTest = 7, count = 600;
        var rng = new Random(3);
        double[,] R(int r, int c) { var a = new double[r, c]; for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) a[i, j] = rng.NextDouble() - 0.5; return a; }
        var g = MathNetMatrix.Build.DenseOfArray(R(n + nTest, 12));
        var joint = g * g.Transpose() + MathNetMatrix.Build.DenseIdentity(n + nTest) * 0.05;
        var k = joint.SubMatrix(0, n, 0, n);
        var kt = joint.SubMatrix(n, nTest, 0, n);
        var y = MathNetMatrix.Build.DenseOfArray(R(n, o));
        var f0 = MathNetMatrix.Build.DenseOfArray(R(n, o)) * 0.1;
        var f0Test = MathNetMatrix.Build.DenseOfArray(R(nTest, o)) * 0.1;
        double eta = 0.7;
        var times = Enumerable.Range(0, count).Select(i => Math.Pow(10, -2 + 6.0 * i / (count - 1))).ToArray();

        var predictions = new GradientDescentMse(M(k), M(y), eta).Predict(times, M(f0), M(f0Test), M(kt));

        var evd = k.Evd(Symmetricity.Symmetric);
        var v = evd.EigenVectors;
        var l = evd.EigenValues.Select(c => c.Real).ToArray();
        var p = v.Transpose() * (f0 - y);
        for (int ti = 0; ti < count; ti++)
        {
            double s = eta * times[ti] / (n * o);
            var decay = MathNetMatrix.Build.DiagonalOfDiagonalArray(l.Select(li => Math.Exp(-li * s) - 1).ToArray());
            var inverse = MathNetMatrix.Build.DiagonalOfDiagonalArray(l.Select(li => (Math.Exp(-li * s) - 1) / li).ToArray());
            var train = f0 + v * decay * p;
            var test = f0Test + kt * v * inverse * p;
            Assert.Equal(times[ti], predictions[ti].Time);
            Assert.True(MaxDiff(train, predictions[ti].Train) <= 1e-9, $"train at t = {times[ti]:G3}");
            Assert.True(MaxDiff(test, predictions[ti].Test!) <= 1e-9 * Math.Max(1, times[ti]), $"test at t = {times[ti]:G3}");
        }
    }

    private static Matrix<double> M(MathNetMatrix m) => Matrix<double>.FromArray(m.ToArray());

    private static double MaxDiff(MathNetMatrix expected, Matrix<double> actual)
    {
        double d = 0;
        for (int i = 0; i < expected.RowCount; i++)
            for (int j = 0; j < expected.ColumnCount; j++) d = Math.Max(d, Math.Abs(expected[i, j] - actual[i, j]));
        return d;
    }
}

using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Conv;

/// <summary>The blocked input cotangent col2im(scale W^T D) against the explicit transpose of the convolution's Jacobian in its input.</summary>
public class ConvCotangentTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(20)]
    public void Blocks_of_any_size_give_the_adjoint_of_the_convolution(int blockRows)
    {
        // <col2im(s W^T c), v> = <c, s W im2col(v)> for every v: checked on the unit vectors, i.e. against the
        // explicit matrix of v -> s W im2col(v).
        var backend = new CpuBackend<double>();
        var window = new SpatialWindow(new SpatialShape(4, 3), 3, 2, 1, 1, Padding.Same);
        int channelsIn = 2, channelsOut = 3, positions = window.Output.Positions, fan = channelsIn * window.Taps, rows = 7;
        int inputs = channelsIn * window.Input.Positions;
        var w = CpuTensor(TestMath.RandomMatrix(channelsOut, fan, seed: 1));
        var c = CpuTensor(TestMath.RandomMatrix(rows, channelsOut * positions, seed: 2));
        var scratch = CpuTensor(new Matrix<double>(blockRows, fan * positions));
        var dst = CpuTensor(new Matrix<double>(rows, inputs));
        ConvCotangent.Input(backend, w, c, 0.7, channelsIn, window, scratch, dst);

        var unit = CpuTensor(new Matrix<double>(1, inputs));
        var cols = CpuTensor(new Matrix<double>(1, fan * positions));
        var z = CpuTensor(new Matrix<double>(1, channelsOut * positions));
        for (int i = 0; i < inputs; i++)
        {
            backend.Clear(unit);
            unit.Span[i] = 1;
            backend.Im2Col(unit, channelsIn, window, cols);
            backend.MatMulRows(w, false, cols, 0.7, z, false);
            for (int r = 0; r < rows; r++)
            {
                double expected = 0;
                for (int k = 0; k < z.Cols; k++) expected += c.Row(r)[k] * z.Span[k];
                Assert.Equal(expected, dst.Row(r)[i], 1e-12);
            }
        }
    }

    private static CpuTensor<double> CpuTensor(Matrix<double> m) => new(m.Data, 0, m.Rows, m.Cols);
}

using System.Numerics;
using NtkDsl.Cpu;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Tests.Cpu;

/// <summary>
/// The CPU backend's per-row products (a conv layer's Jacobian blocks, RowProducts) against a naive loop: narrow shapes
/// that take the unpacked row dot products (edges of their 4 x 3 tile, depths that are not multiples of the vector
/// width), wide ones that take the packed GEMM, stacked rows per sample, a column offset, both element types, both
/// vector widths, one and two threads. Errors are measured against sum_k |a_k b_k|.
/// </summary>
[Collection(SerialCollection.Name)]
public class RowProductsTests
{
    // m, f, inner, repeat, samples.
    public static TheoryData<int, int, int, int, int> Shapes => new()
    {
        { 32, 9, 784, 10, 3 }, // layer 1 of ntk-cnn-small: [320, 784] x [9, 784]^T per sample
        { 5, 7, 37, 3, 4 }, { 4, 3, 16, 1, 2 }, { 1, 1, 1, 1, 1 }, { 3, 50, 33, 2, 5 },
        { 16, 288, 61, 1, 2 }, // the widest narrow side that takes the row dot products with AVX-512
        { 32, 288, 61, 1, 2 }, // ntk-cnn-small's readout (in shape): the packed GEMM with AVX-512, row dots with Vector256
        { 40, 40, 50, 1, 3 }, // both sides wider than 32: the packed GEMM
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Double_row_products_match_naive(int m, int f, int inner, int repeat, int samples) => CheckAll<double>(m, f, inner, repeat, samples, 1e-13);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Float_row_products_match_naive(int m, int f, int inner, int repeat, int samples) => CheckAll<float>(m, f, inner, repeat, samples, 1e-5);

    private static void CheckAll<T>(int m, int f, int inner, int repeat, int samples, double tol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (bool vector256 in new[] { false, true })
        {
            PackedGemm<T>.ForceAvx2Kernel = vector256;
            try
            {
                foreach (int threads in new[] { 1, 2 })
                foreach (int colOffset in new[] { 0, 5 })
                    Check<T>(new CpuBackend<T>(threads), m, f, inner, repeat, samples, colOffset, tol);
            }
            finally
            {
                PackedGemm<T>.ForceAvx2Kernel = false;
            }
        }
    }

    private static void Check<T>(CpuBackend<T> be, int m, int f, int inner, int repeat, int samples, int colOffset, double tol)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = samples * repeat, cols = colOffset + m * f + (colOffset > 0 ? 2 : 0);
        var a = Random<T>(rows, m * inner, 1);
        var b = Random<T>(samples, f * inner, 2);
        var dst = new CpuTensor<T>(new T[rows * cols], 0, rows, cols);
        be.RowProducts(a, b, inner, repeat, 0.7, dst, colOffset);
        for (int r = 0; r < rows; r++)
        for (int i = 0; i < m; i++)
        for (int j = 0; j < f; j++)
        {
            double sum = 0, scale = 0;
            for (int k = 0; k < inner; k++)
            {
                double x = double.CreateChecked(a.Array[r * a.Cols + i * inner + k]), y = double.CreateChecked(b.Array[r / repeat * b.Cols + j * inner + k]);
                sum += x * y;
                scale += Math.Abs(x * y);
            }

            double got = double.CreateChecked(dst.Array[r * cols + colOffset + i * f + j]);
            Assert.True(Math.Abs(got - 0.7 * sum) <= tol * (scale + 1), $"[{r}, {i}, {j}]: {got} against {0.7 * sum}");
        }

        // Columns outside [colOffset, colOffset + m f) are left alone.
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < colOffset; c++) Assert.Equal(T.Zero, dst.Array[r * cols + c]);
            for (int c = colOffset + m * f; c < cols; c++) Assert.Equal(T.Zero, dst.Array[r * cols + c]);
        }
    }

    private static CpuTensor<T> Random<T>(int rows, int cols, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        var data = new T[rows * cols];
        for (int i = 0; i < data.Length; i++) data[i] = T.CreateChecked(rng.NextDouble() * 2 - 1);
        return new CpuTensor<T>(data, 0, rows, cols);
    }
}

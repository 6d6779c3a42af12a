using NtkDsl.Cpu;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Conv;

/// <summary>
/// The backend's Conv (im2col and the filter product, sample by sample on the CPU) against a direct convolution written
/// out by its definition (NaiveConvNet), and bit for bit against Im2Col + MatMulRows, the two ops it fuses.
/// </summary>
public class ConvForwardOpTests
{
    [Theory]
    [InlineData(2, 5, 7, 3, 3, 1, Padding.Same, 1)]        // fewer samples than 2 threads: the two ops
    [InlineData(3, 6, 6, 4, 3, 2, Padding.Valid, 9)]       // one item per sample
    [InlineData(1, 8, 9, 5, 3, 2, Padding.Circular, 13)]
    [InlineData(4, 7, 5, 33, 1, 1, Padding.Same, 6)]       // a 1 x 1 window, 33 filters (an edge row panel)
    public void Conv_is_the_convolution_and_keeps_its_im2col_columns(int channelsIn, int height, int width, int channelsOut, int kernel, int stride,
        Padding padding, int samples)
    {
        var spec = new ConvNetSpec(channelsIn, new SpatialShape(height, width), Parameterization.Ntk, 1.3, 0.0).Conv(channelsOut, kernel, padding, stride, bias: false);
        var layer = (ConvLayer)spec.Description.Layers[0];
        var window = layer.Window;
        var naive = new NaiveConvNet(spec.Description);
        naive.Initialize(seed: 4);
        double scale = 1.3 / Math.Sqrt(layer.FanIn);
        var x = TestMath.RandomMatrix(samples, spec.InputSize, seed: 5);

        var backend = new CpuBackend<double>(2);
        int fan = layer.FanIn, positions = window.Output.Positions;
        var w = new CpuTensor<double>(naive.Parameters, layer.WeightOffset, channelsOut, fan);
        var input = new CpuTensor<double>(x.Data, 0, samples, spec.InputSize);
        var columns = new CpuTensor<double>(new double[samples * fan * positions], 0, samples, fan * positions);
        var z = new CpuTensor<double>(new double[samples * channelsOut * positions], 0, samples, channelsOut * positions);
        backend.Conv(input, channelsIn, window, w, scale, columns, z);

        for (int n = 0; n < samples; n++)
        {
            var expected = naive.Forward(x.Row(n).ToArray());
            Assert.Equal(z.Cols, expected.Length);
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], z.Row(n)[i], 1e-12);
        }

        var columns2 = new CpuTensor<double>(new double[columns.Span.Length], 0, samples, fan * positions);
        var z2 = new CpuTensor<double>(new double[z.Span.Length], 0, samples, channelsOut * positions);
        backend.Im2Col(input, channelsIn, window, columns2);
        backend.MatMulRows(w, false, columns2, scale, z2, false);
        Assert.Equal(columns2.Span.ToArray(), columns.Span.ToArray());
        Assert.Equal(z2.Span.ToArray(), z.Span.ToArray());
    }

    [Fact]
    public void Wrong_shapes_are_refused_by_argument_name()
    {
        var backend = new CpuBackend<double>();
        var window = new SpatialWindow(new SpatialShape(4, 4), 3, 3, 1, 1, Padding.Same);
        CpuTensor<double> T(int rows, int cols) => new(new double[rows * cols], 0, rows, cols);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => backend.Conv(T(2, 15), 1, window, T(3, 9), 1, T(2, 144), T(2, 48))).ParamName);
        Assert.Equal("w", Assert.Throws<ArgumentException>(() => backend.Conv(T(2, 16), 1, window, T(3, 8), 1, T(2, 144), T(2, 48))).ParamName);
        Assert.Equal("columns", Assert.Throws<ArgumentException>(() => backend.Conv(T(2, 16), 1, window, T(3, 9), 1, T(2, 143), T(2, 48))).ParamName);
        Assert.Equal("dst", Assert.Throws<ArgumentException>(() => backend.Conv(T(2, 16), 1, window, T(3, 9), 1, T(2, 144), T(2, 47))).ParamName);
    }
}

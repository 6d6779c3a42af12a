namespace NtkDsl.Tests.Conv;

/// <summary>
/// A plain-loop forward pass of a convolutional network, written from the definitions and independent of the
/// runtime's window code: NCHW samples, PyTorch's weight layout [C_out, C_in, kh, kw] then the bias, padding as
/// PyTorch/TensorFlow 'same' (output ceil(n / stride), the smaller half of the padding before), circular padding
/// wrapping indices, average pooling counting zero padding.
/// </summary>
internal static class NaiveConvNet
{
    public static Matrix<double> Forward(NetworkDescription net, double[] theta, Matrix<double> x)
    {
        var output = new Matrix<double>(x.Rows, net.Outputs);
        var p = net.Parameterization;
        for (int n = 0; n < x.Rows; n++)
        {
            double[] a = x.Row(n).ToArray();
            int channels = net.InputChannels, height = net.InputSpatial.Height, width = net.InputSpatial.Width;
            foreach (var layer in net.Layers)
            {
                switch (layer)
                {
                    case ConvLayer c:
                    {
                        var (kh, kw, sh, sw) = (c.Window.Height, c.Window.Width, c.Window.StrideHeight, c.Window.StrideWidth);
                        int oh = OutSize(height, kh, sh, c.Window.Padding), ow = OutSize(width, kw, sw, c.Window.Padding);
                        int ph = PadBefore(height, kh, sh, c.Window.Padding), pw = PadBefore(width, kw, sw, c.Window.Padding);
                        var z = new double[c.OutChannels * oh * ow];
                        for (int co = 0; co < c.OutChannels; co++)
                        for (int i = 0; i < oh; i++)
                        for (int j = 0; j < ow; j++)
                        {
                            double sum = 0;
                            for (int ci = 0; ci < channels; ci++)
                            for (int u = 0; u < kh; u++)
                            for (int v = 0; v < kw; v++)
                            {
                                double value = Read(a, ci, i * sh + u - ph, j * sw + v - pw, height, width, c.Window.Padding);
                                sum += theta[c.WeightOffset + ((co * channels + ci) * kh + u) * kw + v] * value;
                            }

                            z[(co * oh + i) * ow + j] = c.WeightScale(p) * sum + (c.HasBias ? c.BiasScale(p) * theta[c.BiasOffset + co] : 0);
                        }

                        (a, channels, height, width) = (z, c.OutChannels, oh, ow);
                        break;
                    }

                    case PoolLayer pool:
                    {
                        var (kh, kw, sh, sw) = (pool.Window.Height, pool.Window.Width, pool.Window.StrideHeight, pool.Window.StrideWidth);
                        int oh = OutSize(height, kh, sh, pool.Window.Padding), ow = OutSize(width, kw, sw, pool.Window.Padding);
                        int ph = PadBefore(height, kh, sh, pool.Window.Padding), pw = PadBefore(width, kw, sw, pool.Window.Padding);
                        var z = new double[channels * oh * ow];
                        for (int ch = 0; ch < channels; ch++)
                        for (int i = 0; i < oh; i++)
                        for (int j = 0; j < ow; j++)
                        {
                            double sum = 0;
                            for (int u = 0; u < kh; u++)
                            for (int v = 0; v < kw; v++)
                                sum += Read(a, ch, i * sh + u - ph, j * sw + v - pw, height, width, pool.Window.Padding);
                            z[(ch * oh + i) * ow + j] = pool.Sum ? sum : sum / (kh * kw);
                        }

                        (a, height, width) = (z, oh, ow);
                        break;
                    }

                    case GlobalAvgPoolLayer:
                    {
                        var z = new double[channels];
                        for (int ch = 0; ch < channels; ch++)
                            for (int q = 0; q < height * width; q++) z[ch] += a[ch * height * width + q] / (height * width);
                        a = z;
                        break;
                    }

                    case FlattenLayer:
                        break;

                    case ActivationLayer act:
                        a = a.Select(act.Activation.Evaluate).ToArray();
                        break;

                    case DenseLayer d:
                    {
                        var z = new double[d.Width];
                        for (int o = 0; o < d.Width; o++)
                        {
                            double sum = 0;
                            for (int i = 0; i < d.Inputs; i++) sum += theta[d.WeightOffset + o * d.Inputs + i] * a[i];
                            z[o] = d.WeightScale(p) * sum + (d.HasBias ? d.BiasScale(p) * theta[d.BiasOffset + o] : 0);
                        }

                        a = z;
                        break;
                    }

                    default:
                        throw new NotSupportedException(layer.ToString());
                }
            }

            for (int o = 0; o < net.Outputs; o++) output[n, o] = a[o];
        }

        return output;
    }

    private static int OutSize(int n, int k, int s, Padding padding) => padding == Padding.Valid ? (n - k) / s + 1 : (n + s - 1) / s;

    private static int PadBefore(int n, int k, int s, Padding padding) =>
        padding == Padding.Valid ? 0 : Math.Max((OutSize(n, k, s, padding) - 1) * s + k - n, 0) / 2;

    private static double Read(double[] a, int channel, int row, int column, int height, int width, Padding padding)
    {
        if (padding == Padding.Circular)
        {
            row = ((row % height) + height) % height;
            column = ((column % width) + width) % width;
        }

        return row < 0 || row >= height || column < 0 || column >= width ? 0 : a[(channel * height + row) * width + column];
    }
}

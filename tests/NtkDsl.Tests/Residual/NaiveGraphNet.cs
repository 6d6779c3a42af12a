namespace NtkDsl.Tests.Residual;

/// <summary>
/// A per-sample interpreter of a branching network description, written from the layer definitions and independent of
/// the backends: every layer reads the output of its source (or a join of several), Dense and Conv (Same or Valid
/// padding, stride 1 here; PyTorch's weight layout) with their scales, activations by their scalar functions,
/// LayerNorm as (x - mean) / sqrt(var + eps) over the channels at each position, sums and concatenations of NCHW values.
/// </summary>
internal static class NaiveGraphNet
{
    public static Matrix<double> Forward(NetworkDescription net, double[] theta, Matrix<double> x)
    {
        var output = new Matrix<double>(x.Rows, net.Outputs);
        for (int n = 0; n < x.Rows; n++)
        {
            var input = (Values: x.Row(n).ToArray(), Channels: net.IsSpatial ? net.InputChannels : net.Inputs,
                Height: net.IsSpatial ? net.InputSpatial.Height : 1, Width: net.IsSpatial ? net.InputSpatial.Width : 1);
            var outputs = new List<(double[] Values, int Channels, int Height, int Width)>();
            for (int l = 0; l < net.Layers.Count; l++)
            {
                var layer = net.Layers[l];
                var a = net.Sources[l] < 0 ? input : outputs[net.Sources[l]];
                outputs.Add(layer switch
                {
                    JoinLayer join => Join(join, join.Inputs.Select(k => k < 0 ? input : outputs[k]).ToList()),
                    DenseLayer d => (Dense(d, net.Parameterization, theta, a.Values), d.Width, 1, 1),
                    ConvLayer c => Conv(c, net.Parameterization, theta, a),
                    ActivationLayer act => (a.Values.Select(act.Activation.Evaluate).ToArray(), a.Channels, a.Height, a.Width),
                    LayerNormLayer norm => (LayerNorm(a.Values, a.Channels, a.Height * a.Width, norm.Epsilon), a.Channels, a.Height, a.Width),
                    GlobalAvgPoolLayer => (Enumerable.Range(0, a.Channels).Select(c => a.Values.Skip(c * a.Height * a.Width).Take(a.Height * a.Width).Average()).ToArray(), a.Channels, 1, 1),
                    FlattenLayer => (a.Values, a.Values.Length, 1, 1),
                    _ => throw new NotSupportedException(layer.ToString()),
                });
            }

            outputs[^1].Values.CopyTo(output.Row(n));
        }

        return output;
    }

    private static (double[], int, int, int) Join(JoinLayer join, List<(double[] Values, int Channels, int Height, int Width)> inputs)
    {
        if (join.Kind == JoinKind.Concat)
            return (inputs.SelectMany(i => i.Values).ToArray(), inputs.Sum(i => i.Channels), inputs[0].Height, inputs[0].Width);
        var sum = new double[inputs[0].Values.Length];
        foreach (var i in inputs)
            for (int k = 0; k < sum.Length; k++) sum[k] += i.Values[k];
        return (sum, inputs[0].Channels, inputs[0].Height, inputs[0].Width);
    }

    private static double[] Dense(DenseLayer d, Parameterization p, double[] theta, double[] a)
    {
        bool standard = p == Parameterization.Standard;
        double ws = standard ? 1 : d.WeightStd / Math.Sqrt(d.Inputs), bs = standard ? 1 : d.BiasStd;
        var z = new double[d.Width];
        for (int o = 0; o < d.Width; o++)
        {
            double sum = 0;
            for (int i = 0; i < d.Inputs; i++) sum += theta[d.WeightOffset + o * d.Inputs + i] * a[i];
            z[o] = ws * sum + (d.HasBias ? bs * theta[d.BiasOffset + o] : 0);
        }

        return z;
    }

    private static (double[], int, int, int) Conv(ConvLayer c, Parameterization p, double[] theta, (double[] Values, int Channels, int Height, int Width) a)
    {
        var w = c.Window;
        Assert.Equal(1, w.StrideHeight); // the networks here use stride 1
        int kh = w.Height, kw = w.Width, oh = w.Output.Height, ow = w.Output.Width;
        int ph = w.Padding == Padding.Same ? (kh - 1) / 2 : 0, pw = w.Padding == Padding.Same ? (kw - 1) / 2 : 0;
        bool standard = p == Parameterization.Standard;
        double ws = standard ? 1 : c.WeightStd / Math.Sqrt(a.Channels * kh * kw), bs = standard ? 1 : c.BiasStd;
        var z = new double[c.OutChannels * oh * ow];
        for (int co = 0; co < c.OutChannels; co++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double sum = 0;
                    for (int ci = 0; ci < a.Channels; ci++)
                        for (int u = 0; u < kh; u++)
                            for (int v = 0; v < kw; v++)
                            {
                                int r = i + u - ph, s = j + v - pw;
                                if (r < 0 || s < 0 || r >= a.Height || s >= a.Width) continue;
                                sum += theta[c.WeightOffset + ((co * a.Channels + ci) * kh + u) * kw + v] * a.Values[(ci * a.Height + r) * a.Width + s];
                            }

                    z[(co * oh + i) * ow + j] = ws * sum + (c.HasBias ? bs * theta[c.BiasOffset + co] : 0);
                }

        return (z, c.OutChannels, oh, ow);
    }

    private static double[] LayerNorm(double[] a, int channels, int positions, double epsilon)
    {
        var y = new double[a.Length];
        for (int q = 0; q < positions; q++)
        {
            double mean = 0;
            for (int c = 0; c < channels; c++) mean += a[c * positions + q] / channels;
            double variance = 0;
            for (int c = 0; c < channels; c++) variance += (a[c * positions + q] - mean) * (a[c * positions + q] - mean) / channels;
            for (int c = 0; c < channels; c++) y[c * positions + q] = (a[c * positions + q] - mean) / Math.Sqrt(variance + epsilon);
        }

        return y;
    }
}

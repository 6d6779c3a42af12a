using NtkDsl.Tests.InfiniteWidth;

namespace NtkDsl.Tests.Support;

/// <summary>
/// A builder of conv net descriptions for the infinite-width tests: input [C, H, W], the contract's layer records
/// (Conv, Pool, GlobalAvgPool, Flatten, Dense, activations) with parameter offsets resolved here, in the public layout
/// (per layer W then b; conv W [C_out, C_in, kh, kw]).
/// </summary>
internal sealed class ConvNetSpec
{
    private readonly List<Layer> _layers = [];
    private int _channels;
    private SpatialShape? _spatial;
    private int _features;

    public ConvNetSpec(int channels, SpatialShape input, Parameterization parameterization, double weightStd, double biasStd)
    {
        (Channels, Input, Parameterization, WeightStd, BiasStd) = (channels, input, parameterization, weightStd, biasStd);
        (_channels, _spatial) = (channels, input);
    }

    public int Channels { get; }
    public SpatialShape Input { get; }
    public Parameterization Parameterization { get; }
    public double WeightStd { get; }
    public double BiasStd { get; }
    public int ParameterCount { get; private set; }
    public IReadOnlyList<Layer> Layers => _layers;
    public int InputSize => Channels * Input.Positions;

    /// <summary>True iff a pooling layer appears: the kernel state must carry position pairs.</summary>
    public bool PositionPairs => _layers.Any(l => l is PoolLayer or GlobalAvgPoolLayer);

    public ConvNetSpec Conv(int channels, int kernel, Padding padding, int stride = 1, bool bias = true)
    {
        var window = SpatialWindow.Of(_spatial!.Value, kernel, stride, padding);
        var layer = new ConvLayer(_channels, channels, window, WeightStd, BiasStd, bias, ParameterCount, ParameterCount + channels * _channels * window.Taps);
        _layers.Add(layer);
        ParameterCount += layer.ParameterCount;
        (_channels, _spatial) = (channels, window.Output);
        return this;
    }

    public ConvNetSpec Act(Activation activation)
    {
        _layers.Add(new ActivationLayer(activation));
        return this;
    }

    public ConvNetSpec Pool(int window, int stride, Padding padding, bool sum = false)
    {
        var w = SpatialWindow.Of(_spatial!.Value, window, stride, padding);
        _layers.Add(new PoolLayer(_channels, w, sum));
        _spatial = w.Output;
        return this;
    }

    public ConvNetSpec GlobalAvgPool()
    {
        _layers.Add(new GlobalAvgPoolLayer(_channels, _spatial!.Value));
        (_features, _spatial) = (_channels, null);
        return this;
    }

    public ConvNetSpec Flatten()
    {
        _layers.Add(new FlattenLayer(_channels, _spatial!.Value));
        (_features, _spatial) = (_channels * _spatial.Value.Positions, null);
        return this;
    }

    public ConvNetSpec Dense(int width, bool bias = true)
    {
        var layer = new DenseLayer(_features, width, WeightStd, BiasStd, bias, ParameterCount, ParameterCount + width * _features);
        _layers.Add(layer);
        ParameterCount += layer.ParameterCount;
        _features = width;
        return this;
    }

    /// <summary>The network as the runtime describes it (for <see cref="NaiveConvNet"/> and the kernel state).</summary>
    public NetworkDescription Description =>
        new("ConvNetSpec", InputSize, Parameterization, [.. _layers]) { InputChannels = Channels, InputSpatial = Input };

    /// <summary>The analytic kernels: the spatial state walked through the layers.</summary>
    public InfiniteWidthKernels Kernels(Matrix<double> x1, Matrix<double>? x2 = null, InfiniteWidthOptions? options = null)
    {
        var state = KernelState.FromInputs(x1, x2, options, Channels, Input, PositionPairs);
        foreach (var layer in _layers) state.Apply(layer, Parameterization);
        return state.Result();
    }

    /// <summary>The analytic diagonal.</summary>
    public InfiniteWidthDiagonal Diagonal(Matrix<double> x, InfiniteWidthOptions? options = null)
    {
        var state = DiagonalKernelState.FromInputs(x, options, Channels, Input, PositionPairs);
        foreach (var layer in _layers) state.Apply(layer, Parameterization);
        return state.Result();
    }
}

/// <summary>
/// The one plain-loop conv net of the tests (loops only; no library code but the layer records' sizes and
/// <see cref="Activation"/>'s Evaluate/Derivative): its window geometry is written from the definitions (NCHW samples,
/// PyTorch's weight layout [C_out, C_in, kh, kw] then the bias, padding as PyTorch/TensorFlow 'same' (output
/// ceil(n / stride), the smaller half of the padding before), circular padding wrapping indices, average pooling
/// counting zero padding), independent of the runtime's window code. Forward pass, per-sample gradient by
/// backpropagation written out, and the empirical NNGP and NTK: the independent check of the generated passes
/// (Conv/ConvPassTests) and of the CNN-GP / CNTK recursion (InfiniteWidth/ConvMonteCarloTests).
/// </summary>
internal sealed class NaiveConvNet(NetworkDescription net)
{
    public double[] Parameters { get; } = new double[net.ParameterCount];

    /// <summary>f(x) [N, outputs] of a batch of NCHW rows with the given parameters.</summary>
    public static Matrix<double> Forward(NetworkDescription net, double[] theta, Matrix<double> x)
    {
        var naive = new NaiveConvNet(net);
        theta.CopyTo(naive.Parameters, 0);
        var output = new Matrix<double>(x.Rows, net.Outputs);
        for (int n = 0; n < x.Rows; n++)
        {
            var f = naive.Forward(x.Row(n).ToArray());
            for (int o = 0; o < net.Outputs; o++) output[n, o] = f[o];
        }

        return output;
    }

    /// <summary>NTK parameterization: W, b ~ N(0, 1). Standard: W ~ N(0, sw^2 / fan_in), b ~ N(0, sb^2).</summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        bool ntk = net.Parameterization == Parameterization.Ntk;
        foreach (var layer in net.Layers)
        {
            (int offset, int weights, int fanIn, int biasOffset, int biases, bool hasBias, double weightStd, double biasStd) = layer switch
            {
                ConvLayer c => (c.WeightOffset, c.OutChannels * c.FanIn, c.FanIn, c.BiasOffset, c.OutChannels, c.HasBias, c.WeightStd, c.BiasStd),
                DenseLayer d => (d.WeightOffset, d.Width * d.Inputs, d.Inputs, d.BiasOffset, d.Width, d.HasBias, d.WeightStd, d.BiasStd),
                _ => (0, 0, 1, 0, 0, false, 0.0, 0.0),
            };
            double wStd = ntk ? 1 : weightStd / Math.Sqrt(fanIn), bStd = ntk ? 1 : biasStd;
            for (int i = 0; i < weights; i++) Parameters[offset + i] = wStd * InfiniteWidthTestSupport.Gaussian(rng);
            if (hasBias)
                for (int i = 0; i < biases; i++) Parameters[biasOffset + i] = bStd * InfiniteWidthTestSupport.Gaussian(rng);
        }
    }

    private (double W, double B) Scales(double weightStd, double biasStd, int fanIn) =>
        net.Parameterization == Parameterization.Ntk ? (weightStd / Math.Sqrt(fanIn), biasStd) : (1, 1);

    private readonly Dictionary<SpatialWindow, int[]> _tables = [];

    // Input position read by output position p at tap t ([P_out, taps]), or -1 in zero padding, from the definitions.
    private int[] Positions(SpatialWindow w)
    {
        lock (_tables)
        {
            if (_tables.TryGetValue(w, out var table)) return table;
            var (height, width, kh, kw, sh, sw) = (w.Input.Height, w.Input.Width, w.Height, w.Width, w.StrideHeight, w.StrideWidth);
            int oh = OutSize(height, kh, sh, w.Padding), ow = OutSize(width, kw, sw, w.Padding);
            int ph = PadBefore(height, kh, sh, w.Padding), pw = PadBefore(width, kw, sw, w.Padding);
            if (oh * ow != w.Output.Positions) throw new InvalidOperationException($"The runtime's output {w.Output} is not {oh} x {ow}.");
            table = new int[oh * ow * kh * kw];
            for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
            for (int u = 0; u < kh; u++)
            for (int v = 0; v < kw; v++)
            {
                int row = i * sh + u - ph, column = j * sw + v - pw;
                if (w.Padding == Padding.Circular)
                {
                    row = ((row % height) + height) % height;
                    column = ((column % width) + width) % width;
                }

                bool inside = row >= 0 && row < height && column >= 0 && column < width;
                table[(i * ow + j) * kh * kw + u * kw + v] = inside ? row * width + column : -1;
            }

            return _tables[w] = table;
        }
    }

    private static int OutSize(int n, int k, int s, Padding padding) => padding == Padding.Valid ? (n - k) / s + 1 : (n + s - 1) / s;

    private static int PadBefore(int n, int k, int s, Padding padding) =>
        padding == Padding.Valid ? 0 : Math.Max((OutSize(n, k, s, padding) - 1) * s + k - n, 0) / 2;

    /// <summary>Forward pass of one NCHW sample; <paramref name="layerInputs"/> receives each layer's input.</summary>
    public double[] Forward(double[] x, List<double[]>? layerInputs = null)
    {
        var a = x;
        foreach (var layer in net.Layers)
        {
            layerInputs?.Add(a);
            switch (layer)
            {
                case ConvLayer c:
                {
                    var (sw, sb) = Scales(c.WeightStd, c.BiasStd, c.FanIn);
                    int pin = c.Window.Input.Positions, pout = c.Window.Output.Positions, k = c.Window.Taps;
                    var z = new double[c.OutChannels * pout];
                    var positions = Positions(c.Window);
                    for (int co = 0; co < c.OutChannels; co++)
                        for (int p = 0; p < pout; p++)
                        {
                            double s = 0;
                            for (int ci = 0; ci < c.InChannels; ci++)
                                for (int t = 0; t < k; t++)
                                {
                                    int q = positions[p * k + t];
                                    if (q >= 0) s += Parameters[c.WeightOffset + (co * c.InChannels + ci) * k + t] * a[ci * pin + q];
                                }

                            z[co * pout + p] = sw * s + (c.HasBias ? sb * Parameters[c.BiasOffset + co] : 0);
                        }

                    a = z;
                    break;
                }

                case DenseLayer d:
                {
                    var (sw, sb) = Scales(d.WeightStd, d.BiasStd, d.Inputs);
                    a = NaiveDense.Forward(d, Parameters, a, sw, sb);
                    break;
                }

                case ActivationLayer act:
                    a = a.Select(act.Activation.Evaluate).ToArray();
                    break;
                case ElementwiseLayer user:
                    a = a.Select(v => { user.Function.Evaluate(v, out double value, out _); return value; }).ToArray();
                    break;
                case PoolLayer pool:
                {
                    int pin = pool.Window.Input.Positions, pout = pool.Window.Output.Positions, k = pool.Window.Taps;
                    double scale = pool.Sum ? 1 : 1.0 / k;
                    var z = new double[pool.Channels * pout];
                    var positions = Positions(pool.Window);
                    for (int ch = 0; ch < pool.Channels; ch++)
                        for (int p = 0; p < pout; p++)
                            for (int t = 0; t < k; t++)
                            {
                                int q = positions[p * k + t];
                                if (q >= 0) z[ch * pout + p] += scale * a[ch * pin + q];
                            }

                    a = z;
                    break;
                }

                case GlobalAvgPoolLayer g:
                {
                    int pin = g.Input.Positions;
                    var z = new double[g.Channels];
                    for (int ch = 0; ch < g.Channels; ch++)
                    {
                        for (int q = 0; q < pin; q++) z[ch] += a[ch * pin + q];
                        z[ch] /= pin;
                    }

                    a = z;
                    break;
                }

                case FlattenLayer:
                    break; // NCHW rows are already flat
                default:
                    throw new NotSupportedException(layer.ToString());
            }
        }

        return a;
    }

    /// <summary>d f_output(x) / d theta for every parameter, by backpropagation written out.</summary>
    public double[] Gradient(double[] x, int output, List<double[]>? layerInputs = null)
    {
        var inputs = layerInputs ?? [];
        var f = Forward(x, inputs);
        var grad = new double[Parameters.Length];
        var g = new double[f.Length];
        g[output] = 1;
        for (int l = net.Layers.Count - 1; l >= 0; l--)
        {
            var input = inputs[l];
            switch (net.Layers[l])
            {
                case ActivationLayer act:
                    for (int i = 0; i < g.Length; i++) g[i] *= act.Activation.Derivative(input[i]);
                    break;
                case ElementwiseLayer user:
                    for (int i = 0; i < g.Length; i++)
                    {
                        user.Function.Evaluate(input[i], out _, out double derivative);
                        g[i] *= derivative;
                    }

                    break;
                case DenseLayer d:
                {
                    var (sw, sb) = Scales(d.WeightStd, d.BiasStd, d.Inputs);
                    g = NaiveDense.Backward(d, Parameters, input, g, grad, sw, sb);
                    break;
                }

                case ConvLayer c:
                {
                    var (sw, sb) = Scales(c.WeightStd, c.BiasStd, c.FanIn);
                    int pin = c.Window.Input.Positions, pout = c.Window.Output.Positions, k = c.Window.Taps;
                    var gIn = new double[c.InChannels * pin];
                    var positions = Positions(c.Window);
                    for (int co = 0; co < c.OutChannels; co++)
                        for (int p = 0; p < pout; p++)
                        {
                            double gp = g[co * pout + p];
                            if (c.HasBias) grad[c.BiasOffset + co] += gp * sb;
                            for (int ci = 0; ci < c.InChannels; ci++)
                                for (int t = 0; t < k; t++)
                                {
                                    int q = positions[p * k + t];
                                    if (q < 0) continue;
                                    int w = c.WeightOffset + (co * c.InChannels + ci) * k + t;
                                    grad[w] += gp * sw * input[ci * pin + q];
                                    gIn[ci * pin + q] += sw * Parameters[w] * gp;
                                }
                        }

                    g = gIn;
                    break;
                }

                case PoolLayer pool:
                {
                    int pin = pool.Window.Input.Positions, pout = pool.Window.Output.Positions, k = pool.Window.Taps;
                    double scale = pool.Sum ? 1 : 1.0 / k;
                    var gIn = new double[pool.Channels * pin];
                    var positions = Positions(pool.Window);
                    for (int ch = 0; ch < pool.Channels; ch++)
                        for (int p = 0; p < pout; p++)
                            for (int t = 0; t < k; t++)
                            {
                                int q = positions[p * k + t];
                                if (q >= 0) gIn[ch * pin + q] += scale * g[ch * pout + p];
                            }

                    g = gIn;
                    break;
                }

                case GlobalAvgPoolLayer gap:
                {
                    int pin = gap.Input.Positions;
                    var gIn = new double[gap.Channels * pin];
                    for (int ch = 0; ch < gap.Channels; ch++)
                        for (int q = 0; q < pin; q++) gIn[ch * pin + q] = g[ch] / pin;
                    g = gIn;
                    break;
                }

                case FlattenLayer:
                    break;
            }
        }

        return grad;
    }

    /// <summary>
    /// Empirical NNGP and NTK for the rows of X. The NNGP is the expectation over the last (Dense) layer's weights given
    /// its input features g, sw^2 (1/F) sum_f g_f(x) g_f(x') + sb^2 (exact for that layer, so the sampling noise is
    /// that of the conv layers only); the NTK is J_0 J_0^T (output 0).
    /// </summary>
    public (Matrix<double> Nngp, Matrix<double> Ntk) EmpiricalKernels(Matrix<double> x)
    {
        int n = x.Rows;
        var features = new double[n][];
        var jacobian = new double[n][];
        for (int a = 0; a < n; a++)
        {
            var inputs = new List<double[]>();
            jacobian[a] = Gradient(x.Row(a).ToArray(), 0, inputs);
            features[a] = inputs[^1];
        }

        var readout = (DenseLayer)net.Layers[^1];
        double sw2 = readout.WeightStd * readout.WeightStd, sb2 = readout.HasBias ? readout.BiasStd * readout.BiasStd : 0;
        var nngp = NaiveDense.Gram(features);
        for (int k = 0; k < nngp.Data.Length; k++) nngp.Data[k] = sw2 * nngp.Data[k] / features[0].Length + sb2;
        return (nngp, NaiveDense.Gram(jacobian));
    }
}

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// A conv net description for the infinite-width tests: input [C, H, W], the contract's layer records (Conv, Pool,
/// GlobalAvgPool, Flatten, Dense, activations) with parameter offsets resolved here, in the public layout (per layer
/// W then b; conv W [C_out, C_in, kh, kw]).
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
/// A deliberately plain finite-width conv net (loops only; no library code but the layer records' geometry and
/// <see cref="Activation"/>'s Evaluate/Derivative): forward pass, per-sample gradient by backpropagation written
/// out, and the empirical NNGP and NTK. The independent check of the CNN-GP / CNTK recursion.
/// </summary>
internal sealed class NaiveConvNet(ConvNetSpec spec)
{
    public double[] Parameters { get; } = new double[spec.ParameterCount];

    /// <summary>NTK parameterization: W, b ~ N(0, 1). Standard: W ~ N(0, sw^2 / fan_in), b ~ N(0, sb^2).</summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        bool ntk = spec.Parameterization == Parameterization.Ntk;
        foreach (var layer in spec.Layers)
        {
            (int offset, int weights, int fanIn, int biasOffset, int biases, bool hasBias) = layer switch
            {
                ConvLayer c => (c.WeightOffset, c.OutChannels * c.FanIn, c.FanIn, c.BiasOffset, c.OutChannels, c.HasBias),
                DenseLayer d => (d.WeightOffset, d.Width * d.Inputs, d.Inputs, d.BiasOffset, d.Width, d.HasBias),
                _ => (0, 0, 1, 0, 0, false),
            };
            double wStd = ntk ? 1 : spec.WeightStd / Math.Sqrt(fanIn), bStd = ntk ? 1 : spec.BiasStd;
            for (int i = 0; i < weights; i++) Parameters[offset + i] = wStd * InfiniteWidthTestSupport.Gaussian(rng);
            if (hasBias)
                for (int i = 0; i < biases; i++) Parameters[biasOffset + i] = bStd * InfiniteWidthTestSupport.Gaussian(rng);
        }
    }

    private (double W, double B) Scales(int fanIn) =>
        spec.Parameterization == Parameterization.Ntk ? (spec.WeightStd / Math.Sqrt(fanIn), spec.BiasStd) : (1, 1);

    private readonly Dictionary<SpatialWindow, int[]> _tables = [];

    // Input position read by output position p at tap t ([P_out, taps]), or -1 in zero padding.
    private int[] Positions(SpatialWindow w)
    {
        lock (_tables)
        {
            if (_tables.TryGetValue(w, out var table)) return table;
            int ow = w.Output.Width, k = w.Taps;
            table = new int[w.Output.Positions * k];
            for (int p = 0; p < w.Output.Positions; p++)
                for (int t = 0; t < k; t++)
                {
                    int r = w.InputRow(p / ow, t / w.Width), c = w.InputColumn(p % ow, t % w.Width);
                    table[p * k + t] = r < 0 || c < 0 ? -1 : r * w.Input.Width + c;
                }

            return _tables[w] = table;
        }
    }

    /// <summary>Forward pass of one NCHW sample; <paramref name="layerInputs"/> receives each layer's input.</summary>
    public double[] Forward(double[] x, List<double[]>? layerInputs = null)
    {
        var a = x;
        foreach (var layer in spec.Layers)
        {
            layerInputs?.Add(a);
            switch (layer)
            {
                case ConvLayer c:
                {
                    var (sw, sb) = Scales(c.FanIn);
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
                    var (sw, sb) = Scales(d.Inputs);
                    a = NaiveDense.Forward(d, Parameters, a, sw, sb);
                    break;
                }

                case ActivationLayer act:
                    a = a.Select(act.Activation.Evaluate).ToArray();
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
        for (int l = spec.Layers.Count - 1; l >= 0; l--)
        {
            var input = inputs[l];
            switch (spec.Layers[l])
            {
                case ActivationLayer act:
                    for (int i = 0; i < g.Length; i++) g[i] *= act.Activation.Derivative(input[i]);
                    break;
                case DenseLayer d:
                {
                    var (sw, sb) = Scales(d.Inputs);
                    g = NaiveDense.Backward(d, Parameters, input, g, grad, sw, sb);
                    break;
                }

                case ConvLayer c:
                {
                    var (sw, sb) = Scales(c.FanIn);
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

        var readout = (DenseLayer)spec.Layers[^1];
        double sw2 = spec.WeightStd * spec.WeightStd, sb2 = readout.HasBias ? spec.BiasStd * spec.BiasStd : 0;
        var nngp = NaiveDense.Gram(features);
        for (int k = 0; k < nngp.Data.Length; k++) nngp.Data[k] = sw2 * nngp.Data[k] / features[0].Length + sb2;
        return (nngp, NaiveDense.Gram(jacobian));
    }
}

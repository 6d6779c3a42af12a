using NtkDsl.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Benchmarks;

/// <summary>
/// Benchmark case "cntk-gap" (issue 15): the infinite-width NTK (CNTK) of a depth-4 ReLU conv net with global average
/// pooling, [1, S, S] images: 4 x (Conv 3x3 Same, ReLU), GlobalAvgPool, Dense(1), NTK parameterization, float64.
/// NtkDsl's kernel state (position pairs, tiles of sample pairs) against the same recursion in plain torch ops on
/// tiles of the same shape.
/// </summary>
/// <remarks>
/// Cost model per pair of samples, P = S^2 positions, E = P^2 position pairs: input covariances 2 E (C = 1); per conv
/// layer 2 x 9 E adds (Sigma and Theta) + 4 E (entry map); per ReLU ~20 E (arc-cosine moments, a transcendental counts
/// as one); GlobalAvgPool 2 E; so ~ (4 + 4 x 42) E = 172 E flop-equivalents per pair, N (N + 1) / 2 pairs for the
/// symmetric kernel plus N for the diagonal pass. At S = 28: E = 614,656, ~1.06e8 per pair, ~8.7e11 for N = 128 (8,256
/// pairs). Memory: all position pairs of all sample pairs would be N^2 P^2 x 8 B = 80 GB per kernel (40 GB for the
/// upper triangle); both implementations hold only tiles of pairs (NtkDsl: 4 doubles per position pair and sample
/// pair, 256 MiB over all threads; torch: ~8 temporaries of [B, P, P]).
/// </remarks>
public sealed class CntkGapWorkload : Workload
{
    /// <summary>Conv layers (each followed by a ReLU).</summary>
    public const int Depth = 4;

    /// <summary>sigma_w (the ReLU-preserving sqrt 2 would do as well; 1.4 keeps the numbers O(1)).</summary>
    public const double WeightStd = 1.4;

    /// <summary>sigma_b.</summary>
    public const double BiasStd = 0.1;

    /// <summary>Flop-equivalents per position pair and sample pair (see remarks).</summary>
    public const double FlopsPerEntry = 4 + Depth * (2 * 9 + 4 + 20);

    private readonly Matrix<double> _x;
    private readonly Tensor _xTensor;
    private readonly InfiniteWidthOptions _options;
    private readonly Layer[] _layers;
    private readonly int _size;

    /// <summary>N = <paramref name="n"/> images of [1, size, size]; <paramref name="threads"/> threads for NtkDsl.</summary>
    public CntkGapWorkload(int n, int size, int threads, int seed = 0)
    {
        _size = size;
        _x = RandomInputs<double>(n, size * size, seed + 1);
        _xTensor = _x.ToTensor();
        _options = new InfiniteWidthOptions { MaxDegreeOfParallelism = threads };
        _layers = Layers(size);
        Implementations = new Dictionary<string, Action>
        {
            ["ntkdsl_cpu"] = () => NtkDslCpu(),
            ["torch_layerwise"] = () => { using var s = NewDisposeScope(); _ = TorchLayerwise(); },
        };
    }

    /// <summary>Sample pairs the symmetric kernel computes (upper triangle with the diagonal).</summary>
    public static double Pairs(int n) => n * (n + 1) / 2.0;

    /// <summary>Flop-equivalents of one kernel (pairs plus the diagonal pass; see the cost model).</summary>
    public static double Flops(int n, int size) => FlopsPerEntry * Math.Pow(size, 4) * (Pairs(n) + n);

    /// <summary>The network's layer records (the contract's runtime records, as the generator will emit them).</summary>
    public static Layer[] Layers(int size)
    {
        var shape = new SpatialShape(size, size);
        var window = SpatialWindow.Of(shape, 3, 1, Padding.Same);
        var layers = new List<Layer>();
        int inChannels = 1, offset = 0;
        for (int l = 0; l < Depth; l++)
        {
            var conv = new ConvLayer(inChannels, 64, window, WeightStd, BiasStd, true, offset, offset + 64 * inChannels * 9);
            layers.Add(conv);
            layers.Add(new ActivationLayer(Activation.Relu));
            offset += conv.ParameterCount;
            inChannels = 64;
        }

        layers.Add(new GlobalAvgPoolLayer(64, shape));
        layers.Add(new DenseLayer(64, 1, WeightStd, BiasStd, true, offset, offset + 64));
        return [.. layers];
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Action> Implementations { get; }

    /// <summary>NtkDsl's kernel state walked through the layers (what generated code will call unrolled).</summary>
    public InfiniteWidthKernels NtkDslCpu()
    {
        var state = KernelState.FromInputs(_x, null, _options, 1, new SpatialShape(_size, _size), positionPairs: true);
        foreach (var layer in _layers) state.Apply(layer, Parameterization.Ntk);
        return state.Result();
    }

    /// <summary>
    /// The same recursion in plain torch ops (float64), NTK only: per row i and tile of columns j, Sigma and Theta as
    /// [B, S, S, S, S] tensors; Conv as nine shifted slices of the zero-padded tensor (the taps move both positions
    /// together); ReLU's arc-cosine moments with the per-position variances (computed per sample by the same
    /// recursion on same positions: conv2d with a ones filter, then K = q / 2); the mean over all position pairs.
    /// </summary>
    public Tensor TorchLayerwise()
    {
        using var noGrad = no_grad();
        int n = _x.Rows, s = _size;
        long e = (long)s * s * s * s;
        double w2 = WeightStd * WeightStd, b2 = BiasStd * BiasStd;
        var x = _xTensor.reshape(n, 1, s, s);
        // Per-sample variances at each ReLU's input: v' = w2 mean_taps(v) + b2 (zero padding), then K(v, v, v) = v / 2.
        var ones = torch.ones(1, 1, 3, 3, dtype: ScalarType.Float64);
        var variances = new List<Tensor>();
        var v = x.mul(x);
        for (int l = 0; l < Depth; l++)
        {
            v = nn.functional.conv2d(v, ones, padding: [1, 1]).mul_(w2 / 9).add_(b2);
            variances.Add(v.reshape(n, s * s));
            v = v.div(2);
        }

        int tile = (int)Math.Clamp((256L << 20) / (8L * e * 8), 1, n);
        var ntk = torch.zeros(n, n, dtype: ScalarType.Float64);
        for (int i = 0; i < n; i++)
        {
            for (int j0 = i; j0 < n; j0 += tile)
            {
                using var scope = NewDisposeScope();
                int b = Math.Min(tile, n - j0);
                var xi = x[i].reshape(1, s, s, 1, 1);
                var xj = x.narrow(0, j0, b).reshape(b, 1, 1, s, s);
                var sigma = xi.mul(xj); // [B, S, S, S, S], C = 1
                var theta = torch.zeros_like(sigma);
                for (int l = 0; l < Depth; l++)
                {
                    sigma = Conv(sigma, s).mul_(w2 / 9).add_(b2);
                    theta = Conv(theta, s).mul_(w2 / 9).add_(sigma);
                    var norms = variances[l][i].sqrt().reshape(1, s, s, 1, 1).mul(variances[l].narrow(0, j0, b).sqrt().reshape(b, 1, 1, s, s));
                    var cos = sigma.div(norms).clamp_(-1.0, 1.0);
                    var piMinus = cos.acos().neg_().add_(Math.PI); // pi - theta
                    sigma = piMinus.sin().addcmul_(piMinus, cos, 1.0).mul_(norms).div_(2 * Math.PI);
                    theta = theta.mul_(piMinus).div_(2 * Math.PI);
                }

                var k = sigma.reshape(b, e).mean([1]);
                var t = theta.reshape(b, e).mean([1]);
                var sigmaOut = k.mul(w2).add_(b2);
                ntk[i].narrow(0, j0, b).copy_(t.mul(w2).add_(sigmaOut));
            }
        }

        return ntk.triu().add(ntk.triu(1).t());
    }

    // Sum over the 3x3 taps of K[p + t, p' + t] with zero padding: nine shifted views of the padded [B, S+2, S+2, S+2, S+2].
    private static Tensor Conv(Tensor k, int s)
    {
        var padded = nn.functional.pad(k, [1, 1, 1, 1, 1, 1, 1, 1]);
        Tensor? sum = null;
        for (int dr = 0; dr < 3; dr++)
            for (int dc = 0; dc < 3; dc++)
            {
                var view = padded.narrow(1, dr, s).narrow(2, dc, s).narrow(3, dr, s).narrow(4, dc, s);
                sum = sum is null ? view.clone() : sum.add_(view);
            }

        return sum!;
    }

    /// <inheritdoc/>
    public override double[] Result(string implementation)
    {
        using var scope = NewDisposeScope();
        return implementation switch
        {
            "ntkdsl_cpu" => NtkDslCpu().Ntk.Data,
            "torch_layerwise" => ToDoubles(TorchLayerwise()),
            _ => throw new ArgumentOutOfRangeException(nameof(implementation), implementation, null),
        };
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _xTensor.Dispose();
    }
}

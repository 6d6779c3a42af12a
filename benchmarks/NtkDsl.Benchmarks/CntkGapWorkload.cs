using NtkDsl.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Benchmarks;

/// <summary>
/// Benchmark case "cntk-gap" (issue 15): the infinite-width NTK (CNTK) of a depth-4 ReLU conv net with global average
/// pooling, [1, S, S] images: 4 x (Conv 3x3 Same, ReLU), GlobalAvgPool, Dense(1), NTK parameterization, float64.
/// NtkDsl's CPU kernel state (position pairs, tiles of sample pairs) against the same recursion in plain torch ops
/// (<see cref="TorchInfiniteWidth"/>, tiles of one row against a block of columns).
/// </summary>
/// <remarks>
/// Cost model per pair of samples, P = S^2 positions, E = P^2 position pairs: input covariances 2 E (C = 1); per conv
/// layer 2 x 9 E adds (Sigma and Theta) + 4 E (entry map); per ReLU ~20 E (arc-cosine moments, a transcendental counts
/// as one); GlobalAvgPool 2 E; so ~ (4 + 4 x 42) E = 172 E flop-equivalents per pair, N (N + 1) / 2 pairs for the
/// symmetric kernel plus N for the diagonal pass. At S = 28: E = 614,656, ~1.06e8 per pair, ~8.7e11 for N = 128 (8,256
/// pairs). Memory: all position pairs of all sample pairs would be N^2 P^2 x 8 B = 80 GB per kernel (40 GB for the
/// upper triangle); both implementations hold only tiles of pairs (NtkDsl: 4 doubles per position pair and sample
/// pair, 256 MiB over all threads; torch: 2^25 elements of [B, P, P] per state tensor, ~8 temporaries).
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

    /// <summary>Elements of one torch state tile (2^25 doubles: 256 MiB).</summary>
    public const long TorchTileElements = 1L << 25;

    private readonly Matrix<double> _x;
    private readonly Tensor _xTensor;
    private readonly InfiniteWidthOptions _options;
    private readonly NetworkDescription _network;

    /// <summary>N = <paramref name="n"/> images of [1, size, size]; <paramref name="threads"/> threads for NtkDsl.</summary>
    public CntkGapWorkload(int n, int size, int threads, int seed = 0)
    {
        _x = RandomInputs<double>(n, size * size, seed + 1);
        _xTensor = _x.ToTensor();
        _options = new InfiniteWidthOptions { MaxDegreeOfParallelism = threads };
        _network = Network(size);
        Implementations = new Dictionary<string, Action>
        {
            ["ntkdsl_cpu"] = () => NtkDslCpu(),
            ["ntkdsl_torch"] = () => { using var s = NewDisposeScope(); _ = NtkDslTorch(); },
        };
    }

    /// <summary>Sample pairs the symmetric kernel computes (upper triangle with the diagonal).</summary>
    public static double Pairs(int n) => n * (n + 1) / 2.0;

    /// <summary>Flop-equivalents of one kernel (pairs plus the diagonal pass; see the cost model).</summary>
    public static double Flops(int n, int size) => FlopsPerEntry * Math.Pow(size, 4) * (Pairs(n) + n);

    /// <summary>The network: 4 x (Conv(64, 3x3, Same), Relu), GlobalAvgPool, Dense(1) on [1, size, size] images.</summary>
    public static NetworkDescription Network(int size)
    {
        var layers = new List<LayerSpec>();
        for (int l = 0; l < Depth; l++)
        {
            layers.Add(LayerSpec.Conv(64, 3, 1, Padding.Same));
            layers.Add(LayerSpec.Act(Activation.Relu));
        }

        layers.Add(LayerSpec.GlobalAvgPool());
        layers.Add(LayerSpec.Dense(1));
        return NetworkDescription.Create("cntk-gap", 1, new SpatialShape(size, size), Parameterization.Ntk, WeightStd, BiasStd, layers);
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Action> Implementations { get; }

    /// <summary>NtkDsl's CPU kernel state walked through the layers (what the generated InfiniteWidth calls unrolled).</summary>
    public InfiniteWidthKernels NtkDslCpu() => InfiniteWidth.Kernels(_network, _x, null, _options);

    /// <summary>The same recursion in plain torch ops: NtkDsl's Torch infinite-width kernels (NTK).</summary>
    public Tensor NtkDslTorch() => TorchInfiniteWidth.Kernels(_network, _xTensor, null, TorchTileElements).Ntk;

    /// <inheritdoc/>
    public override double[] Result(string implementation)
    {
        using var scope = NewDisposeScope();
        return implementation switch
        {
            "ntkdsl_cpu" => NtkDslCpu().Ntk.Data,
            "ntkdsl_torch" => ToDoubles(NtkDslTorch()),
            _ => throw new ArgumentOutOfRangeException(nameof(implementation), implementation, null),
        };
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _xTensor.Dispose();
    }
}

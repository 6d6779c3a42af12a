namespace NtkDsl;

/// <summary>
/// A streaming Monte Carlo estimate of an expected kernel matrix, e.g. the average empirical NTK over
/// random initializations: the running mean (Welford, numerically stable), the element-wise standard
/// error, and the relative change of the mean caused by the last sample (a convergence signal).
/// </summary>
/// <example>
/// <code>
/// var mc = MonteCarloKernel.Run(seed => EmpiricalNtk(InitParameters(seed)), samples: 32, seed: 7);
/// Matrix&lt;double&gt; mean = mc.Mean;
/// </code>
/// </example>
public sealed class MonteCarloKernel
{
    private readonly double[] _mean;
    private readonly double[] _m2;

    /// <summary>An empty estimate of a <paramref name="rows"/> x <paramref name="cols"/> kernel.</summary>
    public MonteCarloKernel(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        Rows = rows;
        Cols = cols;
        _mean = new double[checked(rows * cols)];
        _m2 = new double[_mean.Length];
    }

    /// <summary>Rows of the kernel.</summary>
    public int Rows { get; }

    /// <summary>Columns of the kernel.</summary>
    public int Cols { get; }

    /// <summary>Number of samples added.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// ||mean after the last sample - mean before||_F / ||mean after||_F (infinity before the second sample;
    /// 0 when both are zero). Decays like 1/Count; small values mean more samples change little.
    /// </summary>
    public double RelativeChange { get; private set; } = double.PositiveInfinity;

    /// <summary>The running mean (a copy).</summary>
    public Matrix<double> Mean => new(Rows, Cols, (double[])_mean.Clone());

    /// <summary>The running mean without copying.</summary>
    public ReadOnlySpan<double> MeanSpan => _mean;

    /// <summary>
    /// Element-wise standard error of the mean, sqrt(sample variance / Count) (zeros with fewer than two samples).
    /// </summary>
    public Matrix<double> StandardError
    {
        get
        {
            var se = new Matrix<double>(Rows, Cols);
            if (Count < 2) return se;
            for (int i = 0; i < _m2.Length; i++) se.Data[i] = Math.Sqrt(_m2[i] / (Count - 1) / Count);
            return se;
        }
    }

    /// <summary>
    /// ||standard error||_F / ||mean||_F: the expected relative Frobenius error of <see cref="Mean"/>
    /// (infinity before two samples or for a zero mean).
    /// </summary>
    public double RelativeStandardError
    {
        get
        {
            if (Count < 2) return double.PositiveInfinity;
            double se2 = 0, norm2 = 0;
            for (int i = 0; i < _m2.Length; i++)
            {
                se2 += _m2[i] / (Count - 1) / Count;
                norm2 += _mean[i] * _mean[i];
            }

            return norm2 > 0 ? Math.Sqrt(se2 / norm2) : double.PositiveInfinity;
        }
    }

    /// <summary>Adds one sample (not kept).</summary>
    /// <param name="sample">A <see cref="Rows"/> x <see cref="Cols"/> kernel with finite entries.</param>
    public void Add(Matrix<double> sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.Rows != Rows || sample.Cols != Cols)
            throw new ArgumentException($"The sample must be {Rows} x {Cols}, got {sample.Rows} x {sample.Cols}.", nameof(sample));
        var x = sample.Data;
        for (int i = 0; i < x.Length; i++)
            if (!double.IsFinite(x[i]))
                throw new ArgumentException($"sample[{i / Math.Max(Cols, 1)}, {i % Math.Max(Cols, 1)}] is {x[i]}.", nameof(sample));

        Count++;
        double change2 = 0, norm2 = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double delta = x[i] - _mean[i];
            double step = delta / Count;
            _mean[i] += step;
            _m2[i] += delta * (x[i] - _mean[i]);
            change2 += step * step;
            norm2 += _mean[i] * _mean[i];
        }

        RelativeChange = Count < 2 ? double.PositiveInfinity : norm2 > 0 ? Math.Sqrt(change2 / norm2) : change2 > 0 ? double.PositiveInfinity : 0;
    }

    /// <summary>
    /// The seed of sample <paramref name="index"/> for a run seeded with <paramref name="seed"/>: a SplitMix64
    /// hash, so samples are decorrelated even for consecutive base seeds and a run is reproducible.
    /// </summary>
    public static int SampleSeed(int seed, int index)
    {
        ulong z = unchecked((ulong)(uint)seed << 32 | (uint)index) + 0x9E3779B97F4A7C15UL;
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }

    /// <summary>
    /// Averages <paramref name="sampler"/>(seed_i) for i = 0, 1, ... with seed_i = <see cref="SampleSeed"/>(seed, i),
    /// stopping after <paramref name="samples"/> samples, or earlier once at least <paramref name="minSamples"/> were
    /// drawn and <see cref="RelativeStandardError"/> is below <paramref name="tolerance"/>.
    /// </summary>
    /// <param name="sampler">Draws one kernel for a seed (e.g. the empirical NTK of a network initialized with it).</param>
    /// <param name="samples">Maximum number of samples (positive).</param>
    /// <param name="seed">Base seed of the run.</param>
    /// <param name="tolerance">Relative standard error at which to stop early; 0 (default) never stops early.</param>
    /// <param name="minSamples">Samples to draw before the early stop may trigger (default 4).</param>
    public static MonteCarloKernel Run(Func<int, Matrix<double>> sampler, int samples, int seed = 0, double tolerance = 0, int minSamples = 4)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(samples);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        MonteCarloKernel? mc = null;
        for (int i = 0; i < samples; i++)
        {
            var k = sampler(SampleSeed(seed, i)) ?? throw new InvalidOperationException($"The sampler returned null for sample {i}.");
            mc ??= new MonteCarloKernel(k.Rows, k.Cols);
            mc.Add(k);
            if (tolerance > 0 && mc.Count >= Math.Max(minSamples, 2) && mc.RelativeStandardError < tolerance) break;
        }

        return mc!;
    }
}

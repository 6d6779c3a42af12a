using Xunit;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>The streaming estimator itself: mean, standard error, relative change, seeding, early stop.</summary>
public sealed class MonteCarloKernelTests
{
    [Fact]
    public void RunningMeanAndStandardErrorMatchTwoPassFormulas()
    {
        var rng = new Random(4);
        var samples = Enumerable.Range(0, 25).Select(_ => InfiniteWidthTestSupport.RandomInputs(3, 2, rng.Next(), scale: 2)).ToList();
        var mc = new MonteCarloKernel(3, 2);
        foreach (var s in samples) mc.Add(s);
        Assert.Equal(25, mc.Count);
        var mean = mc.Mean;
        var se = mc.StandardError;
        for (int i = 0; i < 6; i++)
        {
            double m = samples.Average(s => s.Data[i]);
            double variance = samples.Sum(s => (s.Data[i] - m) * (s.Data[i] - m)) / 24;
            Assert.Equal(m, mean.Data[i], 1e-13);
            Assert.Equal(Math.Sqrt(variance / 25), se.Data[i], 1e-13);
        }
    }

    [Fact]
    public void RelativeChangeIsTheSizeOfTheLastUpdate()
    {
        var mc = new MonteCarloKernel(1, 2);
        mc.Add(new Matrix<double>(1, 2, [1.0, 1.0]));
        Assert.Equal(double.PositiveInfinity, mc.RelativeChange);
        mc.Add(new Matrix<double>(1, 2, [3.0, 1.0]));
        // mean (1,1) -> (2,1): change 1, norm sqrt(5).
        Assert.Equal(1 / Math.Sqrt(5), mc.RelativeChange, 1e-15);
    }

    [Fact]
    public void RunIsReproducibleAndSeedsDiffer()
    {
        var seen = new List<int>();
        Matrix<double> Sampler(int seed)
        {
            seen.Add(seed);
            return InfiniteWidthTestSupport.RandomInputs(2, 2, seed);
        }

        var a = MonteCarloKernel.Run(Sampler, 10, seed: 3);
        var b = MonteCarloKernel.Run(Sampler, 10, seed: 3);
        var c = MonteCarloKernel.Run(Sampler, 10, seed: 4);
        Assert.Equal(a.Mean.Data, b.Mean.Data);
        Assert.NotEqual(a.Mean.Data, c.Mean.Data);
        Assert.Equal(30, seen.Count);
        Assert.Equal(10, seen.Take(10).Distinct().Count());
        Assert.Empty(seen.Take(10).Intersect(seen.Skip(20)));
    }

    [Fact]
    public void RunStopsEarlyAtTolerance()
    {
        // Constant plus small noise: the relative standard error falls below 1% after a few samples.
        var mc = MonteCarloKernel.Run(seed =>
        {
            var m = InfiniteWidthTestSupport.RandomInputs(2, 2, seed, scale: 0.01);
            for (int i = 0; i < 4; i++) m.Data[i] += 1;
            return m;
        }, samples: 1000, seed: 1, tolerance: 0.01);
        Assert.InRange(mc.Count, 4, 10);
        Assert.True(mc.RelativeStandardError < 0.01);
    }

    [Fact]
    public void RejectsWrongShapesAndNonFiniteSamples()
    {
        var mc = new MonteCarloKernel(2, 2);
        Assert.Throws<ArgumentException>(() => mc.Add(new Matrix<double>(2, 3)));
        Assert.Throws<ArgumentException>(() => mc.Add(new Matrix<double>(2, 2, [1, double.NaN, 0, 0])));
        Assert.Equal(0, mc.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => MonteCarloKernel.Run(_ => new Matrix<double>(1, 1), 0));
    }
}

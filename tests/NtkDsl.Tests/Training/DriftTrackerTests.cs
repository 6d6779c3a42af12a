using NtkDsl.Tests.Networks;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests.Training;

/// <summary>DriftTracker's measures against direct computations from explicit Jacobians (plain loops).</summary>
public sealed class DriftTrackerTests
{
    [Fact]
    public void Recorded_measures_match_explicit_jacobian_computations()
    {
        // Identities in float64: 1e-10 relative.
        var probe = Gaussian(6, 3, seed: 71);
        var theta0 = TinyClassifier.InitializeParameters<double>(seed: 8);
        var theta = theta0.Select((v, i) => v + 0.2 * Math.Cos(3.0 * i)).ToArray();
        var thetaLin = theta0.Select((v, i) => v + 0.15 * Math.Sin(2.0 * i)).ToArray();
        var tracker = new DriftTracker<TinyClassifier, double>(theta0, probe);
        tracker.RecordLinearized(5, thetaLin);
        Assert.True(double.IsNaN(Assert.Single(tracker.Samples).OutputGap));
        var s = tracker.RecordNetwork(5, theta);

        Matrix<double> TraceNtk(double[] p)
        {
            var j = TinyClassifier.Jacobian(p, probe);   // [6 * 3, P]
            var k = new Matrix<double>(6, 6);
            for (int a = 0; a < 6; a++)
                for (int b = 0; b < 6; b++)
                {
                    double sum = 0;
                    for (int o = 0; o < 3; o++)
                        for (int q = 0; q < j.Cols; q++) sum += j[a * 3 + o, q] * j[b * 3 + o, q];
                    k[a, b] = sum / 3;   // Trace mode: mean over outputs
                }
            return k;
        }

        static double Norm(IEnumerable<double> v) => Math.Sqrt(v.Sum(d => d * d));
        var k0 = TraceNtk(theta0);
        var kt = TraceNtk(theta);
        double kernel = Norm(kt.Data.Zip(k0.Data, (a, b) => a - b)) / Norm(k0.Data);
        double param = Norm(theta.Zip(theta0, (a, b) => a - b)) / Norm(theta0);

        var j0 = TinyClassifier.Jacobian(theta0, probe);
        var f0 = TinyClassifier.Forward(theta0, probe);
        var ft = TinyClassifier.Forward(theta, probe);
        var fLin = new double[18];
        for (int r = 0; r < 18; r++)
        {
            fLin[r] = f0.Data[r];
            for (int q = 0; q < j0.Cols; q++) fLin[r] += j0[r, q] * (thetaLin[q] - theta0[q]);
        }
        double gap = Norm(ft.Data.Zip(fLin, (a, b) => a - b));
        double change = Norm(ft.Data.Zip(f0.Data, (a, b) => a - b));

        Assert.Equal(5, s.Step);
        Assert.Equal(kernel, s.KernelChange, 1e-10 * kernel);
        Assert.Equal(param, s.ParameterChange, 1e-10 * param);
        Assert.Equal(gap, s.OutputGap, 1e-10 * gap);
        Assert.Equal(change, s.OutputChange, 1e-10 * change);
        Assert.True(kernel > 1e-3 && gap > 1e-3, "non-trivial drift");
    }

    [Fact]
    public void Callbacks_sample_every_k_steps_and_the_last_step()
    {
        var x = Gaussian(8, 3, seed: 72);
        var y = Gaussian(8, 3, seed: 73);
        var theta0 = TinyClassifier.InitializeParameters<double>(seed: 9);
        var tracker = new DriftTracker<TinyClassifier, double>(theta0, x, every: 4);
        var theta = (double[])theta0.Clone();
        new Trainer<double>(new NetworkModel<TinyClassifier, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(0.5))
            .Train(theta, x, y, new TrainingOptions<double> { Epochs = 10, OnStep = tracker.ObserveNetwork });
        Assert.Equal([4, 8, 10], tracker.Samples.Select(s => s.Step));
        Assert.All(tracker.Samples, s => Assert.True(double.IsNaN(s.OutputGap) && s.KernelChange > 0));
    }
}

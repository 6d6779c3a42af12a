using NtkDsl.Cpu;
using NtkDsl.Tests.Networks;
using NtkDsl.Tests.Support;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests.Training;

/// <summary>Trainer mechanics on a tiny network: reproducibility, momentum, loss gradients, cancellation, progress.</summary>
public sealed class TrainerTests
{
    private static readonly Matrix<double> X = Gaussian(10, 3, seed: 11);
    private static readonly Matrix<double> YClasses = OneHot(X, 3);

    private static Trainer<double> Sgd(double lr, double momentum = 0, ITrainingLoss? loss = null) =>
        new(new NetworkModel<TinyClassifier, double>(), loss ?? TrainingLosses.SoftmaxCrossEntropy, new Sgd<double>(lr, momentum));

    [Fact]
    public void Minibatch_sgd_with_the_same_seed_is_bitwise_reproducible_and_another_seed_differs()
    {
        double[] Run(int seed)
        {
            var theta = TinyClassifier.InitializeParameters<double>(seed: 3);
            Sgd(0.5, 0.9).Train(theta, X, YClasses, new TrainingOptions<double> { Epochs = 4, BatchSize = 4, Seed = seed });
            return theta;
        }

        var a = Run(7);
        var b = Run(7);
        var c = Run(8);
        Assert.Equal(a, b);   // exact equality: same batches, same arithmetic
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Momentum_matches_a_hand_written_heavy_ball_update_with_in_order_minibatches()
    {
        // Hand-written: batches [0..4), [4..8), [8..10) in order; loss 1/2 mean over the batch's n_b * O outputs;
        // v = mu v + g, theta -= eta v. Gradient from the generated Vjp with cotangent (f - y) / (n_b O).
        const double eta = 0.3, mu = 0.8;
        var y = Gaussian(10, 3, seed: 12);
        var theta0 = TinyClassifier.InitializeParameters<double>(seed: 5);
        var expected = (double[])theta0.Clone();
        var v = new double[expected.Length];
        for (int epoch = 0; epoch < 3; epoch++)
            for (int start = 0; start < 10; start += 4)
            {
                int count = Math.Min(4, 10 - start);
                var xb = new Matrix<double>(count, 3, X.Data.AsSpan(start * 3, count * 3).ToArray());
                var yb = new Matrix<double>(count, 3, y.Data.AsSpan(start * 3, count * 3).ToArray());
                var f = TinyClassifier.Forward(expected, xb);
                var cot = new Matrix<double>(count, 3);
                for (int i = 0; i < cot.Data.Length; i++) cot.Data[i] = (f.Data[i] - yb.Data[i]) / (count * 3);
                var g = TinyClassifier.Vjp(expected, xb, cot);
                for (int i = 0; i < v.Length; i++)
                {
                    v[i] = mu * v[i] + g[i];
                    expected[i] -= eta * v[i];
                }
            }

        var theta = (double[])theta0.Clone();
        var history = Sgd(eta, mu, TrainingLosses.MeanSquaredError)
            .Train(theta, X, y, new TrainingOptions<double> { Epochs = 3, BatchSize = 4, Shuffle = false });
        Assert.Equal(9, history.Steps);
        Assert.True(TestMath.RelativeError(theta, expected) < 1e-14, $"relative error {TestMath.RelativeError(theta, expected):E2}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Loss_gradients_match_central_finite_differences(bool crossEntropy)
    {
        // Central differences with h = 1e-5: truncation ~h^2 |f'''| ~ 1e-10, round-off ~1e-16/h ~ 1e-11; tolerance 1e-7 relative.
        var loss = crossEntropy ? TrainingLosses.SoftmaxCrossEntropy : TrainingLosses.MeanSquaredError;
        var y = crossEntropy ? SoftLabels() : Gaussian(10, 3, seed: 13);
        var trainer = Sgd(0.1, loss: loss);
        var theta = TinyClassifier.InitializeParameters<double>(seed: 9);
        var gradient = new double[theta.Length];
        double value = trainer.EvaluateWithGradient(theta, X, y, gradient);
        Assert.Equal(trainer.Evaluate(theta, X, y), value);

        const double h = 1e-5;
        var fd = new double[theta.Length];
        for (int i = 0; i < theta.Length; i++)
        {
            var p = (double[])theta.Clone();
            p[i] += h;
            double up = trainer.Evaluate(p, X, y);
            p[i] -= 2 * h;
            fd[i] = (up - trainer.Evaluate(p, X, y)) / (2 * h);
        }
        double err = TestMath.RelativeError(gradient, fd);
        Assert.True(err < 1e-7, $"{loss.Name}: relative error {err:E2}");
    }

    [Fact]
    public void Cross_entropy_value_matches_a_direct_log_softmax()
    {
        var f = Gaussian(5, 4, seed: 21, scale: 3);
        var y = SoftLabels(5, 4);
        double expected = 0;
        for (int r = 0; r < 5; r++)
        {
            double z = 0;
            for (int k = 0; k < 4; k++) z += Math.Exp(f[r, k]);
            for (int k = 0; k < 4; k++) expected -= y[r, k] * (f[r, k] - Math.Log(z));
        }
        expected /= 5 * 4;   // mean over n O, neural-tangents' convention
        Assert.Equal(expected, TrainingLosses.SoftmaxCrossEntropy.Evaluate(f, y, null), 1e-12);
    }

    [Fact]
    public void Cancellation_stops_between_steps_and_leaves_the_last_completed_update()
    {
        using var cts = new CancellationTokenSource();
        var theta = TinyClassifier.InitializeParameters<double>(seed: 4);
        int seen = 0;
        var options = new TrainingOptions<double>
        {
            Epochs = 100,
            OnStep = s => { seen = s.Step; if (s.Step == 3) cts.Cancel(); },
        };
        Assert.ThrowsAny<OperationCanceledException>(() => Sgd(0.5).Train(theta, X, YClasses, options, cts.Token));
        Assert.Equal(3, seen);

        var three = TinyClassifier.InitializeParameters<double>(seed: 4);
        Sgd(0.5).Train(three, X, YClasses, new TrainingOptions<double> { Epochs = 3 });
        Assert.Equal(three, theta);

        var untouched = TinyClassifier.InitializeParameters<double>(seed: 4);
        Assert.ThrowsAny<OperationCanceledException>(() => Sgd(0.5).Train(untouched, X, YClasses, options, cts.Token));
        Assert.Equal(TinyClassifier.InitializeParameters<double>(seed: 4), untouched);
    }

    [Fact]
    public void Callbacks_and_progress_report_every_step_and_epoch_and_training_lowers_the_loss()
    {
        var steps = new List<(int Step, int Epoch, bool Last)>();
        var epochs = new List<TrainingEpoch>();
        var progress = new SyncProgress();
        var theta = TinyClassifier.InitializeParameters<double>(seed: 2);
        var trainer = Sgd(1.0, 0.5);
        double before = trainer.Evaluate(theta, X, YClasses);
        var history = trainer.Train(theta, X, YClasses, new TrainingOptions<double>
        {
            Epochs = 30,
            BatchSize = 3,
            Seed = 1,
            OnStep = s => steps.Add((s.Step, s.Epoch, s.IsLast)),
            OnEpoch = epochs.Add,
            Progress = progress,
        });
        Assert.Equal(120, history.Steps);                               // 4 batches (3, 3, 3, 1) per epoch
        Assert.Equal(Enumerable.Range(1, 120), steps.Select(s => s.Step));
        Assert.Equal(30, steps[^1].Epoch);
        Assert.True(steps[^1].Last && steps.Take(119).All(s => !s.Last));
        Assert.Equal(Enumerable.Range(1, 30), epochs.Select(e => e.Epoch));
        Assert.Equal(epochs.Select(e => e.Loss), history.EpochLosses);
        Assert.Equal(30, progress.Reports.Count);
        Assert.Equal(1.0, progress.Reports[^1].Fraction);
        double after = trainer.Evaluate(theta, X, YClasses);
        Assert.True(after < 0.5 * before, $"cross-entropy {before:F4} -> {after:F4}");
    }

    [Fact]
    public void Float_training_follows_double_training()
    {
        // Same trajectory in float32 within 1e-4 relative after 20 full-batch steps (round-off ~1e-7 per step).
        var y = Gaussian(10, 3, seed: 14);
        var theta = TinyClassifier.InitializeParameters<double>(seed: 6);
        var thetaF = TinyClassifier.InitializeParameters<float>(seed: 6);
        new Trainer<double>(new NetworkModel<TinyClassifier, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(0.5, 0.5))
            .Train(theta, X, y, new TrainingOptions<double> { Epochs = 20 });
        new Trainer<float>(new NetworkModel<TinyClassifier, float>(), TrainingLosses.MeanSquaredError, new Sgd<float>(0.5, 0.5))
            .Train(thetaF, X.Convert<float>(), y.Convert<float>(), new TrainingOptions<float> { Epochs = 20 });
        double err = TestMath.RelativeError(thetaF.Select(v => (double)v).ToArray(), theta);
        Assert.True(err < 1e-4, $"relative error {err:E2}");
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_the_argument_name()
    {
        var trainer = Sgd(0.1);
        var theta = TinyClassifier.InitializeParameters<double>(seed: 1);
        var ex = Assert.Throws<ArgumentException>(() => trainer.Train(theta, X, new Matrix<double>(9, 3)));
        Assert.Equal("y", ex.ParamName);
        ex = Assert.Throws<ArgumentException>(() => trainer.Train(new double[3], X, YClasses));
        Assert.Equal("parameters", ex.ParamName);
        var nan = new Matrix<double>(10, 3, (double[])YClasses.Data.Clone());
        nan.Data[4] = double.NaN;
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => trainer.Train(theta, X, nan)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd<double>(0.1, momentum: 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Train(theta, X, YClasses, new TrainingOptions<double> { BatchSize = 0 }));
    }

    private static Matrix<double> SoftLabels(int rows = 10, int classes = 3)
    {
        var y = new Matrix<double>(rows, classes);
        var g = new GaussianSource(77);
        for (int r = 0; r < rows; r++)
        {
            double z = 0;
            for (int k = 0; k < classes; k++) z += y[r, k] = Math.Exp(g.Next());
            for (int k = 0; k < classes; k++) y[r, k] /= z;
        }
        return y;
    }

    private sealed class SyncProgress : IProgress<TrainingEpoch>
    {
        public List<TrainingEpoch> Reports { get; } = [];

        public void Report(TrainingEpoch value) => Reports.Add(value);
    }
}

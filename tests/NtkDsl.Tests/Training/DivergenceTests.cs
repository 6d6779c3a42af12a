using NtkDsl.Cpu;
using NtkDsl.Tests.Networks;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests.Training;

/// <summary>
/// A learning rate above the stable limit: training stops with a TrainingDivergedException naming the learning rate
/// and the limit, and leaves the parameters at the last step with a finite loss.
/// </summary>
public class DivergenceTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly Matrix<double> X = Gaussian(8, ReluNet.InputSize, seed: 31);
    private static readonly Matrix<double> Y = Gaussian(8, ReluNet.OutputSize, seed: 32);

    private static double LinearLimit(double[] theta0) =>
        GradientDescentMse.MaxLearningRate(CpuNetwork<ReluNet, double>.Ntk(theta0, X, null, NtkMode.Full), Y);

    private static Trainer<double> Linearized(double[] theta0, double lr) =>
        new(new LinearizedModel<ReluNet, double>(theta0), TrainingLosses.MeanSquaredError, new Sgd<double>(lr));

    [Fact]
    public void The_reported_limit_separates_convergence_from_divergence_for_the_linearized_model()
    {
        // Gradient descent on the linearized model is linear in f: the mode of lambda_max grows by |1 - eta lambda_max / n_y|
        // per step, so it diverges exactly above 2 n_y / lambda_max (the discrete-dynamics theory, independent of the trainer).
        var theta0 = ReluNet.InitializeParameters<double>(4);
        double limit = LinearLimit(theta0);

        var below = (double[])theta0.Clone();
        var history = Linearized(theta0, 0.95 * limit).Train(below, X, Y, new TrainingOptions<double> { Epochs = 3000 });
        Assert.True(double.IsFinite(history.EpochLosses[^1]) && history.EpochLosses[^1] < history.EpochLosses[0]);

        var above = (double[])theta0.Clone();
        var e = Assert.Throws<TrainingDivergedException>(() => Linearized(theta0, 1.5 * limit).Train(above, X, Y, new TrainingOptions<double> { Epochs = 100_000 }));
        Assert.Equal(1.5 * limit, e.LearningRate);
        Assert.NotNull(e.MaxLearningRate);
        Assert.Equal(limit, e.MaxLearningRate!.Value, limit * 1e-9);
        Assert.True(e.Step < 100_000 && e.Step > 10, $"diverged at step {e.Step}");
        Assert.Contains("learning rate", e.Message, StringComparison.Ordinal);
        Assert.Contains((1.5 * limit).ToString("G4", System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Contains(limit.ToString("G4", System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Contains("above", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_parameters_are_those_of_the_last_step_with_a_finite_loss()
    {
        var theta0 = IdentityNet.InitializeParameters<double>(5);
        double lr = 5 * GradientDescentMse.MaxLearningRate(CpuNetwork<IdentityNet, double>.Ntk(theta0, X, null, NtkMode.Full), new Matrix<double>(X.Rows, IdentityNet.OutputSize));   // a deep linear network
        var theta = (double[])theta0.Clone();
        var stepLosses = new List<double>();
        var trainer = new Trainer<double>(new NetworkModel<IdentityNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(lr));
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Train(theta, X, Y,
            new TrainingOptions<double> { Epochs = 10_000, OnStep = s => stepLosses.Add(s.BatchLoss) }));

        output.WriteLine(e.Message);
        Assert.All(theta, v => Assert.True(double.IsFinite(v)));
        Assert.Equal(lr, e.LearningRate);
        Assert.NotNull(e.MaxLearningRate);
        Assert.True(e.MaxLearningRate < lr, $"limit {e.MaxLearningRate} vs learning rate {lr}");
        Assert.DoesNotContain("cotangent", e.Message, StringComparison.Ordinal);

        // Replaying the same (deterministic) run for ParametersStep steps gives exactly these parameters and their loss.
        var replay = (double[])theta0.Clone();
        if (e.ParametersStep > 0)
            new Trainer<double>(new NetworkModel<IdentityNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(lr))
                .Train(replay, X, Y, new TrainingOptions<double> { Epochs = e.ParametersStep });
        Assert.Equal(replay, theta);
        double loss = trainer.Evaluate(theta, X, Y);
        Assert.True(double.IsFinite(loss));
        Assert.Equal(e.LastFiniteLoss, loss);
        Assert.Equal(stepLosses[e.ParametersStep], loss);        // the batch loss reported for the next step was taken here

        // The limit in the exception is the one of the NTK where the run started, a fifth of the learning rate.
        Assert.Equal(lr / 5, e.MaxLearningRate!.Value, lr * 1e-12);
    }

    [Fact]
    public void A_non_finite_first_loss_leaves_the_parameters_untouched()
    {
        var theta = ReluNet.InitializeParameters<double>(6).Select(v => v * 1e120).ToArray();
        var before = (double[])theta.Clone();
        var trainer = new Trainer<double>(new NetworkModel<ReluNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(0.1));
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Train(theta, X, Y, new TrainingOptions<double> { Epochs = 5 }));
        Assert.Equal(1, e.Step);
        Assert.Equal(0, e.ParametersStep);
        Assert.Equal(before, theta);
        Assert.Contains("the loss is", e.Message, StringComparison.Ordinal);
        Assert.Contains("initial parameters", e.Message, StringComparison.Ordinal);
    }

    private sealed class Exploding : IOptimizer<double>
    {
        public void Step(Span<double> parameters, ReadOnlySpan<double> gradient) => parameters[3] = double.PositiveInfinity;

        public void Reset() { }
    }

    [Fact]
    public void An_update_to_a_non_finite_parameter_is_undone()
    {
        var theta = ReluNet.InitializeParameters<double>(7);
        var before = (double[])theta.Clone();
        var trainer = new Trainer<double>(new NetworkModel<ReluNet, double>(), TrainingLosses.MeanSquaredError, new Exploding());
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.Train(theta, X, Y, new TrainingOptions<double> { Epochs = 5 }));
        Assert.Equal(before, theta);
        Assert.Null(e.LearningRate);
        Assert.Contains("parameter 3", e.Message, StringComparison.Ordinal);
    }
}

using Xunit.Abstractions;
using WideNet = NtkDsl.Tests.Networks.ErfWide1024;
using static NtkDsl.Tests.Training.TrainingData;

namespace NtkDsl.Tests.Training;

/// <summary>Keeps the README's training snippet compiling and true (at width 1024 here, to stay fast).</summary>
public sealed class ReadmeSnippetTests(ITestOutputHelper output)
{
    [Fact]
    public void Readme_training_snippet_runs_and_agrees_with_the_ntk_prediction()
    {
        var xTrain = Gaussian(16, 4, seed: 81);
        var xTest = Gaussian(8, 4, seed: 82);
        var yTrain = SmoothTarget(xTrain);

        // --- README snippet (verbatim from here) ---
        var theta0 = WideNet.InitializeParameters<double>(seed: 0);
        var ntk = WideNet.Ntk(theta0, xTrain);                                  // empirical NTK at initialization
        double lr = 0.1 * GradientDescentMse.MaxLearningRate(ntk);
        var theta = (double[])theta0.Clone();                                   // trained in place
        var trainer = new Trainer<double>(new NetworkModel<WideNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(lr));
        trainer.Train(theta, xTrain, yTrain, new TrainingOptions<double> { Epochs = 200 });   // 200 full-batch GD steps
        var predicted = new GradientDescentMse(ntk, yTrain, lr).PredictTest(200, WideNet.Forward(theta0, xTrain),
            WideNet.Forward(theta0, xTest), WideNet.Ntk(theta0, xTest, xTrain));  // closed-form NTK dynamics after 200 steps
        var trained = WideNet.Forward(theta, xTest);
        // --- end of snippet ---

        double err = MaxAbsDiff(trained, predicted), moved = MaxAbsDiff(trained, WideNet.Forward(theta0, xTest));
        output.WriteLine($"width 1024: max |trained - predicted| = {err:E2} on test outputs that moved by up to {moved:F3}");
        Assert.True(err < 2e-2 && moved > 0.1, $"error {err:E2}, moved {moved:F3}");
    }
}

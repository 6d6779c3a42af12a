using NtkDsl.Backends;
using NtkDsl.Classification;
using NtkDsl.Cpu;
using ScottPlot;

namespace NtkDsl.Samples;

/// <summary>Fashion-MNIST MLP: 784 inputs, two hidden ReLU layers of 512 (He scale), 10 outputs.</summary>
[Network(Inputs = 784, WeightStd = 1.4142135623730951, BiasStd = 0.1)]
[Dense(512), Relu]
[Dense(512), Relu]
[Dense(10)]
public partial class FashionRelu;

/// <summary>Fashion-MNIST MLP: 784 inputs, one hidden erf layer of 1024, 10 outputs.</summary>
[Network(Inputs = 784, WeightStd = 1.5, BiasStd = 0.1)]
[Dense(1024), Erf]
[Dense(10)]
public partial class FashionErf;

/// <summary>A finite-width network after SGD: its test outputs and how it was trained.</summary>
internal sealed record NetworkTraining(Matrix<double> TestOutputs, int Steps, double LearningRate, double FinalLoss)
{
    public const int BatchSize = 128;
    public const double Momentum = 0.9;

    /// <summary>
    /// The time of the matching gradient flow in <see cref="GradientDescentMse"/>'s units (learning rate 1):
    /// steps x eta / (1 - momentum), heavy-ball momentum scaling the effective step by 1 / (1 - mu).
    /// </summary>
    public double GradientFlowTime => Steps * LearningRate / (1 - Momentum);
}

/// <summary>A declared network for the classify command: its kernels and its training, generic code behind plain delegates.</summary>
internal sealed record ClassifyNetwork(NetworkDescription Description, Func<int, TiledNtkOptions, ClassifierKernel> Empirical,
    Func<int, Matrix<double>, Matrix<double>, Matrix<double>, int, Action, NetworkTraining> Train)
{
    public static ClassifyNetwork Of<TNet>() where TNet : INetwork<TNet> =>
        new(TNet.Description, (seed, tiling) => new EmpiricalNtkKernel<TNet>(CpuNetwork<TNet, double>.InitializeParameters(seed), tiling), TrainSgd<TNet>);

    /// <summary>
    /// Minibatch SGD with momentum on the 1/2-mean MSE loss against one-hot targets, from the initialization of
    /// <paramref name="seed"/> (the one the empirical NTK uses); the learning rate is half the largest stable one
    /// for the infinite-width NTK of the first batch.
    /// </summary>
    private static NetworkTraining TrainSgd<TNet>(int seed, Matrix<double> x, Matrix<double> y, Matrix<double> xTest, int epochs, Action onEpoch)
        where TNet : INetwork<TNet>
    {
        int b = Math.Min(NetworkTraining.BatchSize, x.Rows);
        var batch = new Matrix<double>(b, x.Cols, x.Data.AsSpan(0, b * x.Cols).ToArray());
        var ntk = InfiniteWidth.Kernels(TNet.Description, batch).Ntk;
        double lr = 0.5 * GradientDescentMse.MaxLearningRate(ntk, new Matrix<double>(b, TNet.OutputSize), NetworkTraining.Momentum) /* the batch targets' shape */;
        var theta = CpuNetwork<TNet, double>.InitializeParameters(seed);
        var trainer = new Trainer<double>(new NetworkModel<TNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(lr, NetworkTraining.Momentum));
        var history = trainer.Train(theta, x, y, new TrainingOptions<double> { Epochs = epochs, BatchSize = b, Seed = seed, OnEpoch = _ => onEpoch() });
        return new NetworkTraining(CpuNetwork<TNet, double>.Forward(theta, xTest), history.Steps, lr, history.EpochLosses[^1]);
    }
}

internal static class ClassifyNetworks
{
    public static IReadOnlyDictionary<string, ClassifyNetwork> All { get; } = new Dictionary<string, ClassifyNetwork>(StringComparer.OrdinalIgnoreCase)
    {
        ["mlp-relu"] = ClassifyNetwork.Of<FashionRelu>(),
        ["mlp-erf"] = ClassifyNetwork.Of<FashionErf>(),
    };
}

/// <summary>The classify command's figures.</summary>
internal static class ClassifyPlots
{
    /// <summary>Test accuracy against the training size, one line per method (and time).</summary>
    public static string AccuracyVsSize(Plots plots, ClassifyResults results)
    {
        var plt = Plots.New("Fashion-MNIST test accuracy", "training set size", "test accuracy");
        int color = 0;
        // Kernels at the network's time ('--times net') differ in t between sizes but form one series.
        var networkTime = results.Rows.Where(r => r.Method == "network").ToDictionary(r => r.TrainSize, r => r.Time);
        string TimeLabel(ClassifyRow r) => r.Method == "network" ? "SGD"
            : networkTime.TryGetValue(r.TrainSize, out double t) && t == r.Time ? "t = network's" : $"t = {ClassifyRun.TimeText(r.Time)}";
        foreach (var group in results.Rows.GroupBy(r => (r.Method, Time: TimeLabel(r))))
        {
            var points = group.OrderBy(r => r.TrainSize).ToArray();
            var line = plt.Add.Scatter(Plots.Log10(points.Select(p => (double)p.TrainSize)), points.Select(p => p.Accuracy).ToArray());
            line.LegendText = $"{group.Key.Method}, {group.Key.Time}";
            line.Color = Plots.Palette[color++ % Plots.Palette.Length];
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }

        Plots.LogAxis(plt.Axes.Bottom);
        plt.ShowLegend(Alignment.LowerRight);
        return plots.Save(plt, "classify-accuracy");
    }

    /// <summary>The confusion matrix of one row as a heatmap (rows: true class, top to bottom; columns: predicted).</summary>
    public static string Confusion(Plots plots, ClassifyRow row)
    {
        int c = row.Confusion.Length;
        var values = new double[c, c];
        for (int i = 0; i < c; i++)
            for (int j = 0; j < c; j++) values[i, j] = row.Confusion[i][j];
        var plt = Plots.New($"Confusion matrix: {row.Method}, {row.TrainSize} training images (accuracy {row.Accuracy:F3})", "predicted class", "true class");
        var heatmap = plt.Add.Heatmap(values);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plt.Add.ColorBar(heatmap);
        for (int i = 0; i < c; i++)
            for (int j = 0; j < c; j++)
            {
                var text = plt.Add.Text(row.Confusion[i][j].ToString(System.Globalization.CultureInfo.InvariantCulture), j, c - 1 - i);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontColor = values[i, j] > 0.5 * row.Confusion.Max(r => r.Max()) ? Colors.Black : Colors.White;
                text.LabelFontSize = 11;
            }

        double[] ticks = [.. Enumerable.Range(0, c).Select(k => (double)k)];
        plt.Axes.Bottom.SetTicks(ticks, [.. FashionMnist.ClassNames]);
        plt.Axes.Left.SetTicks([.. ticks.Select(t => c - 1 - t)], [.. FashionMnist.ClassNames]);
        plt.Axes.Bottom.TickLabelStyle.Rotation = 30;
        plt.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        return plots.Save(plt, "classify-confusion", 900, 760);
    }
}

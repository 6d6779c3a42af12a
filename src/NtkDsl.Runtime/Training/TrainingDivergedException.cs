using System.Globalization;

namespace NtkDsl;

/// <summary>
/// Training stopped because the loss, the gradient or the updated parameters stopped being finite (typically a
/// learning rate above the stable limit). <see cref="Trainer{T}.Train"/> throws it with the parameters left at the
/// last step whose loss was finite; an optimizer with state (momentum) should be <see cref="IOptimizer{T}.Reset"/>
/// before training continues.
/// </summary>
public sealed class TrainingDivergedException : ArithmeticException
{
    internal TrainingDivergedException(int step, int epoch, string what, double lastFiniteLoss, int parametersStep,
        double? learningRate, double? maxLearningRate, string maxLearningRateNote)
        : base(Describe(step, epoch, what, lastFiniteLoss, parametersStep, learningRate, maxLearningRate, maxLearningRateNote))
    {
        Step = step;
        Epoch = epoch;
        LastFiniteLoss = lastFiniteLoss;
        ParametersStep = parametersStep;
        LearningRate = learningRate;
        MaxLearningRate = maxLearningRate;
    }

    /// <summary>The step (numbered from 1, like <see cref="TrainingStep{T}.Step"/>) at which training diverged.</summary>
    public int Step { get; }

    /// <summary>The epoch of that step, from 1.</summary>
    public int Epoch { get; }

    /// <summary>The last finite batch loss, at the parameters training was left with (NaN if the first loss was not finite).</summary>
    public double LastFiniteLoss { get; }

    /// <summary>The parameters are those after this many updates (0: the initial parameters).</summary>
    public int ParametersStep { get; }

    /// <summary>The optimizer's learning rate, when it is an <see cref="Sgd{T}"/>.</summary>
    public double? LearningRate { get; }

    /// <summary>
    /// The largest stable learning rate of full-batch gradient descent on the MSE loss at the parameters the run started
    /// from, 2 (1 + momentum) N O / lambda_max(Theta) from the NTK of the training data there (<see cref="GradientDescentMse.MaxLearningRate"/>),
    /// when available: MSE loss, <see cref="Sgd{T}"/>, a network or linearized model, N O &lt;= 2048.
    /// </summary>
    public double? MaxLearningRate { get; }

    private static string Describe(int step, int epoch, string what, double lastFiniteLoss, int parametersStep,
        double? learningRate, double? maxLearningRate, string maxLearningRateNote)
    {
        var c = CultureInfo.InvariantCulture;
        string rate = learningRate is { } lr
            ? maxLearningRate is { } max
                ? string.Format(c, "The learning rate {0:G4} is {1} the largest stable one for full-batch gradient descent, {2:G4} (2 (1 + momentum) N O / lambda_max of the NTK at the start of the run); use a smaller one, e.g. {3:G4}. ",
                    lr, lr > max ? "above" : "not above", max, 0.5 * max)
                : string.Format(c, "The learning rate is {0:G4}; try a smaller one ({1}). ", lr, maxLearningRateNote)
            : "Try a smaller learning rate. ";
        string kept = parametersStep == 0
            ? "The parameters are left as they were (the initial parameters)."
            : string.Format(c, "The parameters are left after step {0}, the last with a finite loss ({1:G6}).", parametersStep, lastFiniteLoss);
        return string.Format(c, "Training diverged at step {0} (epoch {1}): {2}. ", step, epoch, what) + rate + kept;
    }
}

namespace NtkDsl.Classification;

/// <summary>Settings of <see cref="KernelClassifier"/>.</summary>
public sealed record KernelClassifierOptions
{
    /// <summary>
    /// diag_reg values tried (relative: times the mean diagonal of the kernel, as in <see cref="GradientDescentMse"/>).
    /// With one value, it is used as given; with several, the one with the best accuracy on a held-out part of the
    /// training set wins (ties: the larger).
    /// </summary>
    public IReadOnlyList<double> DiagRegCandidates { get; init; } = [1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1];

    /// <summary>Fraction of the training set held out (stratified) to choose diag_reg, in (0, 1).</summary>
    public double HoldoutFraction { get; init; } = 0.2;

    /// <summary>Seed of the held-out split.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Training times at which to classify, in steps of <see cref="LearningRate"/>: +infinity is kernel regression
    /// (one Cholesky solve); finite times follow gradient descent on the MSE loss (one eigendecomposition).
    /// </summary>
    public IReadOnlyList<double> Times { get; init; } = [double.PositiveInfinity];

    /// <summary>eta of the gradient-descent dynamics at finite times.</summary>
    public double LearningRate { get; init; } = 1.0;

    /// <summary>The decompositions; null for <see cref="MathNetLinearAlgebra"/>.</summary>
    public IKernelLinearAlgebra? LinearAlgebra { get; init; }

    /// <summary>Called after each diag_reg candidate with (candidates done, candidates in total).</summary>
    public Action<int, int>? OnCandidate { get; init; }
}

/// <summary>One diag_reg candidate on the held-out split: its accuracy, or why the solve failed.</summary>
/// <param name="DiagReg">The candidate (relative scale).</param>
/// <param name="HoldoutAccuracy">Accuracy on the held-out samples; null when the kernel was too ill-conditioned.</param>
/// <param name="Failure">The conditioning error, or null.</param>
public sealed record DiagRegTrial(double DiagReg, double? HoldoutAccuracy, string? Failure);

/// <summary>Predictions of a kernel classifier at one training time.</summary>
/// <param name="Time">Training time in steps (+infinity: kernel regression).</param>
/// <param name="Scores">Regression outputs on the test set [N*, classes].</param>
/// <param name="Predicted">Arg-max classes.</param>
/// <param name="Metrics">Accuracy, confusion matrix, per-class accuracy.</param>
public sealed record TimedClassification(double Time, Matrix<double> Scores, int[] Predicted, ClassificationMetrics Metrics);

/// <summary>The result of <see cref="KernelClassifier.Classify"/>.</summary>
/// <param name="DiagReg">The diag_reg used for the final fit.</param>
/// <param name="Trials">Every candidate tried on the held-out split (empty when diag_reg was given).</param>
/// <param name="Results">One entry per requested time, in the order given.</param>
public sealed record KernelClassification(double DiagReg, IReadOnlyList<DiagRegTrial> Trials, IReadOnlyList<TimedClassification> Results);

/// <summary>
/// Classification by kernel regression on one-hot targets (Arora et al. 2020; Lee et al. 2018): the outputs of
/// an infinitely wide network trained by gradient descent on MSE (<see cref="GradientDescentMse"/>, from zero
/// initial outputs: the mean over initializations), at t = infinity (for the NNGP kernel this is the NNGP
/// posterior mean of <see cref="GpInference"/>, for the NTK the NTK posterior mean) or at finite t; the
/// predicted class is the arg-max output. Works with any kernel matrix: infinite-width, empirical, RBF, linear.
/// </summary>
public static class KernelClassifier
{
    /// <summary>
    /// Chooses diag_reg on a stratified held-out part of the training set (when several candidates are given), refits
    /// on the whole training set and classifies the test set at every requested time.
    /// </summary>
    /// <param name="kTrainTrain">K(X, X) [n, n], symmetric.</param>
    /// <param name="kTestTrain">K(X*, X) [n*, n].</param>
    /// <param name="trainLabels">n classes in [0, classCount).</param>
    /// <param name="testLabels">n* classes in [0, classCount).</param>
    /// <param name="classCount">Number of classes, &gt;= 2.</param>
    /// <param name="options">Candidates, split, times; null for the defaults.</param>
    /// <exception cref="KernelConditioningException">Every candidate diag_reg failed, or the final fit did.</exception>
    public static KernelClassification Classify(Matrix<double> kTrainTrain, Matrix<double> kTestTrain, IReadOnlyList<int> trainLabels,
        IReadOnlyList<int> testLabels, int classCount, KernelClassifierOptions? options = null)
    {
        options ??= new KernelClassifierOptions();
        ArgumentNullException.ThrowIfNull(kTrainTrain);
        ArgumentNullException.ThrowIfNull(kTestTrain);
        ClassificationChecks.RequireLabels(trainLabels, classCount, nameof(trainLabels));
        ClassificationChecks.RequireLabels(testLabels, classCount, nameof(testLabels));
        int n = trainLabels.Count;
        if (kTrainTrain.Rows != n || kTrainTrain.Cols != n)
            throw new ArgumentException($"'{nameof(kTrainTrain)}' must have shape [{n}, {n}] for {n} training labels, but has shape [{kTrainTrain.Rows}, {kTrainTrain.Cols}].", nameof(kTrainTrain));
        if (kTestTrain.Rows != testLabels.Count || kTestTrain.Cols != n)
            throw new ArgumentException($"'{nameof(kTestTrain)}' must have shape [{testLabels.Count}, {n}] (test by train samples), but has shape [{kTestTrain.Rows}, {kTestTrain.Cols}].", nameof(kTestTrain));
        if (options.DiagRegCandidates is not { Count: > 0 })
            throw new ArgumentException("DiagRegCandidates must hold at least one value.", nameof(options));
        if (options.Times is not { Count: > 0 })
            throw new ArgumentException("Times must hold at least one value.", nameof(options));

        var trials = new List<DiagRegTrial>();
        double diagReg = options.DiagRegCandidates[0];
        if (options.DiagRegCandidates.Count > 1) diagReg = SelectDiagReg(kTrainTrain, trainLabels, classCount, options, trials);

        var y = Labels.OneHot(trainLabels, classCount);
        var dynamics = new GradientDescentMse(kTrainTrain, y, options.LearningRate, diagReg, linearAlgebra: options.LinearAlgebra);
        var predictions = dynamics.Predict(options.Times, null, null, kTestTrain);
        var results = predictions.Select(p =>
        {
            var predicted = Labels.ArgMax(p.Test!);
            return new TimedClassification(p.Time, p.Test!, predicted, ClassificationMetrics.Compute(predicted, testLabels, classCount));
        }).ToArray();
        return new KernelClassification(diagReg, trials, results);
    }

    private static double SelectDiagReg(Matrix<double> kTrainTrain, IReadOnlyList<int> labels, int classCount, KernelClassifierOptions options, List<DiagRegTrial> trials)
    {
        if (!(options.HoldoutFraction > 0 && options.HoldoutFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(options), options.HoldoutFraction, "HoldoutFraction must be in (0, 1).");
        int n = labels.Count;
        int holdout = (int)Math.Round(n * options.HoldoutFraction);
        if (holdout < 1 || holdout > n - 2)
            throw new ArgumentException($"A held-out fraction of {options.HoldoutFraction} of {n} training samples leaves no held-out or no fitting samples; use more training samples or give one diag_reg.", nameof(labels));
        var (held, fit) = Stratified.Split(labels, holdout, options.Seed);
        var kFit = Stratified.Block(kTrainTrain, fit, fit);
        var kHeld = Stratified.Block(kTrainTrain, held, fit);
        var yFit = Labels.OneHot(Stratified.Select(labels, fit), classCount);
        var heldLabels = Stratified.Select(labels, held);
        double best = double.NaN, bestAccuracy = -1, suggestion = 0;
        var candidates = options.DiagRegCandidates;
        for (int c = 0; c < candidates.Count; c++)
        {
            double reg = candidates[c];
            try
            {
                var scores = new GradientDescentMse(kFit, yFit, 1.0, reg, linearAlgebra: options.LinearAlgebra)
                    .PredictTest(double.PositiveInfinity, null, null, kHeld);
                double accuracy = ClassificationMetrics.Compute(Labels.ArgMax(scores), heldLabels, classCount).Accuracy;
                trials.Add(new DiagRegTrial(reg, accuracy, null));
                if (accuracy > bestAccuracy || (accuracy == bestAccuracy && reg > best))
                {
                    bestAccuracy = accuracy;
                    best = reg;
                }
            }
            catch (KernelConditioningException e)
            {
                trials.Add(new DiagRegTrial(reg, null, e.Message));
                suggestion = Math.Max(suggestion, e.SuggestedDiagReg);
            }

            options.OnCandidate?.Invoke(c + 1, candidates.Count);
        }

        if (double.IsNaN(best))
            throw new KernelConditioningException(
                $"Every diag_reg candidate ({string.Join(", ", candidates)}) failed on the held-out split: {trials[^1].Failure}", nameof(kTrainTrain), suggestion);
        return best;
    }
}

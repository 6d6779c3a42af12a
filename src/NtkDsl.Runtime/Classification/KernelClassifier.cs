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

    /// <summary>
    /// <see cref="KernelClassifier.ClassifyTiled"/>: the tile side in samples of the stored kernel and of every kernel
    /// evaluation (memory beyond the kernel: a few tiles of TileSize^2 doubles); &gt;= 1.
    /// </summary>
    public int TileSize { get; init; } = 1024;

    /// <summary>
    /// <see cref="KernelClassifier.ClassifyTiled"/>: diag_reg is chosen on a stratified sample of this many training
    /// samples (its dense kernel is computed first, before the tiled one; <see cref="HoldoutFraction"/> of it is held
    /// out), so choosing costs a few small dense solves instead of factoring the full kernel per candidate.
    /// </summary>
    public int DiagRegSubset { get; init; } = 5000;

    /// <summary><see cref="KernelClassifier.ClassifyTiled"/>: called with (stage, fraction of it done in [0, 1]).</summary>
    public Action<TiledStage, double>? OnProgress { get; init; }
}

/// <summary>The stages of <see cref="KernelClassifier.ClassifyTiled"/>, in order.</summary>
public enum TiledStage
{
    /// <summary>diag_reg candidates on the subset's held-out split (its own dense kernel, before the big one is allocated).</summary>
    DiagReg,

    /// <summary>K(X, X) tile by tile.</summary>
    Kernel,

    /// <summary>The tiled Cholesky factorization in place.</summary>
    Factor,

    /// <summary>Triangular solves for the coefficients, then K(X*, X) alpha tile by tile.</summary>
    Predict,
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

    /// <summary>
    /// Kernel regression at t = infinity for training sets whose kernel is too large to hold densely (or twice): K(X, X)
    /// is computed tile by tile into a <see cref="TiledSymmetricMatrix"/> (one triangle), after diag_reg was chosen on
    /// the held-out split of a stratified subset (<see cref="KernelClassifierOptions.DiagRegSubset"/>, with the same
    /// candidates and rule as <see cref="Classify"/>); the kernel is regularized and factored in place (tiled
    /// Cholesky), alpha = (K + diag_reg mean(diag K) I)^-1 Y is solved, and K(X*, X) alpha is streamed tile by tile.
    /// Memory: the kernel's triangle plus O(tile) (a few tiles, the subset's block, inputs and targets). The
    /// predictions equal <see cref="Classify"/>'s at t = infinity for the same diag_reg.
    /// </summary>
    /// <param name="kernel">The kernel family (evaluated on blocks of the inputs).</param>
    /// <param name="kernelName">Which of its <see cref="ClassifierKernel.Names"/> to classify with.</param>
    /// <param name="xTrain">Training inputs [n, d].</param>
    /// <param name="xTest">Test inputs [n*, d].</param>
    /// <param name="trainLabels">n classes in [0, classCount).</param>
    /// <param name="testLabels">n* classes in [0, classCount).</param>
    /// <param name="classCount">Number of classes, &gt;= 2.</param>
    /// <param name="options">Candidates, split, tile size; <see cref="KernelClassifierOptions.Times"/> must be t = infinity only.</param>
    /// <exception cref="KernelConditioningException">Every candidate failed on the subset, or the final factorization did.</exception>
    public static KernelClassification ClassifyTiled(ClassifierKernel kernel, string kernelName, Matrix<double> xTrain, Matrix<double> xTest,
        IReadOnlyList<int> trainLabels, IReadOnlyList<int> testLabels, int classCount, KernelClassifierOptions? options = null)
    {
        options ??= new KernelClassifierOptions();
        ArgumentNullException.ThrowIfNull(kernel);
        int index = kernel.Names.ToList().IndexOf(kernelName);
        if (index < 0) throw new ArgumentException($"'{nameof(kernelName)}' must be one of the kernel's matrices ({string.Join(", ", kernel.Names)}), got '{kernelName}'.", nameof(kernelName));
        ClassificationChecks.RequireInputs(xTrain, nameof(xTrain));
        ClassificationChecks.RequireInputs(xTest, nameof(xTest));
        ClassificationChecks.RequireLabels(trainLabels, classCount, nameof(trainLabels));
        ClassificationChecks.RequireLabels(testLabels, classCount, nameof(testLabels));
        int n = trainLabels.Count;
        if (xTrain.Rows != n)
            throw new ArgumentException($"'{nameof(xTrain)}' must have {n} rows for {n} training labels, but has shape [{xTrain.Rows}, {xTrain.Cols}].", nameof(xTrain));
        if (xTest.Rows != testLabels.Count || xTest.Cols != xTrain.Cols)
            throw new ArgumentException($"'{nameof(xTest)}' must have shape [{testLabels.Count}, {xTrain.Cols}] (test labels by input features), but has shape [{xTest.Rows}, {xTest.Cols}].", nameof(xTest));
        if (options.DiagRegCandidates is not { Count: > 0 })
            throw new ArgumentException("DiagRegCandidates must hold at least one value.", nameof(options));
        if (options.Times is not [double.PositiveInfinity])
            throw new ArgumentException($"ClassifyTiled solves at t = infinity only (finite times need the eigendecomposition of the dense kernel); got Times = [{string.Join(", ", options.Times ?? [])}].", nameof(options));
        if (options.TileSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.TileSize, "TileSize must be >= 1.");
        if (options.DiagRegSubset < 10) throw new ArgumentOutOfRangeException(nameof(options), options.DiagRegSubset, "DiagRegSubset must be >= 10.");

        var trials = new List<DiagRegTrial>();
        var (alpha, diagReg) = FitTiled(kernel, index, kernelName, xTrain, trainLabels, classCount, options, trials);   // the kernel is gone after this
        options.OnProgress?.Invoke(TiledStage.Predict, 0);
        var scores = KernelTiles.MultiplyTiled(kernel, index, xTest, xTrain, alpha, options.TileSize,
            (done, total) => options.OnProgress?.Invoke(TiledStage.Predict, (double)done / total));
        var predicted = Labels.ArgMax(scores);
        var result = new TimedClassification(double.PositiveInfinity, scores, predicted, ClassificationMetrics.Compute(predicted, testLabels, classCount));
        return new KernelClassification(diagReg, trials, [result]);
    }

    // K(X, X) in tiles, diag_reg on the subset, factor in place, alpha = (K + shift I)^-1 Y.
    private static (Matrix<double> Alpha, double DiagReg) FitTiled(ClassifierKernel kernel, int index, string kernelName, Matrix<double> xTrain,
        IReadOnlyList<int> trainLabels, int classCount, KernelClassifierOptions options, List<DiagRegTrial> trials)
    {
        int n = trainLabels.Count;
        double diagReg = options.DiagRegCandidates.Count > 1 ? SelectDiagRegOnSubset(kernel, index, xTrain, trainLabels, classCount, options, trials) : options.DiagRegCandidates[0];
        var k = KernelTiles.ComputeTiled(kernel, index, xTrain, options.TileSize, (done, total) => options.OnProgress?.Invoke(TiledStage.Kernel, (double)done / total));

        double meanDiagonal = k.Trace() / n, maxDiagonal = k.MaxAbsDiagonal();
        double shift = diagReg * meanDiagonal;
        k.AddToDiagonal(shift);
        // As for the dense solves: a pivot below n eps max|diag| means a condition number ~1/(n eps), a solve of noise.
        double pivotFloor = n * 2.220446049250313e-16 * (maxDiagonal + shift);
        int failed = k.TryFactor(pivotFloor, f => options.OnProgress?.Invoke(TiledStage.Factor, f));
        if (failed >= 0)
        {
            double pivot = k.PivotValue(failed);
            // The failed pivot is what the Schur complement left there; a shift of its deficit plus the floor would lift it.
            double suggestion = meanDiagonal > 0 ? diagReg + (Math.Max(0, -pivot) + 1e-8 * (maxDiagonal + shift)) / meanDiagonal : double.NaN;
            suggestion = Math.Max(suggestion, Math.Max(10 * diagReg, 1e-6));
            throw new KernelConditioningException(
                $"K(X, X) ({kernelName}, {n} x {n}) + diag_reg * I is not numerically positive definite (tiled Cholesky failed at pivot {failed} of {n}, in tile {failed / k.TileSize} of {k.TileCount}; "
                + $"pivot value {pivot.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)}), so kernel regression (t = infinity) cannot solve with it: "
                + (double.IsNaN(suggestion) ? "the mean diagonal is not positive, so no relative diag_reg can help; check the kernel"
                    : $"raise diag_reg from {diagReg.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)} to about {suggestion.ToString("G2", System.Globalization.CultureInfo.InvariantCulture)} (relative to the mean diagonal)")
                + ". The kernel was factored in place and must be recomputed.", nameof(kernel), suggestion, failed);
        }

        return (k.Solve(Labels.OneHot(trainLabels, classCount)), diagReg);
    }

    // Before the big kernel exists: the subset's own dense kernel, the usual held-out choice, then the memory goes back to
    // the system (an aggressive collection decommits it), so that the tiled kernel has the room.
    private static double SelectDiagRegOnSubset(ClassifierKernel kernel, int index, Matrix<double> xTrain, IReadOnlyList<int> trainLabels, int classCount,
        KernelClassifierOptions options, List<DiagRegTrial> trials)
    {
        int n = trainLabels.Count;
        var subset = n <= options.DiagRegSubset ? Enumerable.Range(0, n).ToArray() : Stratified.Sample(trainLabels, options.DiagRegSubset, options.Seed);
        double diagReg = SelectDiagReg(KernelTiles.Compute(kernel, Stratified.Rows(xTrain, subset), null)[index], Stratified.Select(trainLabels, subset), classCount,
            options with { OnCandidate = (done, total) => options.OnProgress?.Invoke(TiledStage.DiagReg, (double)done / total) }, trials);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return diagReg;
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

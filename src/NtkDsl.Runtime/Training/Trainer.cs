using System.Numerics;

namespace NtkDsl;

/// <summary>What a training step reports to <see cref="TrainingOptions{T}.OnStep"/>.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class TrainingStep<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal TrainingStep(int step, int totalSteps, int epoch, double batchLoss, T[] parameters)
    {
        Step = step;
        TotalSteps = totalSteps;
        Epoch = epoch;
        BatchLoss = batchLoss;
        Parameters = parameters;
    }

    /// <summary>Number of parameter updates done so far in this run, 1 after the first (t in t = steps x eta).</summary>
    public int Step { get; }

    /// <summary>Number of updates the run will make if not cancelled.</summary>
    public int TotalSteps { get; }

    /// <summary>The epoch this step belongs to, from 1.</summary>
    public int Epoch { get; }

    /// <summary>Loss on this step's batch at the parameters before the update.</summary>
    public double BatchLoss { get; }

    /// <summary>The live parameter vector after the update. Read it (or copy it) during the callback; do not modify it.</summary>
    public T[] Parameters { get; }

    /// <summary>True for the run's last step.</summary>
    public bool IsLast => Step == TotalSteps;
}

/// <summary>What an epoch reports to <see cref="TrainingOptions{T}.OnEpoch"/> and <see cref="TrainingOptions{T}.Progress"/>.</summary>
public sealed class TrainingEpoch
{
    internal TrainingEpoch(int epoch, int epochs, int steps, double loss)
    {
        Epoch = epoch;
        Epochs = epochs;
        Steps = steps;
        Loss = loss;
    }

    /// <summary>Epochs completed, from 1.</summary>
    public int Epoch { get; }

    /// <summary>Epochs in the run.</summary>
    public int Epochs { get; }

    /// <summary>Parameter updates done so far.</summary>
    public int Steps { get; }

    /// <summary>Mean of the epoch's batch losses weighted by batch size (each taken before its update).</summary>
    public double Loss { get; }

    /// <summary>Fraction of the run completed, in (0, 1].</summary>
    public double Fraction => (double)Epoch / Epochs;
}

/// <summary>Settings of one <see cref="Trainer{T}.Train"/> run.</summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class TrainingOptions<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Passes over the data, &gt;= 0. With full batches one epoch is one gradient-descent step.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Samples per minibatch; null (default) or &gt;= N means full-batch gradient descent. The last batch of an epoch may be smaller.</summary>
    public int? BatchSize { get; init; }

    /// <summary>Seed of the per-epoch shuffling of minibatches (a platform-independent generator).</summary>
    public int Seed { get; init; }

    /// <summary>Shuffle the samples every epoch (minibatches only; default true). False takes batches in order.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Called after every parameter update.</summary>
    public Action<TrainingStep<T>>? OnStep { get; init; }

    /// <summary>Called after every epoch.</summary>
    public Action<TrainingEpoch>? OnEpoch { get; init; }

    /// <summary>Receives a report after every epoch.</summary>
    public IProgress<TrainingEpoch>? Progress { get; init; }
}

/// <summary>The outcome of a completed <see cref="Trainer{T}.Train"/> run.</summary>
public sealed class TrainingHistory
{
    internal TrainingHistory(int steps, IReadOnlyList<double> epochLosses)
    {
        Steps = steps;
        EpochLosses = epochLosses;
    }

    /// <summary>Parameter updates made.</summary>
    public int Steps { get; }

    /// <summary>Per epoch, the mean batch loss (see <see cref="TrainingEpoch.Loss"/>).</summary>
    public IReadOnlyList<double> EpochLosses { get; }
}

/// <summary>
/// Trains any <see cref="IDifferentiableModel{T}"/> (a network or its linearization) with the gradients of the
/// generated code: per step one forward pass, the loss gradient dL/df, one VJP, the model's per-parameter
/// learning-rate multipliers (<see cref="IDifferentiableModel{T}.LearningRateMultipliers"/>: 1 under NTK and standard
/// parameterization, the per-layer rates of mean-field and maximal-update parameterization, read from the generated
/// description) and one optimizer update. The multipliers scale the gradient the optimizer sees, which makes them
/// per-layer learning rates for <see cref="Sgd{T}"/> (with or without momentum); <see cref="EvaluateWithGradient"/>
/// returns the plain gradient.
/// Full-batch or seeded minibatches; deterministic for a given seed (the generated passes are deterministic).
/// </summary>
/// <remarks>Holds scratch buffers: one trainer must not run on several threads at once.</remarks>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Trainer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Largest N O for which a divergence report computes the NTK's largest eigenvalue (an eigendecomposition of [N O, N O]).</summary>
    private const int MaxKernelSizeForReport = 2048;

    private readonly T[] _gradient;
    private readonly T[] _previous;
    private readonly T[] _start;
    private readonly T[]? _rates;
    private Matrix<T>? _outputs;
    private Matrix<T>? _lossGradient;
    private Matrix<T>? _xBatch;
    private Matrix<T>? _yBatch;

    /// <summary>Creates a trainer.</summary>
    /// <param name="model">What to train.</param>
    /// <param name="loss">The loss, e.g. <see cref="TrainingLosses.MeanSquaredError"/>.</param>
    /// <param name="optimizer">The update rule, e.g. <see cref="Sgd{T}"/>; its state carries over between runs (call Reset to clear it).</param>
    public Trainer(IDifferentiableModel<T> model, ITrainingLoss loss, IOptimizer<T> optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(optimizer);
        Model = model;
        Loss = loss;
        Optimizer = optimizer;
        _gradient = new T[model.ParameterCount];
        _previous = new T[model.ParameterCount];
        _start = new T[model.ParameterCount];
        _rates = model.LearningRateMultipliers;
        if (_rates is not null && _rates.Length != model.ParameterCount)
            throw new ArgumentException($"The model's LearningRateMultipliers must have length ParameterCount = {model.ParameterCount}, but has length {_rates.Length}.", nameof(model));
    }

    /// <summary>The model being trained.</summary>
    public IDifferentiableModel<T> Model { get; }

    /// <summary>The loss.</summary>
    public ITrainingLoss Loss { get; }

    /// <summary>The optimizer.</summary>
    public IOptimizer<T> Optimizer { get; }

    /// <summary>The loss of the model on (x, y) at <paramref name="parameters"/>.</summary>
    /// <param name="parameters">Length P.</param>
    /// <param name="x">Inputs [N, d].</param>
    /// <param name="y">Targets [N, O].</param>
    public double Evaluate(T[] parameters, Matrix<T> x, Matrix<T> y)
    {
        CheckData(parameters, x, y);
        var f = ModelScratch.Rows(ref _outputs, x.Rows, Model.OutputSize);
        Model.Forward(parameters, x, f);
        return Loss.Evaluate(f, y, null);
    }

    /// <summary>The loss on (x, y) and its gradient with respect to the parameters (written into <paramref name="gradient"/>).</summary>
    /// <param name="parameters">Length P.</param>
    /// <param name="x">Inputs [N, d].</param>
    /// <param name="y">Targets [N, O].</param>
    /// <param name="gradient">Destination, length P.</param>
    public double EvaluateWithGradient(T[] parameters, Matrix<T> x, Matrix<T> y, T[] gradient)
    {
        CheckData(parameters, x, y);
        ArgumentNullException.ThrowIfNull(gradient);
        if (gradient.Length != Model.ParameterCount)
            throw new ArgumentException($"'{nameof(gradient)}' must have length ParameterCount = {Model.ParameterCount}, but has length {gradient.Length}.", nameof(gradient));
        return LossAndGradient(parameters, x, y, gradient);
    }

    /// <summary>
    /// Trains <paramref name="parameters"/> in place on (x, y). Cancellation is checked before every step; on
    /// cancellation an <see cref="OperationCanceledException"/> is thrown and the parameters hold the result of the
    /// last completed step (callbacks have seen it). When the loss, the gradient or the updated parameters stop being
    /// finite (a learning rate that is too large), training stops with a <see cref="TrainingDivergedException"/> that
    /// names the learning rate and, where it can be computed, the largest stable one; the parameters are then those
    /// of the last step with a finite loss.
    /// </summary>
    /// <param name="parameters">Initial parameters, length P; updated in place.</param>
    /// <param name="x">Inputs [N, d], finite.</param>
    /// <param name="y">Targets [N, O], finite.</param>
    /// <param name="options">Epochs, batching, seed, callbacks; null means one full-batch step.</param>
    /// <param name="cancellationToken">Stops training between steps.</param>
    /// <exception cref="TrainingDivergedException">The loss, gradient or parameters became NaN or infinite.</exception>
    public TrainingHistory Train(T[] parameters, Matrix<T> x, Matrix<T> y, TrainingOptions<T>? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new TrainingOptions<T>();
        CheckData(parameters, x, y);
        if (options.Epochs < 0) throw new ArgumentOutOfRangeException(nameof(options), options.Epochs, "Epochs must be >= 0.");
        if (options.BatchSize is { } bs && bs < 1) throw new ArgumentOutOfRangeException(nameof(options), bs, "BatchSize must be >= 1 (or null for full batch).");
        for (int i = 0; i < y.Data.Length; i++)
        {
            if (!T.IsFinite(y.Data[i]))
                throw new ArgumentException($"'{nameof(y)}' contains {y.Data[i]} at index {i}; targets must be finite.", nameof(y));
        }

        int n = x.Rows;
        int batch = Math.Min(options.BatchSize ?? n, n);
        bool fullBatch = batch == n;
        int batchesPerEpoch = (n + batch - 1) / batch;
        int totalSteps = checked(options.Epochs * batchesPerEpoch);
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var rng = new SplitMix64(options.Seed);
        var losses = new List<double>(options.Epochs);
        int step = 0;
        double lastLoss = double.NaN;
        parameters.CopyTo(_start, 0);

        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            if (!fullBatch && options.Shuffle) rng.Shuffle(order);
            double weighted = 0;
            for (int b = 0; b < batchesPerEpoch; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Matrix<T> xb = x, yb = y;
                if (!fullBatch)
                {
                    int start = b * batch, count = Math.Min(batch, n - start);
                    xb = Gather(ref _xBatch, x, order, start, count);
                    yb = Gather(ref _yBatch, y, order, start, count);
                }
                // Loss at the parameters after `step` updates; the update is kept only if everything stays finite.
                // A host that detects overflow itself (the CPU backend) throws OverflowException: that is divergence too.
                double loss;
                string lossText;
                try
                {
                    loss = LossWithCotangent(parameters, xb, yb);
                    lossText = $"the loss is {Show(loss)}";
                }
                catch (OverflowException)
                {
                    loss = double.PositiveInfinity;
                    lossText = "the loss is not finite (the network's outputs overflow)";
                }

                if (!double.IsFinite(loss))
                {
                    if (step > 0) _previous.CopyTo(parameters, 0);         // back to the last parameters with a finite loss
                    throw Diverged(step + 1, epoch, lossText, x, step > 0 ? step - 1 : 0, lastLoss);
                }

                try
                {
                    Model.Vjp(parameters, xb, _lossGradient!, _gradient);
                }
                catch (OverflowException)
                {
                    throw Diverged(step + 1, epoch, "the gradient overflows", x, step, loss);
                }

                if (FirstNonFinite(_gradient) is int gi)
                    throw Diverged(step + 1, epoch, $"the gradient is {Show(double.CreateTruncating(_gradient[gi]))} at parameter {gi}", x, step, loss);
                parameters.CopyTo(_previous, 0);
                if (_rates is not null)
                    for (int i = 0; i < _gradient.Length; i++) _gradient[i] *= _rates[i];   // per-layer learning rates eta rho
                Optimizer.Step(parameters, _gradient);
                if (FirstNonFinite(parameters) is int pi)
                {
                    string value = Show(double.CreateTruncating(parameters[pi]));
                    _previous.CopyTo(parameters, 0);
                    throw Diverged(step + 1, epoch, $"the update makes parameter {pi} {value}", x, step, loss);
                }
                lastLoss = loss;
                step++;
                weighted += loss * xb.Rows;
                options.OnStep?.Invoke(new TrainingStep<T>(step, totalSteps, epoch, loss, parameters));
            }
            var report = new TrainingEpoch(epoch, options.Epochs, step, weighted / n);
            losses.Add(report.Loss);
            options.OnEpoch?.Invoke(report);
            options.Progress?.Report(report);
        }
        return new TrainingHistory(step, losses);
    }

    private double LossAndGradient(T[] parameters, Matrix<T> x, Matrix<T> y, T[] gradient)
    {
        double loss = LossWithCotangent(parameters, x, y);
        Model.Vjp(parameters, x, _lossGradient!, gradient);
        return loss;
    }

    /// <summary>The loss at the parameters, with dLoss/df left in <see cref="_lossGradient"/>.</summary>
    private double LossWithCotangent(T[] parameters, Matrix<T> x, Matrix<T> y)
    {
        var f = ModelScratch.Rows(ref _outputs, x.Rows, Model.OutputSize);
        var g = ModelScratch.Rows(ref _lossGradient, x.Rows, Model.OutputSize);
        Model.Forward(parameters, x, f);
        return Loss.Evaluate(f, y, g);
    }

    private static int? FirstNonFinite(T[] values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!T.IsFinite(values[i])) return i;
        return null;
    }

    private static string Show(double v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The divergence error, with the largest stable learning rate where it can be computed (NTK of all of x at the run's start).</summary>
    private TrainingDivergedException Diverged(int step, int epoch, string what, Matrix<T> x, int parametersStep, double lastFiniteLoss)
    {
        var sgd = Optimizer as Sgd<T>;
        double? max = null;
        string note;
        long size = (long)x.Rows * Model.OutputSize;
        if (!ReferenceEquals(Loss, TrainingLosses.MeanSquaredError))
            note = $"the {Loss.Name} loss has no closed-form limit";
        else if (Model is not IKernelModel<T> kernelModel)
            note = "GradientDescentMse.MaxLearningRate of the model's NTK gives the limit";
        else if (size > MaxKernelSizeForReport)
            note = $"N O = {size} is too large to compute the limit here; GradientDescentMse.MaxLearningRate of the NTK gives it";
        else
        {
            Matrix<double>? ntk;
            try
            {
                ntk = kernelModel.FullNtk(_start, x);
            }
            catch (OverflowException)
            {
                ntk = null;                                    // the CPU host reports the overflow itself
            }

            if (ntk is not null && ntk.Data.All(double.IsFinite))
            {
                max = GradientDescentMse.MaxLearningRate(ntk, new Matrix<double>(x.Rows, Model.OutputSize), momentum: sgd?.Momentum ?? 0) /* only the targets' shape is read */;
                note = "";
            }
            else
            {
                note = "the NTK at the start of the run is not finite";
            }
        }

        return new TrainingDivergedException(step, epoch, what, lastFiniteLoss, parametersStep, sgd?.LearningRate, max, note);
    }

    private static Matrix<T> Gather(ref Matrix<T>? cache, Matrix<T> source, int[] order, int start, int count)
    {
        var m = ModelScratch.Rows(ref cache, count, source.Cols);
        int c = source.Cols;
        for (int i = 0; i < count; i++) Array.Copy(source.Data, order[start + i] * c, m.Data, i * c, c);
        return m;
    }

    private void CheckData(T[] parameters, Matrix<T> x, Matrix<T> y)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (parameters.Length != Model.ParameterCount)
            throw new ArgumentException($"'{nameof(parameters)}' must have length ParameterCount = {Model.ParameterCount}, but has length {parameters.Length}.", nameof(parameters));
        if (x.Rows == 0 || x.Cols != Model.InputSize)
            throw new ArgumentException($"'{nameof(x)}' must have shape [N >= 1, {Model.InputSize}], but has shape [{x.Rows}, {x.Cols}].", nameof(x));
        if (y.Rows != x.Rows || y.Cols != Model.OutputSize)
            throw new ArgumentException($"'{nameof(y)}' must have shape [{x.Rows}, {Model.OutputSize}] (one row per sample of x), but has shape [{y.Rows}, {y.Cols}].", nameof(y));
    }
}

/// <summary>SplitMix64: a tiny generator with the same output on every platform and runtime.</summary>
internal struct SplitMix64(int seed)
{
    private ulong _state = (ulong)seed * 0x9E3779B97F4A7C15UL + 0xD1B54A32D192ED03UL;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Fisher-Yates with an unbiased bounded draw (rejection).</summary>
    public void Shuffle(int[] a)
    {
        for (int i = a.Length - 1; i > 0; i--)
        {
            int j = (int)Below((ulong)i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
    }

    private ulong Below(ulong bound)
    {
        ulong limit = ulong.MaxValue - ulong.MaxValue % bound;
        ulong r;
        do r = Next(); while (r >= limit);
        return r % bound;
    }
}

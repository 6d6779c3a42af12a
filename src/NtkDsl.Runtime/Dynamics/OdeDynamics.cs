namespace NtkDsl;

/// <summary>
/// Gradient of a loss L(f, y) summed (not averaged) over all samples and outputs, with respect to the
/// outputs f. The training dynamics divide by n_y = samples * outputs, so the loss actually minimized is
/// the mean, neural-tangents' convention (1/2 mean squared error; -mean(y * log_softmax(f))).
/// </summary>
/// <param name="outputs">Network outputs f, samples x outputs, row-major.</param>
/// <param name="targets">Targets y, same shape.</param>
/// <param name="samples">Number of samples (rows).</param>
/// <param name="outputCount">Number of outputs per sample (columns).</param>
/// <param name="gradient">Receives dL/df, same shape.</param>
public delegate void LossGradient(ReadOnlySpan<double> outputs, ReadOnlySpan<double> targets, int samples, int outputCount, Span<double> gradient);

/// <summary>Summed losses and their gradients for <see cref="OdeDynamics"/>.</summary>
public static class Losses
{
    /// <summary>1/2 sum (f - y)^2.</summary>
    /// <param name="outputs">f.</param>
    /// <param name="targets">y, same length.</param>
    public static double Mse(ReadOnlySpan<double> outputs, ReadOnlySpan<double> targets)
    {
        RequireSameLength(outputs, targets);
        double s = 0;
        for (int i = 0; i < outputs.Length; i++) { double d = outputs[i] - targets[i]; s += d * d; }
        return 0.5 * s;
    }

    /// <summary>Gradient of <see cref="Mse"/>: f - y. With it <see cref="OdeDynamics"/> reproduces <see cref="GradientDescentMse"/>.</summary>
    /// <param name="outputs">f, samples x outputs.</param>
    /// <param name="targets">y.</param>
    /// <param name="samples">Rows.</param>
    /// <param name="outputCount">Columns.</param>
    /// <param name="gradient">Receives f - y.</param>
    public static void MseGradient(ReadOnlySpan<double> outputs, ReadOnlySpan<double> targets, int samples, int outputCount, Span<double> gradient)
    {
        RequireShape(outputs, targets, samples, outputCount, gradient);
        for (int i = 0; i < outputs.Length; i++) gradient[i] = outputs[i] - targets[i];
    }

    /// <summary>Softmax cross-entropy -sum_i sum_o y_io log softmax(f_i)_o (targets: one-hot or probabilities per row).</summary>
    /// <param name="outputs">Logits f, samples x outputs.</param>
    /// <param name="targets">y, same shape.</param>
    /// <param name="samples">Rows.</param>
    /// <param name="outputCount">Columns (classes).</param>
    public static double SoftmaxCrossEntropy(ReadOnlySpan<double> outputs, ReadOnlySpan<double> targets, int samples, int outputCount)
    {
        RequireShape(outputs, targets, samples, outputCount);
        double loss = 0;
        for (int r = 0; r < samples; r++)
        {
            var f = outputs.Slice(r * outputCount, outputCount);
            double lse = LogSumExp(f);
            for (int o = 0; o < outputCount; o++) loss -= targets[r * outputCount + o] * (f[o] - lse);
        }
        return loss;
    }

    /// <summary>Gradient of <see cref="SoftmaxCrossEntropy"/>: softmax(f_i) * sum_o y_io - y_i per row (stable softmax).</summary>
    /// <param name="outputs">Logits f, samples x outputs.</param>
    /// <param name="targets">y.</param>
    /// <param name="samples">Rows.</param>
    /// <param name="outputCount">Columns (classes).</param>
    /// <param name="gradient">Receives dL/df.</param>
    public static void SoftmaxCrossEntropyGradient(ReadOnlySpan<double> outputs, ReadOnlySpan<double> targets, int samples, int outputCount, Span<double> gradient)
    {
        RequireShape(outputs, targets, samples, outputCount, gradient);
        for (int r = 0; r < samples; r++)
        {
            var f = outputs.Slice(r * outputCount, outputCount);
            var y = targets.Slice(r * outputCount, outputCount);
            double lse = LogSumExp(f), ySum = 0;
            for (int o = 0; o < outputCount; o++) ySum += y[o];
            for (int o = 0; o < outputCount; o++) gradient[r * outputCount + o] = Math.Exp(f[o] - lse) * ySum - y[o];
        }
    }

    private static double LogSumExp(ReadOnlySpan<double> f)
    {
        double max = double.NegativeInfinity;
        foreach (var v in f) max = Math.Max(max, v);
        double s = 0;
        foreach (var v in f) s += Math.Exp(v - max);
        return max + Math.Log(s);
    }

    private static void RequireSameLength(ReadOnlySpan<double> outputs, ReadOnlySpan<double> targets)
    {
        if (outputs.Length != targets.Length)
            throw new ArgumentException($"targets must have the length of outputs ({outputs.Length}); got {targets.Length}.", nameof(targets));
    }

    private static void RequireShape(ReadOnlySpan<double> outputs, ReadOnlySpan<double> targets, int samples, int outputCount)
    {
        if (samples < 0 || outputCount < 0 || (long)samples * outputCount != outputs.Length)
            throw new ArgumentException($"outputs must hold samples x outputCount = {samples} x {outputCount} values; got {outputs.Length}.", nameof(outputs));
        RequireSameLength(outputs, targets);
    }

    private static void RequireShape(ReadOnlySpan<double> outputs, ReadOnlySpan<double> targets, int samples, int outputCount, Span<double> gradient)
    {
        RequireShape(outputs, targets, samples, outputCount);
        if (gradient.Length != outputs.Length)
            throw new ArgumentException($"gradient must have the length of outputs ({outputs.Length}); got {gradient.Length}.", nameof(gradient));
    }
}

/// <summary>Outputs (and momentum variables) of function-space training at one time.</summary>
public sealed class OdeState
{
    internal OdeState(double time, Matrix<double> train, Matrix<double>? test, Matrix<double>? momentumTrain, Matrix<double>? momentumTest)
    {
        Time = time;
        Train = train;
        Test = test;
        MomentumTrain = momentumTrain;
        MomentumTest = momentumTest;
    }

    /// <summary>Training time in steps.</summary>
    public double Time { get; }

    /// <summary>Train outputs, n x O.</summary>
    public Matrix<double> Train { get; }

    /// <summary>Test outputs, n* x O, or null without a test kernel.</summary>
    public Matrix<double>? Test { get; }

    /// <summary>
    /// With momentum: df/dtau on the train set, tau = sqrt(eta) t (neural-tangents' qx_train); one discrete step
    /// changes f by about sqrt(eta) times this. Null without momentum.
    /// </summary>
    public Matrix<double>? MomentumTrain { get; }

    /// <summary>With momentum: df/dtau on the test set; null without momentum or test kernel.</summary>
    public Matrix<double>? MomentumTest { get; }
}

/// <summary>States at the requested times and the integrator's work counters.</summary>
public sealed class OdeTrajectory
{
    internal OdeTrajectory(IReadOnlyList<OdeState> states, int accepted, int rejected, int evaluations)
    {
        States = states;
        AcceptedSteps = accepted;
        RejectedSteps = rejected;
        Evaluations = evaluations;
    }

    /// <summary>One state per requested time, in order.</summary>
    public IReadOnlyList<OdeState> States { get; }

    /// <summary>Accepted Runge-Kutta steps.</summary>
    public int AcceptedSteps { get; }

    /// <summary>Rejected Runge-Kutta steps.</summary>
    public int RejectedSteps { get; }

    /// <summary>Loss-gradient evaluations.</summary>
    public int Evaluations { get; }
}

/// <summary>
/// Function-space training of a linearized network under an arbitrary loss (neural-tangents'
/// <c>predict.gradient_descent</c>), integrated with <see cref="DormandPrince45"/>.
/// </summary>
/// <remarks>
/// <para>Gradient descent: df/dt = -(eta / n_y) Theta grad_f L(f), df*/dt = -(eta / n_y) Theta(X*, X) grad_f L(f),
/// t in steps, n_y = n O, L the summed loss of <see cref="LossGradient"/>.</para>
/// <para>Heavy-ball momentum mu (theta_{k+1} = theta_k + v_{k+1}, v_{k+1} = mu v_k - eta grad): the second-order ODE
/// f'' = ((mu - 1) / sqrt(eta)) f' - (1 / n_y) Theta grad_f L(f) in tau = sqrt(eta) t, starting at rest, the
/// continuous limit for small eta with (1 - mu) / sqrt(eta) fixed (neural-tangents' formulation).</para>
/// </remarks>
public sealed class OdeDynamics
{
    private readonly TrainKernel _kernel;
    private readonly Matrix<double> _y;
    private readonly LossGradient _loss;
    private readonly OdeOptions _options;

    /// <summary>Validates the kernel and targets.</summary>
    /// <param name="kTrainTrain">Theta(X, X): n x n shared, or (n O) x (n O) full.</param>
    /// <param name="yTrain">Targets, n x O.</param>
    /// <param name="lossGradient">Gradient of the summed loss, e.g. <see cref="Losses.MseGradient"/> or <see cref="Losses.SoftmaxCrossEntropyGradient"/>.</param>
    /// <param name="learningRate">eta &gt; 0.</param>
    /// <param name="momentum">Null for plain gradient descent; otherwise mu in [0, 1).</param>
    /// <param name="options">Integrator tolerances (default rtol 1e-8, atol 1e-10).</param>
    public OdeDynamics(Matrix<double> kTrainTrain, Matrix<double> yTrain, LossGradient lossGradient, double learningRate = 1.0,
        double? momentum = null, OdeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(lossGradient);
        if (!double.IsFinite(learningRate) || learningRate <= 0)
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"learningRate must be finite and > 0, got {DynamicsMath.Fmt(learningRate)}.");
        if (momentum is { } mu && (!double.IsFinite(mu) || mu < 0 || mu >= 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), mu, $"momentum must be in [0, 1), got {DynamicsMath.Fmt(mu)}.");
        _kernel = TrainKernel.Create(kTrainTrain, nameof(kTrainTrain), yTrain, 0.0, false, CpuKernelLinearAlgebra.Instance);
        DynamicsMath.RequireFinite(yTrain, nameof(yTrain));
        _y = new Matrix<double>(yTrain.Rows, yTrain.Cols, (double[])yTrain.Data.Clone());
        _loss = lossGradient;
        LearningRate = learningRate;
        Momentum = momentum;
        _options = options ?? new OdeOptions();
    }

    /// <summary>The learning rate eta.</summary>
    public double LearningRate { get; }

    /// <summary>The momentum mu, or null for plain gradient descent.</summary>
    public double? Momentum { get; }

    /// <summary>n_y = n O.</summary>
    public int TargetCount => _kernel.TargetCount;

    /// <summary>The state at time t.</summary>
    /// <param name="t">Training time in steps, finite and &gt;= 0.</param>
    /// <param name="fTrain0">Train outputs at t = 0, n x O; null means zeros.</param>
    /// <param name="fTest0">Test outputs at t = 0, n* x O; null means zeros. Requires <paramref name="kTestTrain"/>.</param>
    /// <param name="kTestTrain">Theta(X*, X), or null for train outputs only.</param>
    public OdeState Solve(double t, Matrix<double>? fTrain0 = null, Matrix<double>? fTest0 = null, Matrix<double>? kTestTrain = null)
        => Solve([t], fTrain0, fTest0, kTestTrain).States[0];

    /// <summary>The states at several times in one integration.</summary>
    /// <param name="times">Training times in steps: finite, &gt;= 0, non-decreasing.</param>
    /// <param name="fTrain0">Train outputs at t = 0, n x O; null means zeros.</param>
    /// <param name="fTest0">Test outputs at t = 0, n* x O; null means zeros. Requires <paramref name="kTestTrain"/>.</param>
    /// <param name="kTestTrain">Theta(X*, X), or null for train outputs only.</param>
    public OdeTrajectory Solve(IReadOnlyList<double> times, Matrix<double>? fTrain0 = null, Matrix<double>? fTest0 = null, Matrix<double>? kTestTrain = null)
    {
        ArgumentNullException.ThrowIfNull(times);
        double prev = 0;
        for (int i = 0; i < times.Count; i++)
        {
            string name = times.Count == 1 ? "t" : $"times[{i}]";
            if (!double.IsFinite(times[i]))
                throw new ArgumentOutOfRangeException(name, times[i], $"{name} must be finite; the ODE cannot be integrated to infinity (use GradientDescentMse for the MSE limit).");
            if (times[i] < prev)
                throw new ArgumentOutOfRangeException(name, times[i], $"{name} must be >= 0 and times non-decreasing; got {DynamicsMath.Fmt(times[i])} after {DynamicsMath.Fmt(prev)}.");
            prev = times[i];
        }
        int n = _kernel.Samples, o = _kernel.Outputs, m = _kernel.Dim, c = _kernel.RhsCols;
        int nTrain = n * o;
        if (fTrain0 is not null)
        {
            DynamicsMath.RequireShape(fTrain0, n, o, nameof(fTrain0), "train samples by outputs, like yTrain");
            DynamicsMath.RequireFinite(fTrain0, nameof(fTrain0));
        }
        if (kTestTrain is null && fTest0 is not null)
            throw new ArgumentException("fTest0 was given without kTestTrain; test predictions need Theta(X*, X).", nameof(kTestTrain));
        int nTestSamples = 0;
        if (kTestTrain is not null)
        {
            nTestSamples = _kernel.TestSamples(kTestTrain, nameof(kTestTrain));
            if (fTest0 is not null)
            {
                DynamicsMath.RequireShape(fTest0, nTestSamples, o, nameof(fTest0), "test samples by outputs, matching kTestTrain");
                DynamicsMath.RequireFinite(fTest0, nameof(fTest0));
            }
        }
        int nTest = nTestSamples * o, mTest = kTestTrain?.Rows ?? 0;
        bool withMomentum = Momentum is not null;
        int size = (nTrain + nTest) * (withMomentum ? 2 : 1);
        var y0 = new double[size];
        fTrain0?.Data.CopyTo(y0, 0);
        fTest0?.Data.CopyTo(y0, nTrain);

        var k = _kernel.Raw.Data;
        var kt = kTestTrain?.Data;
        var yData = _y.Data;
        var grad = new double[nTrain];
        double invNy = 1.0 / TargetCount;
        double sqrtLr = Math.Sqrt(LearningRate);
        double friction = withMomentum ? (Momentum!.Value - 1) / sqrtLr : 0;
        // Without momentum integrate in steps t (rate eta / n_y); with momentum in tau = sqrt(eta) t.
        double forceScale = withMomentum ? invNy : LearningRate * invNy;
        double timeScale = withMomentum ? sqrtLr : 1.0;
        int evals = 0;

        void Rhs(double _, ReadOnlySpan<double> state, Span<double> d)
        {
            evals++;
            _loss(state[..nTrain], yData, n, o, grad);
            foreach (var g in grad)
                if (!double.IsFinite(g))
                    throw new InvalidOperationException("lossGradient returned NaN or infinity; the outputs diverged or the loss is undefined there.");
            // Force = -scale * Theta grad (train) and -scale * Theta* grad (test), grad seen as m x c.
            var forceTrain = withMomentum ? d.Slice(nTrain + nTest, nTrain) : d[..nTrain];
            MatMul(k, m, m, grad, c, forceTrain, -forceScale);
            if (kt is not null)
            {
                var forceTest = withMomentum ? d.Slice(2 * nTrain + nTest, nTest) : d.Slice(nTrain, nTest);
                MatMul(kt, mTest, m, grad, c, forceTest, -forceScale);
            }
            if (withMomentum)
            {
                int half = nTrain + nTest;
                for (int i = 0; i < half; i++)
                {
                    double q = state[half + i];
                    d[i] = q;                       // df/dtau = q
                    d[half + i] += friction * q;    // dq/dtau = force + friction q
                }
            }
        }

        var scaled = new double[times.Count];
        for (int i = 0; i < times.Count; i++) scaled[i] = times[i] * timeScale;
        var sol = DormandPrince45.Integrate(Rhs, 0.0, y0, scaled, _options);

        var states = new OdeState[times.Count];
        for (int i = 0; i < times.Count; i++)
        {
            var s = sol.States[i];
            Matrix<double> Slice(int offset, int rows) => new(rows, o, s.AsSpan(offset, rows * o).ToArray());
            var train = Slice(0, n);
            var test = kTestTrain is null ? null : Slice(nTrain, nTestSamples);
            Matrix<double>? qTrain = null, qTest = null;
            if (withMomentum)
            {
                qTrain = Slice(nTrain + nTest, n);
                qTest = kTestTrain is null ? null : Slice(2 * nTrain + nTest, nTestSamples);
            }
            states[i] = new OdeState(times[i], train, test, qTrain, qTest);
        }
        return new OdeTrajectory(states, sol.AcceptedSteps, sol.RejectedSteps, evals);
    }

    /// <summary>dst = scale * A B with A rows x inner (row-major), B inner x cols.</summary>
    private static void MatMul(double[] a, int rows, int inner, ReadOnlySpan<double> b, int cols, Span<double> dst, double scale)
    {
        dst.Clear();
        for (int i = 0; i < rows; i++)
        {
            var row = dst.Slice(i * cols, cols);
            for (int kk = 0; kk < inner; kk++)
            {
                double aik = a[i * inner + kk] * scale;
                if (aik == 0) continue;
                var brow = b.Slice(kk * cols, cols);
                for (int j = 0; j < cols; j++) row[j] += aik * brow[j];
            }
        }
    }
}

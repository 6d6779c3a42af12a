namespace NtkDsl;

/// <summary>Outputs of a trained (linearized) network at one training time.</summary>
public sealed class MsePrediction
{
    /// <summary>Creates a prediction.</summary>
    /// <param name="time">Training time t in steps.</param>
    /// <param name="train">Train outputs, n x O.</param>
    /// <param name="test">Test outputs, n* x O, or null when no test kernel was given.</param>
    public MsePrediction(double time, Matrix<double> train, Matrix<double>? test)
    {
        Time = time;
        Train = train;
        Test = test;
    }

    /// <summary>Training time t, in steps (+infinity for the converged kernel-regression solution).</summary>
    public double Time { get; }

    /// <summary>Outputs on the training set, n x O.</summary>
    public Matrix<double> Train { get; }

    /// <summary>Outputs on the test set, n* x O; null when no test-train kernel was given.</summary>
    public Matrix<double>? Test { get; }
}

/// <summary>
/// Closed-form continuous-time gradient descent on the MSE loss in function space (neural-tangents'
/// <c>predict.gradient_descent_mse</c>), the exact training dynamics of a linearized network.
/// </summary>
/// <remarks>
/// <para>Loss: L = 1/(2 n_y) sum over the n x O train outputs of (f - y)^2, with n_y = n O scalar targets;
/// gradient flow df/dt = -(eta / n_y) Theta (f - y), t measured in steps of learning rate eta.
/// With Theta + diag_reg = V diag(l) V^T (one eigendecomposition, cached) and s = eta t / n_y:</para>
/// <para>f_train(t) = f0 + V diag(expm1(-l s)) V^T (f0 - y),</para>
/// <para>f_test(t) = f0* + Theta(X*, X) V diag(expm1(-l s) / l) V^T (f0 - y).</para>
/// <para>expm1(-l s)/l tends to -s as l -&gt; 0; that limit is used for zero (and round-off negative)
/// eigenvalues, where neural-tangents returns NaN. t = +infinity is kernel regression through a
/// Cholesky solve (cached): f_train = y, f_test = f0* + Theta* (Theta + diag_reg)^-1 (y - f0).</para>
/// <para>A handful of finite times on a kernel that has not been decomposed yet may instead take a cheaper route chosen by
/// a cost model: the same matrix functions expm1(-Theta s) and expm1(-Theta s) Theta^-1 applied to f0 - y as Chebyshev
/// expansions (one shared recurrence of products with the m x O residual, degree ~ 6 sqrt(lambda_max s)), after a
/// Cholesky factorization of Theta + 1e-5 lambda_bound I has certified the positive semidefiniteness that the
/// eigendecomposition route checks. Both routes agree to round-off.</para>
/// <para>diag_reg is added to the train-train kernel for both paths (relative: diag_reg * trace(Theta)/m,
/// the mean diagonal, like neural-tangents' diag_reg_absolute_scale=False; or absolute). Train outputs
/// therefore follow the regularized dynamics; for the ridge-regression fit on the training points pass
/// Theta(X, X) as the test-train kernel.</para>
/// </remarks>
public sealed class GradientDescentMse : IDisposable
{
    private readonly TrainKernel _kernel;
    private readonly Matrix<double> _y;
    private readonly IKernelLinearAlgebra _la;
    private bool _disposed;

    /// <summary>Validates the inputs; the eigendecomposition / Cholesky factor are computed on first use and cached.</summary>
    /// <param name="kTrainTrain">Theta(X, X): n x n shared by all outputs (<see cref="KernelLayout.Shared"/>), or (n O) x (n O) (<see cref="KernelLayout.Full"/>).</param>
    /// <param name="yTrain">Targets, n x O.</param>
    /// <param name="learningRate">eta; times are in steps, so only eta t matters.</param>
    /// <param name="diagReg">Diagonal regularization, &gt;= 0.</param>
    /// <param name="diagRegAbsoluteScale">False: add diagReg * mean diagonal of the kernel; true: add diagReg itself.</param>
    /// <param name="linearAlgebra">Decompositions to use; defaults to <see cref="CpuKernelLinearAlgebra"/>.</param>
    public GradientDescentMse(Matrix<double> kTrainTrain, Matrix<double> yTrain, double learningRate = 1.0,
        double diagReg = 0.0, bool diagRegAbsoluteScale = false, IKernelLinearAlgebra? linearAlgebra = null)
    {
        ArgumentNullException.ThrowIfNull(kTrainTrain);
        ArgumentNullException.ThrowIfNull(yTrain);
        if (!double.IsFinite(learningRate) || learningRate <= 0)
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"learningRate must be finite and > 0, got {DynamicsMath.Fmt(learningRate)}.");
        _la = linearAlgebra ?? CpuKernelLinearAlgebra.Instance;
        _kernel = TrainKernel.Create(kTrainTrain, nameof(kTrainTrain), yTrain, diagReg, diagRegAbsoluteScale, _la);
        DynamicsMath.RequireFinite(yTrain, nameof(yTrain));
        _y = new Matrix<double>(yTrain.Rows, yTrain.Cols, (double[])yTrain.Data.Clone());
        LearningRate = learningRate;
    }

    /// <summary>Whether the kernel is shared across outputs or full.</summary>
    public KernelLayout Layout => _kernel.Layout;

    /// <summary>Number of training samples n.</summary>
    public int TrainSamples => _kernel.Samples;

    /// <summary>Number of outputs O.</summary>
    public int Outputs => _kernel.Outputs;

    /// <summary>n_y = n O, the number of scalar targets that normalizes the loss (1/2 mean).</summary>
    public int TargetCount => _kernel.TargetCount;

    /// <summary>The learning rate eta.</summary>
    public double LearningRate { get; }

    /// <summary>The absolute value added to the kernel diagonal by diag_reg.</summary>
    public double DiagonalShift => _kernel.Shift;

    /// <summary>Eigenvalues (ascending) of the regularized train-train kernel; computes the cached decomposition.</summary>
    public IReadOnlyList<double> Eigenvalues => _kernel.Eigen.Eigenvalues;

    /// <summary>Train outputs at time t (in steps; +infinity for convergence).</summary>
    /// <param name="t">Training time, &gt;= 0.</param>
    /// <param name="fTrain0">Outputs at initialization, n x O; null means zeros.</param>
    public Matrix<double> PredictTrain(double t, Matrix<double>? fTrain0 = null) => Predict(t, fTrain0).Train;

    /// <summary>Test outputs at time t (in steps; +infinity gives kernel regression).</summary>
    /// <param name="t">Training time, &gt;= 0.</param>
    /// <param name="fTrain0">Train outputs at initialization, n x O; null means zeros.</param>
    /// <param name="fTest0">Test outputs at initialization, n* x O; null means zeros.</param>
    /// <param name="kTestTrain">Theta(X*, X): n* x n (shared) or (n* O) x (n O) (full).</param>
    public Matrix<double> PredictTest(double t, Matrix<double>? fTrain0, Matrix<double>? fTest0, Matrix<double> kTestTrain)
    {
        ArgumentNullException.ThrowIfNull(kTestTrain);
        return Predict(t, fTrain0, fTest0, kTestTrain).Test!;
    }

    /// <summary>Train and (if <paramref name="kTestTrain"/> is given) test outputs at time t.</summary>
    /// <param name="t">Training time in steps, &gt;= 0; +infinity gives the converged solution (kernel regression).</param>
    /// <param name="fTrain0">Train outputs at initialization, n x O; null means zeros.</param>
    /// <param name="fTest0">Test outputs at initialization, n* x O; null means zeros. Requires <paramref name="kTestTrain"/>.</param>
    /// <param name="kTestTrain">Theta(X*, X), or null for train outputs only.</param>
    public MsePrediction Predict(double t, Matrix<double>? fTrain0 = null, Matrix<double>? fTest0 = null, Matrix<double>? kTestTrain = null)
        => Predict([t], fTrain0, fTest0, kTestTrain)[0];

    /// <summary>
    /// Releases the cached Cholesky factor (pooled n x n memory on the CPU, the factor tensor with the torch
    /// adapter); idempotent. Predictions throw <see cref="ObjectDisposedException"/> afterwards.
    /// </summary>
    public void Dispose()
    {
        _disposed = true;
        _kernel.Dispose();
    }

    /// <summary>
    /// Outputs at several times, sharing one projection of the residual onto the eigenbasis
    /// (cheaper than one call per time; identical results).
    /// </summary>
    /// <param name="times">Training times in steps, each &gt;= 0 (+infinity allowed), any order.</param>
    /// <param name="fTrain0">Train outputs at initialization, n x O; null means zeros.</param>
    /// <param name="fTest0">Test outputs at initialization, n* x O; null means zeros. Requires <paramref name="kTestTrain"/>.</param>
    /// <param name="kTestTrain">Theta(X*, X), or null for train outputs only.</param>
    /// <returns>One prediction per time, in the order given.</returns>
    public IReadOnlyList<MsePrediction> Predict(IReadOnlyList<double> times, Matrix<double>? fTrain0 = null,
        Matrix<double>? fTest0 = null, Matrix<double>? kTestTrain = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(times);
        for (int i = 0; i < times.Count; i++) DynamicsMath.RequireTime(times[i], times.Count == 1 ? "t" : $"times[{i}]");
        int n = TrainSamples, o = Outputs;
        var f0 = CheckTrainOutputs(fTrain0, nameof(fTrain0));
        int nTest = 0;
        if (kTestTrain is null && fTest0 is not null)
            throw new ArgumentException("fTest0 was given without kTestTrain; test predictions need Theta(X*, X).", nameof(kTestTrain));
        Matrix<double>? f0Test = null;
        if (kTestTrain is not null)
        {
            nTest = _kernel.TestSamples(kTestTrain, nameof(kTestTrain));
            if (fTest0 is not null)
            {
                DynamicsMath.RequireShape(fTest0, nTest, o, nameof(fTest0), "test samples by outputs, matching kTestTrain");
                DynamicsMath.RequireFinite(fTest0, nameof(fTest0));
                f0Test = fTest0;
            }
            else f0Test = new Matrix<double>(nTest, o);
        }

        int m = _kernel.Dim, c = _kernel.RhsCols;
        var results = new MsePrediction[times.Count];
        var residual = DynamicsMath.Add(f0, _y, -1.0);     // f0 - y, n x O
        var r = _kernel.AsRhs(residual);                    // m x c

        bool anyFinite = false, anyInfinite = false;
        foreach (var t in times) { if (double.IsPositiveInfinity(t)) anyInfinite = true; else anyFinite = true; }

        if (anyFinite && ChooseRoute(times, kTestTrain?.Rows ?? 0, out double bound) == DynamicsRoute.Chebyshev)
        {
            // A handful of times on a kernel not decomposed yet: matrix functions by one Chebyshev recurrence.
            var coefficients = new List<double[]>();
            foreach (var t in times)
            {
                if (double.IsPositiveInfinity(t)) continue;
                double s = t * LearningRate / TargetCount;
                int degree = ChebyshevDynamics.Degree(bound, s);
                coefficients.Add(ChebyshevDynamics.Coefficients(x => DynamicsMath.NegExpm1(x, s), bound, degree));
                if (kTestTrain is not null) coefficients.Add(ChebyshevDynamics.Coefficients(x => DynamicsMath.InvExpm1(x, s), bound, degree));
            }

            var sums = ChebyshevDynamics.Apply(_la, _kernel.Regularized, bound, r, coefficients);
            int next = 0;
            for (int ti = 0; ti < times.Count; ti++)
            {
                if (double.IsPositiveInfinity(times[ti])) continue;
                var train = DynamicsMath.Add(f0, DynamicsMath.Reshape(sums[next++], n, o));
                Matrix<double>? test = null;
                if (kTestTrain is not null)
                    test = DynamicsMath.Add(f0Test!, DynamicsMath.Reshape(_la.Multiply(kTestTrain, false, sums[next++], false), nTest, o));
                results[ti] = new MsePrediction(times[ti], train, test);
            }
        }
        else if (anyFinite)
        {
            var eig = _kernel.Eigen;
            var l = eig.Values;
            var p = eig.MultiplyEigenvectors(r, transpose: true, _la);   // V^T (f0 - y), m x c
            // Times in batches: V times the scaled p of every time in the batch side by side (train decays, then test
            // weights), one product that reads V (or its factors) once instead of one matrix-vector product per time.
            // The test outputs are Theta* (V weights): nTest m k multiply-adds for k columns, not the nTest m^2 of Theta* V.
            var finite = Enumerable.Range(0, times.Count).Where(i => !double.IsPositiveInfinity(times[i])).ToArray();
            int perBatch = Math.Max(1, BatchColumns / c);
            for (int start = 0; start < finite.Length; start += perBatch)
            {
                int count = Math.Min(perBatch, finite.Length - start), width = c * count;
                var scaled = new Matrix<double>(m, kTestTrain is null ? width : 2 * width);
                int stride = scaled.Cols;
                for (int b = 0; b < count; b++)
                {
                    double s = times[finite[start + b]] * LearningRate / TargetCount;
                    for (int i = 0; i < m; i++)
                    {
                        double dl = DynamicsMath.NegExpm1(l[i], s), il = kTestTrain is null ? 0 : DynamicsMath.InvExpm1(l[i], s);
                        for (int j = 0; j < c; j++)
                        {
                            scaled.Data[i * stride + b * c + j] = dl * p.Data[i * c + j];
                            if (kTestTrain is not null) scaled.Data[i * stride + width + b * c + j] = il * p.Data[i * c + j];
                        }
                    }
                }

                var projected = eig.MultiplyEigenvectors(scaled, transpose: false, _la);
                var dTest = kTestTrain is null ? null : _la.Multiply(kTestTrain, false, Columns(projected, width, width), false);
                for (int b = 0; b < count; b++)
                {
                    int ti = finite[start + b];
                    var train = DynamicsMath.Add(f0, DynamicsMath.Reshape(Columns(projected, b * c, c), n, o));
                    var test = dTest is null ? null : DynamicsMath.Add(f0Test!, DynamicsMath.Reshape(Columns(dTest, b * c, c), nTest, o));
                    results[ti] = new MsePrediction(times[ti], train, test);
                }
            }
        }

        if (anyInfinite)
        {
            var chol = _kernel.Cholesky;   // also validates PD for train-only calls: a singular kernel never reaches y
            Matrix<double>? test = null;
            if (kTestTrain is not null)
            {
                var yMinusF0 = DynamicsMath.Add(_y, f0, -1.0);
                var alpha = chol.Solve(_kernel.AsRhs(yMinusF0));   // (Theta + reg)^-1 (y - f0)
                var dTest = _la.Multiply(kTestTrain, false, alpha, false);
                test = DynamicsMath.Add(f0Test!, DynamicsMath.Reshape(dTest, nTest, o));
            }
            for (int ti = 0; ti < times.Count; ti++)
            {
                if (!double.IsPositiveInfinity(times[ti])) continue;
                var train = new Matrix<double>(n, o, (double[])_y.Data.Clone());
                results[ti] = new MsePrediction(times[ti], train,
                    test is null ? null : new Matrix<double>(test.Rows, test.Cols, (double[])test.Data.Clone()));
            }
        }
        return results;
    }

    /// <summary>
    /// neural-tangents' <c>predict.max_learning_rate</c>: the largest learning rate for which discrete
    /// gradient descent on the 1/2-mean MSE loss converges, 2 (1 + momentum) n_y / (lambda_max + eps)
    /// (the map f -&gt; f - (eta / n_y) Theta (f - y) is a contraction iff eta lambda_max / n_y &lt; 2).
    /// </summary>
    /// <remarks>
    /// n_y = n O counts every scalar target, so the limit depends on the number of outputs as well as on the kernel:
    /// a shared (trace) n x n kernel of a network with O outputs allows O times the rate of a single output. The
    /// targets are therefore a required argument, read exactly as by the constructor (same layout detection), and
    /// only lambda_max is computed (eigenvalues, no eigenvectors).
    /// </remarks>
    /// <param name="kTrainTrain">The train-train NTK: n x n shared by all outputs, or (n O) x (n O) full; symmetric.</param>
    /// <param name="yTrain">The targets, n x O (only their shape is used: it fixes n_y = n O and the kernel layout).</param>
    /// <param name="momentum">Heavy-ball momentum in [0, 1).</param>
    /// <param name="eps">Added to lambda_max to avoid dividing by zero.</param>
    /// <param name="linearAlgebra">Decompositions to use; defaults to <see cref="CpuKernelLinearAlgebra"/>.</param>
    public static double MaxLearningRate(Matrix<double> kTrainTrain, Matrix<double> yTrain, double momentum = 0.0,
        double eps = 1e-12, IKernelLinearAlgebra? linearAlgebra = null)
    {
        ArgumentNullException.ThrowIfNull(kTrainTrain);
        ArgumentNullException.ThrowIfNull(yTrain);
        if (yTrain.Rows == 0 || yTrain.Cols == 0)
            throw new ArgumentException($"yTrain must have at least one sample and one output; got {DynamicsMath.Shape(yTrain)}.", nameof(yTrain));
        TrainKernel.DetectLayout(kTrainTrain, nameof(kTrainTrain), yTrain.Rows, yTrain.Cols);
        if (!double.IsFinite(momentum) || momentum < 0 || momentum >= 1)
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1).");
        DynamicsMath.RequireFinite(eps, nameof(eps));
        var k = DynamicsMath.Symmetrized(kTrainTrain, nameof(kTrainTrain));   // rejects non-finite entries first
        var l = (linearAlgebra ?? CpuKernelLinearAlgebra.Instance).SymmetricEigenvalues(k);
        double targetCount = (double)yTrain.Rows * yTrain.Cols;
        return 2 * (1 + momentum) * targetCount / (l[^1] + eps);
    }

    /// <summary>Test hook: force a route instead of the cost model's choice.</summary>
    internal DynamicsRoute? ForcedRoute { get; set; }

    /// <summary>The route the last finite-time prediction took.</summary>
    internal DynamicsRoute LastRoute { get; private set; }

    // The cost model: the eigendecomposition (cached, so free once computed) against a Chebyshev recurrence whose degree
    // grows like sqrt(lambda_max s); the latter also needs a Cholesky factorization certifying that the kernel is PSD.
    private DynamicsRoute ChooseRoute(IReadOnlyList<double> times, int testRows, out double bound)
    {
        bound = 0;
        LastRoute = DynamicsRoute.Eigen;
        if (_kernel.HasEigen || ForcedRoute == DynamicsRoute.Eigen) return LastRoute;
        bound = ChebyshevDynamics.SpectralBound(_kernel.Regularized);
        if (!(bound > 0)) return LastRoute;
        int finite = 0;
        double sMax = 0;
        foreach (var t in times)
            if (!double.IsPositiveInfinity(t)) { finite++; sMax = Math.Max(sMax, t * LearningRate / TargetCount); }
        int degree = ChebyshevDynamics.Degree(bound, sMax);
        // Work already spent on this route counts against it (ski rental): many single-time calls end up decomposing
        // once instead of paying the recurrence forever, at most about twice the work of the better choice.
        double cost = ChebyshevDynamics.Cost(_kernel.Dim, _kernel.RhsCols, testRows, degree, finite);
        bool cheaper = _chebyshevWork + cost < ChebyshevDynamics.EigenCost(_kernel.Dim, testRows);
        if ((cheaper || ForcedRoute == DynamicsRoute.Chebyshev) && _kernel.IsCertifiedPsd(bound))
        {
            LastRoute = DynamicsRoute.Chebyshev;
            _chebyshevWork += cost;
        }

        return LastRoute;
    }

    private double _chebyshevWork;

    private Matrix<double> CheckTrainOutputs(Matrix<double>? f, string name)
    {
        if (f is null) return new Matrix<double>(TrainSamples, Outputs);
        DynamicsMath.RequireShape(f, TrainSamples, Outputs, name, "train samples by outputs, like yTrain");
        DynamicsMath.RequireFinite(f, name);
        return f;
    }

    /// <summary>Columns per batched product of the eigen route (times x right-hand sides): V is read once per batch.</summary>
    private const int BatchColumns = 512;

    private static Matrix<double> Columns(Matrix<double> m, int first, int count)
    {
        var s = new Matrix<double>(m.Rows, count);
        for (int i = 0; i < m.Rows; i++) m.Row(i).Slice(first, count).CopyTo(s.Row(i));
        return s;
    }
}

/// <summary>How <see cref="GradientDescentMse"/> evaluates finite times.</summary>
internal enum DynamicsRoute
{
    /// <summary>One (cached) eigendecomposition.</summary>
    Eigen,

    /// <summary>Chebyshev expansions of the matrix functions (<see cref="ChebyshevDynamics"/>).</summary>
    Chebyshev,
}

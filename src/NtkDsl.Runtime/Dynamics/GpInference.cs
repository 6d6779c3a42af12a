namespace NtkDsl;

/// <summary>Which Gaussian "posterior" of an infinitely wide network to compute (neural-tangents' <c>get</c>).</summary>
public enum PosteriorKind
{
    /// <summary>Exact Bayesian posterior of the infinitely wide network: GP with the NNGP kernel
    /// (equivalently, gradient descent when only the last layer is trained).</summary>
    Nngp,

    /// <summary>Infinite ensemble of infinitely wide networks trained by gradient flow on MSE: mean
    /// from the NTK, covariance from NTK and NNGP.</summary>
    Ntk,

    /// <summary>GP posterior with the NTK as covariance ("NTKGP", Bayesian deep ensembles);
    /// only <see cref="GpInference"/> supports it.</summary>
    NtkGp,
}

/// <summary>An NNGP kernel block and an NTK kernel block over the same pair of input sets; either may be null when not needed.</summary>
public sealed class KernelPair
{
    /// <summary>Creates the pair.</summary>
    /// <param name="nngp">NNGP covariance block (Sigma), or null.</param>
    /// <param name="ntk">NTK block (Theta), or null.</param>
    public KernelPair(Matrix<double>? nngp, Matrix<double>? ntk)
    {
        Nngp = nngp;
        Ntk = ntk;
    }

    /// <summary>The NNGP block, or null.</summary>
    public Matrix<double>? Nngp { get; }

    /// <summary>The NTK block, or null.</summary>
    public Matrix<double>? Ntk { get; }
}

/// <summary>A Gaussian over network outputs: mean and, when requested, covariance.</summary>
public sealed class GaussianPrediction
{
    /// <summary>Creates the prediction.</summary>
    /// <param name="time">Training time in steps (+infinity for the converged / GP posterior).</param>
    /// <param name="mean">Mean, samples x O.</param>
    /// <param name="covariance">Covariance or null (see <see cref="Covariance"/>).</param>
    public GaussianPrediction(double time, Matrix<double> mean, Matrix<double>? covariance)
    {
        Time = time;
        Mean = mean;
        Covariance = covariance;
    }

    /// <summary>Training time in steps; +infinity for the converged solution / GP posterior.</summary>
    public double Time { get; }

    /// <summary>Mean outputs, samples x O.</summary>
    public Matrix<double> Mean { get; }

    /// <summary>
    /// Covariance between samples, or null when not requested. For a shared kernel it is samples x samples
    /// and applies to every output independently (outputs are i.i.d.); for a full kernel it is
    /// (samples O) x (samples O), sample-major.
    /// </summary>
    public Matrix<double>? Covariance { get; }
}

/// <summary>
/// Posterior mean and covariance of NNGP / NTK / NTKGP inference on a test set (neural-tangents'
/// <c>predict.gp_inference</c>), with Cholesky solves of the regularized train-train kernel (cached).
/// </summary>
/// <remarks>
/// With K = NNGP, Theta = NTK, subscripts t = test and d = train, and diag_reg added to the kernel being inverted:
/// <para>NNGP: mean = K_td K_dd^-1 y, cov = K_tt - K_td K_dd^-1 K_dt.</para>
/// <para>NTK: mean = Theta_td Theta_dd^-1 y, cov = K_tt + A K_dd A^T - (A K_dt + K_td A^T), A = Theta_td Theta_dd^-1
/// (K_dd in the middle is not regularized, as in neural-tangents).</para>
/// <para>NTKGP: mean as NTK, cov = Theta_tt - Theta_td Theta_dd^-1 Theta_dt.</para>
/// The prior mean is zero (an ensemble over initializations); train-set predictions are N(y, 0).
/// </remarks>
public sealed class GpInference : IDisposable
{
    private readonly TrainKernel? _nngp, _ntk;
    private readonly Matrix<double> _y;
    private readonly IKernelLinearAlgebra _la;
    private readonly Lazy<Matrix<double>>? _alphaNngp, _alphaNtk;
    private bool _disposed;

    /// <summary>Validates the train-train kernels and targets; factorizations happen on first use.</summary>
    /// <param name="trainTrain">NNGP and/or NTK on the training inputs (n x n shared, or (n O) x (n O) full).</param>
    /// <param name="yTrain">Targets, n x O.</param>
    /// <param name="diagReg">Diagonal regularization of the inverted kernel, &gt;= 0.</param>
    /// <param name="diagRegAbsoluteScale">False: diagReg times the mean diagonal; true: absolute.</param>
    /// <param name="linearAlgebra">Decompositions to use; defaults to <see cref="CpuKernelLinearAlgebra"/>.</param>
    public GpInference(KernelPair trainTrain, Matrix<double> yTrain, double diagReg = 0.0, bool diagRegAbsoluteScale = false,
        IKernelLinearAlgebra? linearAlgebra = null)
        : this(Build(trainTrain, yTrain, diagReg, diagRegAbsoluteScale, linearAlgebra ?? CpuKernelLinearAlgebra.Instance), yTrain,
               linearAlgebra ?? CpuKernelLinearAlgebra.Instance)
    {
    }

    internal GpInference((TrainKernel? Nngp, TrainKernel? Ntk) kernels, Matrix<double> yTrain, IKernelLinearAlgebra la)
    {
        (_nngp, _ntk) = kernels;
        _la = la;
        DynamicsMath.RequireFinite(yTrain, nameof(yTrain));
        _y = new Matrix<double>(yTrain.Rows, yTrain.Cols, (double[])yTrain.Data.Clone());
        var any = _nngp ?? _ntk!;
        if (_nngp is not null) _alphaNngp = new(() => _nngp.Cholesky.Solve(_nngp.AsRhs(_y)));
        if (_ntk is not null) _alphaNtk = new(() => _ntk.Cholesky.Solve(_ntk.AsRhs(_y)));
        Layout = any.Layout;
    }

    /// <summary>Shared (n x n) or full ((n O) x (n O)) kernel layout.</summary>
    public KernelLayout Layout { get; }

    /// <summary>
    /// Releases the cached Cholesky factor(s) (pooled n x n memory on the CPU, the factor tensor with the torch
    /// adapter); idempotent. Predictions throw <see cref="ObjectDisposedException"/> afterwards.
    /// </summary>
    public void Dispose()
    {
        _disposed = true;
        _nngp?.Dispose();
        _ntk?.Dispose();
    }

    /// <summary>Train-set prediction: always N(y, 0) (the posterior interpolates the targets), as in neural-tangents.</summary>
    /// <param name="kind">Posterior kind (only checked for the kernels it needs).</param>
    /// <param name="computeCovariance">Also return the (zero) covariance.</param>
    public GaussianPrediction PredictTrain(PosteriorKind kind, bool computeCovariance = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var k = Kernel(kind == PosteriorKind.Nngp ? _nngp : _ntk, kind == PosteriorKind.Nngp ? "trainTrain.Nngp" : "trainTrain.Ntk");
        var mean = new Matrix<double>(_y.Rows, _y.Cols, (double[])_y.Data.Clone());
        return new GaussianPrediction(double.PositiveInfinity, mean, computeCovariance ? new Matrix<double>(k.Dim, k.Dim) : null);
    }

    /// <summary>Posterior on a test set.</summary>
    /// <param name="kind">NNGP, NTK or NTKGP.</param>
    /// <param name="testTrain">Test-train blocks (n* x n shared, or (n* O) x (n O) full): the kind's kernel, plus NNGP for the NTK covariance.</param>
    /// <param name="kTestTest">Prior test-test kernel, n* x n* (or full): NNGP(X*, X*) for <see cref="PosteriorKind.Nngp"/> and
    /// <see cref="PosteriorKind.Ntk"/>, NTK(X*, X*) for <see cref="PosteriorKind.NtkGp"/>. Null: mean only.</param>
    public GaussianPrediction Predict(PosteriorKind kind, KernelPair testTrain, Matrix<double>? kTestTest = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(testTrain);
        bool nngpKind = kind == PosteriorKind.Nngp;
        var kdd = Kernel(nngpKind ? _nngp : _ntk, nngpKind ? "trainTrain.Nngp" : "trainTrain.Ntk");
        var ktd = Required(nngpKind ? testTrain.Nngp : testTrain.Ntk, nngpKind ? "testTrain.Nngp" : "testTrain.Ntk");
        int nTest = kdd.TestSamples(ktd, nngpKind ? "testTrain.Nngp" : "testTrain.Ntk");
        int mTest = ktd.Rows;
        var alpha = (nngpKind ? _alphaNngp! : _alphaNtk!).Value;
        var mean = DynamicsMath.Reshape(_la.Multiply(ktd, false, alpha, false), nTest, _y.Cols);
        if (kTestTest is null) return new GaussianPrediction(double.PositiveInfinity, mean, null);

        DynamicsMath.RequireShape(kTestTest, mTest, mTest, nameof(kTestTest), "prior test-test kernel matching testTrain");
        DynamicsMath.RequireFinite(kTestTest, nameof(kTestTest));
        Matrix<double> cov;
        if (kind is PosteriorKind.Nngp or PosteriorKind.NtkGp)
        {
            var solved = kdd.Cholesky.Solve(ktd.Transpose());                 // K_dd^-1 K_dt
            cov = DynamicsMath.Add(kTestTest, _la.Multiply(ktd, false, solved, false), -1.0);
        }
        else
        {
            var nngp = Kernel(_nngp, "trainTrain.Nngp");
            var nngpTd = Required(testTrain.Nngp, "testTrain.Nngp");
            nngp.TestSamples(nngpTd, "testTrain.Nngp");
            if (nngpTd.Rows != mTest)
                throw new ArgumentException($"testTrain.Nngp must have the shape of testTrain.Ntk ({DynamicsMath.Shape(ktd)}); got {DynamicsMath.Shape(nngpTd)}.", nameof(testTrain));
            var term1 = kdd.Cholesky.Solve(ktd.Transpose());                  // A^T = Theta_dd^-1 Theta_dt, m x m*
            var middle = _la.Multiply(term1, true, _la.Multiply(nngp.Raw, false, term1, false), false);  // A K_dd A^T
            var term2 = _la.Multiply(term1, true, nngpTd.Transpose(), false);   // A K_dt
            cov = new Matrix<double>(mTest, mTest);
            for (int i = 0; i < mTest; i++)
                for (int j = 0; j < mTest; j++)
                    cov.Data[i * mTest + j] = kTestTest.Data[i * mTest + j] + middle.Data[i * mTest + j]
                        - term2.Data[i * mTest + j] - term2.Data[j * mTest + i];
        }
        DynamicsMath.SymmetrizeInPlace(cov);
        return new GaussianPrediction(double.PositiveInfinity, mean, cov);
    }

    internal static (TrainKernel? Nngp, TrainKernel? Ntk) Build(KernelPair trainTrain, Matrix<double> yTrain, double diagReg,
        bool absolute, IKernelLinearAlgebra la)
    {
        ArgumentNullException.ThrowIfNull(trainTrain);
        ArgumentNullException.ThrowIfNull(yTrain);
        if (trainTrain.Nngp is null && trainTrain.Ntk is null)
            throw new ArgumentException("trainTrain needs at least one of Nngp and Ntk.", nameof(trainTrain));
        TrainKernel? nngp = trainTrain.Nngp is null ? null
            : TrainKernel.Create(trainTrain.Nngp, "trainTrain.Nngp", yTrain, diagReg, absolute, la);
        TrainKernel? ntk = trainTrain.Ntk is null ? null
            : TrainKernel.Create(trainTrain.Ntk, "trainTrain.Ntk", yTrain, diagReg, absolute, la, nngp?.Layout);
        return (nngp, ntk);
    }

    private static TrainKernel Kernel(TrainKernel? k, string name)
        => k ?? throw new ArgumentException($"{name} is required for this prediction but was not given.", name);

    private static Matrix<double> Required(Matrix<double>? k, string name)
        => k ?? throw new ArgumentException($"{name} is required for this prediction but was not given.", name);
}

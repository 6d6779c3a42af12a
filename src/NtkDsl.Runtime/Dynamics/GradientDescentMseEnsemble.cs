namespace NtkDsl;

/// <summary>
/// Mean and covariance of the outputs of an infinite ensemble of infinitely wide networks trained by
/// gradient flow on MSE, over random initializations (neural-tangents' <c>predict.gradient_descent_mse_ensemble</c>),
/// from the NNGP (K) and NTK (Theta) kernel blocks.
/// </summary>
/// <remarks>
/// <para>At initialization f0 ~ N(0, K); training is linear: f_t = f0 + (e^{-G s} - I)(f0 - y) on the
/// train set, with G the kernel of <see cref="PosteriorKind"/> (NTK, or NNGP for last-layer-only training),
/// s = eta t / n_y, n_y = n O. Hence, with W(s) = G^-1 (I - e^{-G s}):</para>
/// <para>mean_train = (I - e^{-G s}) y, mean_test = G_td W(s) y;</para>
/// <para>NNGP: cov_train = K e^{-2 K s}, cov_test = K_tt - K_td W(2 s) K_dt;</para>
/// <para>NTK: cov_train = e^{-Theta s} K e^{-Theta s}, cov_test = K_tt + A K A^T - (A K_dt + K_td A^T), A = Theta_td W(s).</para>
/// <para>One eigendecomposition per kernel (of G + diag_reg, cached); t = +infinity uses <see cref="GpInference"/>.</para>
/// </remarks>
public sealed class GradientDescentMseEnsemble : IDisposable
{
    private readonly TrainKernel? _nngp, _ntk;
    private readonly Matrix<double> _y;
    private readonly IKernelLinearAlgebra _la;
    private readonly GpInference _inf;
    private bool _disposed;

    /// <summary>Validates the train-train kernels; decompositions happen on first use.</summary>
    /// <param name="trainTrain">NNGP and/or NTK on the training inputs; NNGP is needed for every covariance and for <see cref="PosteriorKind.Nngp"/>.</param>
    /// <param name="yTrain">Targets, n x O.</param>
    /// <param name="learningRate">eta; times are in steps.</param>
    /// <param name="diagReg">Diagonal regularization of the kernel that drives training, &gt;= 0.</param>
    /// <param name="diagRegAbsoluteScale">False: diagReg times the mean diagonal; true: absolute.</param>
    /// <param name="linearAlgebra">Decompositions to use; defaults to <see cref="CpuKernelLinearAlgebra"/>.</param>
    public GradientDescentMseEnsemble(KernelPair trainTrain, Matrix<double> yTrain, double learningRate = 1.0, double diagReg = 0.0,
        bool diagRegAbsoluteScale = false, IKernelLinearAlgebra? linearAlgebra = null)
    {
        if (!double.IsFinite(learningRate) || learningRate <= 0)
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, $"learningRate must be finite and > 0, got {DynamicsMath.Fmt(learningRate)}.");
        _la = linearAlgebra ?? CpuKernelLinearAlgebra.Instance;
        var kernels = GpInference.Build(trainTrain, yTrain, diagReg, diagRegAbsoluteScale, _la);
        (_nngp, _ntk) = kernels;
        _inf = new GpInference(kernels, yTrain, _la);
        _y = new Matrix<double>(yTrain.Rows, yTrain.Cols, (double[])yTrain.Data.Clone());
        LearningRate = learningRate;
    }

    /// <summary>The learning rate eta.</summary>
    public double LearningRate { get; }

    /// <summary>n_y = n O, the loss normalization.</summary>
    public int TargetCount => _y.Rows * _y.Cols;

    /// <summary>
    /// Releases the cached Cholesky factor(s) (pooled n x n memory on the CPU, the factor tensor with the torch
    /// adapter); idempotent. Predictions throw <see cref="ObjectDisposedException"/> afterwards.
    /// </summary>
    public void Dispose()
    {
        _disposed = true;
        _inf.Dispose(); // disposes the train kernels, which this object shares with it
    }

    /// <summary>Ensemble distribution of the train outputs at time t.</summary>
    /// <param name="t">Training time in steps, &gt;= 0; +infinity gives N(y, 0).</param>
    /// <param name="kind"><see cref="PosteriorKind.Nngp"/> or <see cref="PosteriorKind.Ntk"/>.</param>
    /// <param name="computeCovariance">Also compute the covariance (needs the NNGP train-train kernel).</param>
    public GaussianPrediction PredictTrain(double t, PosteriorKind kind, bool computeCovariance = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        DynamicsMath.RequireTime(t, nameof(t));
        var g = Driving(kind);
        if (computeCovariance) Kernel(_nngp, "trainTrain.Nngp");
        if (double.IsPositiveInfinity(t)) { _ = g.Cholesky; return _inf.PredictTrain(kind, computeCovariance); }

        var eigen = g.Eigen;
        var l = eigen.Values;
        int m = g.Dim;
        double s = t * LearningRate / TargetCount;
        var py = eigen.MultiplyEigenvectors(g.AsRhs(_y), transpose: true, _la);   // V^T y
        var d = new double[m];
        for (int i = 0; i < m; i++) d[i] = -DynamicsMath.NegExpm1(l[i], s);   // 1 - e^{-l s}
        var mean = DynamicsMath.Reshape(eigen.MultiplyEigenvectors(Rows(d, py), transpose: false, _la), _y.Rows, _y.Cols);
        if (!computeCovariance) return new GaussianPrediction(t, mean, null);

        var v = eigen.Eigenvectors;   // the covariances are n x n products with V itself

        Matrix<double> cov;
        if (kind == PosteriorKind.Nngp)
        {
            // e^{-Ks} K e^{-Ks} = V diag(l e^{-2 l s}) V^T (l clamped at 0 like neural-tangents)
            for (int i = 0; i < m; i++) { double li = Math.Max(l[i], 0); d[i] = li * Math.Exp(-2 * li * s); }
            cov = _la.Multiply(DynamicsMath.ScaleColumns(v, d), false, v, true);
        }
        else
        {
            for (int i = 0; i < m; i++) d[i] = 1 + DynamicsMath.NegExpm1(l[i], s);   // e^{-l s}
            var e = _la.Multiply(DynamicsMath.ScaleColumns(v, d), false, v, true);
            cov = _la.Multiply(e, false, _la.Multiply(_nngp!.Raw, false, e, false), false);
        }
        DynamicsMath.SymmetrizeInPlace(cov);
        return new GaussianPrediction(t, mean, cov);
    }

    /// <summary>Ensemble distribution of the test outputs at time t.</summary>
    /// <param name="t">Training time in steps, &gt;= 0; +infinity gives the <see cref="GpInference"/> posterior.</param>
    /// <param name="kind"><see cref="PosteriorKind.Nngp"/> or <see cref="PosteriorKind.Ntk"/>.</param>
    /// <param name="testTrain">Test-train blocks: the kind's kernel, plus NNGP when a covariance is requested with <see cref="PosteriorKind.Ntk"/>.</param>
    /// <param name="nngpTestTest">NNGP(X*, X*), n* x n* (or full); null for the mean only.</param>
    public GaussianPrediction Predict(double t, PosteriorKind kind, KernelPair testTrain, Matrix<double>? nngpTestTest = null)
        => Predict([t], kind, testTrain, nngpTestTest)[0];

    /// <summary>Test-set ensemble distributions at several times (one shared projection onto the eigenbasis).</summary>
    /// <param name="times">Training times in steps, each &gt;= 0 (+infinity allowed).</param>
    /// <param name="kind"><see cref="PosteriorKind.Nngp"/> or <see cref="PosteriorKind.Ntk"/>.</param>
    /// <param name="testTrain">Test-train blocks: the kind's kernel, plus NNGP when a covariance is requested with <see cref="PosteriorKind.Ntk"/>.</param>
    /// <param name="nngpTestTest">NNGP(X*, X*); null for the mean only.</param>
    public IReadOnlyList<GaussianPrediction> Predict(IReadOnlyList<double> times, PosteriorKind kind, KernelPair testTrain,
        Matrix<double>? nngpTestTest = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(times);
        ArgumentNullException.ThrowIfNull(testTrain);
        for (int i = 0; i < times.Count; i++) DynamicsMath.RequireTime(times[i], times.Count == 1 ? "t" : $"times[{i}]");
        var g = Driving(kind);
        bool nngpKind = kind == PosteriorKind.Nngp;
        string gtdName = nngpKind ? "testTrain.Nngp" : "testTrain.Ntk";
        var gtd = nngpKind ? testTrain.Nngp : testTrain.Ntk;
        if (gtd is null) throw new ArgumentException($"{gtdName} is required for this prediction but was not given.", gtdName);
        int nTest = g.TestSamples(gtd, gtdName);
        int mt = gtd.Rows, m = g.Dim;
        Matrix<double>? nngpTd = null;
        if (nngpTestTest is not null)
        {
            var nngp = Kernel(_nngp, "trainTrain.Nngp");
            DynamicsMath.RequireShape(nngpTestTest, mt, mt, nameof(nngpTestTest), "NNGP(X*, X*) matching testTrain");
            DynamicsMath.RequireFinite(nngpTestTest, nameof(nngpTestTest));
            nngpTd = nngpKind ? gtd : testTrain.Nngp ?? throw new ArgumentException("testTrain.Nngp is required for the NTK ensemble covariance but was not given.", "testTrain.Nngp");
            nngp.TestSamples(nngpTd, "testTrain.Nngp");
            if (nngpTd.Rows != mt)
                throw new ArgumentException($"testTrain.Nngp must have the shape of testTrain.Ntk ({DynamicsMath.Shape(gtd)}); got {DynamicsMath.Shape(nngpTd)}.", nameof(testTrain));
        }

        var results = new GaussianPrediction[times.Count];
        GaussianPrediction? atInfinity = null;
        SymmetricEigenDecomposition? eigen = null;
        Matrix<double>? py = null, b = null;
        double[]? l = null;
        for (int ti = 0; ti < times.Count; ti++)
        {
            double t = times[ti];
            if (double.IsPositiveInfinity(t))
            {
                atInfinity ??= _inf.Predict(kind, testTrain, nngpTestTest);
                results[ti] = atInfinity;
                continue;
            }
            if (eigen is null)
            {
                eigen = g.Eigen;
                l = eigen.Values;
                py = eigen.MultiplyEigenvectors(g.AsRhs(_y), transpose: true, _la);              // V^T y, m x c
                b = eigen.MultiplyEigenvectors(gtd.Transpose(), transpose: true, _la);           // V^T G_dt, m x m*
            }
            double s = t * LearningRate / TargetCount;
            var w = new double[m];
            for (int i = 0; i < m; i++) w[i] = -DynamicsMath.InvExpm1(l![i], s);    // (1 - e^{-l s}) / l
            var mean = DynamicsMath.Reshape(_la.Multiply(b!, true, Rows(w, py!), false), nTest, _y.Cols);
            Matrix<double>? cov = null;
            if (nngpTestTest is not null)
            {
                if (nngpKind)
                {
                    var w2 = new double[m];
                    for (int i = 0; i < m; i++) w2[i] = -DynamicsMath.InvExpm1(l![i], 2 * s);
                    cov = DynamicsMath.Add(nngpTestTest, _la.Multiply(b!, true, Rows(w2, b!), false), -1.0);
                }
                else
                {
                    var term1 = eigen.MultiplyEigenvectors(Rows(w, b!), transpose: false, _la);     // A^T = V W V^T Theta_dt, m x m*
                    var middle = _la.Multiply(term1, true, _la.Multiply(_nngp!.Raw, false, term1, false), false);
                    var term2 = _la.Multiply(term1, true, nngpTd!.Transpose(), false);   // A K_dt
                    cov = new Matrix<double>(mt, mt);
                    for (int i = 0; i < mt; i++)
                        for (int j = 0; j < mt; j++)
                            cov.Data[i * mt + j] = nngpTestTest.Data[i * mt + j] + middle.Data[i * mt + j]
                                - term2.Data[i * mt + j] - term2.Data[j * mt + i];
                }
                DynamicsMath.SymmetrizeInPlace(cov);
            }
            results[ti] = new GaussianPrediction(t, mean, cov);
        }
        return results;
    }

    private TrainKernel Driving(PosteriorKind kind) => kind switch
    {
        PosteriorKind.Nngp => Kernel(_nngp, "trainTrain.Nngp"),
        PosteriorKind.Ntk => Kernel(_ntk, "trainTrain.Ntk"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "The gradient-descent ensemble supports Nngp and Ntk; use GpInference for NtkGp."),
    };

    private static TrainKernel Kernel(TrainKernel? k, string name)
        => k ?? throw new ArgumentException($"{name} is required for this prediction but was not given.", name);

    /// <summary>diag(d) P as a new matrix.</summary>
    private static Matrix<double> Rows(double[] d, Matrix<double> p)
    {
        var s = new Matrix<double>(p.Rows, p.Cols, (double[])p.Data.Clone());
        DynamicsMath.ScaleRows(d, s);
        return s;
    }
}

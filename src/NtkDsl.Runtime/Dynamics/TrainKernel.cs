namespace NtkDsl;

/// <summary>How a train-train kernel relates to targets of shape n x O.</summary>
public enum KernelLayout
{
    /// <summary>
    /// An n x n kernel shared by all O outputs (the kernel is Theta (x) I over outputs): neural-tangents'
    /// trace_axes=(-1,), i.e. the per-output-unit or output-averaged ("trace") kernel. The common case.
    /// </summary>
    Shared,

    /// <summary>
    /// An (n O) x (n O) kernel with an O x O block per pair of samples, rows and columns ordered
    /// sample-major (index i * O + o, the row-major flattening of n x O outputs): trace_axes=().
    /// </summary>
    Full,
}

/// <summary>
/// A validated, symmetrized and regularized train-train kernel with lazily cached eigendecomposition
/// and Cholesky factor. Internal glue shared by the dynamics and inference classes; disposing it releases the factor.
/// </summary>
internal sealed class TrainKernel : IDisposable
{
    private readonly IKernelLinearAlgebra _la;
    private readonly string _name;
    private readonly double _diagReg;
    private readonly bool _absolute;
    private readonly Lazy<SymmetricEigenDecomposition> _eigen;
    private readonly Lazy<ICholeskyFactor> _cholesky;

    private TrainKernel(Matrix<double> raw, Matrix<double> regularized, double shift, KernelLayout layout,
        int samples, int outputs, string name, double diagReg, bool absolute, IKernelLinearAlgebra la)
    {
        Raw = raw;
        Regularized = regularized;
        Shift = shift;
        Layout = layout;
        Samples = samples;
        Outputs = outputs;
        _name = name;
        _diagReg = diagReg;
        _absolute = absolute;
        _la = la;
        _eigen = new Lazy<SymmetricEigenDecomposition>(ComputeEigen, LazyThreadSafetyMode.ExecutionAndPublication);
        _cholesky = new Lazy<ICholeskyFactor>(ComputeCholesky, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The symmetrized kernel without regularization.</summary>
    public Matrix<double> Raw { get; }

    /// <summary>Raw + Shift * I.</summary>
    public Matrix<double> Regularized { get; }

    /// <summary>The absolute diagonal shift that diag_reg produced.</summary>
    public double Shift { get; }

    public KernelLayout Layout { get; }

    public int Samples { get; }

    public int Outputs { get; }

    /// <summary>Kernel dimension m: n (shared) or n O (full).</summary>
    public int Dim => Raw.Rows;

    /// <summary>Right-hand-side columns c with m c = n O: O (shared) or 1 (full).</summary>
    public int RhsCols => Layout == KernelLayout.Shared ? Outputs : 1;

    /// <summary>n_y, the number of scalar targets (n O): the normalization of the 1/2-mean MSE loss.</summary>
    public int TargetCount => Samples * Outputs;

    public SymmetricEigenDecomposition Eigen => _eigen.Value;

    /// <summary>Whether the eigendecomposition has been computed (then every later finite-time query uses it).</summary>
    public bool HasEigen => _eigen.IsValueCreated;

    /// <summary>
    /// Whether lambda_min &gt; -NegativeEigenTolerance * bound, certified by a Cholesky factorization of
    /// Regularized + NegativeEigenTolerance * bound * I (bound &gt;= lambda_max): the positive-semidefiniteness check of
    /// <see cref="Eigen"/> without the eigendecomposition. False means: take the eigendecomposition route, which decides.
    /// Remembered, so repeated queries factor once.
    /// </summary>
    public bool IsCertifiedPsd(double bound)
    {
        if (_certifiedBound is { } known && known <= bound) return true;
        int m = Dim;
        var shifted = new Matrix<double>(m, m, (double[])Regularized.Data.Clone());
        for (int i = 0; i < m; i++) shifted.Data[i * m + i] += DynamicsMath.NegativeEigenTolerance * bound;
        using var certificate = _la.TryCholesky(shifted, out _); // only its existence is needed
        if (certificate is null) return false;
        _certifiedBound = bound;   // a larger bound only shifts more
        return true;
    }

    private double? _certifiedBound;

    public ICholeskyFactor Cholesky => _cholesky.Value;

    /// <summary>Releases the Cholesky factor if one was computed (idempotent, as every factor's Dispose is). The owners
    /// refuse predictions once disposed, so the factor is not read afterwards.</summary>
    public void Dispose()
    {
        if (_cholesky.IsValueCreated) _cholesky.Value.Dispose();
    }

    public static KernelLayout DetectLayout(Matrix<double> k, string kName, int samples, int outputs)
    {
        if (k.Rows == k.Cols && k.Rows == samples) return KernelLayout.Shared;
        if (k.Rows == k.Cols && outputs > 1 && k.Rows == samples * outputs) return KernelLayout.Full;
        throw new ArgumentException(
            $"{kName} must be {samples} x {samples} (one kernel shared by the {outputs} output(s))"
            + (outputs > 1 ? $" or {samples * outputs} x {samples * outputs} (full kernel, one {outputs} x {outputs} block per sample pair)" : "")
            + $" for yTrain of shape {samples} x {outputs}; got {DynamicsMath.Shape(k)}.", kName);
    }

    public static TrainKernel Create(Matrix<double> k, string kName, Matrix<double> yTrain, double diagReg,
        bool diagRegAbsoluteScale, IKernelLinearAlgebra la, KernelLayout? requiredLayout = null)
    {
        ArgumentNullException.ThrowIfNull(k, kName);
        ArgumentNullException.ThrowIfNull(yTrain, nameof(yTrain));
        if (yTrain.Rows == 0 || yTrain.Cols == 0)
            throw new ArgumentException($"yTrain must have at least one sample and one output; got {DynamicsMath.Shape(yTrain)}.", nameof(yTrain));
        if (!double.IsFinite(diagReg) || diagReg < 0)
            throw new ArgumentOutOfRangeException(nameof(diagReg), diagReg, $"diagReg must be finite and >= 0, got {DynamicsMath.Fmt(diagReg)}.");
        var layout = DetectLayout(k, kName, yTrain.Rows, yTrain.Cols);
        if (requiredLayout is { } req && req != layout)
            throw new ArgumentException($"{kName} is a {layout} kernel ({DynamicsMath.Shape(k)}) but the other train-train kernel is {req}; pass both in the same layout.", kName);
        var raw = DynamicsMath.Symmetrized(k, kName);   // rejects non-finite entries first
        int m = raw.Rows;
        double trace = 0;
        for (int i = 0; i < m; i++) trace += raw.Data[i * m + i];
        // neural-tangents' relative scale: diag_reg * trace / dimension (mean diagonal).
        double shift = diagRegAbsoluteScale ? diagReg : diagReg * trace / m;
        // Without a shift the regularized kernel is the raw one: neither is ever written after this.
        var reg = raw;
        if (shift != 0)
        {
            reg = new Matrix<double>(m, m, (double[])raw.Data.Clone());
            for (int i = 0; i < m; i++) reg.Data[i * m + i] += shift;
        }
        return new TrainKernel(raw, reg, shift, layout, yTrain.Rows, yTrain.Cols, kName, diagReg, diagRegAbsoluteScale, la);
    }

    /// <summary>The kernel's view of an n x O matrix: m x c (same data).</summary>
    public Matrix<double> AsRhs(Matrix<double> samplesByOutputs) => DynamicsMath.Reshape(samplesByOutputs, Dim, RhsCols);

    /// <summary>
    /// Checks a test-train kernel against this layout; returns the number of test samples.
    /// Shared: n* x n. Full: (n* O) x (n O).
    /// </summary>
    public int TestSamples(Matrix<double> kTestTrain, string name)
    {
        ArgumentNullException.ThrowIfNull(kTestTrain, name);
        bool ok = Layout == KernelLayout.Shared
            ? kTestTrain.Cols == Samples
            : kTestTrain.Cols == Dim && kTestTrain.Rows % Outputs == 0;
        if (!ok)
            throw new ArgumentException(Layout == KernelLayout.Shared
                ? $"{name} must be n* x {Samples} (test samples by the {Samples} train samples, Theta(X*, X)); got {DynamicsMath.Shape(kTestTrain)}."
                : $"{name} must be (n* {Outputs}) x {Dim} (full test-train kernel, {Outputs} x {Outputs} blocks); got {DynamicsMath.Shape(kTestTrain)}.", name);
        DynamicsMath.RequireFinite(kTestTrain, name);
        return Layout == KernelLayout.Shared ? kTestTrain.Rows : kTestTrain.Rows / Outputs;
    }

    private SymmetricEigenDecomposition ComputeEigen()
    {
        var e = _la.SymmetricEigen(Regularized);
        var l = e.Values;
        if (l.Length > 0)
        {
            double lMin = l[0], lMax = l[^1];
            if (lMin < -DynamicsMath.NegativeEigenTolerance * Math.Max(lMax, 0) || (lMax <= 0 && lMin < 0))
            {
                double suggestion = Suggest(lMin, lMax, -lMin + SafeFloor(lMax));
                throw new KernelConditioningException(
                    $"{_name} (+ diag_reg) is not positive semidefinite: smallest eigenvalue {DynamicsMath.Fmt(lMin)}, largest {DynamicsMath.Fmt(lMax)}. "
                    + $"Check that it is the train-train kernel Theta(X, X); if it is (e.g. computed in float32), {Advice(suggestion)}.", _name, suggestion);
            }
        }
        return e;
    }

    private ICholeskyFactor ComputeCholesky()
    {
        int m = Dim;
        var f = _la.TryCholesky(Regularized, out int failedPivot);
        double maxDiag = 0;
        for (int i = 0; i < m; i++) maxDiag = Math.Max(maxDiag, Math.Abs(Regularized.Data[i * m + i]));
        // A pivot below m * eps * max diagonal means condition number ~1/(m eps): the solve would be noise.
        double pivotFloor = m * 2.220446049250313e-16 * maxDiag;
        if (f is not null)
        {
            var d = f.PivotDiagonal;
            for (int i = 0; i < d.Count && failedPivot < 0; i++)
                if (!(d[i] * d[i] > pivotFloor)) failedPivot = i;
            if (failedPivot < 0 && maxDiag > 0) return f;
            f.Dispose();
        }

        // Failure path only: the spectrum says how much regularization would help.
        var l = _la.SymmetricEigenvalues(Regularized);
        double lMin = l.Length > 0 ? l[0] : 0, lMax = l.Length > 0 ? l[^1] : 0;
        double suggestion = Suggest(lMin, lMax, SafeFloor(Math.Max(maxDiag, lMax)) - lMin);
        string where = failedPivot >= 0 ? $" at pivot {failedPivot} of {m}" : "";
        throw new KernelConditioningException(
            $"{_name} + diag_reg * I is not numerically positive definite (Cholesky failed{where}; smallest eigenvalue {DynamicsMath.Fmt(lMin)}, largest {DynamicsMath.Fmt(lMax)}), "
            + $"so kernel regression (t = infinity) / GP inference cannot solve with it: {Advice(suggestion)}, "
            + "or use a finite time t (the eigendecomposition path handles singular kernels).", _name, suggestion, failedPivot >= 0 ? failedPivot : null);
    }

    /// <summary>
    /// The smallest eigenvalue we suggest reaching: 1e-8 of the largest (condition number 1e8), which keeps about
    /// eight significant digits in the solve instead of merely making the factorization succeed.
    /// </summary>
    private static double SafeFloor(double lMax) => 1e-8 * Math.Abs(lMax);

    private double MeanDiagonal()
    {
        int m = Dim;
        double sum = 0;
        for (int i = 0; i < m; i++) sum += Raw.Data[i * m + i];
        return sum / m;
    }

    /// <summary>
    /// Converts a needed extra absolute diagonal into the caller's diag_reg units, rounded up; NaN when no diag_reg in
    /// those units can help (relative scale and a mean diagonal that is not positive, e.g. an all-zero kernel).
    /// </summary>
    private double Suggest(double lMin, double lMax, double extraAbsolute)
    {
        double meanDiag = MeanDiagonal();
        if (!_absolute && !(meanDiag > 0)) return double.NaN;
        double scale = Math.Max(Math.Max(Math.Abs(lMax), Math.Abs(lMin)), Math.Abs(meanDiag));
        // An all-zero kernel has no scale of its own: any positive absolute shift works; suggest 1.
        extraAbsolute = scale > 0 ? Math.Max(extraAbsolute, 1e-12 * scale) : 1.0;
        double add = _absolute ? extraAbsolute : extraAbsolute / meanDiag;
        return DynamicsMath.RoundUpNice(_diagReg + add);
    }

    /// <summary>What to do, for a suggestion from <see cref="Suggest"/>.</summary>
    private string Advice(double suggestion) => double.IsNaN(suggestion)
        ? $"no relative diagReg can help, since it multiplies the mean diagonal of {_name}, which is {DynamicsMath.Fmt(MeanDiagonal())} "
          + "(an all-zero kernel, for example a network whose outputs do not depend on its parameters); check the kernel, or pass diagRegAbsoluteScale: true with diagReg > 0"
        : $"raise diagReg from {DynamicsMath.Fmt(_diagReg)} to about {DynamicsMath.Fmt(suggestion)}"
          + (_absolute ? " (absolute scale)" : " (relative to the mean diagonal)");
}

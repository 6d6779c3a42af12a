using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

/// <summary>
/// <see cref="IKernelLinearAlgebra"/> on libtorch, so that the training dynamics
/// (<see cref="GradientDescentMse"/>, <see cref="GpInference"/>, ...) use <c>torch.linalg</c> instead of
/// MathNet's managed provider: <c>linalg.eigh</c> for the eigendecomposition, <c>linalg.cholesky_ex</c> and
/// <c>cholesky_solve</c> for kernel regression, and <c>mm</c> for products. All work is in float64.
/// </summary>
/// <remarks>
/// <para>On this project's reference machine (2 cores) eigh of a 1000 x 1000 kernel takes ~0.25 s against
/// ~3 s for MathNet's managed EVD; see the "dynamics" case of benchmarks/NtkDsl.Benchmarks.</para>
/// <para>Inputs are copied to tensors on <see cref="Device"/> and results copied back into new
/// <see cref="Matrix{T}"/>s; inputs are never modified and no tensor outlives a call.
/// Eigenvalues come back ascending with orthonormal eigenvectors as columns, as the interface requires;
/// individual eigenvectors may differ from MathNet's by sign (or by a rotation within a repeated
/// eigenvalue's eigenspace), which leaves every quantity the dynamics compute unchanged.</para>
/// </remarks>
public sealed class TorchKernelLinearAlgebra : IKernelLinearAlgebra
{
    /// <summary>Runs on <paramref name="device"/> (CPU when null).</summary>
    public TorchKernelLinearAlgebra(Device? device = null)
    {
        TorchRuntime.EnsureLoaded();
        Device = device ?? CPU;
    }

    /// <summary>A shared CPU instance.</summary>
    public static TorchKernelLinearAlgebra Cpu => LazyCpu.Value;

    private static readonly Lazy<TorchKernelLinearAlgebra> LazyCpu = new(() => new TorchKernelLinearAlgebra());

    /// <summary>The device the factorizations run on.</summary>
    public Device Device { get; }

    /// <inheritdoc/>
    /// <remarks>Reads the lower triangle (<c>torch.linalg.eigh</c>, UPLO = "L"); the dynamics pass a symmetrized kernel.</remarks>
    public SymmetricEigenDecomposition SymmetricEigen(Matrix<double> symmetric)
    {
        RequireSquare(symmetric, nameof(symmetric));
        int n = symmetric.Rows;
        if (n == 0) return new SymmetricEigenDecomposition([], new Matrix<double>(0, 0));
        using var scope = NewDisposeScope();
        var (values, vectors) = linalg.eigh(ToTensor(symmetric, Device));
        return new SymmetricEigenDecomposition(values.ToArray<double>(), ToMatrix(vectors));
    }

    /// <inheritdoc/>
    /// <remarks>Reads the lower triangle. Returns null when <c>linalg.cholesky_ex</c> reports a non-positive pivot or the factor is not finite.</remarks>
    public ICholeskyFactor? TryCholesky(Matrix<double> symmetric)
    {
        RequireSquare(symmetric, nameof(symmetric));
        int n = symmetric.Rows;
        if (n == 0) return new Factor(new Matrix<double>(0, 0), [], Device);
        using var scope = NewDisposeScope();
        var (factor, info) = linalg.cholesky_ex(ToTensor(symmetric, Device));
        if (info.item<int>() != 0) return null;
        var l = ToMatrix(factor);
        var diagonal = new double[n];
        for (int i = 0; i < n; i++)
        {
            diagonal[i] = l.Data[i * n + i];
            if (!(diagonal[i] > 0) || !double.IsFinite(diagonal[i])) return null;
        }

        return new Factor(l, diagonal, Device);
    }

    /// <inheritdoc/>
    public Matrix<double> Multiply(Matrix<double> a, bool transposeA, Matrix<double> b, bool transposeB)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int ar = transposeA ? a.Cols : a.Rows, ac = transposeA ? a.Rows : a.Cols;
        int br = transposeB ? b.Cols : b.Rows, bc = transposeB ? b.Rows : b.Cols;
        if (ac != br)
            throw new ArgumentException($"Inner dimensions differ: op(a) is {ar} x {ac}, op(b) is {br} x {bc}.", nameof(b));
        if (ar == 0 || bc == 0 || ac == 0) return new Matrix<double>(ar, bc);
        using var scope = NewDisposeScope();
        var ta = ToTensor(a, Device);
        var tb = ToTensor(b, Device);
        if (transposeA) ta = ta.t();
        if (transposeB) tb = tb.t();
        return ToMatrix(ta.mm(tb));
    }

    // Direct copies between Matrix<double> and tensor storage (TensorAccessor), with no intermediate managed buffer:
    // the dynamics call Multiply once per time with n x n operands, so per-call garbage would add up.
    private static Tensor ToTensor(Matrix<double> m, Device device)
    {
        var t = empty(m.Rows, m.Cols, dtype: ScalarType.Float64);
        if (m.Data.Length > 0)
            using (var accessor = t.data<double>()) accessor.CopyFrom((ReadOnlySpan<double>)m.Data, 0, 0);
        return device.type == DeviceType.CPU ? t : t.to(device);
    }

    private static Matrix<double> ToMatrix(Tensor t)
    {
        var m = new Matrix<double>(checked((int)t.size(0)), checked((int)t.size(1)));
        if (m.Data.Length == 0) return m;
        using var scope = NewDisposeScope();
        var host = t.cpu().contiguous();
        using (var accessor = host.data<double>()) accessor.CopyTo((Span<double>)m.Data, 0, 0);
        return m;
    }

    private static void RequireSquare(Matrix<double> m, string name)
    {
        ArgumentNullException.ThrowIfNull(m, name);
        if (m.Rows != m.Cols)
            throw new ArgumentException($"Expected a square matrix, got {m.Rows} x {m.Cols}.", name);
    }

    // Holds L on the host (no native tensor outlives a call; ICholeskyFactor is not disposable).
    private sealed class Factor(Matrix<double> lower, double[] diagonal, Device device) : ICholeskyFactor
    {
        public int Size => diagonal.Length;

        public IReadOnlyList<double> PivotDiagonal => diagonal;

        public Matrix<double> Solve(Matrix<double> rightHandSide)
        {
            ArgumentNullException.ThrowIfNull(rightHandSide);
            if (rightHandSide.Rows != Size)
                throw new ArgumentException($"Expected {Size} rows, got {rightHandSide.Rows} x {rightHandSide.Cols}.", nameof(rightHandSide));
            if (rightHandSide.Cols == 0 || Size == 0) return new Matrix<double>(Size, rightHandSide.Cols);
            using var scope = NewDisposeScope();
            return ToMatrix(cholesky_solve(ToTensor(rightHandSide, device), ToTensor(lower, device), upper: false));
        }
    }
}

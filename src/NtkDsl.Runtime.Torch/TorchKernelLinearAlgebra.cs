using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

/// <summary>
/// <see cref="IKernelLinearAlgebra"/> on libtorch, so that the training dynamics
/// (<see cref="GradientDescentMse"/>, <see cref="GpInference"/>, ...) use <c>torch.linalg</c>: <c>linalg.eigh</c>
/// (<c>eigvalsh</c> for eigenvalues only), <c>linalg.cholesky_ex</c> and <c>cholesky_solve</c>, and <c>addmm_</c>
/// for products. All work is in float64.
/// </summary>
/// <remarks>
/// <para>Zero-copy on the CPU: every <see cref="Matrix{T}"/> operand is wrapped as a tensor over its own pinned array
/// (<c>torch.from_array</c> shares the buffer), and products are written by <c>addmm_</c> straight into the result's
/// array, so a product costs the product and nothing else. The Cholesky factor stays a tensor on <see cref="Device"/>
/// for the factor's lifetime (released by the factor's finalizer). On another device operands are uploaded once per
/// call and results downloaded once.</para>
/// <para>Eigenvalues come back ascending with orthonormal eigenvectors as columns, as the interface requires;
/// individual eigenvectors may differ from other providers' by sign (or by a rotation within a repeated eigenvalue's
/// eigenspace), which leaves every quantity the dynamics compute unchanged. Inputs are never modified.</para>
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

    private bool OnCpu => Device.type == DeviceType.CPU;

    /// <inheritdoc/>
    /// <remarks>Reads the lower triangle (<c>torch.linalg.eigh</c>, UPLO = "L"); the dynamics pass a symmetrized kernel.</remarks>
    public SymmetricEigenDecomposition SymmetricEigen(Matrix<double> symmetric)
    {
        RequireSquare(symmetric, nameof(symmetric));
        int n = symmetric.Rows;
        if (n == 0) return new SymmetricEigenDecomposition([], new Matrix<double>(0, 0));
        using var scope = NewDisposeScope();
        var (values, vectors) = linalg.eigh(Operand(symmetric));
        var v = new Matrix<double>(n, n);
        Store(vectors, v);
        return new SymmetricEigenDecomposition(values.cpu().ToArray<double>(), v);
    }

    /// <inheritdoc/>
    public double[] SymmetricEigenvalues(Matrix<double> symmetric)
    {
        RequireSquare(symmetric, nameof(symmetric));
        if (symmetric.Rows == 0) return [];
        using var scope = NewDisposeScope();
        return linalg.eigvalsh(Operand(symmetric)).cpu().ToArray<double>();
    }

    /// <inheritdoc/>
    /// <remarks>Reads the lower triangle. <c>linalg.cholesky_ex</c> reports the first failed pivot (its info is 1-based).</remarks>
    public ICholeskyFactor? TryCholesky(Matrix<double> symmetric, out int failedPivot)
    {
        RequireSquare(symmetric, nameof(symmetric));
        failedPivot = -1;
        int n = symmetric.Rows;
        if (n == 0) return new Factor(empty(0, 0, dtype: ScalarType.Float64, device: Device), []);
        using var scope = NewDisposeScope();
        var (factor, info) = linalg.cholesky_ex(Operand(symmetric));
        int code = info.item<int>();
        if (code != 0)
        {
            failedPivot = code - 1;
            return null;
        }

        var diagonal = factor.diagonal().cpu().ToArray<double>();
        for (int i = 0; i < n; i++)
            if (!(diagonal[i] > 0) || !double.IsFinite(diagonal[i]))
            {
                failedPivot = i;
                return null;
            }

        return new Factor(factor.DetachFromDisposeScope(), diagonal);
    }

    /// <inheritdoc/>
    public Matrix<double> Multiply(Matrix<double> a, bool transposeA, Matrix<double> b, bool transposeB)
    {
        var (ar, ac, bc) = CpuLinearAlgebra.ProductShape(a, transposeA, b, transposeB);
        var c = new Matrix<double>(ar, bc);
        if (ar == 0 || bc == 0 || ac == 0) return c;
        using var scope = NewDisposeScope();
        var ta = Operand(a);
        var tb = Operand(b);
        if (transposeA) ta = ta.t();
        if (transposeB) tb = tb.t();
        if (OnCpu) Wrap(c).addmm_(ta, tb, beta: 0, alpha: 1);   // written in place into c.Data
        else Store(ta.mm(tb), c);
        return c;
    }

    // A tensor over m's own array (pinned until the tensor is disposed); uploaded when the device is not the CPU.
    private Tensor Operand(Matrix<double> m) => OnCpu ? Wrap(m) : Wrap(m).to(Device);

    private static Tensor Wrap(Matrix<double> m) => from_array(m.Data).view(m.Rows, m.Cols);

    // One copy of a result into a host matrix (a device-to-host transfer off the CPU).
    private static void Store(Tensor t, Matrix<double> m)
    {
        if (m.Data.Length > 0) Wrap(m).copy_(t);
    }

    private static void RequireSquare(Matrix<double> m, string name)
    {
        ArgumentNullException.ThrowIfNull(m, name);
        if (m.Rows != m.Cols)
            throw new ArgumentException($"Expected a square matrix, got {m.Rows} x {m.Cols}.", name);
    }

    // Holds L as a tensor on the device until disposed (or, if never disposed, until the tensor's finalizer runs).
    private sealed class Factor(Tensor lower, double[] diagonal) : ICholeskyFactor
    {
        private int _disposed;

        public int Size => diagonal.Length;

        public IReadOnlyList<double> PivotDiagonal => diagonal;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) lower.Dispose();
        }

        public Matrix<double> Solve(Matrix<double> rightHandSide)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            ArgumentNullException.ThrowIfNull(rightHandSide);
            if (rightHandSide.Rows != Size)
                throw new ArgumentException($"Expected {Size} rows, got {rightHandSide.Rows} x {rightHandSide.Cols}.", nameof(rightHandSide));
            var x = new Matrix<double>(Size, rightHandSide.Cols);
            if (rightHandSide.Cols == 0 || Size == 0) return x;
            using var scope = NewDisposeScope();
            var b = from_array(rightHandSide.Data).view(rightHandSide.Rows, rightHandSide.Cols).to(lower.device);
            Store(cholesky_solve(b, lower, upper: false), x);
            return x;
        }
    }
}

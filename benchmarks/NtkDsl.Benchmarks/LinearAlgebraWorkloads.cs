using System.Numerics;
using NtkDsl.Torch;
using static TorchSharp.torch;
using MathNetMatrix = MathNet.Numerics.LinearAlgebra.Matrix<double>;

namespace NtkDsl.Benchmarks;

/// <summary>
/// What the factorization cases compare: NtkDsl's CPU linear algebra (<see cref="CpuLinearAlgebra"/>), the torch.linalg
/// adapter of <see cref="IKernelLinearAlgebra"/> (float64 only), plain torch.linalg on a tensor, and MathNet's managed
/// provider (float64, sizes where it finishes in seconds).
/// </summary>
public enum Factorization
{
    /// <summary>A = L L^T.</summary>
    Cholesky,

    /// <summary>A = V diag(l) V^T.</summary>
    Eigh,
}

/// <summary>
/// A Cholesky factorization or a symmetric eigendecomposition of an n x n kernel-like matrix, G G^T / k + I / 10 with a
/// uniform G of k = n / 2 columns (half the eigenvalues at 0.1, the rest a Marchenko-Pastur bulk above them).
/// The timed call is the factorization alone; <see cref="Result"/> (not timed) is A^-1 1 through the factor for
/// Cholesky and the ascending eigenvalues for eigh (eigenvectors are only determined up to sign).
/// </summary>
public sealed class FactorizationWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>MathNet's managed EVD takes ~3 s at n = 1000 and grows as n^3; larger sizes leave it out.</summary>
    public const int MathNetEighLimit = 1000;

    /// <summary>MathNet's managed Cholesky takes ~0.2 s at n = 1000; larger than 2000 leaves it out.</summary>
    public const int MathNetCholeskyLimit = 2000;

    private readonly Factorization _kind;
    private readonly Matrix<T> _a;
    private readonly Tensor _tensor;

    /// <summary>Builds the matrix (on NtkDsl's GEMM) and its tensor copy.</summary>
    public FactorizationWorkload(Factorization kind, int n, int seed = 0)
    {
        _kind = kind;
        var g = RandomInputs<T>(n, Math.Max(1, n / 2), seed + 1);
        _a = CpuLinearAlgebra.Multiply(g, false, g, true);
        T scale = T.One / T.CreateChecked(g.Cols), shift = T.CreateChecked(0.1);
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                T v = _a.Data[i * n + j] * scale + (i == j ? shift : T.Zero);
                _a.Data[i * n + j] = v;
                _a.Data[j * n + i] = v;
            }

        _tensor = _a.ToTensor();
        // The timed calls are the factorization alone, as torch_linalg's (the solves of Result are not timed).
        var impls = new Dictionary<string, Action> { ["ntkdsl_cpu"] = () => CpuFactor() };
        if (typeof(T) == typeof(double)) impls["ntkdsl_torch"] = () => AdapterFactor();
        impls["torch_linalg"] = () => PlainTorch().Dispose();
        if (typeof(T) == typeof(double) && n <= (kind == Factorization.Eigh ? MathNetEighLimit : MathNetCholeskyLimit))
            impls["mathnet"] = () => MathNetFactor();
        Implementations = impls;
    }

    /// <summary>Why competitors are missing at this size and type.</summary>
    public Dictionary<string, string> Skipped()
    {
        var skipped = new Dictionary<string, string>();
        if (typeof(T) != typeof(double)) skipped["ntkdsl_torch"] = "IKernelLinearAlgebra (and so its torch adapter) is float64";
        if (typeof(T) != typeof(double)) skipped["mathnet"] = "MathNet's managed provider is used in float64 here";
        else if (!Implementations.ContainsKey("mathnet"))
            skipped["mathnet"] = $"O(n^3) managed code: {(_kind == Factorization.Eigh ? "~3 s at n = 1000" : "~0.2 s at n = 1000")}, {(double)_a.Rows / 1000:F0}^3 times that here";
        return skipped;
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Action> Implementations { get; }

    /// <inheritdoc/>
    public override double[] Result(string implementation) => implementation switch
    {
        "ntkdsl_cpu" => Cpu(),
        "ntkdsl_torch" => Adapter(),
        "torch_linalg" => TorchResult(),
        "mathnet" => MathNet(),
        _ => throw new ArgumentOutOfRangeException(nameof(implementation), implementation, null),
    };

    private Matrix<T> Ones => new(_a.Rows, 1, Enumerable.Repeat(T.One, _a.Rows).ToArray());

    private void CpuFactor()
    {
        if (_kind == Factorization.Eigh) CpuLinearAlgebra.SymmetricEigen(_a);
        else CpuCholesky().Dispose(); // as torch_linalg disposes its factor
    }

    private CholeskyFactor<T> CpuCholesky() => CpuLinearAlgebra.TryCholesky(_a, out _) ?? throw new InvalidOperationException("not positive definite");

    private double[] Cpu() => _kind == Factorization.Eigh
        ? ToDoubles(new Matrix<T>(1, _a.Rows, CpuLinearAlgebra.SymmetricEigen(_a).Eigenvalues))
        : ToDoubles(CpuCholesky().Solve(Ones));

    private void AdapterFactor()
    {
        if (_kind == Factorization.Eigh) TorchKernelLinearAlgebra.Cpu.SymmetricEigen((Matrix<double>)(object)_a);
        else AdapterCholesky().Dispose(); // frees the factor tensor, as torch_linalg disposes its factor
    }

    private ICholeskyFactor AdapterCholesky() => TorchKernelLinearAlgebra.Cpu.TryCholesky((Matrix<double>)(object)_a, out _)
        ?? throw new InvalidOperationException("not positive definite");

    private double[] Adapter() => _kind == Factorization.Eigh
        ? [.. TorchKernelLinearAlgebra.Cpu.SymmetricEigen((Matrix<double>)(object)_a).Eigenvalues]
        : SolveOnce(AdapterCholesky(), (Matrix<double>)(object)Ones);

    private static double[] SolveOnce(ICholeskyFactor factor, Matrix<double> rhs)
    {
        using (factor) return factor.Solve(rhs).Data;
    }

    private Tensor PlainTorch()
    {
        if (_kind == Factorization.Cholesky) return linalg.cholesky(_tensor);
        var (values, vectors) = linalg.eigh(_tensor);
        vectors.Dispose();
        return values;
    }

    private double[] TorchResult()
    {
        using var scope = NewDisposeScope();
        var t = PlainTorch();
        return ToDoubles(_kind == Factorization.Eigh ? t : cholesky_solve(Ones.ToTensor(), t));
    }

    private MathNetMatrix MathNetInput => MathNetMatrix.Build.DenseOfRowMajor(_a.Rows, _a.Rows, (double[])(object)_a.Data);

    private void MathNetFactor()
    {
        if (_kind == Factorization.Eigh) MathNetInput.Evd(global::MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
        else MathNetInput.Cholesky();
    }

    private double[] MathNet() => _kind == Factorization.Eigh
        ? [.. MathNetInput.Evd(global::MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric).EigenValues.Select(c => c.Real).Order()]
        : MathNetInput.Cholesky().Solve(MathNetMatrix.Build.Dense(_a.Rows, 1, 1.0)).ToColumnMajorArray();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _tensor.Dispose();
    }
}

/// <summary>
/// Kernel regression at t = infinity in float32, the step users of real data sets need at N = 10,000 and beyond:
/// factor K + diag_reg I (n x n), solve for O = 10 target columns, predict m test points (K* alpha).
/// K is a random-feature ReLU kernel (features of a 512-unit layer on Gaussian inputs).
/// </summary>
public sealed class KernelRegressionWorkload : Workload
{
    private const int Outputs = 10;
    private readonly Matrix<float> _k, _kTestTrain, _y;
    private readonly Tensor _kt, _ktt, _yt;

    /// <summary>n train points, m test points.</summary>
    public KernelRegressionWorkload(int n, int m, int seed = 0)
    {
        var x = RandomInputs<float>(n + m, 64, seed + 1);
        var w = RandomInputs<float>(64, 512, seed + 2);
        var features = CpuLinearAlgebra.Multiply(x, false, w, false);
        for (int i = 0; i < features.Data.Length; i++) features.Data[i] = MathF.Max(features.Data[i], 0) / MathF.Sqrt(512 * 64);
        var train = new Matrix<float>(n, 512, features.Data[..(n * 512)]);
        var test = new Matrix<float>(m, 512, features.Data[(n * 512)..]);
        _k = CpuLinearAlgebra.Multiply(train, false, train, true);
        double trace = 0;
        for (int i = 0; i < n; i++) trace += _k.Data[i * n + i];
        float shift = (float)(1e-3 * trace / n);   // diag_reg 1e-3 relative, as users of float32 kernels need
        for (int i = 0; i < n; i++)
        {
            _k.Data[i * n + i] += shift;
            for (int j = 0; j < i; j++) _k.Data[i * n + j] = _k.Data[j * n + i];
        }

        _kTestTrain = CpuLinearAlgebra.Multiply(test, false, train, true);
        _y = RandomInputs<float>(n, Outputs, seed + 3);
        _kt = _k.ToTensor();
        _ktt = _kTestTrain.ToTensor();
        _yt = _y.ToTensor();
        Implementations = new Dictionary<string, Action>
        {
            ["ntkdsl_cpu"] = () => Cpu(),
            ["torch_linalg"] = () => PlainTorch().Dispose(),
        };
    }

    /// <summary>Multiply-adds x 2 of one call: Cholesky n^3 / 3, two triangular solves 2 n^2 O, prediction 2 m n O.</summary>
    public double Flops => (double)_k.Rows * _k.Rows * _k.Rows / 3 + 2.0 * _k.Rows * _k.Rows * Outputs + 2.0 * _kTestTrain.Rows * _k.Rows * Outputs;

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Action> Implementations { get; }

    /// <inheritdoc/>
    public override double[] Result(string implementation)
    {
        if (implementation == "ntkdsl_cpu") return ToDoubles(Cpu());
        using var t = PlainTorch();
        return ToDoubles(t);
    }

    private Matrix<float> Cpu()
    {
        using var factor = CpuLinearAlgebra.TryCholesky(_k, out int pivot)
            ?? throw new InvalidOperationException($"Cholesky failed at pivot {pivot}");
        return CpuLinearAlgebra.Multiply(_kTestTrain, false, factor.Solve(_y), false);
    }

    private Tensor PlainTorch()
    {
        using var scope = NewDisposeScope();
        var l = linalg.cholesky(_kt);
        return _ktt.mm(cholesky_solve(_yt, l)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        _kt.Dispose();
        _ktt.Dispose();
        _yt.Dispose();
    }
}

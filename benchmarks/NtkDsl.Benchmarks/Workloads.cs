using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NtkDsl.Benchmarks;

/// <summary>
/// Inputs and competitors of one benchmark case, shared by the quick mode and the BenchmarkDotNet suite.
/// Every competitor computes the same quantity from the same data; <see cref="Result"/> returns it for the
/// cross-checks that the quick mode reports (max relative difference to ntkdsl_cpu).
/// </summary>
public abstract class Workload : IDisposable
{
    /// <summary>Implementation name -> one call of it.</summary>
    public abstract IReadOnlyDictionary<string, Action> Implementations { get; }

    /// <summary>The result of one call of <paramref name="implementation"/>, as doubles (row-major).</summary>
    public abstract double[] Result(string implementation);

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases native tensors.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>Uniform(-1, 1) inputs, reproducible.</summary>
    public static Matrix<T> RandomInputs<T>(int rows, int cols, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seed);
        var m = new Matrix<T>(rows, cols);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = T.CreateChecked(2 * rng.NextDouble() - 1);
        return m;
    }

    /// <summary>Copies a tensor result to doubles.</summary>
    protected static double[] ToDoubles(Tensor t) =>
        t.dtype == ScalarType.Float64 ? t.ToArray<double>() : Array.ConvertAll(t.ToArray<float>(), v => (double)v);

    /// <summary>Copies a host result to doubles.</summary>
    protected static double[] ToDoubles<T>(Matrix<T> m) where T : unmanaged, IFloatingPointIeee754<T> =>
        Array.ConvertAll(m.Data, v => double.CreateChecked(v));
}

/// <summary>The empirical NTK Theta(x, x) of <typeparamref name="TNet"/> in element type <typeparamref name="T"/>.</summary>
public sealed class NtkWorkload<TNet, T> : Workload
    where TNet : INetwork<TNet>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _theta;
    private readonly Matrix<T> _x;
    private readonly Matrix<T> _result;
    private readonly Tensor _thetaTensor;
    private readonly Tensor _xTensor;
    private readonly TorchNetwork<TNet> _torch;
    private readonly CpuSession<TNet, T> _cpu = new();
    private readonly NtkMode _mode;

    /// <summary>N = <paramref name="n"/> inputs, parameters from the initialization distribution.</summary>
    public NtkWorkload(int n, NtkMode mode, int seed = 0)
    {
        _mode = mode;
        _theta = CpuNetwork<TNet, T>.InitializeParameters(seed);
        _x = RandomInputs<T>(n, TNet.InputSize, seed + 1);
        int o = TNet.OutputSize;
        _result = mode == NtkMode.Full ? new Matrix<T>(n * o, n * o) : new Matrix<T>(n, n);
        _thetaTensor = TorchConvert.ToRowTensor<T>(_theta);
        _xTensor = _x.ToTensor();
        _torch = new TorchNetwork<TNet>(new TorchBackend(TorchConvert.DTypeOf<T>()));
        Implementations = new Dictionary<string, Action>
        {
            ["ntkdsl_cpu"] = NtkDslCpu,
            ["ntkdsl_torch"] = () => { using var s = NewDisposeScope(); _ = NtkDslTorch(); },
            ["torch_layerwise"] = () => { using var s = NewDisposeScope(); _ = TorchLayerwise(); },
            ["torch_autograd"] = () => { using var s = NewDisposeScope(); _ = TorchAutograd(); },
        };
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Action> Implementations { get; }

    /// <summary>Generated code on the CPU backend, into a preallocated result (a session that keeps its workspace, as the Torch host does).</summary>
    public void NtkDslCpu() => _cpu.Ntk(_theta, _x, null, _mode, _result);

    /// <summary>Generated code on the Torch backend.</summary>
    public Tensor NtkDslTorch() => _torch.Ntk(_thetaTensor, _xTensor, null, _mode);

    /// <summary>The same algorithm in plain torch ops.</summary>
    public Tensor TorchLayerwise() => TorchReference.LayerwiseNtk(TNet.Description, _thetaTensor, _xTensor, _mode);

    /// <summary>J J^T with torch autograd.</summary>
    public Tensor TorchAutograd() => TorchAutogradNtk.Ntk(TNet.Description, _thetaTensor, _xTensor, null, _mode);

    /// <inheritdoc/>
    public override double[] Result(string implementation)
    {
        using var scope = NewDisposeScope();
        switch (implementation)
        {
            case "ntkdsl_cpu": NtkDslCpu(); return ToDoubles(_result);
            case "ntkdsl_torch": return ToDoubles(NtkDslTorch());
            case "torch_layerwise": return ToDoubles(TorchLayerwise());
            case "torch_autograd": return ToDoubles(TorchAutograd());
            default: throw new ArgumentOutOfRangeException(nameof(implementation), implementation, null);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        _thetaTensor.Dispose();
        _xTensor.Dispose();
        _torch.Dispose();
        _cpu.Dispose();
    }
}

/// <summary>f(x) for <see cref="ForwardMlp"/>: NtkDsl (CPU, Torch) against a TorchSharp nn.Sequential.</summary>
public sealed class ForwardWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _theta;
    private readonly Matrix<T> _x;
    private readonly Matrix<T> _output;
    private readonly Tensor _thetaTensor;
    private readonly Tensor _xTensor;
    private readonly TorchNetwork<ForwardMlp> _torch;
    private readonly Sequential _sequential;

    /// <summary>A batch of <paramref name="batch"/> inputs.</summary>
    public ForwardWorkload(int batch, int seed = 0)
    {
        _theta = CpuNetwork<ForwardMlp, T>.InitializeParameters(seed);
        _x = RandomInputs<T>(batch, ForwardMlp.InputSize, seed + 1);
        _output = new Matrix<T>(batch, ForwardMlp.OutputSize);
        _thetaTensor = TorchConvert.ToRowTensor<T>(_theta);
        _xTensor = _x.ToTensor();
        _torch = new TorchNetwork<ForwardMlp>(new TorchBackend(TorchConvert.DTypeOf<T>()));
        _sequential = TorchReference.Sequential(ForwardMlp.Description, _thetaTensor);
        Implementations = new Dictionary<string, Action>
        {
            ["ntkdsl_cpu"] = NtkDslCpu,
            ["ntkdsl_cpu_unchecked"] = NtkDslCpuUnchecked,
            ["ntkdsl_torch"] = () => { using var s = NewDisposeScope(); _ = NtkDslTorch(); },
            ["torch_sequential"] = () => { using var s = NewDisposeScope(); _ = TorchSequential(); },
            ["torch_layerwise"] = () => { using var s = NewDisposeScope(); _ = TorchReference.Forward(ForwardMlp.Description, _thetaTensor, _xTensor); },
        };
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Action> Implementations { get; }

    /// <summary>Generated forward on the CPU backend into a preallocated output.</summary>
    public void NtkDslCpu() => CpuNetwork<ForwardMlp, T>.Forward(_theta, _x, _output);

    /// <summary>
    /// The generated forward body called directly on the CPU backend, without the host API's argument checks
    /// (shapes, and a NaN/Inf scan of the 4.2 M parameters and the inputs): measures what the checks cost.
    /// </summary>
    public void NtkDslCpuUnchecked() => Unchecked<ForwardMlp>(_theta, _x, _output, _workspace);

    // INetwork's members are implemented explicitly: reach them through the type parameter.
    private static void Unchecked<TNet>(T[] theta, Matrix<T> x, Matrix<T> output, Workspace<CpuTensor<T>> workspace) where TNet : INetwork<TNet> =>
        TNet.Forward(new CpuBackend<T>(CpuSettings.MaxDegreeOfParallelism), CpuTensor<T>.Of(theta), CpuTensor<T>.Of(x), CpuTensor<T>.Of(output), workspace);

    private readonly Workspace<CpuTensor<T>> _workspace = new();

    /// <summary>Generated forward on the Torch backend.</summary>
    public Tensor NtkDslTorch() => _torch.Forward(_thetaTensor, _xTensor);

    /// <summary>nn.Sequential(Linear, ReLU, ...) under no_grad.</summary>
    public Tensor TorchSequential()
    {
        using var noGrad = no_grad();
        return _sequential.forward(_xTensor);
    }

    /// <inheritdoc/>
    public override double[] Result(string implementation)
    {
        using var scope = NewDisposeScope();
        switch (implementation)
        {
            case "ntkdsl_cpu": NtkDslCpu(); return ToDoubles(_output);
            case "ntkdsl_cpu_unchecked": NtkDslCpuUnchecked(); return ToDoubles(_output);
            case "ntkdsl_torch": return ToDoubles(NtkDslTorch());
            case "torch_sequential": return ToDoubles(TorchSequential());
            case "torch_layerwise": return ToDoubles(TorchReference.Forward(ForwardMlp.Description, _thetaTensor, _xTensor));
            default: throw new ArgumentOutOfRangeException(nameof(implementation), implementation, null);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        _thetaTensor.Dispose();
        _xTensor.Dispose();
        _torch.Dispose();
        _sequential.Dispose();
    }
}

/// <summary>The analytic infinite-width NTK of <see cref="DeepReluMlp"/> (float64).</summary>
public sealed class InfiniteWorkload : Workload
{
    private readonly Matrix<double> _x;
    private readonly Tensor _xTensor;
    private readonly InfiniteWidthOptions _options;

    /// <summary>N = <paramref name="n"/> inputs; <paramref name="threads"/> threads for the CPU recursion.</summary>
    public InfiniteWorkload(int n, int threads, int seed = 0)
    {
        _x = RandomInputs<double>(n, DeepReluMlp.InputSize, seed + 1);
        _xTensor = _x.ToTensor();
        _options = new InfiniteWidthOptions { MaxDegreeOfParallelism = threads };
        Implementations = new Dictionary<string, Action>
        {
            ["ntkdsl_cpu"] = () => NtkDslCpu(),
            ["torch_layerwise"] = () => { using var s = NewDisposeScope(); _ = TorchLayerwise(); },
        };
    }

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Action> Implementations { get; }

    /// <summary>The generated InfiniteWidth member (NNGP and NTK).</summary>
    public InfiniteWidthKernels NtkDslCpu() => DeepReluMlp.InfiniteWidth(_x, null, _options);

    /// <summary>The arc-cosine recursion in plain torch ops (NTK only).</summary>
    public Tensor TorchLayerwise() => TorchReference.InfiniteReluNtk(DeepReluMlp.Description, _xTensor);

    /// <inheritdoc/>
    public override double[] Result(string implementation)
    {
        using var scope = NewDisposeScope();
        return implementation switch
        {
            "ntkdsl_cpu" => NtkDslCpu().Ntk.Data,
            "torch_layerwise" => ToDoubles(TorchLayerwise()),
            _ => throw new ArgumentOutOfRangeException(nameof(implementation), implementation, null),
        };
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) _xTensor.Dispose();
    }
}

/// <summary>
/// Closed-form gradient-descent predictions at many times from an infinite-width NTK of N train and M test
/// points: <see cref="GradientDescentMse"/> with its default CPU linear algebra, with MathNet (n &lt;= 1000) and with
/// torch.linalg, and plain torch.
/// </summary>
public sealed class DynamicsWorkload : Workload
{
    private const double LearningRate = 1.0;
    private readonly Matrix<double> _k;
    private readonly Matrix<double> _kTestTrain;
    private readonly Matrix<double> _y;
    private readonly Matrix<double> _f0;
    private readonly Matrix<double> _f0Test;
    private readonly double[] _times;
    private readonly Tensor[] _tensors;

    /// <summary>n train points, m test points, one output, <paramref name="times"/> log-spaced times.</summary>
    public DynamicsWorkload(int n, int m, int times, int threads, int seed = 0)
    {
        // A realistic kernel: the infinite-width NTK of a 2-hidden-layer ReLU net on random inputs.
        var x = RandomInputs<double>(n + m, SmallMlp.InputSize, seed + 1);
        var joint = SmallMlp.InfiniteWidth(x, null, new InfiniteWidthOptions { MaxDegreeOfParallelism = threads }).Ntk;
        _k = Block(joint, 0, 0, n, n);
        _kTestTrain = Block(joint, n, 0, m, n);
        _y = RandomInputs<double>(n, 1, seed + 2);
        _f0 = RandomInputs<double>(n, 1, seed + 3);
        _f0Test = RandomInputs<double>(m, 1, seed + 4);
        for (int i = 0; i < _f0.Data.Length; i++) _f0.Data[i] *= 0.1;
        for (int i = 0; i < _f0Test.Data.Length; i++) _f0Test.Data[i] *= 0.1;
        _times = Enumerable.Range(0, times).Select(i => Math.Pow(10, -1 + 6.0 * i / Math.Max(1, times - 1))).ToArray();
        _tensors = [_k.ToTensor(), _kTestTrain.ToTensor(), _y.ToTensor(), _f0.ToTensor(), _f0Test.ToTensor()];
        Implementations = new Dictionary<string, Action>
        {
            ["ntkdsl_cpu"] = () => Predict(CpuKernelLinearAlgebra.Instance),
            ["ntkdsl_torch"] = () => Predict(TorchKernelLinearAlgebra.Cpu),
            ["torch_layerwise"] = () => PlainTorch(),
        };
        if (n <= 1000) ((Dictionary<string, Action>)Implementations)["ntkdsl_mathnet"] = () => Predict(MathNetLinearAlgebra.Instance);
    }

    /// <summary>Number of train points.</summary>
    public int TrainPoints => _k.Rows;

    /// <summary>Number of test points.</summary>
    public int TestPoints => _kTestTrain.Rows;

    /// <summary>Number of times.</summary>
    public int Times => _times.Length;

    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, Action> Implementations { get; }

    /// <summary>GradientDescentMse (eigendecomposition included) with <paramref name="linearAlgebra"/>.</summary>
    public IReadOnlyList<MsePrediction> Predict(IKernelLinearAlgebra linearAlgebra)
    {
        using var dynamics = new GradientDescentMse(_k, _y, LearningRate, linearAlgebra: linearAlgebra);
        return dynamics.Predict(_times, _f0, _f0Test, _kTestTrain);
    }

    /// <summary>The same formulas in plain torch ops.</summary>
    public List<(Matrix<double> Train, Matrix<double> Test)> PlainTorch() =>
        TorchReference.Dynamics(_tensors[0], _tensors[1], _tensors[2], _tensors[3], _tensors[4], LearningRate, _times);

    /// <inheritdoc/>
    public override double[] Result(string implementation)
    {
        IEnumerable<(Matrix<double> Train, Matrix<double> Test)> results = implementation switch
        {
            "ntkdsl_cpu" => Predict(CpuKernelLinearAlgebra.Instance).Select(p => (p.Train, p.Test!)),
            "ntkdsl_mathnet" => Predict(MathNetLinearAlgebra.Instance).Select(p => (p.Train, p.Test!)),
            "ntkdsl_torch" => Predict(TorchKernelLinearAlgebra.Cpu).Select(p => (p.Train, p.Test!)),
            "torch_layerwise" => PlainTorch(),
            _ => throw new ArgumentOutOfRangeException(nameof(implementation), implementation, null),
        };
        return results.SelectMany(r => r.Train.Data.Concat(r.Test.Data)).ToArray();
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (!disposing) return;
        foreach (var t in _tensors) t.Dispose();
    }

    private static Matrix<double> Block(Matrix<double> m, int row, int col, int rows, int cols)
    {
        var b = new Matrix<double>(rows, cols);
        for (int i = 0; i < rows; i++) m.Row(row + i).Slice(col, cols).CopyTo(b.Row(i));
        return b;
    }
}

using NtkDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

/// <summary>
/// Runs a generated network's passes on torch tensors (CPU or CUDA, float32 or float64) through
/// <see cref="TorchBackend"/>. Inputs are validated (shape, element type, device, finiteness) and each call
/// returns new result tensors that join the caller's dispose scope, if any; scratch buffers are kept in a
/// workspace between calls and released by <see cref="Dispose"/>.
/// </summary>
/// <remarks>Not thread-safe (one workspace per instance): use one instance per thread.</remarks>
/// <typeparam name="TNet">The declared network type.</typeparam>
public sealed class TorchNetwork<TNet> : IDisposable where TNet : INetwork<TNet>
{
    private readonly Workspace<Tensor> _workspace = new();
    private bool _disposed;

    /// <summary>A host for <typeparamref name="TNet"/> on <paramref name="backend"/>.</summary>
    public TorchNetwork(TorchBackend backend)
    {
        TorchRuntime.EnsureLoaded();
        Backend = backend;
    }

    /// <summary>A host on a float64 CPU backend.</summary>
    public TorchNetwork() : this(TorchBackend.Float64())
    {
    }

    /// <summary>The backend (element type and device) every tensor must match.</summary>
    public TorchBackend Backend { get; }

    /// <summary>f(x; parameters) [N, O] for parameters [1, P] (or [P]) and x [N, d].</summary>
    public Tensor Forward(Tensor parameters, Tensor x)
    {
        var (n, _) = Check(parameters, x, nameof(x));
        var output = NewResult(n, TNet.OutputSize);
        using (var scope = NewDisposeScope())
            TNet.Forward(Backend, Flat(parameters), x, output, _workspace);
        RequireFiniteResult(output, nameof(output), "x or the parameters");
        return output;
    }

    /// <summary>
    /// Reverse mode: the gradient [1, P] of sum_n &lt;cotangent[n], f(x[n]; parameters)&gt; for cotangent [N, O],
    /// with the outputs f(x; parameters) [N, O].
    /// </summary>
    public (Tensor Output, Tensor Gradient) Vjp(Tensor parameters, Tensor x, Tensor cotangent)
    {
        var (n, _) = Check(parameters, x, nameof(x));
        CheckTensor(cotangent, nameof(cotangent), n, TNet.OutputSize);
        var output = NewResult(n, TNet.OutputSize);
        var gradient = NewResult(1, TNet.ParameterCount);
        using (var scope = NewDisposeScope())
            TNet.Vjp(Backend, Flat(parameters), x, cotangent, output, gradient, _workspace);
        RequireFiniteResult(output, nameof(output), "x or the parameters");
        RequireFiniteResult(gradient, nameof(gradient), "x, cotangent or the parameters");
        return (output, gradient);
    }

    /// <summary>
    /// Forward mode: the outputs f(x; parameters) [N, O] and J(x; parameters) tangent [N, O], the derivative along
    /// tangent [1, P] (or [P]).
    /// </summary>
    public (Tensor Output, Tensor TangentOutput) Jvp(Tensor parameters, Tensor x, Tensor tangent)
    {
        var (n, _) = Check(parameters, x, nameof(x));
        CheckParameters(tangent, nameof(tangent));
        var output = NewResult(n, TNet.OutputSize);
        var tangentOutput = NewResult(n, TNet.OutputSize);
        using (var scope = NewDisposeScope())
            TNet.Jvp(Backend, Flat(parameters), x, Flat(tangent), output, tangentOutput, _workspace);
        RequireFiniteResult(output, nameof(output), "x or the parameters");
        RequireFiniteResult(tangentOutput, nameof(tangentOutput), "x, tangent or the parameters");
        return (output, tangentOutput);
    }

    /// <summary>The Jacobian [N * O, P]: row n * O + k is d f_k(x[n]) / d parameters. For small networks and tests.</summary>
    public Tensor Jacobian(Tensor parameters, Tensor x)
    {
        var (n, _) = Check(parameters, x, nameof(x));
        var jacobian = NewResult(checked(n * TNet.OutputSize), TNet.ParameterCount);
        using (var scope = NewDisposeScope())
            TNet.Jacobian(Backend, Flat(parameters), x, jacobian, _workspace);
        RequireFiniteResult(jacobian, nameof(jacobian), "x or the parameters");
        return jacobian;
    }

    /// <summary>
    /// The structured empirical NTK Theta(x1, x2) (x2 = x1 when null), without forming a Jacobian:
    /// <see cref="NtkMode.Full"/> [N1 * O, N2 * O] with entry (n1 * O + k, n2 * O + k'); <see cref="NtkMode.Trace"/>
    /// [N1, N2], the mean over outputs (the default, as on the CPU); <see cref="NtkMode.Diagonal"/> [O * N1, N2], block k = Theta_kk.
    /// </summary>
    public Tensor Ntk(Tensor parameters, Tensor x1, Tensor? x2 = null, NtkMode mode = NtkMode.Trace)
    {
        var (n1, _) = Check(parameters, x1, nameof(x1));
        bool same = x2 is null || ReferenceEquals(x1, x2);
        int n2 = n1;
        if (!same) (n2, _) = Check(parameters, x2!, nameof(x2));
        int o = TNet.OutputSize;
        var (rows, cols) = NtkModes.ResultShape(mode, n1, n2, o);
        var result = NewResult(rows, cols);
        using (var scope = NewDisposeScope())
            TNet.Ntk(Backend, Flat(parameters), x1, same ? x1 : x2!, same, mode, result, _workspace);
        RequireFiniteResult(result, nameof(result), "x1, x2 or the parameters");
        return result;
    }

    /// <summary>Releases the scratch buffers.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _workspace.Clear();
    }

    private (int Rows, int Cols) Check(Tensor parameters, Tensor x, string xName)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckParameters(parameters, nameof(parameters));
        ArgumentNullException.ThrowIfNull(x, xName);
        if (TNet.Description.InputChannels > 0 && (x.dim() != 2 || x.size(1) != TNet.InputSize || x.size(0) == 0))
            throw Shapes.SpatialInputError(xName, TNet.Description, TorchConvert.Shape(x));
        CheckTensor(x, xName, -1, TNet.InputSize);
        return (checked((int)x.size(0)), TNet.InputSize);
    }

    private void CheckParameters(Tensor vector, string name)
    {
        ArgumentNullException.ThrowIfNull(vector, name);
        int p = TNet.ParameterCount;
        if (vector.dim() == 1)
        {
            if (vector.size(0) != p)
                throw new ArgumentException($"Expected shape [1, {p}] or [{p}], got {TorchConvert.Shape(vector)}.", name);
            CheckCommon(vector, name);
        }
        else
        {
            CheckTensor(vector, name, 1, p);
        }
    }

    private void CheckTensor(Tensor t, string name, long rows, long cols)
    {
        ArgumentNullException.ThrowIfNull(t, name);
        TorchConvert.Require(t, name, rows, cols, Backend.DType, Backend.Device);
        CheckCommon(t, name);
    }

    private void CheckCommon(Tensor t, string name)
    {
        if (t.dtype != Backend.DType)
            throw new ArgumentException($"Expected element type {Backend.DType}, got {t.dtype}.", name);
        if (!TorchConvert.SameDevice(t.device, Backend.Device))
            throw new ArgumentException($"Expected a tensor on {Backend.Device}, got one on {t.device}.", name);
        TorchConvert.RequireFinite(t, name);
    }

    // Inputs were checked finite, so a non-finite result overflowed: say so, as the CPU host does.
    private static void RequireFiniteResult(Tensor result, string name, string inputs)
    {
        using var scope = NewDisposeScope();
        if (result.isfinite().all().item<bool>()) return;
        throw new OverflowException(
            $"'{name}' contains non-finite values although every input is finite: the computation overflowed {result.dtype} " +
            $"(an intermediate value exceeded its range). Scale {inputs} down, or use float64 if this is float32.");
    }

    // [1, P] contiguous view or copy of a parameter-shaped tensor (joins the call's scope).
    private static Tensor Flat(Tensor vector) => vector.reshape(1, -1).contiguous();

    private Tensor NewResult(int rows, int cols) => zeros(rows, cols, dtype: Backend.DType, device: Backend.Device);
}

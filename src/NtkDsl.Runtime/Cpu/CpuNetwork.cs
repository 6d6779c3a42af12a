using System.Numerics;
using NtkDsl.Backends;

namespace NtkDsl.Cpu;

/// <summary>
/// A host session for a generated network on the CPU backend: validates arguments (shapes, NaN/Inf, overlapping
/// buffers), owns its workspace (the scratch buffers of the passes, kept between calls so that repeated calls of
/// the same size allocate nothing) and releases it on <see cref="Dispose"/>. Same members, argument names, order
/// and defaults as the Torch session (<c>TorchNetwork&lt;TNet&gt;</c>). Not thread-safe: one session per thread.
/// </summary>
/// <typeparam name="TNet">The declared network type.</typeparam>
/// <typeparam name="T">float or double.</typeparam>
public sealed class CpuSession<TNet, T> : IDisposable
    where TNet : INetwork<TNet>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Workspace<CpuTensor<T>> _workspace = new();
    private bool _disposed;

    /// <summary>Bytes the session's workspace holds now.</summary>
    public long WorkspaceBytes => _workspace.HeldElements * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

    private Workspace<CpuTensor<T>> Workspace
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _workspace;
        }
    }

    private static CpuBackend<T> Backend => new(CpuSettings.MaxDegreeOfParallelism);

    /// <summary>f(x) [N, O].</summary>
    public Matrix<T> Forward(T[] parameters, Matrix<T> x)
    {
        var output = new Matrix<T>(Rows(x, nameof(x)), TNet.OutputSize);
        Forward(parameters, x, output);
        return output;
    }

    /// <summary>f(x) written into <paramref name="output"/> [N, O].</summary>
    public void Forward(T[] parameters, Matrix<T> x, Matrix<T> output)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckInput(x, nameof(x));
        CheckShape(output, x.Rows, TNet.OutputSize, nameof(output));
        Distinct(output.Data, nameof(output), parameters, x, null);
        TNet.Forward(Backend, CpuTensor<T>.Of(parameters), CpuTensor<T>.Of(x), CpuTensor<T>.Of(output), Workspace);
        Shapes.RequireFiniteResult<T>(output.Data, nameof(output), "x or the parameters");
    }

    /// <summary>The gradient of sum_n &lt;cotangent[n], f(x[n])&gt; with respect to the parameters.</summary>
    public T[] Vjp(T[] parameters, Matrix<T> x, Matrix<T> cotangent)
    {
        var gradient = new T[TNet.ParameterCount];
        Vjp(parameters, x, cotangent, new Matrix<T>(Rows(x, nameof(x)), TNet.OutputSize), gradient);
        return gradient;
    }

    /// <summary>Writes f(x) into <paramref name="output"/> [N, O] and the gradient into <paramref name="gradient"/> [P] (the order of <see cref="INetwork{TSelf}.Vjp"/>).</summary>
    public void Vjp(T[] parameters, Matrix<T> x, Matrix<T> cotangent, Matrix<T> output, T[] gradient)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckInput(x, nameof(x));
        CheckShape(cotangent, x.Rows, TNet.OutputSize, nameof(cotangent));
        Shapes.RequireFinite<T>(cotangent.Data, nameof(cotangent));
        CheckShape(output, x.Rows, TNet.OutputSize, nameof(output));
        CheckLength(gradient, nameof(gradient));
        Distinct(gradient, nameof(gradient), parameters, x, cotangent);
        Distinct(output.Data, nameof(output), parameters, x, cotangent);
        Shapes.RequireDistinct<T>(gradient, nameof(gradient), output.Data, nameof(output));
        TNet.Vjp(Backend, CpuTensor<T>.Of(parameters), CpuTensor<T>.Of(x), CpuTensor<T>.Of(cotangent), CpuTensor<T>.Of(output),
            CpuTensor<T>.Of(gradient), Workspace);
        Shapes.RequireFiniteResult<T>(gradient, nameof(gradient), "x, cotangent or the parameters");
    }

    /// <summary>J(x) tangent [N, O], by forward-mode differentiation.</summary>
    public Matrix<T> Jvp(T[] parameters, Matrix<T> x, T[] tangent)
    {
        var output = new Matrix<T>(Rows(x, nameof(x)), TNet.OutputSize);
        var tangentOutput = new Matrix<T>(x.Rows, TNet.OutputSize);
        Jvp(parameters, x, tangent, output, tangentOutput);
        return tangentOutput;
    }

    /// <summary>Writes f(x) into <paramref name="output"/> and J(x) tangent into <paramref name="tangentOutput"/>.</summary>
    public void Jvp(T[] parameters, Matrix<T> x, T[] tangent, Matrix<T> output, Matrix<T> tangentOutput)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckParameters(tangent, nameof(tangent));
        CheckInput(x, nameof(x));
        CheckShape(output, x.Rows, TNet.OutputSize, nameof(output));
        CheckShape(tangentOutput, x.Rows, TNet.OutputSize, nameof(tangentOutput));
        Distinct(output.Data, nameof(output), parameters, x, null);
        Distinct(tangentOutput.Data, nameof(tangentOutput), parameters, x, null);
        Shapes.RequireDistinct<T>(output.Data, nameof(output), tangent, nameof(tangent));
        Shapes.RequireDistinct<T>(tangentOutput.Data, nameof(tangentOutput), tangent, nameof(tangent));
        Shapes.RequireDistinct<T>(tangentOutput.Data, nameof(tangentOutput), output.Data, nameof(output));
        TNet.Jvp(Backend, CpuTensor<T>.Of(parameters), CpuTensor<T>.Of(x), CpuTensor<T>.Of(tangent), CpuTensor<T>.Of(output),
            CpuTensor<T>.Of(tangentOutput), Workspace);
        Shapes.RequireFiniteResult<T>(tangentOutput.Data, nameof(tangentOutput), "x, tangent or the parameters");
    }

    /// <summary>The per-sample Jacobian [N * O, P].</summary>
    public Matrix<T> Jacobian(T[] parameters, Matrix<T> x)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckInput(x, nameof(x));
        ShapeLimits.RequireJacobian(x.Rows, TNet.OutputSize, TNet.ParameterCount, nameof(x));
        var jacobian = new Matrix<T>(x.Rows * TNet.OutputSize, TNet.ParameterCount);
        TNet.Jacobian(Backend, CpuTensor<T>.Of(parameters), CpuTensor<T>.Of(x), CpuTensor<T>.Of(jacobian), Workspace);
        Shapes.RequireFiniteResult<T>(jacobian.Data, "jacobian", "x or the parameters");
        return jacobian;
    }

    /// <summary>The empirical NTK Theta(x1, x2); x2 = null means x1 (and reuses its forward pass). Shapes: see <see cref="NtkMode"/>.</summary>
    public Matrix<T> Ntk(T[] parameters, Matrix<T> x1, Matrix<T>? x2 = null, NtkMode mode = NtkMode.Trace)
    {
        int n1 = Rows(x1, nameof(x1)), n2 = x2 is null ? n1 : Rows(x2, nameof(x2));
        ShapeLimits.RequireNtk(n1, n2, TNet.OutputSize, mode, nameof(x1));
        var (rows, cols) = NtkModes.ResultShape(mode, n1, n2, TNet.OutputSize);
        var result = new Matrix<T>(rows, cols);
        Ntk(parameters, x1, x2, mode, result);
        return result;
    }

    /// <summary>Writes the empirical NTK into <paramref name="result"/> (shape per <see cref="NtkMode"/>).</summary>
    public void Ntk(T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkMode mode, Matrix<T> result)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckInput(x1, nameof(x1));
        bool same = x2 is null || ReferenceEquals(x1, x2);
        if (!same) CheckInput(x2!, nameof(x2));
        ArgumentNullException.ThrowIfNull(result);
        var (rows, cols) = NtkModes.ResultShape(mode, x1.Rows, same ? x1.Rows : x2!.Rows, TNet.OutputSize);
        CheckShape(result, rows, cols, nameof(result));
        Distinct(result.Data, nameof(result), parameters, x1, same ? null : x2);
        var t1 = CpuTensor<T>.Of(x1);
        TNet.Ntk(Backend, CpuTensor<T>.Of(parameters), t1, same ? t1 : CpuTensor<T>.Of(x2!), same, mode, CpuTensor<T>.Of(result), Workspace);
        Shapes.RequireFiniteResult<T>(result.Data, nameof(result), "x1, x2 or the parameters");
    }

    /// <summary>Releases the workspace (the next call allocates it again).</summary>
    public void Dispose()
    {
        _disposed = true;
        _workspace.Clear();
    }

    /// <summary>Releases the workspace when it holds more than <paramref name="maxBytes"/>.</summary>
    internal void Trim(long maxBytes)
    {
        if (WorkspaceBytes > maxBytes) _workspace.Clear();
    }

    private static void Distinct(ReadOnlySpan<T> destination, string name, T[] parameters, Matrix<T> x, Matrix<T>? other)
    {
        Shapes.RequireDistinct<T>(destination, name, parameters, nameof(parameters));
        Shapes.RequireDistinct<T>(destination, name, x.Data, nameof(x));
        if (other is not null) Shapes.RequireDistinct<T>(destination, name, other.Data, "cotangent or x2");
    }

    private static int Rows(Matrix<T> x, string name)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        return x.Rows;
    }

    private static void CheckInput(Matrix<T> x, string name) => Shapes.RequireInput(x, name, TNet.Description);

    private static void CheckParameters(T[] parameters, string name)
    {
        Shapes.RequireParameters(parameters, name, TNet.Description);
    }

    private static void CheckLength(T[] vector, string name)
    {
        ArgumentNullException.ThrowIfNull(vector, name);
        if (vector.Length != TNet.ParameterCount)
            throw new ArgumentException($"'{name}' must have length ParameterCount = {TNet.ParameterCount} ({TNet.Description.Name}), but has length {vector.Length}.", name);
    }

    private static void CheckShape(Matrix<T> m, int rows, int cols, string name)
    {
        ArgumentNullException.ThrowIfNull(m, name);
        if (m.Rows != rows || m.Cols != cols)
            throw new ArgumentException($"'{name}' must have shape [{rows}, {cols}], but has shape [{m.Rows}, {m.Cols}].", name);
    }
}

/// <summary>
/// Static entry points for a generated network on the CPU backend (the generated Forward, Vjp, Jvp, Jacobian and
/// Ntk members delegate here): the members of <see cref="CpuSession{TNet, T}"/> on a per-thread session whose
/// workspace is released after any call that leaves more than <see cref="CpuSettings.RetainedWorkspaceBytes"/>
/// in it, so small repeated calls allocate nothing and one large call does not pin gigabytes. Use a
/// <see cref="CpuSession{TNet, T}"/> to own the buffers explicitly.
/// </summary>
public static class CpuNetwork<TNet, T>
    where TNet : INetwork<TNet>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    [ThreadStatic]
    private static CpuSession<TNet, T>? t_session;

    private static CpuSession<TNet, T> Session => t_session ??= new();

    /// <summary>Parameters drawn from the initialization distribution (see <see cref="ParameterInitializer"/>).</summary>
    public static T[] InitializeParameters(int seed) => ParameterInitializer.Initialize<T>(TNet.Description, seed);

    /// <inheritdoc cref="CpuSession{TNet, T}.Forward(T[], Matrix{T})"/>
    public static Matrix<T> Forward(T[] parameters, Matrix<T> x) => Trimmed(Session.Forward(parameters, x));

    /// <inheritdoc cref="CpuSession{TNet, T}.Forward(T[], Matrix{T}, Matrix{T})"/>
    public static void Forward(T[] parameters, Matrix<T> x, Matrix<T> output)
    {
        Session.Forward(parameters, x, output);
        Trim();
    }

    /// <inheritdoc cref="CpuSession{TNet, T}.Vjp(T[], Matrix{T}, Matrix{T})"/>
    public static T[] Vjp(T[] parameters, Matrix<T> x, Matrix<T> cotangent) => Trimmed(Session.Vjp(parameters, x, cotangent));

    /// <inheritdoc cref="CpuSession{TNet, T}.Vjp(T[], Matrix{T}, Matrix{T}, Matrix{T}, T[])"/>
    public static void Vjp(T[] parameters, Matrix<T> x, Matrix<T> cotangent, Matrix<T> output, T[] gradient)
    {
        Session.Vjp(parameters, x, cotangent, output, gradient);
        Trim();
    }

    /// <inheritdoc cref="CpuSession{TNet, T}.Jvp(T[], Matrix{T}, T[])"/>
    public static Matrix<T> Jvp(T[] parameters, Matrix<T> x, T[] tangent) => Trimmed(Session.Jvp(parameters, x, tangent));

    /// <inheritdoc cref="CpuSession{TNet, T}.Jvp(T[], Matrix{T}, T[], Matrix{T}, Matrix{T})"/>
    public static void Jvp(T[] parameters, Matrix<T> x, T[] tangent, Matrix<T> output, Matrix<T> tangentOutput)
    {
        Session.Jvp(parameters, x, tangent, output, tangentOutput);
        Trim();
    }

    /// <inheritdoc cref="CpuSession{TNet, T}.Jacobian"/>
    public static Matrix<T> Jacobian(T[] parameters, Matrix<T> x) => Trimmed(Session.Jacobian(parameters, x));

    /// <inheritdoc cref="CpuSession{TNet, T}.Ntk(T[], Matrix{T}, Matrix{T}?, NtkMode)"/>
    public static Matrix<T> Ntk(T[] parameters, Matrix<T> x1, Matrix<T>? x2 = null, NtkMode mode = NtkMode.Trace) =>
        Trimmed(Session.Ntk(parameters, x1, x2, mode));

    /// <inheritdoc cref="CpuSession{TNet, T}.Ntk(T[], Matrix{T}, Matrix{T}?, NtkMode, Matrix{T})"/>
    public static void Ntk(T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkMode mode, Matrix<T> result)
    {
        Session.Ntk(parameters, x1, x2, mode, result);
        Trim();
    }

    /// <summary>Bytes the calling thread's session holds between calls (at most <see cref="CpuSettings.RetainedWorkspaceBytes"/>).</summary>
    public static long RetainedWorkspaceBytes => t_session?.WorkspaceBytes ?? 0;

    private static TResult Trimmed<TResult>(TResult result)
    {
        Trim();
        return result;
    }

    private static void Trim() => Session.Trim(CpuSettings.RetainedWorkspaceBytes);
}

/// <summary>Process-wide settings of the CPU backend used by the generated host entry points.</summary>
public static class CpuSettings
{
    /// <summary>Threads for large operations; 0 (default) uses every core.</summary>
    public static int MaxDegreeOfParallelism { get; set; }

    /// <summary>
    /// The most workspace bytes a thread keeps between calls of the static entry points (<see cref="CpuNetwork{TNet, T}"/>);
    /// a call that needed more releases its buffers when it returns. 64 MiB by default.
    /// </summary>
    public static long RetainedWorkspaceBytes { get; set; } = 64L << 20;
}

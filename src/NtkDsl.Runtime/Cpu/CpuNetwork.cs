using System.Numerics;
using NtkDsl.Backends;

namespace NtkDsl.Cpu;

/// <summary>
/// Host entry points for a generated network on the CPU backend: validates arguments (shapes, NaN/Inf),
/// keeps one workspace per thread, and returns new matrices. The generated Forward, Vjp, Jvp, Jacobian
/// and Ntk members of a network delegate here; the overloads with a destination allocate nothing in steady state.
/// </summary>
public static class CpuNetwork<TNet, T>
    where TNet : INetwork<TNet>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    [ThreadStatic]
    private static Workspace<CpuTensor<T>>? t_workspace;

    private static Workspace<CpuTensor<T>> Workspace => t_workspace ??= new();

    private static CpuBackend<T> Backend => new(CpuSettings.MaxDegreeOfParallelism);

    /// <summary>Parameters drawn from the initialization distribution (see <see cref="ParameterInitializer"/>).</summary>
    public static T[] InitializeParameters(int seed) => ParameterInitializer.Initialize<T>(TNet.Description, seed);

    /// <summary>f(x) [N, O].</summary>
    public static Matrix<T> Forward(T[] parameters, Matrix<T> x)
    {
        var output = new Matrix<T>(Rows(x, nameof(x)), TNet.OutputSize);
        Forward(parameters, x, output);
        return output;
    }

    /// <summary>f(x) written into <paramref name="output"/> [N, O].</summary>
    public static void Forward(T[] parameters, Matrix<T> x, Matrix<T> output)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckInput(x, nameof(x));
        CheckShape(output, x.Rows, TNet.OutputSize, nameof(output));
        TNet.Forward(Backend, CpuTensor<T>.Of(parameters), CpuTensor<T>.Of(x), CpuTensor<T>.Of(output), Workspace);
    }

    /// <summary>The gradient of sum_n &lt;cotangent[n], f(x[n])&gt; with respect to the parameters.</summary>
    public static T[] Vjp(T[] parameters, Matrix<T> x, Matrix<T> cotangent)
    {
        var gradient = new T[TNet.ParameterCount];
        Vjp(parameters, x, cotangent, gradient, new Matrix<T>(Rows(x, nameof(x)), TNet.OutputSize));
        return gradient;
    }

    /// <summary>Writes the gradient into <paramref name="gradient"/> and f(x) into <paramref name="output"/>.</summary>
    public static void Vjp(T[] parameters, Matrix<T> x, Matrix<T> cotangent, T[] gradient, Matrix<T> output)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckInput(x, nameof(x));
        CheckShape(cotangent, x.Rows, TNet.OutputSize, nameof(cotangent));
        CheckFinite(cotangent.Data, nameof(cotangent));
        CheckLength(gradient, nameof(gradient));
        CheckShape(output, x.Rows, TNet.OutputSize, nameof(output));
        TNet.Vjp(Backend, CpuTensor<T>.Of(parameters), CpuTensor<T>.Of(x), CpuTensor<T>.Of(cotangent), CpuTensor<T>.Of(output),
            CpuTensor<T>.Of(gradient), Workspace);
    }

    /// <summary>J(x) tangent [N, O], by forward-mode differentiation.</summary>
    public static Matrix<T> Jvp(T[] parameters, Matrix<T> x, T[] tangent)
    {
        var output = new Matrix<T>(Rows(x, nameof(x)), TNet.OutputSize);
        var tangentOutput = new Matrix<T>(x.Rows, TNet.OutputSize);
        Jvp(parameters, x, tangent, output, tangentOutput);
        return tangentOutput;
    }

    /// <summary>Writes f(x) into <paramref name="output"/> and J(x) tangent into <paramref name="tangentOutput"/>.</summary>
    public static void Jvp(T[] parameters, Matrix<T> x, T[] tangent, Matrix<T> output, Matrix<T> tangentOutput)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckParameters(tangent, nameof(tangent));
        CheckInput(x, nameof(x));
        CheckShape(output, x.Rows, TNet.OutputSize, nameof(output));
        CheckShape(tangentOutput, x.Rows, TNet.OutputSize, nameof(tangentOutput));
        TNet.Jvp(Backend, CpuTensor<T>.Of(parameters), CpuTensor<T>.Of(x), CpuTensor<T>.Of(tangent), CpuTensor<T>.Of(output),
            CpuTensor<T>.Of(tangentOutput), Workspace);
    }

    /// <summary>The per-sample Jacobian [N * O, P].</summary>
    public static Matrix<T> Jacobian(T[] parameters, Matrix<T> x)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckInput(x, nameof(x));
        var jacobian = new Matrix<T>(x.Rows * TNet.OutputSize, TNet.ParameterCount);
        TNet.Jacobian(Backend, CpuTensor<T>.Of(parameters), CpuTensor<T>.Of(x), CpuTensor<T>.Of(jacobian), Workspace);
        return jacobian;
    }

    /// <summary>The empirical NTK Theta(x1, x2); x2 = null means x1 (and reuses its forward pass). Shapes: see <see cref="NtkMode"/>.</summary>
    public static Matrix<T> Ntk(T[] parameters, Matrix<T> x1, Matrix<T>? x2 = null, NtkMode mode = NtkMode.Trace)
    {
        int n1 = Rows(x1, nameof(x1)), n2 = x2 is null ? n1 : Rows(x2, nameof(x2)), o = TNet.OutputSize;
        var result = mode switch
        {
            NtkMode.Full => new Matrix<T>(n1 * o, n2 * o),
            NtkMode.Diagonal => new Matrix<T>(o * n1, n2),
            NtkMode.Trace => new Matrix<T>(n1, n2),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown NtkMode."),
        };
        Ntk(parameters, x1, x2, mode, result);
        return result;
    }

    /// <summary>Writes the empirical NTK into <paramref name="result"/> (shape per <see cref="NtkMode"/>).</summary>
    public static void Ntk(T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkMode mode, Matrix<T> result)
    {
        CheckParameters(parameters, nameof(parameters));
        CheckInput(x1, nameof(x1));
        if (x2 is not null && !ReferenceEquals(x1, x2)) CheckInput(x2, nameof(x2));
        ArgumentNullException.ThrowIfNull(result);
        bool same = x2 is null || ReferenceEquals(x1, x2);
        var t1 = CpuTensor<T>.Of(x1);
        TNet.Ntk(Backend, CpuTensor<T>.Of(parameters), t1, same ? t1 : CpuTensor<T>.Of(x2!), same, mode, CpuTensor<T>.Of(result), Workspace);
    }

    private static int Rows(Matrix<T> x, string name)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        return x.Rows;
    }

    private static void CheckInput(Matrix<T> x, string name) => Shapes.RequireInput(x, name, TNet.InputSize);

    private static void CheckParameters(T[] parameters, string name)
    {
        CheckLength(parameters, name);
        CheckFinite(parameters, name);
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

    private static void CheckFinite(ReadOnlySpan<T> values, string name) => Shapes.RequireFinite(values, name);
}

/// <summary>Process-wide settings of the CPU backend used by the generated host entry points.</summary>
public static class CpuSettings
{
    /// <summary>Threads for large operations; 0 (default) uses every core.</summary>
    public static int MaxDegreeOfParallelism { get; set; }
}

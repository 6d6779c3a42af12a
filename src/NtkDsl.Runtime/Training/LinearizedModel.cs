using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu;

namespace NtkDsl;

/// <summary>
/// The linearization of a network around theta0:
/// f_lin(x; theta) = f(x; theta0) + J(x; theta0) (theta - theta0).
/// Outputs take one forward-mode pass (a JVP at theta0 along theta - theta0, which also yields f(x; theta0));
/// the gradient J(x; theta0)^T cotangent is one VJP at theta0 and does not depend on theta. No Jacobian is
/// formed. Under MSE gradient descent its outputs follow <see cref="GradientDescentMse"/> with the empirical
/// NTK at theta0 exactly (in the continuous-time limit).
/// </summary>
/// <remarks>Keeps scratch buffers: an instance must not be used by several threads at once.</remarks>
/// <typeparam name="TNet">The declared network.</typeparam>
/// <typeparam name="T">float or double.</typeparam>
public sealed class LinearizedModel<TNet, T> : IDifferentiableModel<T>, IKernelModel<T>
    where TNet : INetwork<TNet>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _theta0;
    private readonly T[] _delta;
    private Matrix<T>? _tangentOutput;
    private Matrix<T>? _scratch;

    /// <summary>Linearizes <typeparamref name="TNet"/> around <paramref name="initialParameters"/> (copied).</summary>
    /// <param name="initialParameters">theta0, length P, finite.</param>
    public LinearizedModel(T[] initialParameters)
    {
        Shapes.RequireParameters(initialParameters, nameof(initialParameters), TNet.Description);
        _theta0 = (T[])initialParameters.Clone();
        _delta = new T[_theta0.Length];
    }

    /// <inheritdoc/>
    public int InputSize => TNet.InputSize;

    /// <summary>The network's learning-rate multipliers: the linearization is trained with the same per-layer rates (its NTK includes them).</summary>
    public T[]? LearningRateMultipliers { get; } = TNet.Description.LearningRateMultipliers<T>();

    /// <inheritdoc/>
    public int OutputSize => TNet.OutputSize;

    /// <inheritdoc/>
    public int ParameterCount => TNet.ParameterCount;

    /// <summary>theta0, the linearization point (read-only view of the internal copy).</summary>
    public ReadOnlySpan<T> InitialParameters => _theta0;

    /// <summary>A copy of theta0, e.g. to start training the linearized model from its linearization point.</summary>
    public T[] CopyInitialParameters() => (T[])_theta0.Clone();

    /// <summary>f_lin(x; parameters) [N, O].</summary>
    /// <param name="parameters">theta, length P.</param>
    /// <param name="x">Inputs [N, d].</param>
    public Matrix<T> Forward(T[] parameters, Matrix<T> x)
    {
        ArgumentNullException.ThrowIfNull(x);
        var output = new Matrix<T>(x.Rows, TNet.OutputSize);
        Forward(parameters, x, output);
        return output;
    }

    /// <summary>Writes f_lin(x; parameters) = f(x; theta0) + J(x; theta0)(parameters - theta0) into <paramref name="output"/> [N, O].</summary>
    /// <param name="parameters">theta, length P, finite.</param>
    /// <param name="x">Inputs [N, d].</param>
    /// <param name="output">Destination [N, O].</param>
    public void Forward(T[] parameters, Matrix<T> x, Matrix<T> output)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckLength(parameters);
        for (int i = 0; i < _delta.Length; i++) _delta[i] = parameters[i] - _theta0[i];
        var tangentOutput = ModelScratch.Rows(ref _tangentOutput, x.Rows, TNet.OutputSize);
        CpuNetwork<TNet, T>.Jvp(_theta0, x, _delta, output, tangentOutput);   // validates shapes and finiteness
        var o = output.Data;
        var t = tangentOutput.Data;
        for (int i = 0; i < o.Length; i++) o[i] += t[i];
    }

    /// <summary>
    /// Writes J(x; theta0)^T cotangent into <paramref name="gradient"/>: the gradient of
    /// sum_n &lt;cotangent[n], f_lin(x[n]; parameters)&gt;, which is the same for every theta.
    /// </summary>
    /// <param name="parameters">theta, length P (only its length is checked: the linear model's Jacobian is constant).</param>
    /// <param name="x">Inputs [N, d].</param>
    /// <param name="cotangent">[N, O].</param>
    /// <param name="gradient">Destination, length P.</param>
    public void Vjp(T[] parameters, Matrix<T> x, Matrix<T> cotangent, T[] gradient)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckLength(parameters);
        var scratch = ModelScratch.Rows(ref _scratch, x.Rows, TNet.OutputSize);
        CpuNetwork<TNet, T>.Vjp(_theta0, x, cotangent, scratch, gradient);
    }

    /// <summary>The linearized model's NTK is the network's at theta0, whatever the parameters.</summary>
    Matrix<double> IKernelModel<T>.FullNtk(T[] parameters, Matrix<T> x) => CpuNetwork<TNet, T>.Ntk(_theta0, x, null, NtkMode.Full).Convert<double>();

    private void CheckLength(T[] parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Length != _theta0.Length)
            throw new ArgumentException($"'{nameof(parameters)}' must have length ParameterCount = {_theta0.Length} ({TNet.Description.Name}), but has length {parameters.Length}.", nameof(parameters));
    }
}

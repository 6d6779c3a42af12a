using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu;

namespace NtkDsl;

/// <summary>
/// A model with a flat parameter vector that <see cref="Trainer{T}"/> can train: outputs and the
/// vector-Jacobian product. Implemented by <see cref="NetworkModel{TNet, T}"/> (a generated network) and
/// <see cref="LinearizedModel{TNet, T}"/> (its first-order Taylor expansion around theta0), so both are
/// trained by the same optimizers and losses.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IDifferentiableModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Input size d (columns of x).</summary>
    int InputSize { get; }

    /// <summary>Output size O (columns of f).</summary>
    int OutputSize { get; }

    /// <summary>Number of parameters P.</summary>
    int ParameterCount { get; }

    /// <summary>Writes f(x; parameters) [N, O] into <paramref name="output"/>.</summary>
    /// <param name="parameters">Parameters, length P.</param>
    /// <param name="x">Inputs [N, d].</param>
    /// <param name="output">Destination [N, O].</param>
    void Forward(T[] parameters, Matrix<T> x, Matrix<T> output);

    /// <summary>
    /// Writes into <paramref name="gradient"/> the gradient with respect to the parameters of
    /// sum_n &lt;cotangent[n], f(x[n]; parameters)&gt;, i.e. J^T cotangent.
    /// </summary>
    /// <param name="parameters">Parameters, length P.</param>
    /// <param name="x">Inputs [N, d].</param>
    /// <param name="cotangent">Output cotangent [N, O], e.g. dLoss/df.</param>
    /// <param name="gradient">Destination, length P.</param>
    void Vjp(T[] parameters, Matrix<T> x, Matrix<T> cotangent, T[] gradient);

    /// <summary>
    /// Per-parameter learning-rate multipliers rho (length P) that <see cref="Trainer{T}"/> applies to the gradient before
    /// the optimizer's step, so SGD updates theta -= eta rho g; null (the default) means 1 for every parameter. A generated
    /// network under mean-field or maximal-update parameterization has them from its description
    /// (<see cref="ParameterizationExtensions.LearningRateMultipliers{T}(NetworkDescription)"/>).
    /// </summary>
    T[]? LearningRateMultipliers => null;
}

/// <summary>
/// A generated network as an <see cref="IDifferentiableModel{T}"/>: Forward and Vjp run the generated passes
/// on the CPU backend (<see cref="CpuNetwork{TNet, T}"/>). Keeps one scratch output per batch size, so an
/// instance must not be used by several threads at once.
/// </summary>
/// <typeparam name="TNet">The declared network.</typeparam>
/// <typeparam name="T">float or double.</typeparam>
public sealed class NetworkModel<TNet, T> : IDifferentiableModel<T>, IKernelModel<T>
    where TNet : INetwork<TNet>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private Matrix<T>? _scratch;

    /// <inheritdoc/>
    public T[]? LearningRateMultipliers { get; } = TNet.Description.LearningRateMultipliers<T>();

    /// <inheritdoc/>
    public int InputSize => TNet.InputSize;

    /// <inheritdoc/>
    public int OutputSize => TNet.OutputSize;

    /// <inheritdoc/>
    public int ParameterCount => TNet.ParameterCount;

    /// <inheritdoc/>
    public void Forward(T[] parameters, Matrix<T> x, Matrix<T> output) => CpuNetwork<TNet, T>.Forward(parameters, x, output);

    /// <inheritdoc/>
    public void Vjp(T[] parameters, Matrix<T> x, Matrix<T> cotangent, T[] gradient)
    {
        ArgumentNullException.ThrowIfNull(x);
        var scratch = ModelScratch.Rows(ref _scratch, x.Rows, TNet.OutputSize);
        CpuNetwork<TNet, T>.Vjp(parameters, x, cotangent, scratch, gradient);
    }

    Matrix<double> IKernelModel<T>.FullNtk(T[] parameters, Matrix<T> x) => CpuNetwork<TNet, T>.Ntk(parameters, x, null, NtkMode.Full).Convert<double>();
}

/// <summary>A model whose NTK the trainer can compute (to report the largest stable learning rate when training diverges).</summary>
internal interface IKernelModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The empirical NTK of x with itself at the parameters, every output pair: [N O, N O].</summary>
    Matrix<double> FullNtk(T[] parameters, Matrix<T> x);
}

internal static class ModelScratch
{
    /// <summary>A cached [rows, cols] matrix, reallocated when the row count changes.</summary>
    public static Matrix<T> Rows<T>(ref Matrix<T>? cache, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (cache is null || cache.Rows != rows || cache.Cols != cols) cache = new Matrix<T>(rows, cols);
        return cache;
    }
}

using System.Numerics;

namespace NtkDsl;

/// <summary>Updates parameters in place from a gradient. Optimizers keep state (e.g. velocity) between steps.</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface IOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>One update of <paramref name="parameters"/> given the gradient of the loss at them.</summary>
    /// <param name="parameters">Updated in place.</param>
    /// <param name="gradient">dLoss/dparameters, same length.</param>
    void Step(Span<T> parameters, ReadOnlySpan<T> gradient);

    /// <summary>Forgets the state (velocity), as before the first step.</summary>
    void Reset();
}

/// <summary>
/// Stochastic gradient descent with optional heavy-ball momentum, in the form of PyTorch's SGD and JAX's
/// <c>optimizers.momentum</c>: v = mu v + g, theta = theta - eta v (v starts at 0). Without momentum
/// theta = theta - eta g. With full batches this is plain (momentum) gradient descent.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class Sgd<T> : IOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _eta;
    private readonly T _mu;
    private T[]? _velocity;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">eta, finite and &gt; 0.</param>
    /// <param name="momentum">mu in [0, 1); 0 means none.</param>
    public Sgd(double learningRate, double momentum = 0.0)
    {
        if (!double.IsFinite(learningRate) || learningRate <= 0)
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learningRate must be finite and > 0.");
        if (!double.IsFinite(momentum) || momentum < 0 || momentum >= 1)
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1).");
        LearningRate = learningRate;
        Momentum = momentum;
        _eta = T.CreateChecked(learningRate);
        _mu = T.CreateChecked(momentum);
    }

    /// <summary>eta.</summary>
    public double LearningRate { get; }

    /// <summary>mu (0 without momentum).</summary>
    public double Momentum { get; }

    /// <inheritdoc/>
    public void Step(Span<T> parameters, ReadOnlySpan<T> gradient)
    {
        if (gradient.Length != parameters.Length)
            throw new ArgumentException($"'{nameof(gradient)}' must have the length of the parameters ({parameters.Length}), but has length {gradient.Length}.", nameof(gradient));
        if (Momentum == 0)
        {
            for (int i = 0; i < parameters.Length; i++) parameters[i] -= _eta * gradient[i];
            return;
        }
        if (_velocity is null || _velocity.Length != parameters.Length) _velocity = new T[parameters.Length];
        var v = _velocity;
        for (int i = 0; i < parameters.Length; i++)
        {
            v[i] = _mu * v[i] + gradient[i];
            parameters[i] -= _eta * v[i];
        }
    }

    /// <inheritdoc/>
    public void Reset() => _velocity = null;
}

using System.Numerics;

namespace NtkDsl;

/// <summary>What a network's parameterization means for training: its per-parameter learning-rate multipliers.</summary>
public static class ParameterizationExtensions
{
    /// <summary>
    /// The learning-rate multiplier rho of every parameter (length P, in the flat layout) under the network's
    /// parameterization, or null when every multiplier is 1 (NTK and standard parameterization). SGD with learning rate
    /// eta then updates theta_i -= eta rho_i g_i; <see cref="Trainer{T}"/> applies them itself. The empirical NTK the
    /// generated code computes includes them (Theta = J diag(rho) J^T, the kernel of that gradient flow).
    /// </summary>
    /// <param name="network">The network's description (a generated network's <c>Description</c>).</param>
    public static T[]? LearningRateMultipliers<T>(this NetworkDescription network) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        var segments = network.Layers.SelectMany(l => l.LearningRates(network.Abc)).ToList();
        if (segments.All(s => s.Multiplier == 1)) return null;
        var rates = new T[network.ParameterCount];
        Array.Fill(rates, T.One);
        foreach (var s in segments) Array.Fill(rates, T.CreateChecked(s.Multiplier), s.Offset, s.Length);
        return rates;
    }
}

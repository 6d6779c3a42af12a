namespace NtkDsl;

/// <summary>
/// An infinite-width kernel state advanced layer by layer in network order (generated code calls it unrolled):
/// the layer API shared by <see cref="KernelState"/> (every pair of points) and <see cref="DiagonalKernelState"/>
/// (each point with itself). Both apply the same per-entry rules, so their results agree bit for bit.
/// </summary>
public abstract class LayerKernelState
{
    private protected LayerKernelState(int width, InfiniteWidthOptions options)
    {
        Width = width;
        Options = options;
    }

    /// <summary>Number of features of the current representation (d for the inputs, then each layer's width).</summary>
    public int Width { get; private set; }

    /// <summary>True after a Dense layer: the current representation is Gaussian, so an activation may follow.</summary>
    public bool IsGaussian { get; private set; }

    private protected InfiniteWidthOptions Options { get; }

    /// <summary>
    /// A Dense layer (neural-tangents' <c>stax.Dense</c> kernel_fn), with sb = 0 when the layer has no bias:
    /// <list type="bullet">
    /// <item>both: Sigma' = sw^2 Sigma + sb^2;</item>
    /// <item>NTK parameterization: Theta' = sw^2 Theta + Sigma';</item>
    /// <item>standard parameterization: Theta' = sw^2 Theta + n Sigma + [bias], n = fan-in (gradients w.r.t.
    /// the raw W ~ N(0, sw^2/n) and b ~ N(0, sb^2): the bias contributes 1 whenever it exists, even if sb = 0).</item>
    /// </list>
    /// </summary>
    /// <param name="layer">The layer; its <see cref="DenseLayer.Inputs"/> must equal <see cref="Width"/>.</param>
    /// <param name="parameterization">The network's parameterization.</param>
    public void Dense(DenseLayer layer, Parameterization parameterization)
    {
        KernelRules.CheckDenseInputs(layer, Width);
        ApplyDense(KernelRules.DenseCoefficients.Of(layer, parameterization));
        Width = layer.Width;
        IsGaussian = true;
    }

    /// <summary>An activation layer, with the quadrature tolerance of the options.</summary>
    public void Activate(Activation activation) => Activate(activation, Options.QuadratureTolerance);

    /// <summary>
    /// An activation layer: Sigma' = K(Sigma), Theta' = KDot(Sigma) * Theta, with the moments of
    /// <see cref="ActivationMoments"/> (closed form when available, else adaptive quadrature to the relative
    /// <paramref name="quadratureTolerance"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The current representation is not Gaussian (no Dense layer before it); Identity is always allowed.</exception>
    public void Activate(Activation activation, double quadratureTolerance)
    {
        if (activation.Kind == ActivationKind.Identity) return; // K = Sigma, KDot = 1
        KernelRules.RequireGaussian(IsGaussian, activation.ToString());
        ApplyMoments(KernelRules.Moments(activation, Options, quadratureTolerance));
        IsGaussian = false;
    }

    /// <summary>
    /// A user-defined activation given by code (a generated struct, so the JIT specializes the calls): the same
    /// map as <see cref="Activate(Activation)"/>, with moments from <see cref="ActivationMoments.Numerical{TActivation}"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">No Dense layer precedes it.</exception>
    public void Activate<TFunction>(TFunction function) where TFunction : IScalarActivation
    {
        KernelRules.RequireGaussian(IsGaussian, "An elementwise activation");
        ApplyMoments(new NumericalMoments<TFunction>(function, Options));
        IsGaussian = false;
    }

    /// <summary>Applies a Dense layer's entry map to every stored entry and variance.</summary>
    private protected abstract void ApplyDense(KernelRules.DenseCoefficients c);

    /// <summary>Applies an activation's moments to every stored entry and variance.</summary>
    private protected abstract void ApplyMoments<TRule>(TRule rule) where TRule : IMomentRule;
}

namespace NtkDsl.Backends;

/// <summary>
/// What the source generator implements for every declared network: constants, the resolved
/// architecture, and the unrolled backend-generic passes. Users normally call the friendlier static
/// methods the generator also emits (Forward, Ntk, ...), which run these on the CPU backend.
/// </summary>
/// <typeparam name="TSelf">The declared network type.</typeparam>
public interface INetwork<TSelf> where TSelf : INetwork<TSelf>
{
    /// <summary>Input size d.</summary>
    static abstract int InputSize { get; }

    /// <summary>Output size O.</summary>
    static abstract int OutputSize { get; }

    /// <summary>Number of parameters P (length of the flat parameter vector).</summary>
    static abstract int ParameterCount { get; }

    /// <summary>The resolved architecture (layers, stds, parameter offsets).</summary>
    static abstract NetworkDescription Description { get; }

    /// <summary>
    /// Elements of the workspace buffers one <see cref="Ntk"/> call holds for <paramref name="n1"/> x <paramref name="n2"/>
    /// samples, from the generated buffer plan (forward activations, Grams, cotangents); tiling budgets memory with it.
    /// <paramref name="traceOutputGroupLimit"/> is the backend's <see cref="ITensorBackend{TTensor}.TraceOutputGroupLimit"/>.
    /// </summary>
    static abstract long NtkWorkspaceElements(long n1, long n2, bool sameInputs, NtkMode mode, int traceOutputGroupLimit);

    /// <summary>output [N, O] = f(x; theta) for x [N, d] and theta [1, P].</summary>
    static abstract void Forward<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x, TTensor output, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>;

    /// <summary>
    /// gradient [1, P] = d/dtheta sum_n &lt;cotangent[n], f(x[n]; theta)&gt; (backpropagation) for cotangent [N, O];
    /// output [N, O] receives f(x; theta).
    /// </summary>
    static abstract void Vjp<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x, TTensor cotangent, TTensor output, TTensor gradient, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>;

    /// <summary>
    /// output [N, O] = f(x; theta) and tangentOutput [N, O] = J(x; theta) tangent, the directional derivative
    /// along tangent [1, P] (forward mode; no Jacobian is formed).
    /// </summary>
    static abstract void Jvp<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x, TTensor tangent, TTensor output, TTensor tangentOutput, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>;

    /// <summary>jacobian [N * O, P]: row n * O + k is d f_k(x[n]) / d theta.</summary>
    static abstract void Jacobian<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x, TTensor jacobian, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>;

    /// <summary>
    /// The structured empirical NTK Theta(x1, x2), assembled layer by layer without forming a Jacobian.
    /// Result shapes: <see cref="NtkMode.Full"/> [N1 * O, N2 * O] (entry (n1 * O + k, n2 * O + k'));
    /// <see cref="NtkMode.Trace"/> [N1, N2] (mean over outputs); <see cref="NtkMode.Diagonal"/> [O * N1, N2]
    /// (block k holds Theta_kk). Pass the same tensor as x1 and x2 to reuse the forward pass.
    /// </summary>
    static abstract void Ntk<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x1, TTensor x2, bool sameInputs, NtkMode mode, TTensor result, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>;
}

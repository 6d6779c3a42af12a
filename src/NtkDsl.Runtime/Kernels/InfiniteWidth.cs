namespace NtkDsl;

/// <summary>
/// Infinite-width NNGP and NTK kernels of a network on feature-vector inputs (neural-tangents' <c>stax</c>
/// <c>kernel_fn</c>), computed by walking the layers with <see cref="LayerKernelState.Apply"/>, the same primitives
/// that generated code calls unrolled. For [C, H, W] inputs start a state with the spatial <c>FromInputs</c> and apply
/// the layers to it.
/// </summary>
public static class InfiniteWidth
{
    /// <summary>
    /// NNGP and NTK between the rows of <paramref name="x1"/> and <paramref name="x2"/>, per output unit.
    /// </summary>
    /// <param name="network">The architecture (parameterization, layers with their fan-ins and stds).</param>
    /// <param name="x1">N1 x d inputs.</param>
    /// <param name="x2">N2 x d inputs; null (or <paramref name="x1"/> itself) for the exactly symmetric Theta(X1, X1).</param>
    /// <param name="options">Quadrature and threading settings.</param>
    /// <returns>N1 x N2 NNGP and NTK matrices.</returns>
    public static InfiniteWidthKernels Kernels(NetworkDescription network, Matrix<double> x1, Matrix<double>? x2 = null,
        InfiniteWidthOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(x1);
        CheckInputWidth(network, x1, nameof(x1));
        if (x2 is not null) CheckInputWidth(network, x2, nameof(x2));
        var state = network.IsSpatial
            ? KernelState.FromInputs(x1, x2, options, network.InputChannels, network.InputSpatial, network.NeedsPositionPairs)
            : KernelState.FromInputs(x1, x2, options);
        return ((KernelState)Walk(network, state)).Result();
    }

    /// <summary>The diagonal k(x_i, x_i) of both kernels for the N rows of <paramref name="x"/>, in O(N L).</summary>
    /// <param name="network">The architecture.</param>
    /// <param name="x">N x d inputs.</param>
    /// <param name="options">Quadrature settings.</param>
    public static InfiniteWidthDiagonal Diagonal(NetworkDescription network, Matrix<double> x, InfiniteWidthOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(x);
        CheckInputWidth(network, x, nameof(x));
        var state = network.IsSpatial
            ? DiagonalKernelState.FromInputs(x, options, network.InputChannels, network.InputSpatial, network.NeedsPositionPairs)
            : DiagonalKernelState.FromInputs(x, options);
        return ((DiagonalKernelState)Walk(network, state)).Result();
    }

    // Layer by layer; at a branch point (an output read by several layers) every reader but the last takes a Copy, and
    // joins Add (sum) or Concat the states of their inputs. Returns the state of the last layer.
    private static LayerKernelState Walk(NetworkDescription network, LayerKernelState input)
    {
        var layers = network.Layers;
        var sources = network.Sources;
        var parameterization = network.KernelParameterization;
        var readers = new int[layers.Count + 1]; // readers[k + 1]: how many layers read the output of layer k (k = -1: the input)
        for (int l = 0; l < layers.Count; l++)
            foreach (int k in layers[l] is JoinLayer j ? j.Inputs : [sources[l]]) readers[k + 1]++;
        var states = new LayerKernelState?[layers.Count + 1];
        states[0] = input;
        for (int l = 0; l < layers.Count; l++)
        {
            if (layers[l] is JoinLayer join)
            {
                var state = Take(join.Inputs[0]);
                for (int b = 1; b < join.Inputs.Count; b++)
                {
                    var branch = Take(join.Inputs[b]);
                    if (join.Kind == JoinKind.Sum) state.Add(branch);
                    else state.Concat(branch);
                }

                states[l + 1] = state;
                continue;
            }

            var current = Take(sources[l]);
            current.Apply(layers[l], parameterization);
            states[l + 1] = current;
        }

        return states[layers.Count]!;

        LayerKernelState Take(int k)
        {
            var state = states[k + 1]!;
            if (--readers[k + 1] > 0) return state.Copy();
            states[k + 1] = null;
            return state;
        }
    }

    private static void CheckInputWidth(NetworkDescription network, Matrix<double> x, string name)
    {
        if (x.Cols == network.Inputs) return;
        if (network.IsSpatial) throw Backends.Shapes.SpatialInputError(name, network, $"[{x.Rows}, {x.Cols}]");
        throw new ArgumentException($"{name} must be N x {network.Inputs} for {network.Name}, got {x.Rows} x {x.Cols}.", name);
    }
}

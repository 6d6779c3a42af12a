using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

/// <summary>
/// The empirical NTK the way a C# user without NtkDsl would compute it: build the MLP from torch operations,
/// take one <c>torch.autograd.grad</c> per sample and output to form the Jacobian J [N * O, P], and multiply
/// J1 J2^T. It materializes the whole Jacobian (O(N P) memory, O(N^2 P) work), which is exactly what the
/// generated structured NTK avoids; it is here as an independent baseline for tests and benchmarks.
/// </summary>
/// <remarks>
/// Parameters follow the public layout (per Dense layer W [out, in] row-major, then b [out]). NTK
/// parameterization: z = (w_std / sqrt(fan_in)) W a + b_std b; standard: z = W a + b; the others as in
/// <see cref="AbcParameterization"/> (the layers' WeightScale and BiasScale). theta may be [P] or
/// [1, P]; all tensors must share one floating-point element type and device. Results join the caller's
/// dispose scope, if any; every intermediate tensor is disposed before returning.
/// </remarks>
public static class TorchAutogradNtk
{
    /// <summary>f(x; theta) [N, O] for x [N, d].</summary>
    public static Tensor Forward(NetworkDescription network, Tensor theta, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(network);
        var flat = CheckInputs(network, theta, x, nameof(x));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return scope.MoveToOuter(Apply(network, flat.reshape(-1), x));
    }

    /// <summary>The Jacobian [N * O, P]: row n * O + k is d f_k(x[n]) / d theta, from one backward pass per (n, k).</summary>
    public static Tensor Jacobian(NetworkDescription network, Tensor theta, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(network);
        var flat = CheckInputs(network, theta, x, nameof(x));
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var leaf = flat.detach().reshape(-1).clone().requires_grad_(true);
        // One sample at a time: each backward pass then runs through that sample's graph only (a pass through the
        // whole batch's graph would cost N times more for the same row).
        long n = x.size(0), outputs = network.Outputs;
        var jacobian = zeros(n * outputs, leaf.size(0), dtype: leaf.dtype, device: leaf.device);
        for (long i = 0; i < n; i++)
        {
            using var sample = NewDisposeScope();
            var f = Apply(network, leaf, x.narrow(0, i, 1));
            for (long k = 0; k < outputs; k++)
            {
                var g = autograd.grad([f[0, k]], [leaf], retain_graph: k < outputs - 1)[0];
                jacobian[i * outputs + k].copy_(g);
            }
        }

        return scope.MoveToOuter(jacobian);
    }

    /// <summary>
    /// The empirical NTK Theta(x1, x2) = J(x1) diag(rho) J(x2)^T (x2 = x1 when null; rho the learning-rate multipliers of
    /// the parameterization, all 1 under NTK and standard parameterization), shaped by <paramref name="mode"/>:
    /// <see cref="NtkMode.Full"/> [N1 * O, N2 * O] with entry (n1 * O + k, n2 * O + k'); <see cref="NtkMode.Trace"/>
    /// [N1, N2], the mean over outputs of Theta_kk; <see cref="NtkMode.Diagonal"/> [O * N1, N2], block k = Theta_kk.
    /// </summary>
    public static Tensor Ntk(NetworkDescription network, Tensor theta, Tensor x1, Tensor? x2 = null, NtkMode mode = NtkMode.Trace)
    {
        ArgumentNullException.ThrowIfNull(network);
        CheckInputs(network, theta, x1, nameof(x1));
        if (x2 is not null) CheckInputs(network, theta, x2, nameof(x2));
        using var scope = NewDisposeScope();
        var j1 = Jacobian(network, theta, x1);
        var j2 = x2 is null || ReferenceEquals(x1, x2) ? j1 : Jacobian(network, theta, x2);
        // J diag(rho) J^T with the parameterization's learning-rate multipliers (all 1 under NTK and standard).
        if (network.LearningRateMultipliers<double>() is { } rates) j1 = j1.mul(tensor(rates, dtype: j1.dtype, device: j1.device));
        return scope.MoveToOuter(FromJacobians(j1, j2, network.Outputs, mode));
    }

    /// <summary>
    /// The NTK from two Jacobians j1 [N1 * O, P] and j2 [N2 * O, P] (rows sample-major, as <see cref="Jacobian"/>
    /// returns them), in the layout of <paramref name="mode"/> (see <see cref="Ntk"/>).
    /// </summary>
    public static Tensor FromJacobians(Tensor j1, Tensor j2, int outputs, NtkMode mode)
    {
        ArgumentNullException.ThrowIfNull(j1);
        ArgumentNullException.ThrowIfNull(j2);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        if (j1.dim() != 2 || j1.size(0) % outputs != 0)
            throw new ArgumentException($"Expected shape [N1 * {outputs}, P], got {TorchConvert.Shape(j1)}.", nameof(j1));
        if (j2.dim() != 2 || j2.size(0) % outputs != 0 || j2.size(1) != j1.size(1))
            throw new ArgumentException($"Expected shape [N2 * {outputs}, {j1.size(1)}], got {TorchConvert.Shape(j2)}.", nameof(j2));
        using var scope = NewDisposeScope();
        long n1 = j1.size(0) / outputs, n2 = j2.size(0) / outputs;
        _ = NtkModes.ResultShape(mode, (int)n1, (int)n2, outputs); // rejects undefined modes before any work
        var full = j1.mm(j2.t());
        if (mode == NtkMode.Full) return scope.MoveToOuter(full);

        var diagonal = full.view(n1, outputs, n2, outputs).diagonal(0, 1, 3); // [N1, N2, O]: Theta_kk
        var result = mode switch
        {
            NtkMode.Trace => diagonal.mean([-1L]),
            NtkMode.Diagonal => diagonal.permute(2, 0, 1).reshape(outputs * n1, n2),
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown NTK mode."),
        };
        return scope.MoveToOuter(result.contiguous());
    }

    /// <summary>The forward pass as differentiable torch operations, for a flat 1-D theta (each layer reads its source; joins add or concatenate).</summary>
    private static Tensor Apply(NetworkDescription network, Tensor theta, Tensor x)
    {
        var p = network.Abc;
        var outputs = new List<Tensor>();
        Tensor Output(int k) => k < 0 ? x : outputs[k];
        for (int l = 0; l < network.Layers.Count; l++)
        {
            var layer = network.Layers[l];
            var a = Output(network.Sources[l]);
            switch (layer)
            {
                case DenseLayer d:
                {
                    var w = theta.narrow(0, d.WeightOffset, (long)d.Width * d.Inputs).view(d.Width, d.Inputs);
                    var z = a.mm(w.t()).mul(d.WeightScale(p).ToScalar());
                    if (d.HasBias) z = z.add(theta.narrow(0, d.BiasOffset, d.Width).mul(d.BiasScale(p).ToScalar()));

                    a = z;
                    break;
                }

                case ConvLayer c:
                {
                    // torch's conv2d on [N, C, H, W] (a sequence is H = 1), after padding the input as the window does.
                    var w = c.Window;
                    var image = a.reshape(a.size(0), c.InChannels, w.Input.Height, w.Input.Width);
                    var padded = nn.functional.pad(image, [w.PadLeft, w.PadRight, w.PadTop, w.PadBottom],
                        w.Padding == Padding.Circular ? PaddingModes.Circular : PaddingModes.Constant);
                    var weights = theta.narrow(0, c.WeightOffset, (long)c.OutChannels * c.FanIn).view(c.OutChannels, c.InChannels, w.Height, w.Width);
                    var z = nn.functional.conv2d(padded, weights, strides: [w.StrideHeight, w.StrideWidth]).mul(c.WeightScale(p).ToScalar());
                    if (c.HasBias) z = z.add(theta.narrow(0, c.BiasOffset, c.OutChannels).mul(c.BiasScale(p).ToScalar()).view(1, c.OutChannels, 1, 1));
                    a = z.reshape(z.size(0), -1);
                    break;
                }

                case PoolLayer pool:
                {
                    var w = pool.Window;
                    var image = a.reshape(a.size(0), pool.Channels, w.Input.Height, w.Input.Width);
                    var padded = nn.functional.pad(image, [w.PadLeft, w.PadRight, w.PadTop, w.PadBottom]);
                    var z = nn.functional.avg_pool2d(padded, [w.Height, w.Width], [w.StrideHeight, w.StrideWidth]);
                    if (pool.Sum) z = z.mul(((double)w.Taps).ToScalar());
                    a = z.reshape(z.size(0), -1);
                    break;
                }

                case GlobalAvgPoolLayer g:
                    a = a.reshape(a.size(0), g.Channels, g.Input.Positions).mean([2L]);
                    break;

                case FlattenLayer:
                    break;

                case ActivationLayer { Activation: var act }:
                    a = Activate(act, a);
                    break;

                case LayerNormLayer norm:
                {
                    var v = a.reshape(a.size(0), norm.Channels, norm.Positions);
                    var centered = v.sub(v.mean([1L], keepdim: true));
                    a = centered.div(centered.mul(centered).mean([1L], keepdim: true).add(norm.Epsilon.ToScalar()).sqrt()).reshape(a.size(0), -1);
                    break;
                }

                case JoinLayer join:
                    a = join.Kind == JoinKind.Sum
                        ? join.Inputs.Skip(1).Aggregate(Output(join.Inputs[0]), (sum, k) => sum.add(Output(k)))
                        : cat(join.Inputs.Select(Output).ToArray(), 1);
                    break;

                case ElementwiseLayer e:
                    throw new NotSupportedException($"Elementwise({e.Name}) is code, not torch operations, so autograd cannot differentiate it; use the generated Jacobian or Ntk.");
            }

            outputs.Add(a);
        }

        return outputs[^1];
    }

    private static Tensor Activate(Activation act, Tensor z) => act.Kind switch
    {
        ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Abs =>
            where(z.gt(0.0.ToScalar()), z.mul(act.B.ToScalar()), z.mul(act.A.ToScalar())),
        ActivationKind.Erf => z.mul(act.B.ToScalar()).erf().mul(act.A.ToScalar()).add(act.C.ToScalar()),
        ActivationKind.Tanh => z.tanh(),
        ActivationKind.Sigmoid => z.sigmoid(),
        ActivationKind.Gelu => nn.functional.gelu(z),
        // log1p(exp(x)) is exact in double up to x = 30, where it equals x to 3e-15 relative.
        ActivationKind.Softplus => nn.functional.softplus(z, 1, 30),
        ActivationKind.Sin => z.mul(act.B.ToScalar()).add(act.C.ToScalar()).sin().mul(act.A.ToScalar()),
        _ => z,
    };

    private static Tensor CheckInputs(NetworkDescription network, Tensor theta, Tensor x, string xName)
    {
        ArgumentNullException.ThrowIfNull(theta);
        ArgumentNullException.ThrowIfNull(x, xName);
        if (theta.dtype is not (ScalarType.Float32 or ScalarType.Float64))
            throw new ArgumentException($"Expected element type Float32 or Float64, got {theta.dtype}.", nameof(theta));
        if (theta.numel() != network.ParameterCount || theta.dim() > 2 || (theta.dim() == 2 && theta.size(0) != 1))
            throw new ArgumentException($"Expected shape [{network.ParameterCount}] or [1, {network.ParameterCount}], got {TorchConvert.Shape(theta)}.", nameof(theta));
        TorchConvert.Require(x, xName, -1, network.Inputs, theta.dtype, theta.device);
        return theta;
    }
}

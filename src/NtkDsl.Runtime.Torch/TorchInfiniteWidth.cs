using NtkDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

/// <summary>
/// The infinite-width NNGP and NTK (CNN-GP / CNTK) of a network description in torch ops, float64 on the inputs'
/// device: the same recursion as <see cref="KernelState"/> (Arora et al. 2019; Novak et al. 2019), on tiles of
/// sample pairs. Spatial states hold every pair of positions [B, P, P] when a pooling layer needs them
/// (<see cref="NetworkDescription.NeedsPositionPairs"/>) and same positions [B, P] otherwise; Conv is the tap mean
/// of <see cref="SpatialIndex"/>'s gather map (every padding and stride), pooling A K A^T with the window matrix A,
/// Flatten and GlobalAvgPool the same-position and all-pair means. Activations: the Relu family (Relu, LeakyRelu, Abs:
/// A min(x, 0) + B max(x, 0)) in closed form (arc-cosine moments); other activations are not supported here.
/// </summary>
public static class TorchInfiniteWidth
{
    /// <summary>
    /// Sigma(x1, x2) and Theta(x1, x2) [N1, N2] (x2 = null: x1, exactly symmetric) of <paramref name="network"/>; x1 and
    /// x2 are [N, Inputs] rows (NCHW for spatial inputs). Tiles of one row of samples against up to
    /// <paramref name="tileElements"/> / (8 P^2) columns bound the temporaries.
    /// </summary>
    /// <exception cref="ArgumentException">Rows that are not the network's input size, or non-finite values.</exception>
    /// <exception cref="NotSupportedException">An activation outside the Relu family, or a layer kind without an infinite-width kernel.</exception>
    public static (Tensor Nngp, Tensor Ntk) Kernels(NetworkDescription network, Tensor x1, Tensor? x2 = null, long tileElements = 1L << 24)
    {
        ArgumentNullException.ThrowIfNull(network);
        RequireInput(network, x1, nameof(x1));
        if (x2 is not null) RequireInput(network, x2, nameof(x2));
        foreach (var layer in network.Layers)
            if (layer is ActivationLayer { Activation: { IsPiecewiseLinear: false, Kind: not ActivationKind.Identity } act })
                throw new NotSupportedException($"TorchInfiniteWidth has closed forms for Relu, LeakyRelu and Abs only; {network.Name} uses {act}.");

        using var noGrad = no_grad();
        using var outer = NewDisposeScope();
        bool same = x2 is null;
        var a = x1.to(ScalarType.Float64);
        var b = same ? a : x2!.to(ScalarType.Float64);
        var walk = new Walk(network);

        // Each sample's own kernels first (in tiles of samples): the per-position variances every activation reads.
        long n1 = a.size(0), n2 = b.size(0);
        long perPair = 8 * Math.Max(1, walk.EntriesPerPair);
        int tile = (int)Math.Clamp(tileElements / perPair, 1, Math.Max(n1, n2));
        var variances1 = walk.Variances(a, tile);
        var variances2 = same ? variances1 : walk.Variances(b, tile);
        var nngp = zeros(n1, n2, dtype: ScalarType.Float64, device: a.device);
        var ntk = zeros(n1, n2, dtype: ScalarType.Float64, device: a.device);
        for (long i = 0; i < n1; i++)
        {
            for (long j0 = same ? i : 0; j0 < n2; j0 += tile)
            {
                using var scope = NewDisposeScope();
                long count = Math.Min(tile, n2 - j0);
                var (sigma, theta) = walk.Pairs(a.narrow(0, i, 1), b.narrow(0, j0, count), variances1, variances2, i, j0);
                nngp[i].narrow(0, j0, count).copy_(sigma);
                ntk[i].narrow(0, j0, count).copy_(theta);
            }
        }

        if (same)
        {
            nngp = nngp.triu().add(nngp.triu(1).t());
            ntk = ntk.triu().add(ntk.triu(1).t());
        }

        return (nngp.MoveToOuterDisposeScope(), ntk.MoveToOuterDisposeScope());
    }

    private static void RequireInput(NetworkDescription network, Tensor x, string name)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (x.dim() != 2 || x.size(1) != network.Inputs || x.size(0) == 0)
        {
            string given = TorchConvert.Shape(x);
            if (network.IsSpatial) throw Shapes.SpatialInputError(name, network, given);
            throw new ArgumentException($"'{name}' must have shape [N >= 1, {network.Inputs}], but has shape {given}.", name);
        }

        if (!torch.isfinite(x).all().item<bool>())
            throw new ArgumentException($"'{name}' must contain only finite values.", name);
    }

    // The layers of one network as tensor maps of a state: [B, P, P] (position pairs), [B, P] (same positions) or
    // [B] (feature vectors), B sample pairs.
    private sealed class Walk(NetworkDescription network)
    {
        private readonly bool _pairs = network.NeedsPositionPairs;
        private readonly Parameterization _parameterization = network.KernelParameterization;

        public long EntriesPerPair => network.IsSpatial ? (_pairs ? (long)network.InputSpatial.Positions * network.InputSpatial.Positions : network.InputSpatial.Positions) : 1;

        // For each activation (in layer order), each sample's variances at its input: [N, P] or [N], computed on
        // tiles of samples.
        public List<Tensor> Variances(Tensor x, int tile)
        {
            var chunks = new List<List<Tensor>>();
            for (long start = 0; start < x.size(0); start += tile)
            {
                using var scope = NewDisposeScope();
                var rows = x.narrow(0, start, Math.Min(tile, x.size(0) - start));
                var variances = new List<Tensor>();
                var state = (Input(rows, rows, self: true), (Tensor?)null);
                foreach (var layer in network.Layers)
                {
                    if (layer is ActivationLayer act)
                    {
                        var v = Diagonal(state.Item1).clone();
                        variances.Add(v);
                        state = Step(state, () => Activate(act.Activation, state.Item1, state.Item2!, v, v));
                    }
                    else
                    {
                        state = Step(state, () => Linear(layer, state.Item1, state.Item2 ?? zeros_like(state.Item1)));
                    }
                }

                foreach (var v in variances) v.MoveToOuterDisposeScope();
                chunks.Add(variances);
            }

            return [.. Enumerable.Range(0, chunks[0].Count).Select(l => chunks.Count == 1 ? chunks[0][l] : cat(chunks.Select(c => c[l]).ToArray(), 0))];
        }

        // The kernels of sample i of x1 (row a) against the samples j0.. of x2 (rows b): [B] each.
        public (Tensor Sigma, Tensor Theta) Pairs(Tensor a, Tensor b, List<Tensor> variances1, List<Tensor> variances2, long i, long j0)
        {
            long count = b.size(0);
            var state = (Input(a, b, self: false), (Tensor?)null);
            int k = 0;
            foreach (var layer in network.Layers)
            {
                if (layer is ActivationLayer act)
                {
                    var va = variances1[k].narrow(0, i, 1);
                    var vb = variances2[k].narrow(0, j0, count);
                    k++;
                    state = Step(state, () => Activate(act.Activation, state.Item1, state.Item2!, va, vb));
                }
                else
                {
                    state = Step(state, () => Linear(layer, state.Item1, state.Item2 ?? zeros_like(state.Item1)));
                }
            }

            return (state.Item1, state.Item2!);
        }

        // One layer in its own dispose scope: its temporaries go at once, the previous state is disposed, the new state
        // joins the caller's scope. (Theta is null, i.e. zero, until the first layer with parameters.)
        private static (Tensor, Tensor?) Step((Tensor Sigma, Tensor? Theta) old, Func<(Tensor, Tensor)> layer)
        {
            Tensor sigma, theta;
            using (var scope = NewDisposeScope())
            {
                (sigma, theta) = layer();
                if (ReferenceEquals(sigma, old.Sigma) && ReferenceEquals(theta, old.Theta)) return old;
                sigma.MoveToOuterDisposeScope();
                theta.MoveToOuterDisposeScope();
            }

            old.Sigma.Dispose();
            old.Theta?.Dispose();
            return (sigma, theta);
        }

        // The input covariances: the channel mean of x_c[p] x'_c[p'] (self: each sample with itself; else one row
        // of a against every row of b).
        private Tensor Input(Tensor a, Tensor b, bool self)
        {
            if (!network.IsSpatial)
            {
                var products = self ? a.mul(a) : a.mul(b);
                return products.sum(1).div_(network.Inputs);
            }

            long c = network.InputChannels, p = network.InputSpatial.Positions;
            var xa = a.reshape(a.size(0), c, p);
            var xb = b.reshape(b.size(0), c, p);
            if (!_pairs)
                return (self ? xa.mul(xa) : xa.mul(xb)).mean([1]);
            return self
                ? matmul(xa.transpose(1, 2), xa).div_(c)
                : matmul(xa.transpose(1, 2), xb).div_(c); // [1, P, C] x [B, C, P] broadcasts to [B, P, P]
        }

        // Same-position entries: [B, P, P] -> [B, P]; other states as they are.
        private Tensor Diagonal(Tensor sigma) => sigma.dim() == 3 ? sigma.diagonal(0, 1, 2) : sigma;

        private (Tensor, Tensor) Linear(Layer layer, Tensor sigma, Tensor theta)
        {
            switch (layer)
            {
                case ConvLayer conv:
                {
                    var ms = TapMean(conv.Window, sigma);
                    var mt = TapMean(conv.Window, theta);
                    return Affine(conv.WeightStd, conv.HasBias ? conv.BiasStd : 0, conv.HasBias, conv.FanIn, ms, mt);
                }

                case DenseLayer dense:
                    return Affine(dense.WeightStd, dense.HasBias ? dense.BiasStd : 0, dense.HasBias, dense.Inputs, sigma, theta);
                case PoolLayer pool:
                {
                    var window = WindowMatrix(pool.Window, sigma).mul_(pool.Sum ? 1.0 : 1.0 / pool.Window.Taps);
                    return (matmul(matmul(window, sigma), window.t()), matmul(matmul(window, theta), window.t()));
                }

                case GlobalAvgPoolLayer:
                    return (sigma.mean([1, 2]), theta.mean([1, 2]));
                case FlattenLayer:
                    return (Diagonal(sigma).mean([1]), Diagonal(theta).mean([1]));
                default:
                    throw new NotSupportedException($"Layer {layer} has no infinite-width kernel.");
            }
        }

        // Sigma' = sw^2 M + sb^2; NTK parameterization Theta' = sw^2 M(Theta) + Sigma', standard
        // Theta' = sw^2 M(Theta) + n M(Sigma) + [bias] (as KernelState's Dense map).
        private (Tensor, Tensor) Affine(double weightStd, double biasStd, bool hasBias, int fanIn, Tensor ms, Tensor mt)
        {
            double w2 = weightStd * weightStd, b2 = biasStd * biasStd;
            var sigma = ms.mul(w2).add_(b2);
            var theta = _parameterization == Parameterization.Ntk
                ? mt.mul(w2).add_(sigma)
                : mt.mul(w2).add_(ms, alpha: fanIn).add_(hasBias ? 1.0 : 0.0);
            return (sigma, theta);
        }

        // (1/k) sum_t K[m(t, p), m(t, p')] (position pairs) or (1/k) sum_t K[m(t, p)] (same positions); zero padding
        // reads an appended zero entry.
        private static Tensor TapMean(SpatialWindow window, Tensor k)
        {
            var map = SpatialIndex.Of(window);
            int inputs = window.Input.Positions, outputs = window.Output.Positions;
            bool pairs = k.dim() == 3;
            var padded = pairs ? nn.functional.pad(k, [0, 1, 0, 1]) : nn.functional.pad(k, [0, 1]);
            var sum = pairs ? zeros(k.size(0), outputs, outputs, dtype: k.dtype, device: k.device) : zeros(k.size(0), outputs, dtype: k.dtype, device: k.device);
            for (int t = 0; t < window.Taps; t++)
            {
                using var scope = NewDisposeScope();
                var index = new long[outputs];
                for (int p = 0; p < outputs; p++) index[p] = map[t * outputs + p] < 0 ? inputs : map[t * outputs + p];
                var idx = tensor(index, device: k.device);
                sum.add_(pairs ? padded.index_select(1, idx).index_select(2, idx) : padded.index_select(1, idx));
            }

            return sum.div_(window.Taps);
        }

        // A [P_out, P_in]: A[p, q] = the taps of output p that read input q (zero padding reads nothing).
        private static Tensor WindowMatrix(SpatialWindow window, Tensor like)
        {
            var map = SpatialIndex.Of(window);
            int inputs = window.Input.Positions, outputs = window.Output.Positions;
            var a = new double[outputs * inputs];
            for (int t = 0; t < window.Taps; t++)
                for (int p = 0; p < outputs; p++)
                    if (map[t * outputs + p] >= 0) a[p * inputs + map[t * outputs + p]] += 1;
            return tensor(a, [outputs, inputs], dtype: ScalarType.Float64, device: like.device);
        }

        // phi = A min(x, 0) + B max(x, 0): E[phi phi'] = A B c + (B - A)^2 k_relu, E[phi' phi'] = A B + (B - A)^2 (pi - angle) / (2 pi),
        // k_relu = (sqrt(ab - c^2) + (pi - angle) c) / (2 pi), angle = atan2(sqrt(ab - c^2), c) (exact where c^2 = ab, as on
        // the diagonal of one sample); va, vb the variances of the entry's two positions.
        private static (Tensor, Tensor) Activate(Activation activation, Tensor sigma, Tensor theta, Tensor va, Tensor vb)
        {
            if (activation.Kind == ActivationKind.Identity) return (sigma, theta);
            double ab = activation.A * activation.B, d2 = (activation.B - activation.A) * (activation.B - activation.A);
            Tensor products = sigma.dim() switch
            {
                3 => va.unsqueeze(2).mul(vb.unsqueeze(1)), // [1 or B, P, 1] x [B, 1, P]
                _ => va.mul(vb),
            };
            var sine = products.sub(sigma.square()).clamp_min_(0.0).sqrt_();
            var piMinus = atan2(sine, sigma).neg_().add_(Math.PI);
            var k = sine.addcmul_(piMinus, sigma, 1.0).mul_(d2 / (2 * Math.PI)).add_(sigma, alpha: ab);
            var kDot = piMinus.mul_(d2 / (2 * Math.PI)).add_(ab);
            return (k, theta.mul(kDot));
        }
    }
}

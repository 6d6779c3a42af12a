using NtkDsl.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NtkDsl.Benchmarks;

/// <summary>
/// The competitors written directly with TorchSharp operations (no NtkDsl code): what a careful C# user
/// would write by hand. These are the bars the generated code has to clear.
/// </summary>
public static class TorchReference
{
    /// <summary>
    /// The structured NTK (the same layer-wise algorithm as the generated code) in plain torch ops:
    /// forward with addmm, activation Grams a a^T, cotangents backpropagated with mm and the ReLU mask,
    /// Theta += (D D^T) * (c^2 a a^T + b^2). x1 = x2. Piecewise-linear activations (ReLU family) only.
    /// </summary>
    /// <param name="net">The architecture.</param>
    /// <param name="theta">Flat parameters [P] or [1, P].</param>
    /// <param name="x">Inputs [N, d].</param>
    /// <param name="mode">Full ([N O, N O]) or Trace ([N, N], mean over outputs).</param>
    public static Tensor LayerwiseNtk(NetworkDescription net, Tensor theta, Tensor x, NtkMode mode)
    {
        if (mode is not (NtkMode.Full or NtkMode.Trace)) throw new NotSupportedException("Full and Trace modes only.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var flat = theta.reshape(-1);
        var dense = net.DenseLayers.ToArray();
        var inputs = new Tensor[dense.Length];   // input activations of each Dense layer
        var slopes = new Tensor?[dense.Length];  // phi'(z) of the activation after Dense l (null: none)
        var weights = new Tensor[dense.Length];
        var wScale = new double[dense.Length];
        var bTerm = new double[dense.Length];
        var a = x;
        int l = -1;
        foreach (var layer in net.Layers)
        {
            if (layer is DenseLayer d)
            {
                l++;
                inputs[l] = a;
                wScale[l] = d.WeightScale(net.Abc);
                // The effective weights c W (P multiplies, once), used forward and backward.
                weights[l] = flat.narrow(0, d.WeightOffset, (long)d.Width * d.Inputs).view(d.Width, d.Inputs).mul(wScale[l]);
                double bScale = d.BiasScale(net.Abc);
                bTerm[l] = d.HasBias ? bScale * bScale : 0.0;
                a = d.HasBias
                    ? addmm(flat.narrow(0, d.BiasOffset, d.Width).mul(bScale), a, weights[l].t(), 1f, 1f)
                    : a.mm(weights[l].t());
            }
            else if (layer is ActivationLayer { Activation: var act })
            {
                if (!act.IsPiecewiseLinear || l < 0 || slopes[l] is not null)
                    throw new NotSupportedException("One piecewise-linear activation after each hidden Dense layer only.");
                // slope = x > 0 ? B : A, as a tensor of a's type
                slopes[l] = a.gt(0.0).to_type(a.dtype).mul_(act.B - act.A).add_(act.A);
                a = a.mul(slopes[l]!);
            }
        }

        int n = (int)x.size(0), o = net.Outputs;
        var grams = inputs.Select(t => t.mm(t.t())).ToArray();
        Tensor result;
        if (mode == NtkMode.Full)
        {
            var seeds = eye(o, dtype: x.dtype, device: x.device).repeat(n, 1); // [N O, O], row n O + k = e_k
            result = Pass(seeds, o);
        }
        else
        {
            result = zeros(n, n, dtype: x.dtype, device: x.device);
            for (int k = 0; k < o; k++)
            {
                var seeds = zeros(n, o, dtype: x.dtype, device: x.device);
                seeds.narrow(1, k, 1).fill_(1.0);
                result.add_(Pass(seeds, 1));
            }

            if (o > 1) result.div_(o);
        }

        return scope.MoveToOuter(result);

        Tensor Pass(Tensor cotangent, int repeat)
        {
            long rows = (long)n * repeat;
            var acc = zeros(rows, rows, dtype: x.dtype, device: x.device);
            var c = cotangent;
            for (int i = dense.Length - 1; i >= 0; i--)
            {
                var gd = c.mm(c.t());
                var ga = grams[i].mul(wScale[i] * wScale[i]).add_(bTerm[i]);
                if (repeat == 1) acc.addcmul_(gd, ga, 1.0);
                else acc.view(n, repeat, n, repeat).addcmul_(gd.view(n, repeat, n, repeat), ga.view(n, 1, n, 1), 1.0);
                if (i == 0) break;
                c = c.mm(weights[i]);
                var slope = slopes[i - 1];
                if (slope is not null) c.mul_(repeat == 1 ? slope : slope.repeat_interleave(repeat, 0));
            }

            return acc;
        }
    }

    /// <summary>
    /// The forward pass with plain torch ops (addmm + activation per layer), for piecewise-linear activations.
    /// </summary>
    public static Tensor Forward(NetworkDescription net, Tensor theta, Tensor x)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var flat = theta.reshape(-1);
        var a = x;
        foreach (var layer in net.Layers)
        {
            if (layer is DenseLayer d)
            {
                double ws = d.WeightScale(net.Abc), bs = d.BiasScale(net.Abc);
                var w = flat.narrow(0, d.WeightOffset, (long)d.Width * d.Inputs).view(d.Width, d.Inputs).mul(ws);
                a = d.HasBias ? addmm(flat.narrow(0, d.BiasOffset, d.Width).mul(bs), a, w.t(), 1f, 1f) : a.mm(w.t());
            }
            else if (layer is ActivationLayer { Activation: var act })
            {
                if (act.Kind != ActivationKind.Relu) throw new NotSupportedException("ReLU only.");
                a = nn.functional.relu(a);
            }
        }

        return scope.MoveToOuter(a);
    }

    /// <summary>
    /// A TorchSharp <c>nn.Sequential</c> of <c>nn.Linear</c> and <c>nn.ReLU</c> modules equal to <paramref name="net"/>
    /// at <paramref name="theta"/> (weights pre-multiplied by the NTK scale, as PyTorch users would store them).
    /// </summary>
    public static Sequential Sequential(NetworkDescription net, Tensor theta)
    {
        using var noGrad = no_grad();
        var flat = theta.reshape(-1);
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        int i = 0;
        foreach (var layer in net.Layers)
        {
            if (layer is DenseLayer d)
            {
                var linear = nn.Linear(d.Inputs, d.Width, hasBias: d.HasBias, dtype: theta.dtype);
                double ws = d.WeightScale(net.Abc), bs = d.BiasScale(net.Abc);
                using (var scope = NewDisposeScope())
                {
                    linear.weight!.copy_(flat.narrow(0, d.WeightOffset, (long)d.Width * d.Inputs).view(d.Width, d.Inputs).mul(ws));
                    if (d.HasBias) linear.bias!.copy_(flat.narrow(0, d.BiasOffset, d.Width).mul(bs));
                }

                modules.Add(($"dense{i++}", linear));
            }
            else if (layer is ActivationLayer { Activation.Kind: ActivationKind.Relu })
            {
                modules.Add(($"relu{i}", nn.ReLU()));
            }
            else
            {
                throw new NotSupportedException("ReLU only.");
            }
        }

        var seq = nn.Sequential(modules.ToArray());
        seq.eval();
        return seq;
    }

    /// <summary>
    /// The infinite-width NTK of a ReLU MLP (NTK parameterization) with the arc-cosine recursion in plain
    /// torch ops, float64: Sigma_1 = sw^2 x.x'/d + sb^2, then per ReLU + Dense
    /// Sigma' = sw^2 K + sb^2, Theta' = sw^2 Kdot Theta + Sigma'.
    /// </summary>
    public static Tensor InfiniteReluNtk(NetworkDescription net, Tensor x)
    {
        if (net.Parameterization != Parameterization.Ntk) throw new NotSupportedException("NTK parameterization only.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor? sigma = null, ntk = null;
        bool pendingRelu = false;
        foreach (var layer in net.Layers)
        {
            if (layer is DenseLayer d)
            {
                double sw2 = d.WeightStd * d.WeightStd, sb2 = d.HasBias ? d.BiasStd * d.BiasStd : 0.0;
                if (sigma is null)
                {
                    sigma = x.mm(x.t()).mul_(sw2 / d.Inputs).add_(sb2);
                    ntk = sigma.clone();
                    continue;
                }

                if (!pendingRelu) throw new NotSupportedException("A ReLU between Dense layers only.");
                // Arc-cosine moments of the pre-activation covariance sigma, with in-place ops and a scope per
                // layer so that only ~4 N x N temporaries are alive at a time. sin(theta) = sin(pi - theta).
                Tensor nextSigma, nextNtk;
                using (var step = NewDisposeScope())
                {
                    var diag = sigma.diagonal().sqrt();
                    var norms = diag.unsqueeze(1).mul(diag.unsqueeze(0));
                    var cos = sigma.div(norms).clamp_(-1.0, 1.0);
                    var piMinus = cos.acos().neg_().add_(Math.PI);                        // pi - theta
                    var k = piMinus.sin().addcmul_(piMinus, cos, 1.0).mul_(norms);         // 2 pi K
                    nextSigma = step.MoveToOuter(k.mul_(sw2 / (2 * Math.PI)).add_(sb2));
                    nextNtk = step.MoveToOuter(piMinus.mul_(ntk!).mul_(sw2 / (2 * Math.PI)).add_(nextSigma)); // sw^2 Kdot Theta + Sigma'
                }

                sigma.Dispose();
                ntk!.Dispose();
                sigma = nextSigma;
                ntk = nextNtk;
                pendingRelu = false;
            }
            else if (layer is ActivationLayer { Activation.Kind: ActivationKind.Relu })
            {
                pendingRelu = true;
            }
            else
            {
                throw new NotSupportedException("ReLU only.");
            }
        }

        return scope.MoveToOuter(ntk!);
    }

    /// <summary>
    /// Closed-form MSE gradient-descent predictions (the formulas of <see cref="GradientDescentMse"/>, no diag_reg)
    /// in plain torch ops: one eigh, then per time f_train = f0 + V diag(expm1(-l s)) V^T (f0 - y) and
    /// f_test = f0* + Theta* V diag(expm1(-l s) / l) V^T (f0 - y), s = eta t / (n O). Results are copied to the host.
    /// </summary>
    public static List<(Matrix<double> Train, Matrix<double> Test)> Dynamics(Tensor k, Tensor kTestTrain, Tensor y, Tensor f0,
        Tensor f0Test, double learningRate, IReadOnlyList<double> times)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (l, v) = linalg.eigh(k);
        var p = v.t().mm(f0.sub(y));            // V^T (f0 - y)
        var kv = kTestTrain.mm(v);              // Theta* V
        double count = y.size(0) * y.size(1);
        var results = new List<(Matrix<double>, Matrix<double>)>(times.Count);
        foreach (double t in times)
        {
            double s = t * learningRate / count;
            var decay = l.clamp_min(0.0).mul_(-s).expm1_();                     // expm1(-l s), 0 for l <= 0
            var inverse = where(l.gt(0.0), decay.div(l), full_like(l, -s));      // expm1(-l s) / l, -> -s as l -> 0
            var train = f0.add(v.mm(p.mul(decay.unsqueeze(1))));
            var test = f0Test.add(kv.mm(p.mul(inverse.unsqueeze(1))));
            results.Add((train.ToMatrix<double>(), test.ToMatrix<double>()));
        }

        return results;
    }
}

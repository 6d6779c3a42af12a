using NtkDsl.Backends;

namespace NtkDsl.Torch.Tests;

/// <summary>An architecture for <see cref="LoopNetwork{TArch}"/>.</summary>
public interface IArchitecture
{
    /// <summary>The resolved architecture.</summary>
    static abstract NetworkDescription Description { get; }
}

/// <summary>Reference case "relu-erf-two-outputs": 3 -> Dense(16) Relu -> Dense(12) Erf -> Dense(2), NTK parameterization.</summary>
public sealed class ReluErfArch : IArchitecture
{
    /// <inheritdoc/>
    public static NetworkDescription Description { get; } = NetworkDescription.Create("ReluErf", 3, Parameterization.Ntk, 1.5, 0.1,
        LayerSpec.Dense(16), LayerSpec.Act(Activation.Relu), LayerSpec.Dense(12), LayerSpec.Act(Activation.Erf()), LayerSpec.Dense(2));
}

/// <summary>Reference case "tanh-standard-parameterization": 4 -> Dense(10, 1.2, 0.3) Tanh -> Dense(1, 1.0, 0.2), standard parameterization.</summary>
public sealed class TanhStandardArch : IArchitecture
{
    /// <inheritdoc/>
    public static NetworkDescription Description { get; } = NetworkDescription.Create("TanhStandard", 4, Parameterization.Standard, 1.0, 0.0,
        LayerSpec.Dense(10, 1.2, 0.3), LayerSpec.Act(Activation.Plain(ActivationKind.Tanh)), LayerSpec.Dense(1, 1.0, 0.2));
}

/// <summary>Every activation kind in one network, a layer without bias, three outputs.</summary>
public sealed class AllKindsArch : IArchitecture
{
    /// <inheritdoc/>
    public static NetworkDescription Description { get; } = NetworkDescription.Create("AllKinds", 3, Parameterization.Ntk, 1.3, 0.2,
        LayerSpec.Dense(7), LayerSpec.Act(Activation.LeakyRelu(0.1)), LayerSpec.Dense(6, bias: false), LayerSpec.Act(Activation.Plain(ActivationKind.Gelu)),
        LayerSpec.Dense(5), LayerSpec.Act(Activation.Sin(0.9, 1.1, 0.3)), LayerSpec.Dense(5), LayerSpec.Act(Activation.Plain(ActivationKind.Softplus)),
        LayerSpec.Dense(4), LayerSpec.Act(Activation.Plain(ActivationKind.Sigmoid)), LayerSpec.Dense(4), LayerSpec.Act(Activation.Abs),
        LayerSpec.Dense(3));
}

/// <summary>
/// A hand-written, backend-generic implementation of <see cref="INetwork{TSelf}"/> that loops over the layers
/// (the generator unrolls the same steps). It exercises <see cref="TorchNetwork{TNet}"/> and the backend ops
/// composed the way generated code composes them.
/// </summary>
public sealed class LoopNetwork<TArch> : INetwork<LoopNetwork<TArch>> where TArch : IArchitecture
{
    private static readonly NetworkDescription Net = TArch.Description;

    /// <inheritdoc/>
    public static int InputSize => Net.Inputs;

    /// <inheritdoc/>
    public static int OutputSize => Net.Outputs;

    /// <inheritdoc/>
    public static int ParameterCount => Net.ParameterCount;

    /// <inheritdoc/>
    public static NetworkDescription Description => Net;

    private static (double W, double B) Scales(DenseLayer d) => Net.Parameterization == Parameterization.Ntk
        ? (d.WeightStd / Math.Sqrt(d.Inputs), d.HasBias ? d.BiasStd : 0)
        : (1.0, d.HasBias ? 1.0 : 0);

    // inputs[i] = input of layer i; inputs[L] = output. Slots base .. base + L.
    private static TTensor[] RunForward<TBackend, TTensor>(TBackend be, TTensor theta, TTensor x, Workspace<TTensor> ws, int slotBase)
        where TBackend : ITensorBackend<TTensor>
    {
        var layers = Net.Layers;
        var inputs = new TTensor[layers.Count + 1];
        inputs[0] = x;
        int n = be.Rows(x);
        for (int i = 0; i < layers.Count; i++)
        {
            switch (layers[i])
            {
                case DenseLayer d:
                {
                    var (sw, sb) = Scales(d);
                    var outBuf = ws.Get(be, slotBase + i, n, d.Width);
                    var w = be.View(theta, d.WeightOffset, d.Width, d.Inputs);
                    var b = d.HasBias ? be.View(theta, d.BiasOffset, 1, d.Width) : w;
                    be.Linear(inputs[i], w, b, d.HasBias, sw, sb, outBuf, false);
                    inputs[i + 1] = outBuf;
                    break;
                }

                case ActivationLayer a:
                {
                    var outBuf = ws.Get(be, slotBase + i, n, be.Cols(inputs[i]));
                    be.Activate(a.Activation, inputs[i], outBuf);
                    inputs[i + 1] = outBuf;
                    break;
                }
            }
        }

        return inputs;
    }

    /// <inheritdoc/>
    public static void Forward<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x, TTensor output, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>
    {
        var inputs = RunForward(backend, theta, x, workspace, 0);
        backend.Copy(inputs[^1], output);
    }

    /// <inheritdoc/>
    public static void Vjp<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x, TTensor cotangent, TTensor output, TTensor gradient, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>
    {
        var be = backend;
        var inputs = RunForward(be, theta, x, workspace, 0);
        be.Copy(inputs[^1], output);
        int n = be.Rows(x), slot = 100;
        var d = workspace.Get(be, slot++, n, OutputSize);
        be.Copy(cotangent, d);
        for (int i = Net.Layers.Count - 1; i >= 0; i--)
        {
            switch (Net.Layers[i])
            {
                case DenseLayer l:
                {
                    var (sw, sb) = Scales(l);
                    be.MatMulTransposeA(d, inputs[i], sw, be.View(gradient, l.WeightOffset, l.Width, l.Inputs), false);
                    if (l.HasBias) be.ColumnSums(d, sb, be.View(gradient, l.BiasOffset, 1, l.Width), false);
                    if (i > 0)
                    {
                        var next = workspace.Get(be, slot++, n, l.Inputs);
                        be.MatMul(d, be.View(theta, l.WeightOffset, l.Width, l.Inputs), sw, next);
                        d = next;
                    }

                    break;
                }

                case ActivationLayer a:
                    be.MultiplyByDerivative(a.Activation, inputs[i], d, 1);
                    break;
            }
        }
    }

    /// <inheritdoc/>
    public static void Jvp<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x, TTensor tangent, TTensor output, TTensor tangentOutput, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>
    {
        var be = backend;
        var inputs = RunForward(be, theta, x, workspace, 0);
        be.Copy(inputs[^1], output);
        int n = be.Rows(x);
        TTensor? dz = default;
        bool first = true;
        for (int i = 0; i < Net.Layers.Count; i++)
        {
            var buf = workspace.Get(be, 200 + i, n, be.Cols(inputs[i + 1]));
            switch (Net.Layers[i])
            {
                case DenseLayer l:
                {
                    var (sw, sb) = Scales(l);
                    var dw = be.View(tangent, l.WeightOffset, l.Width, l.Inputs);
                    var db = l.HasBias ? be.View(tangent, l.BiasOffset, 1, l.Width) : dw;
                    be.Linear(inputs[i], dw, db, l.HasBias, sw, sb, buf, false);
                    if (!first) be.Linear(dz!, be.View(theta, l.WeightOffset, l.Width, l.Inputs), dw, false, sw, 0, buf, true);
                    first = false;
                    break;
                }

                case ActivationLayer a:
                    be.Copy(dz!, buf);
                    be.MultiplyByDerivative(a.Activation, inputs[i], buf, 1);
                    break;
            }

            dz = buf;
        }

        be.Copy(dz!, tangentOutput);
    }

    // Backward with seeds (stacked when output < 0); returns the cotangent of each Dense layer's output.
    private static TTensor[] Backward<TBackend, TTensor>(TBackend be, TTensor theta, TTensor[] inputs, int output, Workspace<TTensor> ws, int slotBase)
        where TBackend : ITensorBackend<TTensor>
    {
        int n = be.Rows(inputs[0]), o = OutputSize;
        int repeat = output < 0 ? o : 1;
        var cot = new TTensor[Net.Layers.Count];
        var d = ws.Get(be, slotBase, n * repeat, o);
        be.SetOutputSeeds(d, o, output);
        int slot = slotBase + 1;
        for (int i = Net.Layers.Count - 1; i >= 0; i--)
        {
            switch (Net.Layers[i])
            {
                case DenseLayer l:
                {
                    cot[i] = d;
                    if (i > 0)
                    {
                        var next = ws.Get(be, slot++, n * repeat, l.Inputs);
                        be.MatMul(d, be.View(theta, l.WeightOffset, l.Width, l.Inputs), Scales(l).W, next);
                        d = next;
                    }

                    break;
                }

                case ActivationLayer a:
                    be.MultiplyByDerivative(a.Activation, inputs[i], d, repeat);
                    break;
            }
        }

        return cot;
    }

    /// <inheritdoc/>
    public static void Jacobian<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x, TTensor jacobian, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>
    {
        var be = backend;
        var inputs = RunForward(be, theta, x, workspace, 0);
        var cot = Backward(be, theta, inputs, -1, workspace, 300);
        for (int i = 0; i < Net.Layers.Count; i++)
        {
            if (Net.Layers[i] is not DenseLayer l) continue;
            var (sw, sb) = Scales(l);
            be.OuterRows(cot[i], inputs[i], OutputSize, sw, jacobian, l.WeightOffset);
            if (l.HasBias) be.CopyColumns(cot[i], sb, jacobian, l.BiasOffset);
        }
    }

    /// <inheritdoc/>
    public static void Ntk<TBackend, TTensor>(TBackend backend, TTensor theta, TTensor x1, TTensor x2, bool sameInputs, NtkMode mode, TTensor result, Workspace<TTensor> workspace)
        where TBackend : ITensorBackend<TTensor>
    {
        var be = backend;
        int o = OutputSize, n1 = be.Rows(x1), n2 = be.Rows(x2);
        var in1 = RunForward(be, theta, x1, workspace, 0);
        var in2 = sameInputs ? in1 : RunForward(be, theta, x2, workspace, 50);
        be.Clear(result);
        int passes = mode == NtkMode.Full ? 1 : o;
        for (int k = 0; k < passes; k++)
        {
            int seed = mode == NtkMode.Full ? -1 : k;
            int repeat = mode == NtkMode.Full ? o : 1;
            var cot1 = Backward(be, theta, in1, seed, workspace, 400);
            var cot2 = sameInputs ? cot1 : Backward(be, theta, in2, seed, workspace, 500);
            var dst = mode == NtkMode.Diagonal ? be.RowSlice(result, k * n1, n1) : result;
            double weight = mode == NtkMode.Trace ? 1.0 / o : 1.0;
            for (int i = 0; i < Net.Layers.Count; i++)
            {
                if (Net.Layers[i] is not DenseLayer l) continue;
                var (sw, sb) = Scales(l);
                var gramD = workspace.Get(be, 600, n1 * repeat, n2 * repeat);
                var gramA = workspace.Get(be, 601, n1, n2);
                be.Gram(cot1[i], cot2[i], gramD);
                be.Gram(in1[i], in2[i], gramA);
                be.HadamardAccumulate(gramD, gramA, repeat, weight * sw * sw, weight * sb * sb, dst);
            }
        }
    }
}

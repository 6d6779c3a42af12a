namespace NtkDsl.Benchmarks;

/// <summary>
/// The documented operation counts (FLOPs, one multiply-add = 2) and memory models behind the "gflops" and
/// "model_mb" figures of the benchmarks. Achieved GFLOP/s = these counts / measured seconds, so an
/// implementation that does more work than its count (or less, e.g. a symmetric Gram) shows up in its rate.
/// </summary>
/// <remarks>
/// Notation: N samples (x1 = x2, as benchmarked), Dense layers l = 1..L with fan-in n_{l-1} and width n_l
/// (n_0 = d, n_L = O), P parameters, s bytes per element.
/// <para>Structured NTK (the generated code; the torch_layerwise baseline runs the same algorithm):</para>
/// <list type="bullet">
/// <item>forward, per Dense layer: 2 N n_{l-1} n_l;</item>
/// <item>cotangent backward, per Dense layer l &gt;= 2: 2 N O n_l n_{l-1} (times 2 if x1 != x2); in Full mode the O
///   output seeds are stacked into one pass of N O rows, in Trace/Diagonal mode there are O passes of N rows;</item>
/// <item>Grams, per Dense layer: activations 2 N^2 n_{l-1} (once, shared by all outputs); cotangents
///   2 (N O)^2 n_l in Full mode, 2 O N^2 n_l in Trace/Diagonal mode (one N x N Gram per output);</item>
/// <item>Hadamard accumulate, per Dense layer: 3 (N O)^2 (Full) or 3 O N^2 (Trace/Diagonal);</item>
/// <item>counted as general products even when x1 = x2: a symmetric (SYRK) Gram does half of its count.</item>
/// </list>
/// <para>Autograd J J^T (TorchAutogradNtk): the algorithmic count is N O x (4 P, one backward per row)
/// + 2 (N O)^2 P (the product J J^T). The baseline as implemented runs one forward per sample and backpropagates
/// each f[n, k] through that sample's graph: it executes 2 N P + 4 N O P + 2 (N O)^2 P. "gflops" uses the
/// algorithmic count (the brief's), "flops_executed" the other.</para>
/// <para>Conv NTK (ConvNtkFlops): forward 2 N C_out F P_out per conv layer (F = C_in kh kw); per backward pass with
/// R rows (N O in Full mode, N in each of the O Trace passes): the layer's Jacobian D_r X^T 2 R C_out F P_out, its
/// contraction J J'^T 2 R^2 (C_out F + C_out), the cotangent W^T D 2 R F C_out P_out (not for the first layer);
/// Dense layers as above. Window sums, im2col and activations are O(N C H W) and not counted. A convolution read out
/// by a GlobalAvgPool through activations only (the generator's readout route, ConvRule; taken by ntk-cnn-small's
/// second convolution) instead costs: per sample its factor R_n X_n^T 2 N C_out F P_out; per sample pair the
/// per-channel Grams C_out N^2 (F + 1) (a SYRK: half of 2 C_out N^2 (F + 1)) and their weighting by the rows,
/// 2 N^2 C_out (O + 1) in Trace mode (one output group: all O outputs in one pass, NtkRepeat's group while
/// N O NtkRowElements fits its 2^27 elements; ntk-cnn-small up to N = 527), 3 (N O)^2 C_out in Full mode; and, not for
/// the first layer, one transposed convolution per sample 2 N C_out F P_out and the rows' contraction with it
/// 2 N O C_out C_in Hin Win.</para>
/// </remarks>
public static class CostModel
{
    /// <summary>Structured NTK FLOPs of <paramref name="net"/> on N samples (x1 = x2).</summary>
    public static double StructuredNtkFlops(NetworkDescription net, int n, NtkMode mode)
    {
        var dense = net.DenseLayers.ToArray();
        double o = net.Outputs, nn = n, total = 0;
        bool full = mode == NtkMode.Full;
        for (int l = 0; l < dense.Length; l++)
        {
            double fanIn = dense[l].Inputs, width = dense[l].Width;
            total += 2 * nn * fanIn * width;                                         // forward
            if (l > 0) total += 2 * nn * o * width * fanIn;                          // cotangent backward through W_l
            total += 2 * nn * nn * fanIn;                                            // activation Gram
            total += full ? 2 * (nn * o) * (nn * o) * width : 2 * o * nn * nn * width; // cotangent Gram(s)
            total += full ? 3 * (nn * o) * (nn * o) : 3 * o * nn * nn;              // Hadamard accumulate
        }

        return total;
    }

    /// <summary>
    /// What the CPU backend executes for x1 = x2: the same as <see cref="StructuredNtkFlops"/> but with every Gram
    /// (activations and cotangents) computed as a SYRK, i.e. half of its GEMM count.
    /// </summary>
    public static double StructuredNtkFlopsWithSyrk(NetworkDescription net, int n, NtkMode mode)
    {
        var dense = net.DenseLayers.ToArray();
        double o = net.Outputs, nn = n, grams = 0;
        bool full = mode == NtkMode.Full;
        foreach (var d in dense)
            grams += 2 * nn * nn * d.Inputs + (full ? 2 * (nn * o) * (nn * o) * d.Width : 2 * o * nn * nn * d.Width);
        return StructuredNtkFlops(net, n, mode) - grams / 2;
    }

    /// <summary>The algorithmic autograd J J^T count: N O backward passes of ~4 P plus 2 (N O)^2 P.</summary>
    public static double AutogradNtkFlops(NetworkDescription net, int n)
    {
        double rows = (double)n * net.Outputs, p = net.ParameterCount;
        return rows * 4 * p + 2 * rows * rows * p;
    }

    /// <summary>What TorchAutogradNtk executes: a forward per sample, N O backward passes through one sample's graph each, J J^T.</summary>
    public static double AutogradNtkFlopsExecuted(NetworkDescription net, int n)
    {
        double rows = (double)n * net.Outputs, p = net.ParameterCount;
        return 2.0 * n * p + rows * 4 * p + 2 * rows * rows * p;
    }

    /// <summary>The generated conv NTK's executed FLOPs on N samples (x1 = x2; see the remarks).</summary>
    public static double ConvNtkFlops(NetworkDescription net, int n, NtkMode mode)
    {
        double o = net.Outputs, rows = mode == NtkMode.Full ? n * o : n, passes = mode == NtkMode.Full ? 1 : o, total = 0;
        bool first = true;
        for (int l = 0; l < net.Layers.Count; l++)
        {
            switch (net.Layers[l])
            {
                case ConvLayer c when IsReadout(net, l):
                {
                    double product = 2.0 * c.OutChannels * c.Window.Output.Positions * c.FanIn, nn = (double)n * n;
                    double grams = c.OutChannels * nn * (c.FanIn + 1), weighting = mode == NtkMode.Full ? 3 * (n * o) * (n * o) * c.OutChannels : 2 * nn * c.OutChannels * (o + 1);
                    double cotangent = first ? 0 : n * product + 2.0 * n * o * c.OutChannels * c.InChannels * c.Window.Input.Positions;
                    total += n * product + n * product + grams + weighting + cotangent;
                    break;
                }

                case ConvLayer c:
                {
                    double outputs = c.OutChannels * (double)c.Window.Output.Positions, product = 2.0 * outputs * c.FanIn;
                    total += n * product + passes * (rows * product + 2 * rows * rows * c.ParameterCount + (first ? 0 : rows * product));
                    break;
                }

                case DenseLayer d:
                    total += 2.0 * n * d.Inputs * d.Width + passes * (2 * rows * rows * d.Width + (first ? 0 : 2 * rows * d.Width * d.Inputs)) + 2.0 * n * n * d.Inputs;
                    break;
                default:
                    continue;
            }

            first = false;
        }

        return total;
    }

    // Whether convolution l is read out by a GlobalAvgPool through activations only, in a serial stretch (the readout route).
    private static bool IsReadout(NetworkDescription net, int l)
    {
        for (int k = l + 1; k < net.Layers.Count && net.Sources[k] == k - 1; k++)
        {
            if (net.Layers[k] is GlobalAvgPoolLayer) return true;
            if (net.Layers[k] is not (ActivationLayer or ElementwiseLayer)) return false;
        }

        return false;
    }

    /// <summary>Forward pass: 2 N n_{l-1} n_l per Dense layer (bias and activations are O(N n), not counted).</summary>
    public static double ForwardFlops(NetworkDescription net, int n) =>
        net.DenseLayers.Sum(d => 2.0 * n * d.Inputs * d.Width);

    /// <summary>Flop-equivalents per kernel entry and ReLU layer of the arc-cosine recursion (nominal, see README).</summary>
    public const double InfinitePerEntryPerLayer = 20;

    /// <summary>
    /// Infinite-width NTK (nominal): the input Gram 2 N^2 d, then per ReLU + Dense step ~20 flop-equivalents per
    /// entry (sqrt, divide, arccos, sine and ~15 multiply/adds for NNGP and NTK), counting each transcendental as one.
    /// </summary>
    public static double InfiniteFlops(NetworkDescription net, int n)
    {
        int steps = net.Layers.OfType<ActivationLayer>().Count();
        return 2.0 * n * n * net.Inputs + InfinitePerEntryPerLayer * steps * (double)n * n;
    }

    /// <summary>
    /// Closed-form MSE dynamics with n train points, m test points, c right-hand sides (outputs) and T times:
    /// symmetric EVD ~9 n^3 (nominal, symmetric QR with vectors), V^T r 2 n^2 c, Theta* V 2 m n^2, then per
    /// time V (scaled p) 2 n^2 c and Theta* V (scaled p) 2 m n c.
    /// </summary>
    public static double DynamicsFlops(int n, int m, int c, int times) =>
        9.0 * n * n * n + 2.0 * n * n * c + 2.0 * m * n * n + times * (2.0 * n * n * c + 2.0 * m * n * c);

    /// <summary>
    /// Memory the structured NTK holds (MB): every layer output for N samples, the backward cotangents
    /// (N O rows in Full mode, N rows per pass otherwise) at each Dense input, one activation Gram per Dense
    /// layer, one cotangent Gram, the result and the parameters.
    /// </summary>
    public static double StructuredNtkMegabytes(NetworkDescription net, int n, NtkMode mode, int bytesPerElement)
    {
        double o = net.Outputs, rows = mode == NtkMode.Full ? n * o : n;
        double layerOutputs = net.Layers.Sum(l => l is DenseLayer d ? d.Width : 0) + ActivationWidths(net);
        double cotangents = net.DenseLayers.Skip(1).Sum(d => (double)d.Inputs) * rows;
        double grams = net.DenseLayers.Count() * (double)n * n + rows * rows;
        double result = mode == NtkMode.Full ? n * o * n * o : (mode == NtkMode.Diagonal ? o : 1) * (double)n * n;
        return bytesPerElement * (n * layerOutputs + cotangents + grams + result + net.ParameterCount) / 1e6;
    }

    /// <summary>Memory the autograd baseline holds (MB): the Jacobian N O x P, its product (N O)^2, the graph's activations.</summary>
    public static double AutogradMegabytes(NetworkDescription net, int n, int bytesPerElement)
    {
        double rows = (double)n * net.Outputs;
        double graph = n * (net.Layers.Sum(l => l is DenseLayer d ? d.Width : 0) + ActivationWidths(net));
        return bytesPerElement * (rows * net.ParameterCount + rows * rows + 2 * graph + net.ParameterCount) / 1e6;
    }

    private static double ActivationWidths(NetworkDescription net)
    {
        double sum = 0;
        int width = net.Inputs;
        foreach (var layer in net.Layers)
        {
            if (layer is DenseLayer d) width = d.Width;
            else sum += width;
        }

        return sum;
    }
}

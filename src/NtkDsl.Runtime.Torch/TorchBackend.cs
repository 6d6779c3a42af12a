using NtkDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

/// <summary>
/// The TorchSharp implementation of <see cref="ITensorBackend{TTensor}"/>: generated network code runs on
/// <see cref="Tensor"/>s of one element type (float32 or float64) on one device (CPU or CUDA).
/// </summary>
/// <remarks>
/// <para>
/// Every operation writes into its destination with in-place torch operations (<c>copy_</c>, <c>mul_</c>,
/// <c>add_</c>, <c>addcmul_</c>, ...). TorchSharp 0.107 has no <c>out=</c> overload for matrix products, so a
/// product is computed into a temporary that is copied into the destination; every temporary is created and
/// disposed inside the operation's own <see cref="DisposeScope"/>, so an operation leaves no live tensor behind.
/// </para>
/// <para>
/// Lifetimes: <see cref="Allocate"/> returns a tensor detached from every dispose scope (it is owned by the
/// <see cref="Workspace{TTensor}"/> or caller that asked for it, which must dispose it). <see cref="View"/> and
/// <see cref="RowSlice"/> return view handles that join the caller's current dispose scope, if any; run
/// generated passes inside a scope (as <see cref="TorchNetwork{TNet}"/> does) so those handles are released.
/// </para>
/// <para>The default value of this struct is a float64 CPU backend.</para>
/// </remarks>
public readonly partial struct TorchBackend : ITensorBackend<Tensor>
{
    private const double TwoOverSqrtPi = 1.1283791670955126;
    private const double InvSqrt2Pi = 0.3989422804014327;

    private readonly Device? _device;
    private readonly bool _float32;

    /// <summary>A backend for tensors of <paramref name="dtype"/> (float32 or float64) on <paramref name="device"/> (CPU when null).</summary>
    /// <exception cref="ArgumentException"><paramref name="dtype"/> is neither float32 nor float64.</exception>
    public TorchBackend(ScalarType dtype, Device? device = null)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64))
            throw new ArgumentException($"The Torch backend supports float32 and float64 tensors, got {dtype}.", nameof(dtype));
        _float32 = dtype == ScalarType.Float32;
        _device = device;
    }

    /// <summary>A float64 backend on <paramref name="device"/> (CPU when null).</summary>
    public static TorchBackend Float64(Device? device = null) => new(ScalarType.Float64, device);

    /// <summary>A float32 backend on <paramref name="device"/> (CPU when null).</summary>
    public static TorchBackend Float32(Device? device = null) => new(ScalarType.Float32, device);

    /// <summary>The element type of every tensor this backend creates and expects.</summary>
    public ScalarType DType => _float32 ? ScalarType.Float32 : ScalarType.Float64;

    /// <summary>The device of every tensor this backend creates and expects.</summary>
    public Device Device => _device ?? CPU;

    /// <inheritdoc/>
    public override string ToString() => $"TorchBackend({DType}, {Device})";

    /// <inheritdoc/>
    public int Rows(Tensor t) => checked((int)t.size(0));

    /// <inheritdoc/>
    /// <remarks>One output per pass: stacked outputs made ntk-resnet-small 2.3x slower with 4x the memory here.</remarks>
    public int TraceOutputGroupLimit => 1;

    /// <inheritdoc/>
    /// <remarks>2^22 elements (32 MB in float64): blocks of the generated 2^18 made ntk-resnet-small 2.5x slower here. The readout's per-channel maps (SeparableConvCotangent) are blocked by the same budget.</remarks>
    public long ConvCotangentBlockElements => 1L << 22;

    /// <inheritdoc/>
    public int Cols(Tensor t) => checked((int)t.size(1));

    /// <inheritdoc/>
    /// <remarks>The tensor is detached from every dispose scope: whoever asked for it (a workspace) disposes it.</remarks>
    public Tensor Allocate(int rows, int cols)
    {
        TorchRuntime.EnsureLoaded();
        return zeros(rows, cols, dtype: DType, device: Device).DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    /// <remarks>The view joins the caller's current dispose scope, if any.</remarks>
    public Tensor View(Tensor flat, int offset, int rows, int cols)
    {
        if (!flat.is_contiguous())
            throw new ArgumentException("The flat parameter tensor must be contiguous so that views write through to it.", nameof(flat));
        using var scope = NewDisposeScope();
        var view = flat.view(-1).narrow(0, offset, (long)rows * cols).view(rows, cols);
        return scope.MoveToOuter(view);
    }

    /// <inheritdoc/>
    /// <remarks>The view joins the caller's current dispose scope, if any.</remarks>
    public Tensor RowSlice(Tensor t, int start, int count) => t.narrow(0, start, count);

    /// <inheritdoc/>
    public void Clear(Tensor dst)
    {
        using var scope = NewDisposeScope(); // zero_ returns a new handle
        dst.zero_();
    }

    /// <inheritdoc/>
    public void Copy(Tensor src, Tensor dst)
    {
        using var scope = NewDisposeScope();
        dst.copy_(src);
    }

    /// <inheritdoc/>
    public void Scale(Tensor dst, double scale)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        dst.mul_(s);
    }

    /// <inheritdoc/>
    public void SetOutputSeeds(Tensor dst, int outputs)
    {
        using var scope = NewDisposeScope();
        dst.zero_();
        long samples = dst.size(0) / outputs;
        // Row n * outputs + k has a 1 in column k: the diagonals of the [N, O, O] blocks.
        if (dst.is_contiguous())
        {
            dst.view(samples, outputs, outputs).diagonal(0, 1, 2).fill_(1);
        }
        else
        {
            var eye = torch.eye(outputs, dtype: dst.dtype, device: dst.device);
            dst.copy_(eye.repeat(samples, 1));
        }
    }

    /// <inheritdoc/>
    public void SetOutputSeed(Tensor dst, int output)
    {
        if ((uint)output >= (ulong)dst.size(1))
            throw new ArgumentOutOfRangeException(nameof(output), $"Output {output} is not a column of a tensor with {dst.size(1)} columns.");
        using var scope = NewDisposeScope();
        dst.zero_();
        dst.narrow(1, output, 1).fill_(1);
    }

    /// <inheritdoc/>
    public void Linear(Tensor x, Tensor w, Tensor b, double wScale, double bScale, Tensor dst)
    {
        using var scope = NewDisposeScope();
        using var ws = wScale.ToScalar();
        using var bs = bScale.ToScalar();
        var product = x.mm(w.t());
        product.mul_(ws);
        product.add_(b.reshape(1, -1), bs); // b [1, out] broadcasts over rows
        dst.copy_(product);
    }

    /// <inheritdoc/>
    public void Activate(Activation activation, Tensor z, Tensor dst)
    {
        using var scope = NewDisposeScope();
        switch (activation.Kind)
        {
            case ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Abs:
            {
                // A min(x, 0) + B max(x, 0), i.e. x > 0 ? B x : A x
                var slope = Slopes(activation, z);
                dst.copy_(z);
                dst.mul_(slope);
                break;
            }

            case ActivationKind.Erf:
            {
                using var a = activation.A.ToScalar();
                using var b = activation.B.ToScalar();
                using var c = activation.C.ToScalar();
                dst.copy_(z);
                dst.mul_(b);
                dst.erf_();
                dst.mul_(a);
                dst.add_(c);
                break;
            }

            case ActivationKind.Tanh:
                dst.copy_(z);
                dst.tanh_();
                break;

            case ActivationKind.Sigmoid:
                dst.copy_(z);
                dst.sigmoid_();
                break;

            case ActivationKind.Gelu:
            {
                // x Phi(x), with Phi = ndtr (accurate in both tails)
                var cdf = special.ndtr(z);
                dst.copy_(z);
                dst.mul_(cdf);
                break;
            }

            case ActivationKind.Softplus:
            {
                // max(x, 0) + log1p(exp(-|x|)): stable everywhere, no threshold cut-off
                var tail = z.abs();
                tail.neg_();
                tail.exp_();
                tail.log1p_();
                using var zero = 0.0.ToScalar();
                dst.copy_(z);
                dst.clamp_min_(zero);
                dst.add_(tail);
                break;
            }

            case ActivationKind.Sin:
            {
                using var a = activation.A.ToScalar();
                using var b = activation.B.ToScalar();
                using var c = activation.C.ToScalar();
                dst.copy_(z);
                dst.mul_(b);
                dst.add_(c);
                dst.sin_();
                dst.mul_(a);
                break;
            }

            default:
                dst.copy_(z);
                break;
        }
    }

    /// <inheritdoc/>
    public void MultiplyByDerivative(Activation activation, Tensor z, Tensor dst, int repeat)
    {
        if (activation.Kind == ActivationKind.Identity) return;
        using var scope = NewDisposeScope();
        MultiplyRows(Derivative(activation, z), z, dst, repeat);
    }

    /// <inheritdoc/>
    /// <remarks>Code runs on the host: z goes to the CPU as float64 and the result comes back (the default for a function torch cannot express).</remarks>
    public void Activate<TFunction>(TFunction function, Tensor z, Tensor dst) where TFunction : IScalarActivation
    {
        using var scope = NewDisposeScope();
        dst.copy_(OnHost(function, z, derivative: false));
    }

    /// <inheritdoc/>
    /// <remarks>phi' is evaluated on the host, as in <see cref="Activate{TFunction}"/>.</remarks>
    public void MultiplyByDerivative<TFunction>(TFunction function, Tensor z, Tensor dst, int repeat) where TFunction : IScalarActivation
    {
        using var scope = NewDisposeScope();
        MultiplyRows(OnHost(function, z, derivative: true), z, dst, repeat);
    }

    // dst [N * repeat, C] *= derivative [N, C] broadcast over each sample's repeat rows.
    private static void MultiplyRows(Tensor derivative, Tensor z, Tensor dst, int repeat)
    {
        if (repeat == 1)
        {
            dst.mul_(derivative);
        }
        else if (dst.is_contiguous())
        {
            // dst [N * repeat, C] seen as [N, repeat, C], times phi'(z) [N, 1, C]
            long samples = z.size(0), cols = z.size(1);
            dst.view(samples, repeat, cols).mul_(derivative.unsqueeze(1));
        }
        else
        {
            dst.mul_(derivative.repeat_interleave(repeat, 0));
        }
    }

    private static Tensor OnHost<TFunction>(TFunction function, Tensor z, bool derivative) where TFunction : IScalarActivation
    {
        var values = z.to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            function.Evaluate(values[i], out double value, out double slope);
            values[i] = derivative ? slope : value;
        }

        return tensor(values, z.shape, dtype: ScalarType.Float64).to(z.dtype, z.device);
    }

    /// <inheritdoc/>
    public void MatMul(Tensor a, Tensor b, double scale, Tensor dst)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        var product = a.mm(b);
        product.mul_(s);
        dst.copy_(product);
    }

    /// <inheritdoc/>
    public void MatMulTransposeA(Tensor a, Tensor b, double scale, Tensor dst, bool accumulate)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        var product = a.t().mm(b);
        if (accumulate)
        {
            dst.add_(product, s);
        }
        else
        {
            product.mul_(s);
            dst.copy_(product);
        }
    }

    /// <inheritdoc/>
    public void MatMulTransposeB(Tensor a, Tensor b, double scale, Tensor dst, bool accumulate)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        Store(a.mm(b.t()), s, dst, accumulate);
    }

    /// <inheritdoc/>
    public void MatMulRows(Tensor w, bool transpose, Tensor b, double scale, Tensor dst, bool accumulate)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        var factor = transpose ? w.t() : w;
        long rows = b.size(0), k = factor.size(1);
        var product = matmul(factor, b.reshape(rows, k, -1)); // [R, M, Q]
        Store(product.reshape(rows, -1), s, dst, accumulate);
    }

    /// <inheritdoc/>
    public void RowProducts(Tensor a, Tensor b, int inner, int repeat, double scale, Tensor dst, int colOffset)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        long samples = b.size(0), m = a.size(1) / inner, f = b.size(1) / inner;
        // [N, repeat, M, inner] x [N, 1, inner, F] -> [N, repeat, M, F]
        var product = matmul(a.reshape(samples, repeat, m, inner), b.reshape(samples, 1, f, inner).transpose(2, 3));
        product.mul_(s);
        dst.narrow(1, colOffset, m * f).copy_(product.reshape(samples * repeat, m * f));
    }

    /// <inheritdoc/>
    public void SummedRowProducts(Tensor a, Tensor b, int inner, double scale, Tensor dst, bool accumulate)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        long rows = a.size(0), m = a.size(1) / inner, f = b.size(1) / inner;
        // sum_r A_r B_r^T as one product over the joint (r, q) index.
        var left = a.reshape(rows, m, inner).permute(1, 0, 2).reshape(m, rows * inner);
        var right = b.reshape(rows, f, inner).permute(1, 0, 2).reshape(f, rows * inner);
        Store(left.mm(right.t()), s, dst, accumulate);
    }

    /// <inheritdoc/>
    public void AddBias(Tensor b, int positions, double scale, Tensor dst)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        long rows = dst.size(0), channels = dst.size(1) / positions;
        dst.view(rows, channels, positions).add_(b.reshape(1, channels, 1), s);
    }

    /// <inheritdoc/>
    public void ColumnSums(Tensor a, int positions, double scale, Tensor dst, bool accumulate)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        long rows = a.size(0), channels = a.size(1) / positions;
        Store(a.reshape(rows, channels, positions).sum([0L, 2L]).view(1, channels), s, dst, accumulate);
    }

    /// <inheritdoc/>
    public void SumPositions(Tensor a, int positions, double scale, Tensor dst, int colOffset)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        long rows = a.size(0), channels = a.size(1) / positions;
        var sums = a.reshape(rows, channels, positions).sum(2);
        sums.mul_(s);
        dst.narrow(1, colOffset, channels).copy_(sums);
    }

    /// <inheritdoc/>
    public void BroadcastPositions(Tensor a, int positions, double scale, Tensor dst)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        long rows = a.size(0), channels = a.size(1);
        var spread = a.mul(s).reshape(rows, channels, 1).expand(rows, channels, positions);
        dst.copy_(spread.reshape(rows, channels * positions));
    }

    /// <inheritdoc/>
    public void Im2Col(Tensor x, int channels, SpatialWindow window, Tensor dst)
    {
        using var scope = NewDisposeScope();
        dst.copy_(Padded(x).index_select(1, GatherIndex(channels, window, x.device)));
    }

    /// <inheritdoc/>
    public void Col2Im(Tensor cols, int channels, SpatialWindow window, Tensor dst)
    {
        using var scope = NewDisposeScope();
        long inputs = (long)channels * window.Input.Positions;
        var sums = zeros(cols.size(0), inputs + 1, dtype: cols.dtype, device: cols.device);
        using var one = 1.0.ToScalar();
        sums.index_add_(1, GatherIndex(channels, window, cols.device), cols, one);
        dst.copy_(sums.narrow(1, 0, inputs));
    }

    /// <inheritdoc/>
    public void WindowSums(Tensor x, int channels, SpatialWindow window, double scale, Tensor dst)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        long rows = x.size(0), positions = window.Output.Positions;
        var gathered = Padded(x).index_select(1, GatherIndex(channels, window, x.device)).view(rows, channels, window.Taps, positions);
        var sums = gathered.sum(2);
        sums.mul_(s);
        dst.copy_(sums.reshape(rows, channels * positions));
    }

    /// <inheritdoc/>
    public void WindowSumsTranspose(Tensor c, int channels, SpatialWindow window, double scale, Tensor dst)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        long rows = c.size(0), positions = window.Output.Positions, inputs = (long)channels * window.Input.Positions;
        var spread = c.mul(s).reshape(rows, channels, 1, positions).expand(rows, channels, window.Taps, positions).reshape(rows, -1);
        var sums = zeros(rows, inputs + 1, dtype: c.dtype, device: c.device);
        using var one = 1.0.ToScalar();
        sums.index_add_(1, GatherIndex(channels, window, c.device), spread, one);
        dst.copy_(sums.narrow(1, 0, inputs));
    }

    // x with one zero column appended: the element that padding taps read.
    private static Tensor Padded(Tensor x) => cat([x, zeros(x.size(0), 1, dtype: x.dtype, device: x.device)], 1);

    // The window's gather map (SpatialIndex) over every channel, with padding taps pointing at the appended zero column.
    private static Tensor GatherIndex(int channels, SpatialWindow window, Device device)
    {
        var map = SpatialIndex.Of(window);
        int inputs = window.Input.Positions;
        var index = new long[(long)channels * map.Length];
        for (int c = 0; c < channels; c++)
        for (int e = 0; e < map.Length; e++)
            index[(long)c * map.Length + e] = map[e] < 0 ? (long)channels * inputs : (long)c * inputs + map[e];
        return tensor(index, device: device);
    }

    // dst (=, or +=) s * value.
    private static void Store(Tensor value, Scalar s, Tensor dst, bool accumulate)
    {
        if (accumulate)
        {
            dst.add_(value, s);
        }
        else
        {
            value.mul_(s);
            dst.copy_(value);
        }
    }

    /// <inheritdoc/>
    public void Gram(Tensor a, Tensor b, Tensor dst)
    {
        using var scope = NewDisposeScope();
        dst.copy_(a.mm(b.t()));
    }

    /// <inheritdoc/>
    public void HadamardAccumulate(Tensor gramD, Tensor gramA, int repeat, double scale, double offset, Tensor dst)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        using var o = offset.ToScalar();
        using var one = 1.0.ToScalar();
        var factor = gramA.mul(s);
        factor.add_(o);
        if (repeat == 1)
        {
            dst.addcmul_(gramD, factor, one);
        }
        else if (dst.is_contiguous() && gramD.is_contiguous())
        {
            // [R1 * r, R2 * r] seen as [R1, r, R2, r]; the activation factor broadcasts as [R1, 1, R2, 1].
            long r1 = gramA.size(0), r2 = gramA.size(1);
            var dst4 = dst.view(r1, repeat, r2, repeat);
            var d4 = gramD.view(r1, repeat, r2, repeat);
            dst4.addcmul_(d4, factor.view(r1, 1, r2, 1), one);
        }
        else
        {
            var expanded = factor.repeat_interleave(repeat, 0).repeat_interleave(repeat, 1);
            dst.addcmul_(gramD, expanded, one);
        }
    }

    /// <inheritdoc/>
    public void PositionMajor(Tensor a, int positions, Tensor dst)
    {
        using var scope = NewDisposeScope();
        long rows = a.size(0), channels = a.size(1) / positions;
        dst.copy_(a.reshape(rows, channels, positions).transpose(1, 2).reshape(rows * positions, channels));
    }

    /// <inheritdoc/>
    public void PositionPairAccumulate(Tensor gramD, Tensor gramX, int positions, int repeat, double scale, double offset, Tensor dst)
    {
        using var scope = NewDisposeScope();
        using var s = scale.ToScalar();
        using var o = offset.ToScalar();
        long r1 = gramX.size(0) / positions, r2 = gramX.size(1) / positions;
        // gramD as [R1, repeat, P, R2, repeat, P] times the factor broadcast as [R1, 1, P, R2, 1, P], summed over (P, P).
        var factor = gramX.mul(s);
        factor.add_(o);
        var terms = gramD.reshape(r1, repeat, positions, r2, repeat, positions).mul(factor.view(r1, 1, positions, r2, 1, positions));
        dst.add_(terms.sum([2, 5]).reshape(r1 * repeat, r2 * repeat));
    }

    // x > 0 ? B : A, elementwise (the derivative of A min(x, 0) + B max(x, 0), left slope at 0).
    private static Tensor Slopes(Activation activation, Tensor z)
    {
        using var a = activation.A.ToScalar();
        using var b = activation.B.ToScalar();
        using var zero = 0.0.ToScalar();
        var slope = full_like(z, a);
        slope.masked_fill_(z.gt(zero), b);
        return slope;
    }

    // phi'(z) as a new tensor (in the caller's scope).
    private static Tensor Derivative(Activation activation, Tensor z)
    {
        switch (activation.Kind)
        {
            case ActivationKind.Relu or ActivationKind.LeakyRelu or ActivationKind.Abs:
                return Slopes(activation, z);

            case ActivationKind.Erf:
            {
                // A B 2/sqrt(pi) exp(-B^2 x^2)
                using var minusB2 = (-activation.B * activation.B).ToScalar();
                using var factor = (activation.A * activation.B * TwoOverSqrtPi).ToScalar();
                var d = z.square();
                d.mul_(minusB2);
                d.exp_();
                d.mul_(factor);
                return d;
            }

            case ActivationKind.Tanh:
            {
                // 1 - tanh(x)^2
                using var one = 1.0.ToScalar();
                var t = z.tanh();
                var d = t.mul(t);
                d.neg_();
                d.add_(one);
                return d;
            }

            case ActivationKind.Sigmoid:
            {
                // s (1 - s)
                using var one = 1.0.ToScalar();
                var s = z.sigmoid();
                var d = s.neg();
                d.add_(one);
                d.mul_(s);
                return d;
            }

            case ActivationKind.Gelu:
            {
                // Phi(x) + x phi(x)
                using var minusHalf = (-0.5).ToScalar();
                using var invSqrt2Pi = InvSqrt2Pi.ToScalar();
                var density = z.square();
                density.mul_(minusHalf);
                density.exp_();
                density.mul_(invSqrt2Pi);
                density.mul_(z);
                var d = special.ndtr(z);
                d.add_(density);
                return d;
            }

            case ActivationKind.Softplus:
                return z.sigmoid();

            case ActivationKind.Sin:
            {
                // A B cos(B x + C)
                using var b = activation.B.ToScalar();
                using var c = activation.C.ToScalar();
                using var ab = (activation.A * activation.B).ToScalar();
                var d = z.mul(b);
                d.add_(c);
                d.cos_();
                d.mul_(ab);
                return d;
            }

            default:
                return ones_like(z);
        }
    }
}

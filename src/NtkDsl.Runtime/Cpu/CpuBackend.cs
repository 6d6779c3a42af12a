using System.Numerics;
using System.Numerics.Tensors;
using NtkDsl.Backends;

namespace NtkDsl.Cpu;

/// <summary>
/// The CPU backend: straightforward row loops vectorized with <see cref="TensorPrimitives"/>, parallel
/// over rows when a call has enough work to pay for it. Below that threshold it allocates nothing.
/// </summary>
/// <param name="maxDegreeOfParallelism">Threads to use for large operations (0 or less: all cores).</param>
public readonly struct CpuBackend<T>(int maxDegreeOfParallelism) : ITensorBackend<CpuTensor<T>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    // Multiply-adds below which a call runs on the calling thread (a Parallel.For costs ~10-20 us).
    private const long ParallelThreshold = 1 << 18;

    /// <summary>A backend that uses every core.</summary>
    public CpuBackend() : this(0)
    {
    }

    private int Threads => maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;

    /// <inheritdoc/>
    public int Rows(CpuTensor<T> t) => t.Rows;

    /// <inheritdoc/>
    public int Cols(CpuTensor<T> t) => t.Cols;

    /// <inheritdoc/>
    public CpuTensor<T> Allocate(int rows, int cols) => new(new T[checked(rows * cols)], 0, rows, cols);

    /// <inheritdoc/>
    public CpuTensor<T> View(CpuTensor<T> flat, int offset, int rows, int cols)
    {
        if (offset < 0 || (long)offset + (long)rows * cols > flat.Rows * flat.Cols)
            throw new ArgumentOutOfRangeException(nameof(offset), $"A {rows} x {cols} view at {offset} exceeds a tensor of {flat.Rows * flat.Cols} elements.");
        return new(flat.Array, flat.Offset + offset, rows, cols);
    }

    /// <inheritdoc/>
    public CpuTensor<T> RowSlice(CpuTensor<T> t, int start, int count) => new(t.Array, t.Offset + start * t.Cols, count, t.Cols);

    /// <inheritdoc/>
    public void Clear(CpuTensor<T> dst) => dst.Span.Clear();

    /// <inheritdoc/>
    public void Copy(CpuTensor<T> src, CpuTensor<T> dst)
    {
        RequireShape(dst, src.Rows, src.Cols, nameof(dst));
        src.Span.CopyTo(dst.Span);
    }

    /// <inheritdoc/>
    public void Scale(CpuTensor<T> dst, double scale) => TensorPrimitives.Multiply(dst.Span, T.CreateChecked(scale), dst.Span);

    /// <inheritdoc/>
    public void SetOutputSeeds(CpuTensor<T> dst, int outputs, int output)
    {
        dst.Span.Clear();
        if (output >= 0)
        {
            for (int r = 0; r < dst.Rows; r++) dst.Row(r)[output] = T.One;
        }
        else
        {
            for (int r = 0; r < dst.Rows; r++) dst.Row(r)[r % outputs] = T.One;
        }
    }

    /// <inheritdoc/>
    public void Linear(CpuTensor<T> x, CpuTensor<T> w, CpuTensor<T> b, bool hasBias, double wScale, double bScale, CpuTensor<T> dst, bool accumulate)
    {
        RequireShape(dst, x.Rows, w.Rows, nameof(dst));
        RequireShape(w, w.Rows, x.Cols, nameof(w));
        For(x.Rows, (long)w.Rows * x.Cols, new LinearRows(x, w, b, hasBias, T.CreateChecked(wScale), T.CreateChecked(bScale), dst, accumulate));
    }

    /// <inheritdoc/>
    public void Activate(Activation activation, CpuTensor<T> z, CpuTensor<T> dst)
    {
        RequireShape(dst, z.Rows, z.Cols, nameof(dst));
        var zs = z.Span;
        var ds = dst.Span;
        if (activation.IsPiecewiseLinear)
        {
            T a = T.CreateChecked(activation.A), b = T.CreateChecked(activation.B);
            for (int i = 0; i < zs.Length; i++) ds[i] = zs[i] > T.Zero ? b * zs[i] : a * zs[i];
            return;
        }

        if (activation.Kind == ActivationKind.Identity)
        {
            zs.CopyTo(ds);
            return;
        }

        for (int i = 0; i < zs.Length; i++) ds[i] = T.CreateChecked(activation.Evaluate(double.CreateChecked(zs[i])));
    }

    /// <inheritdoc/>
    public void MultiplyByDerivative(Activation activation, CpuTensor<T> z, CpuTensor<T> dst, int repeat)
    {
        RequireShape(dst, z.Rows * repeat, z.Cols, nameof(dst));
        if (activation.Kind == ActivationKind.Identity) return;
        for (int n = 0; n < z.Rows; n++)
        {
            var zr = z.Row(n);
            for (int k = 0; k < repeat; k++)
            {
                var dr = dst.Row(n * repeat + k);
                if (activation.IsPiecewiseLinear)
                {
                    T a = T.CreateChecked(activation.A), b = T.CreateChecked(activation.B);
                    for (int i = 0; i < dr.Length; i++) dr[i] *= zr[i] > T.Zero ? b : a;
                }
                else
                {
                    for (int i = 0; i < dr.Length; i++) dr[i] *= T.CreateChecked(activation.Derivative(double.CreateChecked(zr[i])));
                }
            }
        }
    }

    /// <inheritdoc/>
    public void MatMul(CpuTensor<T> a, CpuTensor<T> b, double scale, CpuTensor<T> dst)
    {
        RequireShape(b, a.Cols, b.Cols, nameof(b));
        RequireShape(dst, a.Rows, b.Cols, nameof(dst));
        For(a.Rows, (long)a.Cols * b.Cols, new MatMulRows(a, b, T.CreateChecked(scale), dst));
    }

    /// <inheritdoc/>
    public void MatMulTransposeA(CpuTensor<T> a, CpuTensor<T> b, double scale, CpuTensor<T> dst, bool accumulate)
    {
        RequireShape(b, a.Rows, b.Cols, nameof(b));
        RequireShape(dst, a.Cols, b.Cols, nameof(dst));
        For(a.Cols, (long)a.Rows * b.Cols, new MatMulTransposeARows(a, b, T.CreateChecked(scale), dst, accumulate));
    }

    /// <inheritdoc/>
    public void ColumnSums(CpuTensor<T> a, double scale, CpuTensor<T> dst, bool accumulate)
    {
        RequireShape(dst, 1, a.Cols, nameof(dst));
        var dr = dst.Row(0);
        if (!accumulate) dr.Clear();
        T s = T.CreateChecked(scale);
        for (int r = 0; r < a.Rows; r++) TensorPrimitives.MultiplyAdd(a.Row(r), s, dr, dr);
    }

    /// <inheritdoc/>
    public void Gram(CpuTensor<T> a, CpuTensor<T> b, CpuTensor<T> dst)
    {
        RequireShape(b, b.Rows, a.Cols, nameof(b));
        RequireShape(dst, a.Rows, b.Rows, nameof(dst));
        For(a.Rows, (long)b.Rows * a.Cols, new GramRows(a, b, dst));
    }

    /// <inheritdoc/>
    public void HadamardAccumulate(CpuTensor<T> gramD, CpuTensor<T> gramA, int repeat, double scale, double offset, CpuTensor<T> dst)
    {
        RequireShape(gramD, gramA.Rows * repeat, gramA.Cols * repeat, nameof(gramD));
        RequireShape(dst, gramD.Rows, gramD.Cols, nameof(dst));
        T s = T.CreateChecked(scale), o = T.CreateChecked(offset);
        for (int i = 0; i < dst.Rows; i++)
        {
            var dr = dst.Row(i);
            var gd = gramD.Row(i);
            var ga = gramA.Row(i / repeat);
            for (int j = 0; j < dr.Length; j++) dr[j] += gd[j] * (s * ga[j / repeat] + o);
        }
    }

    /// <inheritdoc/>
    public void OuterRows(CpuTensor<T> c, CpuTensor<T> a, int repeat, double scale, CpuTensor<T> dst, int colOffset)
    {
        RequireShape(c, a.Rows * repeat, c.Cols, nameof(c));
        RequireShape(dst, c.Rows, dst.Cols, nameof(dst));
        if (colOffset < 0 || colOffset + c.Cols * a.Cols > dst.Cols)
            throw new ArgumentOutOfRangeException(nameof(colOffset), $"Columns [{colOffset}, {colOffset + c.Cols * a.Cols}) exceed {dst.Cols}.");
        T s = T.CreateChecked(scale);
        for (int r = 0; r < c.Rows; r++)
        {
            var cr = c.Row(r);
            var ar = a.Row(r / repeat);
            var dr = dst.Row(r).Slice(colOffset, c.Cols * a.Cols);
            for (int i = 0; i < cr.Length; i++) TensorPrimitives.Multiply(ar, s * cr[i], dr.Slice(i * ar.Length, ar.Length));
        }
    }

    /// <inheritdoc/>
    public void CopyColumns(CpuTensor<T> c, double scale, CpuTensor<T> dst, int colOffset)
    {
        RequireShape(dst, c.Rows, dst.Cols, nameof(dst));
        if (colOffset < 0 || colOffset + c.Cols > dst.Cols)
            throw new ArgumentOutOfRangeException(nameof(colOffset), $"Columns [{colOffset}, {colOffset + c.Cols}) exceed {dst.Cols}.");
        T s = T.CreateChecked(scale);
        for (int r = 0; r < c.Rows; r++) TensorPrimitives.Multiply(c.Row(r), s, dst.Row(r).Slice(colOffset, c.Cols));
    }

    private static void RequireShape(CpuTensor<T> t, int rows, int cols, string name)
    {
        if (t.Rows != rows || t.Cols != cols)
            throw new ArgumentException($"Expected shape [{rows}, {cols}], got [{t.Rows}, {t.Cols}].", name);
    }

    // Runs kernel.Run(row) for every row, in parallel when rows * workPerRow is large enough. Kernels are
    // structs so that the serial path allocates nothing.
    private void For<TKernel>(int rows, long workPerRow, TKernel kernel) where TKernel : struct, IRowKernel
    {
        int threads = Threads;
        if (threads <= 1 || rows < 2 || rows * workPerRow < ParallelThreshold)
        {
            for (int r = 0; r < rows; r++) kernel.Run(r);
            return;
        }

        Parallel.For(0, rows, new ParallelOptions { MaxDegreeOfParallelism = threads }, kernel.Run);
    }

    private interface IRowKernel
    {
        void Run(int row);
    }

    private readonly struct LinearRows(CpuTensor<T> x, CpuTensor<T> w, CpuTensor<T> b, bool hasBias, T ws, T bs, CpuTensor<T> dst, bool accumulate) : IRowKernel
    {
        public void Run(int r)
        {
            var xr = x.Row(r);
            var dr = dst.Row(r);
            for (int o = 0; o < w.Rows; o++)
            {
                T value = ws * TensorPrimitives.Dot<T>(xr, w.Row(o));
                if (hasBias) value += bs * b.Array[b.Offset + o];
                dr[o] = accumulate ? dr[o] + value : value;
            }
        }
    }

    private readonly struct MatMulRows(CpuTensor<T> a, CpuTensor<T> b, T scale, CpuTensor<T> dst) : IRowKernel
    {
        public void Run(int r)
        {
            var dr = dst.Row(r);
            dr.Clear();
            var ar = a.Row(r);
            for (int k = 0; k < ar.Length; k++)
                if (ar[k] != T.Zero) TensorPrimitives.MultiplyAdd(b.Row(k), scale * ar[k], dr, dr);
        }
    }

    private readonly struct MatMulTransposeARows(CpuTensor<T> a, CpuTensor<T> b, T scale, CpuTensor<T> dst, bool accumulate) : IRowKernel
    {
        public void Run(int r)
        {
            var dr = dst.Row(r);
            if (!accumulate) dr.Clear();
            for (int k = 0; k < a.Rows; k++)
            {
                T akr = a.Array[a.Offset + k * a.Cols + r];
                if (akr != T.Zero) TensorPrimitives.MultiplyAdd(b.Row(k), scale * akr, dr, dr);
            }
        }
    }

    private readonly struct GramRows(CpuTensor<T> a, CpuTensor<T> b, CpuTensor<T> dst) : IRowKernel
    {
        public void Run(int r)
        {
            var ar = a.Row(r);
            var dr = dst.Row(r);
            for (int c = 0; c < b.Rows; c++) dr[c] = TensorPrimitives.Dot<T>(ar, b.Row(c));
        }
    }
}

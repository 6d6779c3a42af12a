using System.Numerics;
using System.Numerics.Tensors;
using NtkDsl.Backends;
using NtkDsl.Cpu.Gemm;

namespace NtkDsl.Cpu;

/// <summary>
/// The CPU backend. Matrix products (Linear, MatMul, MatMulTransposeA, Gram) run on a packed,
/// cache-blocked GEMM with a Vector256 FMA micro-kernel (a portable Vector&lt;T&gt; kernel where AVX2/FMA
/// are missing), spread over a small persistent worker pool; Gram of a tensor with itself computes only
/// the upper triangle (SYRK). Elementwise operations are vectorized. Nothing allocates in steady state.
/// </summary>
/// <param name="maxDegreeOfParallelism">Threads to use for large operations (0 or less: all cores).</param>
public readonly partial struct CpuBackend<T>(int maxDegreeOfParallelism) : ITensorBackend<CpuTensor<T>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>A backend that uses every core.</summary>
    public CpuBackend() : this(0)
    {
    }

    private int Threads => maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;

    /// <inheritdoc/>
    public int Rows(CpuTensor<T> t) => t.Rows;

    /// <inheritdoc/>
    /// <remarks>No limit beyond the generated workspace budget: larger stacks give the packed GEMM longer products.</remarks>
    public int TraceOutputGroupLimit => int.MaxValue;

    /// <inheritdoc/>
    /// <remarks>0: the generated scratch is sized so col2im reads W^T D back from cache.</remarks>
    public long ConvCotangentBlockElements => 0;

    /// <inheritdoc/>
    public int Cols(CpuTensor<T> t) => t.Cols;

    /// <inheritdoc/>
    public CpuTensor<T> Allocate(int rows, int cols)
    {
        ShapeLimits.RequireMatrix(rows, cols, "A workspace buffer", null, ShapeLimits.KernelRemedy);
        return new(new T[(long)rows * cols], 0, rows, cols);
    }

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
    public void SetOutputSeeds(CpuTensor<T> dst, int outputs)
    {
        RequireShape(dst, dst.Rows, outputs, nameof(dst));
        dst.Span.Clear();
        for (int r = 0; r < dst.Rows; r++) dst.Row(r)[r % outputs] = T.One;
    }

    /// <inheritdoc/>
    public void SetOutputSeed(CpuTensor<T> dst, int output)
    {
        if ((uint)output >= (uint)dst.Cols)
            throw new ArgumentOutOfRangeException(nameof(output), $"Output {output} is not a column of a tensor with {dst.Cols} columns.");
        dst.Span.Clear();
        for (int r = 0; r < dst.Rows; r++) dst.Row(r)[output] = T.One;
    }

    /// <inheritdoc/>
    public void Linear(CpuTensor<T> x, CpuTensor<T> w, CpuTensor<T> b, double wScale, double bScale, CpuTensor<T> dst)
    {
        RequireShape(dst, x.Rows, w.Rows, nameof(dst));
        RequireShape(w, w.Rows, x.Cols, nameof(w));
        RequireBias(b, w.Rows);

        // x W^T: op(B)(k, j) = W[j, k]; the bias is added in the micro-kernel's store (no second pass).
        Gemm(x, x.Cols, 1, w, 1, w.Cols, x.Rows, w.Rows, x.Cols, dst, wScale, false, b.Array, b.Offset, bScale, upperOnly: false);
    }

    /// <inheritdoc/>
    public void Activate(Activation activation, CpuTensor<T> z, CpuTensor<T> dst)
    {
        RequireShape(dst, z.Rows, z.Cols, nameof(dst));
        Elementwise<T>.Activate(activation, z.Span, dst.Span);
    }

    /// <inheritdoc/>
    public void LinearActivate(CpuTensor<T> x, CpuTensor<T> w, CpuTensor<T> b, double wScale, double bScale,
        Activation activation, CpuTensor<T> z, CpuTensor<T> a)
    {
        RequireShape(z, x.Rows, w.Rows, nameof(z));
        RequireShape(a, x.Rows, w.Rows, nameof(a));
        RequireShape(w, w.Rows, x.Cols, nameof(w));
        RequireBias(b, w.Rows);

        // As Linear, with phi applied by the same work item right after its block of z is final (in cache,
        // and in parallel) instead of in a second single-threaded pass.
        Gemm(x, x.Cols, 1, w, 1, w.Cols, x.Rows, w.Rows, x.Cols, z, wScale, false, b.Array, b.Offset, bScale, upperOnly: false, activation, a);
    }

    /// <inheritdoc/>
    public void MultiplyByDerivative(Activation activation, CpuTensor<T> z, CpuTensor<T> dst, int repeat)
    {
        RequireShape(dst, z.Rows * repeat, z.Cols, nameof(dst));
        if (activation.Kind == ActivationKind.Identity) return;
        RunRows(new DerivativeRows(activation, z, dst, repeat), z.Rows, (long)z.Cols * repeat);
    }

    /// <inheritdoc/>
    public void Activate<TFunction>(TFunction function, CpuTensor<T> z, CpuTensor<T> dst) where TFunction : IScalarActivation
    {
        RequireShape(dst, z.Rows, z.Cols, nameof(dst));
        Span<T> zs = z.Span, ds = dst.Span;
        for (int i = 0; i < zs.Length; i++)
        {
            function.Evaluate(double.CreateTruncating(zs[i]), out double value, out _);
            ds[i] = T.CreateTruncating(value);
        }
    }

    /// <inheritdoc/>
    public void MultiplyByDerivative<TFunction>(TFunction function, CpuTensor<T> z, CpuTensor<T> dst, int repeat) where TFunction : IScalarActivation
    {
        RequireShape(dst, z.Rows * repeat, z.Cols, nameof(dst));
        for (int n = 0; n < z.Rows; n++)
        {
            var zr = z.Row(n);
            for (int c = 0; c < zr.Length; c++)
            {
                function.Evaluate(double.CreateTruncating(zr[c]), out _, out double derivative);
                T d = T.CreateTruncating(derivative);
                for (int k = 0; k < repeat; k++) dst.Row(n * repeat + k)[c] *= d;
            }
        }
    }

    /// <inheritdoc/>
    public void MatMul(CpuTensor<T> a, CpuTensor<T> b, double scale, CpuTensor<T> dst)
    {
        RequireShape(b, a.Cols, b.Cols, nameof(b));
        RequireShape(dst, a.Rows, b.Cols, nameof(dst));
        Gemm(a, a.Cols, 1, b, b.Cols, 1, a.Rows, b.Cols, a.Cols, dst, scale, false, null, 0, 0, upperOnly: false);
    }

    /// <inheritdoc/>
    public void MatMulTransposeA(CpuTensor<T> a, CpuTensor<T> b, double scale, CpuTensor<T> dst, bool accumulate)
    {
        RequireShape(b, a.Rows, b.Cols, nameof(b));
        RequireShape(dst, a.Cols, b.Cols, nameof(dst));
        // a^T: op(A)(i, k) = a[k, i], packed from contiguous rows of a.
        Gemm(a, 1, a.Cols, b, b.Cols, 1, a.Cols, b.Cols, a.Rows, dst, scale, accumulate, null, 0, 0, upperOnly: false);
    }

    /// <inheritdoc/>
    public void MatMulTransposeB(CpuTensor<T> a, CpuTensor<T> b, double scale, CpuTensor<T> dst, bool accumulate)
    {
        RequireShape(b, b.Rows, a.Cols, nameof(b));
        RequireShape(dst, a.Rows, b.Rows, nameof(dst));
        Gemm(a, a.Cols, 1, b, 1, b.Cols, a.Rows, b.Rows, a.Cols, dst, scale, accumulate, null, 0, 0, upperOnly: false);
    }

    /// <inheritdoc/>
    public void MatMulRows(CpuTensor<T> w, bool transpose, CpuTensor<T> b, double scale, CpuTensor<T> dst, bool accumulate)
    {
        int m = transpose ? w.Cols : w.Rows, k = transpose ? w.Rows : w.Cols;
        if (k == 0 || b.Cols % k != 0)
            throw new ArgumentException($"Rows of b ({b.Cols} elements) do not hold [{k}, Q] matrices for a factor [{m}, {k}].", nameof(b));
        int q = b.Cols / k;
        RequireShape(dst, b.Rows, m * q, nameof(dst));
        nint rsA = transpose ? 1 : w.Cols, csA = transpose ? w.Cols : 1;
        RunMatrices(new SharedFactorProducts(this, w, rsA, csA, b, dst, m, k, q, scale, accumulate), b.Rows, (long)m * k * q);
    }

    /// <inheritdoc/>
    public void RowProducts(CpuTensor<T> a, CpuTensor<T> b, int inner, int repeat, double scale, CpuTensor<T> dst, int colOffset)
    {
        var (m, f) = ProductShape(a, b, inner);
        RequireShape(a, b.Rows * repeat, a.Cols, nameof(a));
        RequireShape(dst, a.Rows, dst.Cols, nameof(dst));
        if (colOffset < 0 || colOffset + (long)m * f > dst.Cols)
            throw new ArgumentOutOfRangeException(nameof(colOffset), $"Columns [{colOffset}, {colOffset + (long)m * f}) exceed {dst.Cols}.");
        if (inner == 1)
        {
            // Outer products of rows (a Dense layer's Jacobian block): a scaled copy of b's row per element of a's.
            T s = T.CreateChecked(scale);
            for (int r = 0; r < a.Rows; r++)
            {
                var ar = a.Row(r);
                var br = b.Row(r / repeat);
                var dr = dst.Row(r).Slice(colOffset, m * f);
                for (int i = 0; i < ar.Length; i++) TensorPrimitives.Multiply(br, s * ar[i], dr.Slice(i * f, f));
            }

            return;
        }

        // A sample's repeat rows (stacked outputs) read the same b row: with dst holding just these blocks, they are one
        // [repeat m, inner] x [inner, f] product into [repeat m, f] (b's row packed once, a taller product).
        int group = repeat > 1 && colOffset == 0 && dst.Cols == m * f ? repeat : 1;
        RunMatrices(new TransposedProducts(this, a, b, inner, repeat, group, dst, colOffset, m, f, scale), a.Rows / group, (long)m * group * f * inner);
    }

    /// <inheritdoc/>
    public void SummedRowProducts(CpuTensor<T> a, CpuTensor<T> b, int inner, double scale, CpuTensor<T> dst, bool accumulate)
    {
        var (m, f) = ProductShape(a, b, inner);
        RequireShape(a, b.Rows, a.Cols, nameof(a));
        RequireShape(dst, m, f, nameof(dst));
        if (a.Rows == 0 && !accumulate) dst.Span.Clear();
        // One GEMM per row, each parallel inside, accumulating into dst: A_r [m, inner] times B_r^T.
        for (int r = 0; r < a.Rows; r++)
            Gemm(RowMatrix(a, r, m, inner), inner, 1, RowMatrix(b, r, f, inner), 1, inner, m, f, inner, dst, scale, accumulate || r > 0, null, 0, 0, upperOnly: false);
    }

    /// <inheritdoc/>
    public void AddBias(CpuTensor<T> b, int positions, double scale, CpuTensor<T> dst)
    {
        int channels = Channels(dst, positions, nameof(dst));
        RequireBias(b, channels);
        var bias = b.Array.AsSpan(b.Offset, channels);
        T s = T.CreateChecked(scale);
        for (int r = 0; r < dst.Rows; r++)
        {
            var dr = dst.Row(r);
            if (positions == 1)
            {
                TensorPrimitives.MultiplyAdd(bias, s, dr, dr);
                continue;
            }

            for (int c = 0; c < channels; c++)
            {
                var block = dr.Slice(c * positions, positions);
                TensorPrimitives.Add(block, s * bias[c], block);
            }
        }
    }

    /// <inheritdoc/>
    public void ColumnSums(CpuTensor<T> a, int positions, double scale, CpuTensor<T> dst, bool accumulate)
    {
        int channels = Channels(a, positions, nameof(a));
        RequireShape(dst, 1, channels, nameof(dst));
        var dr = dst.Row(0);
        if (!accumulate) dr.Clear();
        T s = T.CreateChecked(scale);
        for (int r = 0; r < a.Rows; r++)
        {
            var ar = a.Row(r);
            if (positions == 1)
            {
                TensorPrimitives.MultiplyAdd(ar, s, dr, dr);
                continue;
            }

            for (int c = 0; c < channels; c++) dr[c] += s * TensorPrimitives.Sum<T>(ar.Slice(c * positions, positions));
        }
    }

    /// <inheritdoc/>
    public void SumPositions(CpuTensor<T> a, int positions, double scale, CpuTensor<T> dst, int colOffset)
    {
        int channels = Channels(a, positions, nameof(a));
        RequireShape(dst, a.Rows, dst.Cols, nameof(dst));
        if (colOffset < 0 || colOffset + channels > dst.Cols)
            throw new ArgumentOutOfRangeException(nameof(colOffset), $"Columns [{colOffset}, {colOffset + channels}) exceed {dst.Cols}.");
        T s = T.CreateChecked(scale);
        for (int r = 0; r < a.Rows; r++)
        {
            var ar = a.Row(r);
            var dr = dst.Row(r).Slice(colOffset, channels);
            if (positions == 1)
            {
                TensorPrimitives.Multiply(ar, s, dr);
                continue;
            }

            for (int c = 0; c < channels; c++) dr[c] = s * TensorPrimitives.Sum<T>(ar.Slice(c * positions, positions));
        }
    }

    /// <inheritdoc/>
    public void BroadcastPositions(CpuTensor<T> a, int positions, double scale, CpuTensor<T> dst)
    {
        RequireShape(dst, a.Rows, a.Cols * positions, nameof(dst));
        T s = T.CreateChecked(scale);
        for (int r = 0; r < a.Rows; r++)
        {
            var ar = a.Row(r);
            var dr = dst.Row(r);
            for (int c = 0; c < ar.Length; c++) dr.Slice(c * positions, positions).Fill(s * ar[c]);
        }
    }

    /// <inheritdoc/>
    public void Im2Col(CpuTensor<T> x, int channels, SpatialWindow window, CpuTensor<T> dst)
    {
        RequireShape(x, x.Rows, channels * window.Input.Positions, nameof(x));
        RequireShape(dst, x.Rows, channels * window.Taps * window.Output.Positions, nameof(dst));
        RunRows(new WindowRows(SpatialIndex.Of(window), SpatialIndex.RunsOf(window), window.Input.Positions, channels, x, dst, T.One, Mode: 0), x.Rows, dst.Cols);
    }

    /// <inheritdoc/>
    public void Conv(CpuTensor<T> x, int channels, SpatialWindow window, CpuTensor<T> w, double scale, CpuTensor<T> columns, CpuTensor<T> dst)
    {
        ArgumentNullException.ThrowIfNull(window);
        int fan = channels * window.Taps, positions = window.Output.Positions;
        RequireShape(x, x.Rows, channels * window.Input.Positions, nameof(x));
        RequireShape(w, w.Rows, fan, nameof(w));
        RequireShape(columns, x.Rows, fan * positions, nameof(columns));
        RequireShape(dst, x.Rows, w.Rows * positions, nameof(dst));
        // One item per sample: its columns are gathered and multiplied while they are in cache (the columns of the
        // whole batch, N C kh kw P elements, are far larger than it). Too few samples to keep every thread busy: the
        // two ops, whose GEMMs then run on all threads.
        if (x.Rows < 2 * Threads)
        {
            Im2Col(x, channels, window, columns);
            MatMulRows(w, false, columns, scale, dst, false);
            return;
        }

        var gather = new WindowRows(SpatialIndex.Of(window), SpatialIndex.RunsOf(window), window.Input.Positions, channels, x, columns, T.One, Mode: 0);
        var product = new SharedFactorProducts(this, w, w.Cols, 1, columns, dst, w.Rows, fan, positions, scale, false);
        WorkerPool.Run(new ConvItems(gather, product), x.Rows, Threads);
    }

    // Sample r of Conv: its im2col columns, then dst[r] = scale W columns[r] on this thread.
    private readonly struct ConvItems(WindowRows gather, SharedFactorProducts product) : IWorkItems
    {
        public void Run(int item)
        {
            gather.Run(item, item + 1);
            product.Run(item, 1);
        }
    }

    /// <inheritdoc/>
    public void Col2Im(CpuTensor<T> cols, int channels, SpatialWindow window, CpuTensor<T> dst)
    {
        RequireShape(cols, cols.Rows, channels * window.Taps * window.Output.Positions, nameof(cols));
        RequireShape(dst, cols.Rows, channels * window.Input.Positions, nameof(dst));
        RunRows(new WindowRows(SpatialIndex.Of(window), SpatialIndex.RunsOf(window), window.Input.Positions, channels, cols, dst, T.One, Mode: 1), cols.Rows, cols.Cols);
    }

    /// <inheritdoc/>
    public void WindowSums(CpuTensor<T> x, int channels, SpatialWindow window, double scale, CpuTensor<T> dst)
    {
        RequireShape(x, x.Rows, channels * window.Input.Positions, nameof(x));
        RequireShape(dst, x.Rows, channels * window.Output.Positions, nameof(dst));
        RunRows(new WindowRows(SpatialIndex.Of(window), SpatialIndex.RunsOf(window), window.Input.Positions, channels, x, dst, T.CreateChecked(scale), Mode: 2), x.Rows, (long)dst.Cols * window.Taps);
    }

    /// <inheritdoc/>
    public void WindowSumsTranspose(CpuTensor<T> c, int channels, SpatialWindow window, double scale, CpuTensor<T> dst)
    {
        RequireShape(c, c.Rows, channels * window.Output.Positions, nameof(c));
        RequireShape(dst, c.Rows, channels * window.Input.Positions, nameof(dst));
        RunRows(new WindowRows(SpatialIndex.Of(window), SpatialIndex.RunsOf(window), window.Input.Positions, channels, c, dst, T.CreateChecked(scale), Mode: 3), c.Rows, (long)c.Cols * window.Taps);
    }

    /// <inheritdoc/>
    public void Gram(CpuTensor<T> a, CpuTensor<T> b, CpuTensor<T> dst)
    {
        RequireShape(b, b.Rows, a.Cols, nameof(b));
        RequireShape(dst, a.Rows, b.Rows, nameof(dst));
        // Same operand (the generated NTK passes one tensor when x1 == x2): SYRK, upper triangle then mirror,
        // which halves the work and makes the result exactly symmetric.
        bool symmetric = ReferenceEquals(a.Array, b.Array) && a.Offset == b.Offset && a.Rows == b.Rows;
        Gemm(a, a.Cols, 1, b, 1, b.Cols, a.Rows, b.Rows, a.Cols, dst, 1.0, false, null, 0, 0, upperOnly: symmetric);
    }

    /// <inheritdoc/>
    public void HadamardAccumulate(CpuTensor<T> gramD, CpuTensor<T> gramA, int repeat, double scale, double offset, CpuTensor<T> dst)
    {
        RequireShape(gramD, gramA.Rows * repeat, gramA.Cols * repeat, nameof(gramD));
        RequireShape(dst, gramD.Rows, gramD.Cols, nameof(dst));
        var job = new HadamardRows(gramD, gramA, repeat, T.CreateChecked(scale), T.CreateChecked(offset), dst);
        RunRows(job, dst.Rows, dst.Cols);
    }

    /// <inheritdoc/>
    public void PositionMajor(CpuTensor<T> a, int positions, CpuTensor<T> dst)
    {
        int channels = Channels(a, positions, nameof(a));
        RequireShape(dst, a.Rows * positions, channels, nameof(dst));
        RunRows(new PositionMajorRows(a, positions, channels, dst), a.Rows, a.Cols);
    }

    /// <inheritdoc/>
    public void PositionPairAccumulate(CpuTensor<T> gramD, CpuTensor<T> gramX, int positions, int repeat, double scale, double offset, CpuTensor<T> dst)
    {
        if (positions <= 0 || repeat <= 0 || gramX.Rows % positions != 0 || gramX.Cols % positions != 0)
            throw new ArgumentException($"A patch Gram [{gramX.Rows}, {gramX.Cols}] does not hold blocks of {positions} x {positions} positions (repeat {repeat}).", nameof(gramX));
        RequireShape(gramD, gramX.Rows * repeat, gramX.Cols * repeat, nameof(gramD));
        RequireShape(dst, gramD.Rows / positions, gramD.Cols / positions, nameof(dst));
        RunRows(new PositionPairRows(gramD, gramX, positions, repeat, T.CreateChecked(scale), T.CreateChecked(offset), dst), dst.Rows, (long)gramD.Cols * positions);
    }

    private static void RequireBias(CpuTensor<T> b, int count)
    {
        if (b.Rows * b.Cols < count)
            throw new ArgumentException($"Expected a bias of {count} elements, got [{b.Rows}, {b.Cols}].", nameof(b));
    }

    // Channels of a [rows, channels * positions] tensor.
    private static int Channels(CpuTensor<T> t, int positions, string name)
    {
        if (positions <= 0 || t.Cols % positions != 0)
            throw new ArgumentException($"Rows of {t.Cols} elements do not hold channels of {positions} positions.", name);
        return t.Cols / positions;
    }

    // (M, F) of per-row products A_r [M, inner] B_r^T [inner, F].
    private static (int M, int F) ProductShape(CpuTensor<T> a, CpuTensor<T> b, int inner)
    {
        if (inner <= 0 || a.Cols % inner != 0 || b.Cols % inner != 0)
            throw new ArgumentException($"Rows of a ({a.Cols}) and b ({b.Cols}) do not hold matrices of {inner} columns.", nameof(inner));
        return (a.Cols / inner, b.Cols / inner);
    }

    private static CpuTensor<T> RowMatrix(CpuTensor<T> t, int row, int rows, int cols) => new(t.Array, t.Offset + row * t.Cols, rows, cols);

    private static void RequireShape(CpuTensor<T> t, int rows, int cols, string name)
    {
        if (t.Rows != rows || t.Cols != cols)
            throw new ArgumentException($"Expected shape [{rows}, {cols}], got [{t.Rows}, {t.Cols}].", name);
    }

    // dst (=, or +=) alpha * op(A) op(B) (+ biasScale * bias) through the packed GEMM, with op(A)(i, k) =
    // a[i * rsA + k * csA] and op(B)(k, j) = b[k * rsB + j * csB]; dst's rows are ldc apart (dst.Cols unless given).
    // Elementwise passes over O(N^2) or O(N n) elements: split into row blocks across the worker pool when
    // large enough, so they do not stay single-threaded next to the parallel GEMMs.
    private void RunRows<TJob>(TJob job, int rows, long workPerRow) where TJob : struct, IRowBlocks
    {
        const long parallelElements = 1 << 16;
        int threads = rows * workPerRow < parallelElements ? 1 : Threads;
        int blocks = threads == 1 ? 1 : Math.Min(rows, 4 * threads);
        WorkerPool.Run(new RowBlocksJob<TJob>(job, rows, blocks), blocks, threads);
    }

    // Batched products: one matrix per item; many small ones run one per worker (each single-threaded), a few
    // large ones one after another with every worker inside.
    private void RunMatrices<TJob>(TJob job, int items, long workPerItem) where TJob : struct, IMatrixItems
    {
        if (items == 0) return;
        bool perWorker = items >= 2 * Threads || workPerItem < PackedGemm<T>.ParallelThreshold;
        if (perWorker)
        {
            WorkerPool.Run(new MatrixItemsJob<TJob>(job, 1), items, items * workPerItem < PackedGemm<T>.ParallelThreshold ? 1 : Threads);
            return;
        }

        for (int i = 0; i < items; i++) job.Run(i, Threads);
    }

    private interface IMatrixItems
    {
        void Run(int item, int threads);
    }

    private readonly struct MatrixItemsJob<TJob>(TJob job, int threads) : IWorkItems where TJob : struct, IMatrixItems
    {
        public void Run(int item) => job.Run(item, threads);
    }

    // dst[r] [m, q] (=, +=) scale * op(w) [m, k] b[r] [k, q].
    private readonly struct SharedFactorProducts(CpuBackend<T> backend, CpuTensor<T> w, nint rsA, nint csA, CpuTensor<T> b, CpuTensor<T> dst,
        int m, int k, int q, double scale, bool accumulate) : IMatrixItems
    {
        public void Run(int r, int threads) =>
            backend.Gemm(w, rsA, csA, RowMatrix(b, r, k, q), q, 1, m, q, k, RowMatrix(dst, r, m, q), scale, accumulate, null, 0, 0, upperOnly: false, threads: threads);
    }

    // dst[r, colOffset ..] [m, f] = scale * a[r] [m, inner] b[r / repeat]^T; with group = repeat > 1 (dst.Cols = m f), item r is
    // b's row r and the repeat rows of a and dst that read it, one [repeat m, inner] x [inner, f] product.
    private readonly unsafe struct TransposedProducts(CpuBackend<T> backend, CpuTensor<T> a, CpuTensor<T> b, int inner, int repeat, int group, CpuTensor<T> dst,
        int colOffset, int m, int f, double scale) : IMatrixItems
    {
        public void Run(int r, int threads)
        {
            int rows = m * group;
            var target = new CpuTensor<T>(dst.Array, dst.Offset + r * group * dst.Cols + colOffset, rows, f);
            var factor = new CpuTensor<T>(a.Array, a.Offset + r * group * a.Cols, rows, inner);
            // A narrow side (a layer's per-tap columns) takes part in few products per element of the wide one: row dot
            // products, which copy nothing, beat packing the wide side. Measured per sample, N = 64 (float64 / float32):
            // layer 1 of ntk-cnn-small, [320, 784] x [9, 784]^T, RowDots 1.5x / 2.9x faster with AVX-512, 1.7x / 2.1x with
            // the Vector256 kernels; its readout, [32, 784] x [288, 784]^T, the packed GEMM 1.2x / 1.35x faster with
            // AVX-512 (16 rows: a tie), RowDots 1.13x / 1.07x with Vector256.
            if (threads <= 1 && Math.Min(rows, f) <= (PackedGemm<T>.UsesAvx512 ? 16 : 32))
            {
                fixed (T* pa = &factor.Array[factor.Offset])
                fixed (T* pb = &b.Array[b.Offset + (long)(group > 1 ? r : r / repeat) * b.Cols])
                fixed (T* pc = &target.Array[target.Offset])
                    RowDots<T>.Run(pa, inner, rows, pb, inner, f, inner, pc, f, T.CreateChecked(scale));
                return;
            }

            backend.Gemm(factor, inner, 1, RowMatrix(b, group > 1 ? r : r / repeat, f, inner), 1, inner, rows, f, inner, target, scale, false, null, 0, 0,
                upperOnly: false, threads: threads);
        }
    }

    // The window operations over the gather map (see SpatialIndex): 0 im2col, 1 col2im, 2 window sums, 3 their adjoint.
    private readonly struct WindowRows(int[] map, int[] runs, int inputPositions, int channels, CpuTensor<T> src, CpuTensor<T> dst, T scale, int Mode) : IRowBlocks
    {
        public void Run(int rowStart, int rowEnd)
        {
            int taps = map.Length, outputs = Mode is 0 or 1 ? 0 : (Mode == 2 ? dst.Cols : src.Cols) / channels;
            for (int r = rowStart; r < rowEnd; r++)
            {
                var s = src.Row(r);
                var d = dst.Row(r);
                if (Mode is 1 or 3) d.Clear();
                for (int c = 0; c < channels; c++)
                {
                    int inputBase = c * inputPositions;
                    switch (Mode)
                    {
                        case 0:
                        {
                            // im2col: whole runs of the map are copies (or zeros in the padding).
                            var block = d.Slice(c * taps, taps);
                            for (int i = 0; i < runs.Length; i += 3)
                            {
                                var part = block.Slice(runs[i], runs[i + 2]);
                                if (runs[i + 1] < 0) part.Clear();
                                else s.Slice(inputBase + runs[i + 1], part.Length).CopyTo(part);
                            }

                            break;
                        }

                        case 1:
                        {
                            // col2im: each run adds a span (every input position receives its terms in map order, as entry by entry).
                            var block = s.Slice(c * taps, taps);
                            for (int i = 0; i < runs.Length; i += 3)
                            {
                                if (runs[i + 1] < 0) continue;
                                var target = d.Slice(inputBase + runs[i + 1], runs[i + 2]);
                                TensorPrimitives.Add(target, block.Slice(runs[i], runs[i + 2]), target);
                            }

                            break;
                        }

                        case 2:
                        {
                            var sums = d.Slice(c * outputs, outputs);
                            sums.Clear();
                            for (int e = 0; e < taps; e++)
                                if (map[e] >= 0) sums[e % outputs] += s[inputBase + map[e]];
                            TensorPrimitives.Multiply(sums, scale, sums);
                            break;
                        }

                        default:
                        {
                            var values = s.Slice(c * outputs, outputs);
                            for (int e = 0; e < taps; e++)
                                if (map[e] >= 0) d[inputBase + map[e]] += scale * values[e % outputs];
                            break;
                        }
                    }
                }
            }
        }
    }

    private interface IRowBlocks
    {
        void Run(int rowStart, int rowEnd);
    }

    private readonly struct RowBlocksJob<TJob>(TJob job, int rows, int blocks) : IWorkItems where TJob : struct, IRowBlocks
    {
        public void Run(int item) => job.Run((int)((long)rows * item / blocks), (int)((long)rows * (item + 1) / blocks));
    }

    private readonly struct HadamardRows(CpuTensor<T> gramD, CpuTensor<T> gramA, int repeat, T s, T o, CpuTensor<T> dst) : IRowBlocks
    {
        public void Run(int rowStart, int rowEnd)
        {
            Vector<T> vs = new(s), vo = new(o);
            for (int i = rowStart; i < rowEnd; i++)
            {
                var dr = dst.Row(i);
                var gd = gramD.Row(i);
                var ga = gramA.Row(i / repeat);
                if (repeat == 1)
                {
                    int j = 0;
                    if (Vector.IsHardwareAccelerated)
                    {
                        for (; j <= dr.Length - Vector<T>.Count; j += Vector<T>.Count)
                        {
                            var factor = new Vector<T>(ga[j..]) * vs + vo;
                            (new Vector<T>(dr[j..]) + new Vector<T>(gd[j..]) * factor).CopyTo(dr[j..]);
                        }
                    }

                    for (; j < dr.Length; j++) dr[j] += gd[j] * (s * ga[j] + o);
                }
                else
                {
                    for (int jb = 0; jb < ga.Length; jb++)
                    {
                        T factor = s * ga[jb] + o;
                        int j0 = jb * repeat;
                        for (int r = 0; r < repeat; r++) dr[j0 + r] += gd[j0 + r] * factor;
                    }
                }
            }
        }
    }

    private readonly struct PositionMajorRows(CpuTensor<T> a, int positions, int channels, CpuTensor<T> dst) : IRowBlocks
    {
        public void Run(int rowStart, int rowEnd)
        {
            for (int r = rowStart; r < rowEnd; r++)
            {
                var ar = a.Row(r);
                for (int p = 0; p < positions; p++)
                {
                    var dr = dst.Row(r * positions + p);
                    for (int c = 0; c < channels; c++) dr[c] = ar[c * positions + p];
                }
            }
        }
    }

    // dst[i, j] += the sum of the P x P block B = gramD block (i, j) .* (s gramX block + o), added in an order that
    // transposing B does not change (the diagonal, then B[p, q] + B[q, p] for p < q): when both Grams are symmetric (one
    // batch) the result stays exactly symmetric, as the Gram's SYRK keeps it.
    private readonly struct PositionPairRows(CpuTensor<T> gramD, CpuTensor<T> gramX, int positions, int repeat, T s, T o, CpuTensor<T> dst) : IRowBlocks
    {
        public void Run(int rowStart, int rowEnd)
        {
            int pp = positions;
            for (int i = rowStart; i < rowEnd; i++)
            {
                var dr = dst.Row(i);
                int di = i * pp, xi = i / repeat * pp;
                for (int j = 0; j < dr.Length; j++)
                {
                    int dj = j * pp, xj = j / repeat * pp;
                    T sum = T.Zero;
                    for (int p = 0; p < pp; p++)
                    {
                        sum += Term(di + p, dj + p, xi + p, xj + p);
                        for (int q = p + 1; q < pp; q++)
                            sum += Term(di + p, dj + q, xi + p, xj + q) + Term(di + q, dj + p, xi + q, xj + p);
                    }

                    dr[j] += sum;
                }
            }
        }

        private T Term(int dRow, int dCol, int xRow, int xCol) =>
            gramD.Array[gramD.Offset + (long)dRow * gramD.Cols + dCol] * (s * gramX.Array[gramX.Offset + (long)xRow * gramX.Cols + xCol] + o);
    }

    // dst = phi'(z) elementwise (the Relu family as a vectorized select between its two slopes).
    private static void Derivatives(Activation activation, ReadOnlySpan<T> z, Span<T> dst)
    {
        int i = 0;
        if (activation.IsPiecewiseLinear)
        {
            T a = T.CreateChecked(activation.A), b = T.CreateChecked(activation.B);
            if (Vector.IsHardwareAccelerated)
            {
                Vector<T> va = new(a), vb = new(b);
                for (; i <= z.Length - Vector<T>.Count; i += Vector<T>.Count)
                    Vector.ConditionalSelect(Vector.GreaterThan(new Vector<T>(z[i..]), Vector<T>.Zero), vb, va).CopyTo(dst[i..]);
            }

            for (; i < z.Length; i++) dst[i] = z[i] > T.Zero ? b : a;
            return;
        }

        for (; i < z.Length; i++) dst[i] = T.CreateChecked(activation.Derivative(double.CreateChecked(z[i])));
    }

    // phi'(z[n]) once per sample (Derivatives), then each of its repeat rows of dst times it.
    private readonly struct DerivativeRows(Activation activation, CpuTensor<T> z, CpuTensor<T> dst, int repeat) : IRowBlocks
    {
        public void Run(int rowStart, int rowEnd)
        {
            var scratch = System.Buffers.ArrayPool<T>.Shared.Rent(z.Cols);
            try
            {
                var factor = scratch.AsSpan(0, z.Cols);
                for (int n = rowStart; n < rowEnd; n++)
                {
                    Derivatives(activation, z.Row(n), factor);
                    for (int k = 0; k < repeat; k++)
                    {
                        var dr = dst.Row(n * repeat + k);
                        TensorPrimitives.Multiply(dr, factor, dr);
                    }
                }
            }
            finally
            {
                System.Buffers.ArrayPool<T>.Shared.Return(scratch);
            }
        }
    }

    private unsafe void Gemm(CpuTensor<T> a, nint rsA, nint csA, CpuTensor<T> b, nint rsB, nint csB, int m, int n, int k,
        CpuTensor<T> dst, double alpha, bool accumulate, T[]? bias, int biasOffset, double biasScale, bool upperOnly,
        Activation? activation = null, CpuTensor<T> activated = default, int threads = 0, int ldc = 0)
    {
        if (m == 0 || n == 0) return;
        fixed (T* pa = a.Array)
        fixed (T* pb = b.Array)
        fixed (T* pc = dst.Array)
        fixed (T* pbias = bias)
        fixed (T* pact = activated.Array)
        {
            var problem = new GemmProblem<T>
            {
                M = m,
                N = n,
                K = k,
                A = pa + a.Offset,
                RsA = rsA,
                CsA = csA,
                B = pb + b.Offset,
                RsB = rsB,
                CsB = csB,
                C = pc + dst.Offset,
                Ldc = ldc > 0 ? ldc : dst.Cols,
                Alpha = T.CreateChecked(alpha),
                Accumulate = accumulate,
                Bias = bias is null ? null : pbias + biasOffset,
                BiasScale = T.CreateChecked(biasScale),
                UpperOnly = upperOnly && m == n,
                Activation = activation ?? default,
                Activated = activation is null ? null : pact + activated.Offset,
            };
            PackedGemm<T>.Run(problem, threads > 0 ? threads : Threads);
            if (problem.UpperOnly) PackedGemm<T>.MirrorUpper(problem.C, problem.Ldc, m);
        }
    }
}

namespace NtkDsl.Backends;

/// <summary>
/// The tensor operations that generated network code is written against. One emitted body runs on
/// every backend: the CPU backend (spans) and the TorchSharp backend (torch tensors on any device).
/// Tensors are 2-D and row-major, [rows, cols]; batches are N samples by features. Spatial activations keep one
/// sample per row too, [C, H, W] flattened in NCHW order, and the operations that see the spatial structure take
/// the number of positions or a <see cref="SpatialWindow"/>. Batched products read each row as a small row-major
/// matrix. Every operation writes into a caller-provided destination, so a backend can run without allocating in
/// steady state. Scalars are passed as double and converted to the backend's element type.
/// <para>
/// The core is what a backend must implement. The fast paths at the end (<see cref="Linear"/>,
/// <see cref="LinearActivate"/>, <see cref="Gram"/>) have default implementations on the core; a backend
/// overrides them where it can fuse or skip work.
/// </para>
/// </summary>
/// <typeparam name="TTensor">The backend's tensor handle.</typeparam>
public partial interface ITensorBackend<TTensor>
{
    /// <summary>Number of rows of <paramref name="t"/>.</summary>
    int Rows(TTensor t);

    /// <summary>
    /// The most outputs a Trace-mode NTK stacks into one backward pass (the generated <c>NtkRepeat</c> also keeps the
    /// stack within its workspace budget). Stacking makes the CPU's products larger and faster; on libtorch every
    /// temporary grows with the stack and its products gain little, so the Torch backend runs one output per pass.
    /// </summary>
    int TraceOutputGroupLimit { get; }

    /// <summary>
    /// Elements of one block of a convolution's input cotangent col2im(W^T D) when that is more than the generated scratch
    /// holds (0: blocks of the scratch's rows). The CPU keeps the generated cache-sized scratch (2^18 elements); on
    /// libtorch, where every op allocates its result anyway, that many small blocks made conv NTKs 2.5x slower and the
    /// Torch backend takes blocks of 2^22 elements in temporaries (<see cref="ConvCotangent.Input"/>).
    /// </summary>
    long ConvCotangentBlockElements { get; }

    /// <summary>Number of columns of <paramref name="t"/>.</summary>
    int Cols(TTensor t);

    /// <summary>A new zero tensor [rows, cols].</summary>
    TTensor Allocate(int rows, int cols);

    /// <summary>
    /// A [rows, cols] row-major view of the contiguous tensor <paramref name="flat"/> (usually the [1, P] parameter
    /// vector) starting at element <paramref name="offset"/>. Writes through the view change <paramref name="flat"/>.
    /// </summary>
    TTensor View(TTensor flat, int offset, int rows, int cols);

    /// <summary>Rows [start, start + count) of <paramref name="t"/> as a view.</summary>
    TTensor RowSlice(TTensor t, int start, int count);

    /// <summary>dst = 0.</summary>
    void Clear(TTensor dst);

    /// <summary>dst = src (same shape).</summary>
    void Copy(TTensor src, TTensor dst);

    /// <summary>dst *= scale.</summary>
    void Scale(TTensor dst, double scale);

    /// <summary>
    /// The seeds of a backward pass over every output: dst [N * outputs, outputs] stacks one identity block per
    /// sample (row n * outputs + k has a 1 in column k), so one pass yields every output's cotangents.
    /// </summary>
    void SetOutputSeeds(TTensor dst, int outputs);

    /// <summary>The seeds of a backward pass over one output: dst [N, O] has column <paramref name="output"/> set to 1, the rest 0.</summary>
    void SetOutputSeed(TTensor dst, int output);

    /// <summary>dst = phi(z) elementwise (same shape).</summary>
    void Activate(Activation activation, TTensor z, TTensor dst);

    /// <summary>
    /// dst[r, :] *= phi'(z[r / repeat, :]) elementwise: the chain rule through an activation, for
    /// cotangents stacked <paramref name="repeat"/> rows per sample (dst [N * repeat, C], z [N, C]).
    /// </summary>
    void MultiplyByDerivative(Activation activation, TTensor z, TTensor dst, int repeat);

    /// <summary>dst = phi(z) elementwise for an activation given by code (user-defined; a struct, so calls are direct).</summary>
    void Activate<TFunction>(TFunction function, TTensor z, TTensor dst) where TFunction : IScalarActivation;

    /// <summary>dst[r, :] *= phi'(z[r / repeat, :]) for an activation given by code (see the <see cref="Activation"/> overload).</summary>
    void MultiplyByDerivative<TFunction>(TFunction function, TTensor z, TTensor dst, int repeat) where TFunction : IScalarActivation;

    /// <summary>dst = scale * a b, with a [R, K], b [K, C], dst [R, C].</summary>
    void MatMul(TTensor a, TTensor b, double scale, TTensor dst);

    /// <summary>dst (=, or += when <paramref name="accumulate"/>) scale * a^T b, with a [K, R], b [K, C], dst [R, C].</summary>
    void MatMulTransposeA(TTensor a, TTensor b, double scale, TTensor dst, bool accumulate);

    /// <summary>dst (=, or += when <paramref name="accumulate"/>) scale * a b^T, with a [R1, K], b [R2, K], dst [R1, R2].</summary>
    void MatMulTransposeB(TTensor a, TTensor b, double scale, TTensor dst, bool accumulate);

    /// <summary>
    /// A batched product with a shared left factor: for every row r, dst[r] seen as [M, Q] (=, or +=) scale * op(w) b[r],
    /// with b[r] seen as [K, Q] and op(w) = w [M, K] (or w^T when <paramref name="transpose"/>, w [K, M]).
    /// </summary>
    void MatMulRows(TTensor w, bool transpose, TTensor b, double scale, TTensor dst, bool accumulate);

    /// <summary>
    /// Per-row products with a transposed right factor: dst[r, colOffset + i * F + j] = scale * sum_q
    /// a[r, i * inner + q] b[r / repeat, j * inner + q], i.e. A_r B_(r / repeat)^T for A_r [M, inner], B [F, inner]
    /// (a [R * repeat, M * inner], b [R, F * inner]). With inner = 1 it is the outer product of two rows.
    /// </summary>
    void RowProducts(TTensor a, TTensor b, int inner, int repeat, double scale, TTensor dst, int colOffset);

    /// <summary>
    /// The sum over rows of <see cref="RowProducts"/> (repeat 1): dst [M, F] (=, or +=) scale * sum_r A_r B_r^T, the
    /// weight gradient of a layer whose rows hold [M, inner] cotangents and [F, inner] inputs.
    /// </summary>
    void SummedRowProducts(TTensor a, TTensor b, int inner, double scale, TTensor dst, bool accumulate);

    /// <summary>dst[r, c * positions + p] += scale * b[c] for b [1, C]: a bias per channel (per feature when positions = 1).</summary>
    void AddBias(TTensor b, int positions, double scale, TTensor dst);

    /// <summary>dst [1, C] (=, or += when <paramref name="accumulate"/>) scale * sum_r sum_p a[r, c * positions + p].</summary>
    void ColumnSums(TTensor a, int positions, double scale, TTensor dst, bool accumulate);

    /// <summary>dst[r, colOffset + c] = scale * sum_p a[r, c * positions + p]: per-row sums over each channel's positions.</summary>
    void SumPositions(TTensor a, int positions, double scale, TTensor dst, int colOffset);

    /// <summary>dst[r, c * positions + p] = scale * a[r, c]: the adjoint of <see cref="SumPositions"/> (colOffset 0).</summary>
    void BroadcastPositions(TTensor a, int positions, double scale, TTensor dst);

    /// <summary>
    /// Window gather (im2col): x [N, C * Hin * Win] to dst [N, (C * kh * kw) * P] with P the window's output positions;
    /// row n holds the [C * kh * kw, P] matrix whose entry ((c * kh + i) * kw + j, p) is the input at channel c read by
    /// position p at tap (i, j), 0 in zero padding. The row index order is PyTorch's weight layout [C_out, C_in, kh, kw].
    /// </summary>
    void Im2Col(TTensor x, int channels, SpatialWindow window, TTensor dst);

    /// <summary>
    /// A convolution's forward product with its columns kept: columns = <see cref="Im2Col"/>(x) and dst = scale * W
    /// columns[r] per row (<see cref="MatMulRows"/> with w [C_out, C * kh * kw]). A backend may interleave the two per
    /// sample; the default runs them one after the other.
    /// </summary>
    void Conv(TTensor x, int channels, SpatialWindow window, TTensor w, double scale, TTensor columns, TTensor dst)
    {
        Im2Col(x, channels, window, columns);
        MatMulRows(w, false, columns, scale, dst, false);
    }

    /// <summary>The adjoint of <see cref="Im2Col"/> (col2im): dst = the sum of every column entry into the input element it was read from.</summary>
    void Col2Im(TTensor cols, int channels, SpatialWindow window, TTensor dst);

    /// <summary>dst[n, c * P + p] = scale * (sum of the window of position p in channel c): x [N, C * Hin * Win], dst [N, C * P].</summary>
    void WindowSums(TTensor x, int channels, SpatialWindow window, double scale, TTensor dst);

    /// <summary>The adjoint of <see cref="WindowSums"/>: dst [N, C * Hin * Win] = scale * (each output spread back over its window).</summary>
    void WindowSumsTranspose(TTensor c, int channels, SpatialWindow window, double scale, TTensor dst);

    /// <summary>
    /// dst[i, j] += gramD[i, j] * (scale * gramA[i / repeat, j / repeat] + offset): one Dense layer's term of
    /// the structured NTK, with cotangent Gram gramD [R1 * repeat, R2 * repeat] and activation Gram gramA [R1, R2].
    /// </summary>
    void HadamardAccumulate(TTensor gramD, TTensor gramA, int repeat, double scale, double offset, TTensor dst);

    /// <summary>
    /// dst[r * positions + p, c] = a[r, c * positions + p]: each row's [C, P] block (channel-major, as NCHW rows and
    /// im2col columns are) as P rows of C values, dst [R * P, C].
    /// </summary>
    void PositionMajor(TTensor a, int positions, TTensor dst);

    /// <summary>
    /// dst[i, j] += sum over p, p' &lt; positions of gramD[i P + p, j P + p'] * (scale * gramX[(i / repeat) P + p,
    /// (j / repeat) P + p'] + offset): a convolution's position-pair term of the structured NTK, with the cotangent
    /// position Gram gramD [R1 * repeat * P, R2 * repeat * P], the patch Gram gramX [R1 * P, R2 * P] and dst
    /// [R1 * repeat, R2 * repeat]. <see cref="HadamardAccumulate"/> is the case positions = 1.
    /// </summary>
    void PositionPairAccumulate(TTensor gramD, TTensor gramX, int positions, int repeat, double scale, double offset, TTensor dst);

    /// <summary>
    /// Fast path: dst = wScale * x W^T + bScale * b, with x [N, in], W [out, in], b [1, out] broadcast over rows,
    /// dst [N, out]. The default is <see cref="MatMulTransposeB"/> then <see cref="AddBias"/>.
    /// </summary>
    void Linear(TTensor x, TTensor w, TTensor b, double wScale, double bScale, TTensor dst)
    {
        MatMulTransposeB(x, w, wScale, dst, false);
        AddBias(b, 1, bScale, dst);
    }

    /// <summary>
    /// Fast path: z = <see cref="Linear"/>(x, W, b) and a = phi(z) in one call, so that a backend can fuse the
    /// activation into the product's epilogue. z is kept: the backward passes need phi'(z).
    /// </summary>
    void LinearActivate(TTensor x, TTensor w, TTensor b, double wScale, double bScale, Activation activation, TTensor z, TTensor a)
    {
        Linear(x, w, b, wScale, bScale, z);
        Activate(activation, z, a);
    }

    /// <summary>Fast path: dst = a b^T (the Gram matrix of rows; a backend may compute half of it when a is b).</summary>
    void Gram(TTensor a, TTensor b, TTensor dst) => MatMulTransposeB(a, b, 1.0, dst, false);
}

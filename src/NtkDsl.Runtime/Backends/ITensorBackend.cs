namespace NtkDsl.Backends;

/// <summary>
/// The tensor operations that generated network code is written against. One emitted body runs on
/// every backend: the CPU backend (spans) and the TorchSharp backend (torch tensors on any device).
/// All tensors are 2-D and row-major, [rows, cols]; batches are N samples by features. Every operation
/// writes into a caller-provided destination, so a backend can run without allocating in steady state.
/// Scalars are passed as double and converted to the backend's element type.
/// </summary>
/// <typeparam name="TTensor">The backend's tensor handle.</typeparam>
public interface ITensorBackend<TTensor>
{
    /// <summary>Number of rows of <paramref name="t"/>.</summary>
    int Rows(TTensor t);

    /// <summary>Number of columns of <paramref name="t"/>.</summary>
    int Cols(TTensor t);

    /// <summary>A new zero tensor [rows, cols].</summary>
    TTensor Allocate(int rows, int cols);

    /// <summary>
    /// A [rows, cols] row-major view of the flat vector <paramref name="flat"/> (shape [1, P]) starting at
    /// element <paramref name="offset"/>. Writes through the view change <paramref name="flat"/>.
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
    /// Output seeds for a backward pass over <paramref name="outputs"/> outputs. With
    /// <paramref name="output"/> &gt;= 0: dst [N, outputs] has column <paramref name="output"/> set to 1, the
    /// rest 0. With <paramref name="output"/> &lt; 0: dst [N * outputs, outputs] stacks one identity block
    /// per sample (row n * outputs + k has a 1 in column k), so one pass yields every output's cotangents.
    /// </summary>
    void SetOutputSeeds(TTensor dst, int outputs, int output);

    /// <summary>
    /// dst (=, or += when <paramref name="accumulate"/>) wScale * x W^T + bScale * b, with x [N, in],
    /// W [out, in], b [1, out] broadcast over rows (or no bias when <paramref name="hasBias"/> is false), dst [N, out].
    /// </summary>
    void Linear(TTensor x, TTensor w, TTensor b, bool hasBias, double wScale, double bScale, TTensor dst, bool accumulate);

    /// <summary>
    /// z = <see cref="Linear"/>(x, W, b) and a = phi(z) in one call, so that a backend can fuse the activation
    /// into the product's epilogue. z is kept: the backward passes need phi'(z).
    /// </summary>
    void LinearActivate(TTensor x, TTensor w, TTensor b, bool hasBias, double wScale, double bScale, Activation activation, TTensor z, TTensor a);

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

    /// <summary>dst (=, or += when <paramref name="accumulate"/>) scale * (column sums of a), with a [R, C], dst [1, C].</summary>
    void ColumnSums(TTensor a, double scale, TTensor dst, bool accumulate);

    /// <summary>dst = a b^T, with a [R1, K], b [R2, K], dst [R1, R2] (the Gram matrix of rows).</summary>
    void Gram(TTensor a, TTensor b, TTensor dst);

    /// <summary>
    /// dst[i, j] += gramD[i, j] * (scale * gramA[i / repeat, j / repeat] + offset): one Dense layer's term of
    /// the structured NTK, with cotangent Gram gramD [R1 * repeat, R2 * repeat] and activation Gram gramA [R1, R2].
    /// </summary>
    void HadamardAccumulate(TTensor gramD, TTensor gramA, int repeat, double scale, double offset, TTensor dst);

    /// <summary>
    /// Per-sample Jacobian block of a weight matrix: dst[r, colOffset + i * A + j] = scale * c[r, i] * a[r / repeat, j]
    /// for c [N * repeat, I], a [N, A], dst [N * repeat, P].
    /// </summary>
    void OuterRows(TTensor c, TTensor a, int repeat, double scale, TTensor dst, int colOffset);

    /// <summary>dst[r, colOffset + i] = scale * c[r, i]: the per-sample Jacobian block of a bias vector.</summary>
    void CopyColumns(TTensor c, double scale, TTensor dst, int colOffset);
}

namespace NtkDsl.Tiling;

/// <summary>Which infinite-width kernel an <see cref="InfiniteWidthTileExecutor"/> writes.</summary>
public enum InfiniteWidthKernel
{
    /// <summary>The NNGP covariance Sigma(x1, x2).</summary>
    Nngp,

    /// <summary>The infinite-width neural tangent kernel Theta(x1, x2).</summary>
    Ntk,
}

/// <summary>
/// Computes tiles of an infinite-width kernel (<see cref="InfiniteWidth.Kernels"/>) of a network: a tile on the block
/// diagonal of a symmetric plan is the symmetric kernel of its rows, any other tile the kernel of its row block against
/// its column block. Every entry is computed by the same operations as in the whole kernel (the symmetric state
/// computes the upper triangle and its diagonal exactly as a symmetric tile does), so the tiles of a plan, mirrored by
/// a sink, equal <see cref="InfiniteWidth.Kernels"/> of the whole inputs bit for bit.
/// </summary>
public sealed class InfiniteWidthTileExecutor : INtkTileExecutor<double>
{
    private readonly NetworkDescription _network;
    private readonly Matrix<double> _x1;
    private readonly Matrix<double> _x2;
    private readonly InfiniteWidthKernel _kernel;
    private readonly bool _symmetric;
    private readonly InfiniteWidthOptions? _options;

    /// <summary>An executor for the tiles of <paramref name="kernel"/>(x1, x2) (<paramref name="x2"/> = x1 for a symmetric plan).</summary>
    /// <param name="network">The architecture (<c>TNet.Description</c>).</param>
    /// <param name="x1">N1 x d inputs.</param>
    /// <param name="x2">N2 x d inputs (x1 itself for a symmetric plan).</param>
    /// <param name="kernel">NNGP or NTK.</param>
    /// <param name="symmetric">Whether the plan is symmetric (x2 is x1).</param>
    /// <param name="options">Quadrature and threading settings of each tile.</param>
    public InfiniteWidthTileExecutor(NetworkDescription network, Matrix<double> x1, Matrix<double> x2, InfiniteWidthKernel kernel, bool symmetric,
        InfiniteWidthOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(x1);
        ArgumentNullException.ThrowIfNull(x2);
        if (kernel is not (InfiniteWidthKernel.Nngp or InfiniteWidthKernel.Ntk))
            throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "Use InfiniteWidthKernel.Nngp or InfiniteWidthKernel.Ntk.");
        (_network, _x1, _x2, _kernel, _symmetric, _options) = (network, x1, x2, kernel, symmetric, options);
    }

    /// <summary>
    /// Estimated bytes one tile of <paramref name="tileRows"/> x <paramref name="tileCols"/> samples holds (input
    /// blocks, both kernels, the tile; for spatial networks plus the position-pair budget
    /// <see cref="InfiniteWidthOptions.SpatialTileBudgetBytes"/> of <paramref name="options"/>).
    /// </summary>
    public static long EstimateTileBytes(NetworkDescription network, int tileRows, int tileCols, InfiniteWidthOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        long pairs = (long)tileRows * tileCols;
        long bytes = (3 * pairs + (long)(tileRows + tileCols) * (network.Inputs + 2)) * sizeof(double);
        return network.IsSpatial ? bytes + (options ?? InfiniteWidthOptions.Default).SpatialTileBudgetBytes : bytes;
    }

    /// <inheritdoc/>
    public void Compute(NtkTile tile, Matrix<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Rows != tile.RowCount || values.Cols != tile.ColumnCount)
            throw new ArgumentException($"'{nameof(values)}' must have shape [{tile.RowCount}, {tile.ColumnCount}], but has shape [{values.Rows}, {values.Cols}].", nameof(values));
        var xa = Rows(_x1, tile.RowStart, tile.RowCount);
        bool diagonal = _symmetric && tile.RowStart == tile.ColumnStart;
        var kernels = InfiniteWidth.Kernels(_network, xa, diagonal ? null : Rows(_x2, tile.ColumnStart, tile.ColumnCount), _options);
        (_kernel == InfiniteWidthKernel.Nngp ? kernels.Nngp : kernels.Ntk).Data.CopyTo(values.Data, 0);
    }

    private static Matrix<double> Rows(Matrix<double> x, int start, int count)
    {
        var block = new Matrix<double>(count, x.Cols);
        Array.Copy(x.Data, start * x.Cols, block.Data, 0, count * x.Cols);
        return block;
    }
}

namespace NtkDsl.Tiling;

/// <summary>
/// Which block of the kernel a tile holds, in samples: Theta(x1[RowStart .. RowStart + RowCount),
/// x2[ColumnStart .. ColumnStart + ColumnCount)). The tile's values are laid out as
/// <see cref="NtkMode"/> lays out a whole kernel for those samples.
/// </summary>
/// <param name="RowStart">First sample of x1 in the tile.</param>
/// <param name="RowCount">Number of x1 samples.</param>
/// <param name="ColumnStart">First sample of x2 in the tile.</param>
/// <param name="ColumnCount">Number of x2 samples.</param>
public readonly record struct NtkTile(int RowStart, int RowCount, int ColumnStart, int ColumnCount)
{
    /// <summary>The mirrored tile Theta(x2 block, x1 block) of a symmetric kernel.</summary>
    public NtkTile Transposed => new(ColumnStart, ColumnCount, RowStart, RowCount);
}

/// <summary>
/// A tiling of Theta(x1, x2) for <see cref="Rows"/> x <see cref="Columns"/> samples, from sizes alone (no data, no
/// backend): blocks of <see cref="TileRows"/> x <see cref="TileColumns"/> samples, balanced so that every block is
/// nearly full. For a kernel of x1 with itself (<see cref="Symmetric"/>), <see cref="MirrorLower"/> leaves out the
/// tiles below the block diagonal: a sink writes them as the transposes of those above. Any executor (CPU today;
/// Torch, GPU or a cluster later) can run the same plan.
/// </summary>
/// <param name="Rows">Samples of x1 (N1).</param>
/// <param name="Columns">Samples of x2 (N2; N1 when symmetric).</param>
/// <param name="TileRows">x1 samples per tile (the last block may be shorter).</param>
/// <param name="TileColumns">x2 samples per tile.</param>
/// <param name="Symmetric">x2 is x1.</param>
/// <param name="MirrorLower">Skip the tiles below the diagonal (only with <paramref name="Symmetric"/>).</param>
public sealed record NtkTilePlan(int Rows, int Columns, int TileRows, int TileColumns, bool Symmetric, bool MirrorLower)
{
    /// <summary>Number of row blocks.</summary>
    public int RowBlocks => (Rows + TileRows - 1) / TileRows;

    /// <summary>Number of column blocks.</summary>
    public int ColumnBlocks => (Columns + TileColumns - 1) / TileColumns;

    /// <summary>The tiles to compute, row block by row block.</summary>
    public IEnumerable<NtkTile> Tiles
    {
        get
        {
            for (int ib = 0; ib < RowBlocks; ib++)
            {
                for (int jb = Symmetric && MirrorLower ? ib : 0; jb < ColumnBlocks; jb++)
                {
                    int r0 = ib * TileRows, c0 = jb * TileColumns;
                    yield return new NtkTile(r0, Math.Min(TileRows, Rows - r0), c0, Math.Min(TileColumns, Columns - c0));
                }
            }
        }
    }

    /// <summary>
    /// Blocks of at most <paramref name="tile"/> samples per side, balanced (e.g. 10 samples in tiles of at most 4
    /// become 4, 3, 3... as 4, 4, 2 would pad more): every tile then shares one shape, so an executor allocates once.
    /// </summary>
    public static NtkTilePlan Create(int rows, int columns, int tile, bool symmetric, bool mirrorLower)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tile, 1);
        if (symmetric && rows != columns) throw new ArgumentException($"A symmetric plan needs rows = columns, got {rows} and {columns}.", nameof(columns));
        int blocks1 = (rows + Math.Min(tile, rows) - 1) / Math.Min(tile, rows);
        int tr = (rows + blocks1 - 1) / blocks1;
        int blocks2 = symmetric ? blocks1 : (columns + Math.Min(tile, columns) - 1) / Math.Min(tile, columns);
        int tc = symmetric ? tr : (columns + blocks2 - 1) / blocks2;
        return new NtkTilePlan(rows, columns, tr, tc, symmetric, symmetric && mirrorLower);
    }
}

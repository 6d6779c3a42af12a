namespace NtkDsl.Tiling;

/// <summary>Computes tiles of one kernel (the network, parameters, inputs and mode are the executor's).</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface INtkTileExecutor<T> where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
{
    /// <summary>Writes the tile into <paramref name="values"/>, shaped as <see cref="NtkMode"/> shapes a kernel of the tile's samples.</summary>
    void Compute(NtkTile tile, Matrix<T> values);
}

/// <summary>Receives computed tiles (a dense matrix, a callback, a .npy file, ...).</summary>
/// <typeparam name="T">float or double.</typeparam>
public interface INtkTileSink<T> where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
{
    /// <summary>Whether the sink writes the transposes of the tiles above the diagonal for a symmetric kernel (so the plan can skip the tiles below).</summary>
    bool MirrorsLower { get; }

    /// <summary>Takes one tile; <paramref name="values"/> is reused after the call returns (copy what you keep).</summary>
    void Write(NtkTile tile, Matrix<T> values, bool symmetric);
}

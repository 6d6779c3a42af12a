using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu;

namespace NtkDsl.Tiling;

/// <summary>
/// Computes NTK tiles of a generated network on the CPU backend: Theta(x1 block, x2 block) is exactly a block of
/// Theta(x1, x2), so each tile is one structured Ntk call on row blocks of the inputs. Every call uses the plan's
/// tile shape (a short last block is zero-padded; padding only adds discarded entries), so the workspace is
/// allocated once.
/// </summary>
/// <typeparam name="TNet">The network.</typeparam>
/// <typeparam name="T">float or double.</typeparam>
public sealed class CpuNtkTileExecutor<TNet, T> : INtkTileExecutor<T>, IDisposable
    where TNet : INetwork<TNet>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CpuBackend<T> _backend = new(CpuSettings.MaxDegreeOfParallelism);
    private readonly Workspace<CpuTensor<T>> _workspace = new();
    private readonly CpuTensor<T> _theta;
    private readonly Matrix<T> _x1;
    private readonly Matrix<T> _x2;
    private readonly NtkMode _mode;
    private readonly NtkTilePlan _plan;
    private T[]? _pad1, _pad2;
    private Matrix<T>? _padded;

    /// <summary>
    /// An executor for <paramref name="plan"/>'s tiles of Theta(x1, x2) (<paramref name="x2"/> = x1 for a symmetric
    /// plan). Arguments are taken as validated (see <see cref="TiledNtk"/>).
    /// </summary>
    public CpuNtkTileExecutor(T[] parameters, Matrix<T> x1, Matrix<T> x2, NtkMode mode, NtkTilePlan plan)
    {
        _theta = CpuTensor<T>.Of(parameters);
        (_x1, _x2, _mode, _plan) = (x1, x2, mode, plan);
    }

    /// <inheritdoc/>
    public void Compute(NtkTile tile, Matrix<T> values)
    {
        int tr = _plan.TileRows, tc = _plan.TileColumns;
        var xa = Block(_x1, tile.RowStart, tile.RowCount, tr, ref _pad1);
        bool diagonal = _plan.Symmetric && tile.RowStart == tile.ColumnStart;
        var xb = diagonal ? xa : Block(_x2, tile.ColumnStart, tile.ColumnCount, tc, ref _pad2);
        if (tile.RowCount == tr && tile.ColumnCount == tc)
        {
            TNet.Ntk(_backend, _theta, xa, xb, diagonal, _mode, CpuTensor<T>.Of(values), _workspace);
            return;
        }

        var (rows, cols) = NtkModes.ResultShape(_mode, tr, tc, TNet.OutputSize);
        _padded ??= new Matrix<T>(rows, cols);
        TNet.Ntk(_backend, _theta, xa, xb, diagonal, _mode, CpuTensor<T>.Of(_padded), _workspace);
        // The valid rows and columns of each output block: Full [rc O, cc O] of [tr O, tc O], Diagonal O blocks of [rc, cc].
        int o = TNet.OutputSize, blocks = _mode == NtkMode.Diagonal ? o : 1, per = _mode == NtkMode.Full ? o : 1;
        int blockRows = _mode == NtkMode.Diagonal ? tr : rows, validRows = tile.RowCount * per, validCols = tile.ColumnCount * per;
        for (int k = 0; k < blocks; k++)
            for (int i = 0; i < validRows; i++)
                Array.Copy(_padded.Data, (k * blockRows + i) * cols, values.Data, (k * validRows + i) * values.Cols, validCols);
    }

    /// <summary>Releases the workspace.</summary>
    public void Dispose() => _workspace.Clear();

    // Rows [start, start + count) of x as a [size, d] tensor: a view when full, else a zero-padded copy.
    private static CpuTensor<T> Block(Matrix<T> x, int start, int count, int size, ref T[]? pad)
    {
        int d = x.Cols;
        if (count == size) return new CpuTensor<T>(x.Data, start * d, size, d);
        pad ??= new T[size * d];
        Array.Copy(x.Data, start * d, pad, 0, count * d);
        Array.Clear(pad, count * d, (size - count) * d);
        return new CpuTensor<T>(pad, 0, size, d);
    }
}

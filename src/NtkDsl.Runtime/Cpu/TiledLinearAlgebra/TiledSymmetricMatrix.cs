using System.Globalization;
using System.Runtime.InteropServices;
using NtkDsl.Cpu.LinearAlgebra;

namespace NtkDsl;

/// <summary>
/// A symmetric n x n matrix (a kernel K(X, X)) stored as one triangle of square tiles, each tile its own array, so
/// that matrices larger than one .NET array and about half the size of their dense form fit in memory (60,000 x
/// 60,000 in float64: 14.4 GB instead of 28.8 GB); factored in place by the task-parallel tile Cholesky and solved
/// with tiled triangular solves, all on NtkDsl's packed GEMM and TRSM (<see cref="CpuLinearAlgebra"/>'s kernels).
/// </summary>
/// <remarks>
/// <para>Tile (i, j), i &lt;= j, holds rows [i t, (i + 1) t) and columns [j t, (j + 1) t) of the matrix, row-major
/// (t = <see cref="TileSize"/>; the last tile row and column are shorter when t does not divide n). This is the
/// lower triangle of tiles stored as its transpose, the layout of <see cref="CpuLinearAlgebra"/>'s Cholesky
/// (A = U^T U, U upper): after <see cref="TryFactor"/> the tiles hold U = L^T. Diagonal tiles are stored whole.</para>
/// <para>Memory: the tiles (<see cref="StoredBytes"/>) plus, during <see cref="Solve"/>, the right-hand sides; the
/// factorization allocates nothing beyond the GEMM's packing buffers.</para>
/// </remarks>
public sealed class TiledSymmetricMatrix
{
    private readonly double[][] _tiles;

    /// <summary>Allocates the tiles of an n x n symmetric matrix (zero).</summary>
    /// <param name="size">n, &gt;= 1.</param>
    /// <param name="tileSize">Tile side t, &gt;= 1 (at most n is used).</param>
    public TiledSymmetricMatrix(int size, int tileSize)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "size must be >= 1.");
        if (tileSize < 1) throw new ArgumentOutOfRangeException(nameof(tileSize), tileSize, "tileSize must be >= 1.");
        Size = size;
        TileSize = Math.Min(tileSize, size);
        TileCount = (size + TileSize - 1) / TileSize;
        _tiles = new double[TileCount * (TileCount + 1) / 2][];
        for (int i = 0; i < TileCount; i++)
            for (int j = i; j < TileCount; j++) _tiles[Index(i, j)] = new double[(long)Extent(i) * Extent(j)];
    }

    /// <summary>n.</summary>
    public int Size { get; }

    /// <summary>The tile side t (the last tile row and column hold n - (TileCount - 1) t).</summary>
    public int TileSize { get; }

    /// <summary>Tiles per side, ceil(n / t).</summary>
    public int TileCount { get; }

    /// <summary>True after a successful <see cref="TryFactor"/>: the tiles hold the Cholesky factor.</summary>
    public bool IsFactored { get; private set; }

    /// <summary>Bytes of the tiles: about n^2 / 2 doubles, plus half of the diagonal tiles.</summary>
    public long StoredBytes => _tiles.Sum(t => 8L * t.Length);

    /// <summary>Bytes <see cref="TiledSymmetricMatrix(int, int)"/> would allocate for n and t, before allocating them.</summary>
    /// <param name="size">n.</param>
    /// <param name="tileSize">t.</param>
    public static long BytesFor(int size, int tileSize)
    {
        long t = Math.Clamp(tileSize, 1, Math.Max(1, size)), b = (size + t - 1) / t, last = size - (b - 1) * t;
        // b (b + 1) / 2 tiles of t x t, minus what the b - 1 tiles t x last and the last diagonal tile lack.
        return 8 * (b * (b + 1) / 2 * t * t - (t - last) * (b * t + last));
    }

    /// <summary>Rows (and columns) in tile row i: t, or fewer for the last.</summary>
    /// <param name="i">Tile index in [0, TileCount).</param>
    public int Extent(int i) => Math.Min(TileSize, Size - i * TileSize);

    /// <summary>
    /// Tile (i, j) for i &lt;= j: Extent(i) x Extent(j) values, row-major, rows [i t, ...) and columns [j t, ...) of the
    /// matrix (of the factor U after <see cref="TryFactor"/>). A diagonal tile must be filled whole and symmetric.
    /// </summary>
    /// <param name="i">Tile row.</param>
    /// <param name="j">Tile column, &gt;= i.</param>
    public Span<double> Tile(int i, int j)
    {
        if ((uint)i >= (uint)TileCount || j < i || j >= TileCount)
            throw new ArgumentOutOfRangeException(nameof(j), $"Tile ({i}, {j}) does not exist: need 0 <= i <= j < {TileCount}.");
        return _tiles[Index(i, j)];
    }

    /// <summary>Entry (r, c) of the matrix (or of the factor U, zero below the diagonal, after <see cref="TryFactor"/>).</summary>
    /// <param name="r">Row.</param>
    /// <param name="c">Column.</param>
    public double this[int r, int c]
    {
        get
        {
            if ((uint)r >= (uint)Size || (uint)c >= (uint)Size)
                throw new ArgumentOutOfRangeException(nameof(r), $"Entry ({r}, {c}) is outside the {Size} x {Size} matrix.");
            if (r > c)
            {
                if (IsFactored) return 0;
                (r, c) = (c, r);
            }

            int i = r / TileSize, j = c / TileSize;
            if (IsFactored && i == j && r % TileSize > c % TileSize) return 0;
            return _tiles[Index(i, j)][(r - i * TileSize) * Extent(j) + c - j * TileSize];
        }
    }

    /// <summary>The whole matrix (or the factor U) as a dense matrix; for tests and small n.</summary>
    public Matrix<double> ToDense()
    {
        var m = new Matrix<double>(Size, Size);
        for (int r = 0; r < Size; r++)
            for (int c = 0; c < Size; c++) m.Data[r * Size + c] = this[r, c];
        return m;
    }

    /// <summary>Sum of the diagonal.</summary>
    public double Trace()
    {
        double s = 0;
        for (int i = 0; i < TileCount; i++)
        {
            var t = _tiles[Index(i, i)];
            for (int k = 0, e = Extent(i); k < e; k++) s += t[k * e + k];
        }

        return s;
    }

    /// <summary>Largest absolute diagonal entry.</summary>
    public double MaxAbsDiagonal()
    {
        double s = 0;
        for (int i = 0; i < TileCount; i++)
        {
            var t = _tiles[Index(i, i)];
            for (int k = 0, e = Extent(i); k < e; k++) s = Math.Max(s, Math.Abs(t[k * e + k]));
        }

        return s;
    }

    /// <summary>Adds <paramref name="shift"/> to every diagonal entry (diag_reg), before factoring.</summary>
    /// <param name="shift">Finite.</param>
    public void AddToDiagonal(double shift)
    {
        if (!double.IsFinite(shift)) throw new ArgumentOutOfRangeException(nameof(shift), shift, "shift must be finite.");
        RequireUnfactored();
        for (int i = 0; i < TileCount; i++)
        {
            var t = _tiles[Index(i, i)];
            for (int k = 0, e = Extent(i); k < e; k++) t[k * e + k] += shift;
        }
    }

    /// <summary>
    /// Factors A = L L^T in place by the task-parallel tile Cholesky of <see cref="CpuLinearAlgebra"/> on these tiles:
    /// every tile operation (the dense Cholesky of tile (k, k), the TRSM U_kj = U_kk^-T A_kj of each tile right of it,
    /// the update A_ij -= U_ki^T U_kj of each trailing tile) is a single-threaded task on the worker pool, started as
    /// soon as the tiles it reads are final, next panels first, so the cores stay busy through every panel. Returns -1 on
    /// success, otherwise the 0-based index of the first pivot that is not positive, or not above
    /// <paramref name="pivotFloor"/> (the matrix is then partly overwritten and must be refilled).
    /// </summary>
    /// <param name="pivotFloor">Pivots (squared diagonal entries of L) at or below this count as failures, &gt;= 0.</param>
    /// <param name="onStep">Called once per tile row k, in order, when row k of the factor is final, with the fraction of
    /// the multiply-adds of rows 0..k (in [0, 1]; later rows' work may already be under way). Called from the
    /// factorization's threads, one call at a time.</param>
    /// <exception cref="InvalidOperationException">Already factored.</exception>
    public int TryFactor(double pivotFloor = 0, Action<double>? onStep = null)
    {
        RequireUnfactored();
        if (!(pivotFloor >= 0)) throw new ArgumentOutOfRangeException(nameof(pivotFloor), pivotFloor, "pivotFloor must be >= 0.");
        double total = 0, done = 0;
        for (int k = 0; k < TileCount; k++) total += StepWork(k);
        var handles = new GCHandle[_tiles.Length];
        var addresses = new nint[_tiles.Length];
        var strides = new nint[_tiles.Length];
        int failed;
        try
        {
            for (int i = 0; i < TileCount; i++)
                for (int j = i; j < TileCount; j++)
                {
                    int t = Index(i, j);
                    handles[t] = GCHandle.Alloc(_tiles[t], GCHandleType.Pinned);
                    addresses[t] = handles[t].AddrOfPinnedObject();
                    strides[t] = Extent(j);
                }

            failed = Cholesky<double>.FactorTiles(Size, TileSize, addresses, strides, pivotFloor, k =>
            {
                done += StepWork(k);
                onStep?.Invoke(done / total);
            }, Blas<double>.Threads);
        }
        finally
        {
            foreach (var h in handles)
                if (h.IsAllocated) h.Free();
        }

        if (failed >= 0) return failed;
        for (int k = 0; k < TileCount; k++)
        {
            var akk = _tiles[Index(k, k)];
            for (int r = 1, tk = Extent(k); r < tk; r++) Array.Clear(akk, r * tk, r);   // the strict lower part was scratch
        }

        IsFactored = true;
        return -1;
    }

    /// <summary>Solves A X = B with the factor (forward then back substitution over tiles).</summary>
    /// <param name="rightHandSide">B, n x r, finite.</param>
    /// <returns>X, n x r.</returns>
    /// <exception cref="InvalidOperationException">Not factored.</exception>
    public unsafe Matrix<double> Solve(Matrix<double> rightHandSide)
    {
        ArgumentNullException.ThrowIfNull(rightHandSide);
        if (!IsFactored) throw new InvalidOperationException("Solve needs the factor: call TryFactor first.");
        if (rightHandSide.Rows != Size)
            throw new ArgumentException($"'{nameof(rightHandSide)}' must have {Size} rows (the matrix size); got shape [{rightHandSide.Rows}, {rightHandSide.Cols}].", nameof(rightHandSide));
        foreach (var v in rightHandSide.Data)
            if (!double.IsFinite(v)) throw new ArgumentException($"'{nameof(rightHandSide)}' contains NaN or infinity.", nameof(rightHandSide));
        int r = rightHandSide.Cols, t = TileSize;
        var x = new Matrix<double>(Size, r, (double[])rightHandSide.Data.Clone());
        fixed (double* b = x.Data)
        {
            for (int i = 0; i < TileCount; i++)   // U^T Z = B: B_i -= sum_{k<i} U_ki^T Z_k, then Z_i = U_ii^-T B_i
            {
                double* bi = b + (long)i * t * r;
                for (int k = 0; k < i; k++)
                    fixed (double* uki = _tiles[Index(k, i)])
                        Blas<double>.Gemm(Extent(i), r, Extent(k), -1.0, uki, 1, Extent(i), b + (long)k * t * r, r, 1, bi, r, accumulate: true);
                fixed (double* uii = _tiles[Index(i, i)]) Blas<double>.SolveUpperTransposed(uii, Extent(i), Extent(i), bi, r, r);
            }

            for (int i = TileCount - 1; i >= 0; i--)   // U X = Z: Z_i -= sum_{j>i} U_ij X_j, then X_i = U_ii^-1 Z_i
            {
                double* bi = b + (long)i * t * r;
                for (int j = i + 1; j < TileCount; j++)
                    fixed (double* uij = _tiles[Index(i, j)])
                        Blas<double>.Gemm(Extent(i), r, Extent(j), -1.0, uij, Extent(j), 1, b + (long)j * t * r, r, 1, bi, r, accumulate: true);
                fixed (double* uii = _tiles[Index(i, i)]) Blas<double>.SolveUpper(uii, Extent(i), Extent(i), bi, r, r);
            }
        }

        return x;
    }

    /// <summary>Diagonal of the factor L (after <see cref="TryFactor"/>): its squares are the pivots.</summary>
    public double[] FactorDiagonal()
    {
        if (!IsFactored) throw new InvalidOperationException("FactorDiagonal needs the factor: call TryFactor first.");
        var d = new double[Size];
        for (int r = 0; r < Size; r++) d[r] = this[r, r];
        return d;
    }

    /// <summary>The value of pivot p (global index) left in place by a failed <see cref="TryFactor"/>: the Schur complement's diagonal entry.</summary>
    internal double PivotValue(int p)
    {
        int k = p / TileSize, q = p - k * TileSize;
        return _tiles[Index(k, k)][q * Extent(k) + q];
    }

    // Multiply-adds of step k: tile Cholesky t^3/3, TRSM t^2 m / 2 for the m trailing columns, update t m^2 / 2.
    private double StepWork(int k)
    {
        double t = Extent(k), m = Size - (k * (double)TileSize + t);
        return t * t * t / 3 + t * t * m / 2 + t * m * m / 2;
    }

    private int Index(int i, int j) => i * TileCount - i * (i - 1) / 2 + (j - i);

    private void RequireUnfactored()
    {
        if (IsFactored) throw new InvalidOperationException("The matrix has been factored in place; its entries are gone.");
    }

    /// <inheritdoc/>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"TiledSymmetricMatrix {Size} x {Size}, {TileCount} x {TileCount} tiles of {TileSize} ({StoredBytes / 1e9:F2} GB){(IsFactored ? ", factored" : "")}");
}

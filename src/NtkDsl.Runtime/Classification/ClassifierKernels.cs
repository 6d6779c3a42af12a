using System.Numerics.Tensors;
using NtkDsl.Backends;
using NtkDsl.Cpu;

namespace NtkDsl.Classification;

/// <summary>
/// A kernel (or a family of kernels computed together, like the NNGP and NTK of one network) that
/// <see cref="KernelTiles"/> evaluates block by block. A block of the kernel on (x1, x2) is the kernel on
/// (x1 block, x2 block), which is what makes tiling exact.
/// </summary>
public abstract class ClassifierKernel
{
    /// <summary>Names of the matrices <see cref="ComputeBlock"/> returns, in order (e.g. "nngp", "ntk").</summary>
    public abstract IReadOnlyList<string> Names { get; }

    /// <summary>
    /// Managed bytes held per kernel entry while one block is computed (results and working buffers), used to size
    /// tiles under a memory budget.
    /// </summary>
    public virtual long BytesPerEntry => 8L * Names.Count;

    /// <summary>The kernels between the rows of <paramref name="x1"/> and <paramref name="x2"/> ([N1, N2] each).</summary>
    /// <param name="x1">Inputs [N1, d].</param>
    /// <param name="x2">Inputs [N2, d]; null for x1 against itself (the result is then exactly symmetric).</param>
    public abstract IReadOnlyList<Matrix<double>> ComputeBlock(Matrix<double> x1, Matrix<double>? x2);

    /// <summary>Gram matrix x1 x2^T / d, parallel over rows (the same bits whichever way a block is cut).</summary>
    internal static Matrix<double> Gram(Matrix<double> x1, Matrix<double>? x2, double scale)
    {
        var b = x2 ?? x1;
        int n1 = x1.Rows, n2 = b.Rows, d = x1.Cols;
        if (b.Cols != d)
            throw new ArgumentException($"'{nameof(x2)}' must have {d} columns like x1, but has shape [{b.Rows}, {b.Cols}].", nameof(x2));
        var g = new Matrix<double>(n1, n2);
        var options = new ParallelOptions { MaxDegreeOfParallelism = CpuSettings.MaxDegreeOfParallelism > 0 ? CpuSettings.MaxDegreeOfParallelism : -1 };
        Parallel.For(0, n1, options, i =>
        {
            var xi = x1.Data.AsSpan(i * d, d);
            var row = g.Data.AsSpan(i * n2, n2);
            for (int j = x2 is null ? i : 0; j < n2; j++) row[j] = TensorPrimitives.Dot(xi, b.Data.AsSpan(j * d, d)) * scale;
        });
        if (x2 is null)
            for (int i = 0; i < n1; i++)
                for (int j = 0; j < i; j++) g.Data[i * n2 + j] = g.Data[j * n2 + i];
        return g;
    }
}

/// <summary>The analytic infinite-width NNGP and NTK of a declared network (<see cref="InfiniteWidth.Kernels"/>).</summary>
/// <param name="network">The architecture, e.g. <c>MyNet.Description</c>.</param>
/// <param name="options">Quadrature and threading settings; null for the defaults.</param>
public sealed class InfiniteWidthKernel(NetworkDescription network, InfiniteWidthOptions? options = null) : ClassifierKernel
{
    private static readonly string[] KernelNames = ["nngp", "ntk"];

    /// <inheritdoc/>
    public override IReadOnlyList<string> Names => KernelNames;

    /// <summary>The architecture.</summary>
    public NetworkDescription Network { get; } = network ?? throw new ArgumentNullException(nameof(network));

    /// <inheritdoc/>
    public override IReadOnlyList<Matrix<double>> ComputeBlock(Matrix<double> x1, Matrix<double>? x2)
    {
        var k = InfiniteWidth.Kernels(Network, x1, x2, options);
        return [k.Nngp, k.Ntk];
    }
}

/// <summary>
/// The empirical NTK (trace over outputs, float64) of a declared network at given parameters, computed with
/// <see cref="TiledNtk"/> under its memory budget.
/// </summary>
/// <typeparam name="TNet">The declared network.</typeparam>
/// <param name="parameters">The parameters, e.g. the initialization the network is trained from.</param>
/// <param name="options">Tiling options of <see cref="TiledNtk"/>; null for the defaults.</param>
public sealed class EmpiricalNtkKernel<TNet>(double[] parameters, TiledNtkOptions? options = null) : ClassifierKernel
    where TNet : INetwork<TNet>
{
    private static readonly string[] KernelNames = ["empirical-ntk"];
    private readonly double[] _parameters = parameters ?? throw new ArgumentNullException(nameof(parameters));

    /// <inheritdoc/>
    public override IReadOnlyList<string> Names => KernelNames;

    /// <inheritdoc/>
    public override IReadOnlyList<Matrix<double>> ComputeBlock(Matrix<double> x1, Matrix<double>? x2)
    {
        ArgumentNullException.ThrowIfNull(x1);
        var result = new Matrix<double>(x1.Rows, (x2 ?? x1).Rows);
        TiledNtk.Compute<TNet, double>(_parameters, x1, x2, NtkMode.Trace, result, options);
        return [result];
    }
}

/// <summary>The linear kernel k(x, x') = x . x' / d.</summary>
public sealed class LinearKernel : ClassifierKernel
{
    private static readonly string[] KernelNames = ["linear"];

    /// <inheritdoc/>
    public override IReadOnlyList<string> Names => KernelNames;

    /// <inheritdoc/>
    public override IReadOnlyList<Matrix<double>> ComputeBlock(Matrix<double> x1, Matrix<double>? x2)
    {
        ClassificationChecks.RequireInputs(x1, nameof(x1));
        if (x2 is not null) ClassificationChecks.RequireInputs(x2, nameof(x2));
        return [Gram(x1, x2, 1.0 / x1.Cols)];
    }
}

/// <summary>The Gaussian (RBF) kernel k(x, x') = exp(-||x - x'||^2 / (2 h^2)) with bandwidth h.</summary>
public sealed class RbfKernel : ClassifierKernel
{
    private static readonly string[] KernelNames = ["rbf"];

    /// <summary>Creates the kernel.</summary>
    /// <param name="bandwidth">h, finite and &gt; 0; <see cref="MedianBandwidth"/> is the usual choice.</param>
    public RbfKernel(double bandwidth)
    {
        if (!double.IsFinite(bandwidth) || bandwidth <= 0)
            throw new ArgumentOutOfRangeException(nameof(bandwidth), bandwidth, "bandwidth must be finite and > 0.");
        Bandwidth = bandwidth;
    }

    /// <summary>h.</summary>
    public double Bandwidth { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<string> Names => KernelNames;

    /// <inheritdoc/>
    public override IReadOnlyList<Matrix<double>> ComputeBlock(Matrix<double> x1, Matrix<double>? x2)
    {
        ClassificationChecks.RequireInputs(x1, nameof(x1));
        if (x2 is not null) ClassificationChecks.RequireInputs(x2, nameof(x2));
        var b = x2 ?? x1;
        var k = Gram(x1, x2, 1.0);
        var sq1 = SquaredNorms(x1);
        var sq2 = x2 is null ? sq1 : SquaredNorms(b);
        double c = -0.5 / (Bandwidth * Bandwidth);
        for (int i = 0; i < k.Rows; i++)
        {
            var row = k.Row(i);
            for (int j = 0; j < row.Length; j++)
                row[j] = x2 is null && i == j ? 1.0 : Math.Exp(c * Math.Max(0.0, sq1[i] + sq2[j] - 2 * row[j]));
        }

        return [k];
    }

    /// <summary>
    /// The median of the pairwise Euclidean distances between the rows of <paramref name="x"/> (the median heuristic),
    /// over at most <paramref name="maxSamples"/> rows drawn with <paramref name="seed"/>.
    /// </summary>
    /// <param name="x">Inputs [N &gt;= 2, d].</param>
    /// <param name="maxSamples">Rows used at most (all pairs among them), &gt;= 2.</param>
    /// <param name="seed">Which rows, when N exceeds <paramref name="maxSamples"/>.</param>
    /// <exception cref="ArgumentException">Fewer than two rows, or every sampled distance is zero.</exception>
    public static double MedianBandwidth(Matrix<double> x, int maxSamples = 1000, int seed = 0)
    {
        ClassificationChecks.RequireInputs(x, nameof(x));
        if (x.Rows < 2) throw new ArgumentException($"'{nameof(x)}' needs at least 2 rows for pairwise distances, but has shape [{x.Rows}, {x.Cols}].", nameof(x));
        if (maxSamples < 2) throw new ArgumentOutOfRangeException(nameof(maxSamples), maxSamples, "maxSamples must be >= 2.");
        var rows = Enumerable.Range(0, x.Rows).ToArray();
        if (x.Rows > maxSamples)
        {
            var rng = new SplitMix64(seed);
            rng.Shuffle(rows);
            rows = rows[..maxSamples];
            Array.Sort(rows);
        }

        var distances = new double[rows.Length * (rows.Length - 1) / 2];
        int p = 0;
        for (int i = 0; i < rows.Length; i++)
            for (int j = i + 1; j < rows.Length; j++)
                distances[p++] = TensorPrimitives.Distance<double>(x.Row(rows[i]), x.Row(rows[j]));
        Array.Sort(distances);
        int m = distances.Length;
        double median = m % 2 == 1 ? distances[m / 2] : 0.5 * (distances[m / 2 - 1] + distances[m / 2]);
        if (!(median > 0)) throw new ArgumentException($"The median pairwise distance of '{nameof(x)}' is 0 (most rows are equal); the median heuristic needs distinct rows.", nameof(x));
        return median;
    }

    private static double[] SquaredNorms(Matrix<double> x)
    {
        var s = new double[x.Rows];
        for (int i = 0; i < x.Rows; i++) s[i] = TensorPrimitives.Dot(x.Row(i), x.Row(i));
        return s;
    }
}

/// <summary>
/// Evaluates a <see cref="ClassifierKernel"/> on large inputs in square tiles whose working memory stays under a
/// budget: the result matrices plus O(tile^2) bytes are held, never more.
/// </summary>
public static class KernelTiles
{
    /// <summary>
    /// The kernels of <paramref name="kernel"/> between the rows of x1 and x2 (x2 = null: x1 against itself, only tiles
    /// on and above the diagonal are computed and mirrored, so the result is exactly symmetric).
    /// </summary>
    /// <param name="kernel">The kernel family.</param>
    /// <param name="x1">Inputs [N1, d].</param>
    /// <param name="x2">Inputs [N2, d], or null.</param>
    /// <param name="memoryBudgetBytes">Bytes a tile may hold while it is computed (results not counted); &gt; 0.</param>
    /// <param name="onTile">Called after each tile with (tiles done, tiles in total), e.g. for a progress bar.</param>
    /// <returns>One [N1, N2] matrix per name in <see cref="ClassifierKernel.Names"/>.</returns>
    public static IReadOnlyList<Matrix<double>> Compute(ClassifierKernel kernel, Matrix<double> x1, Matrix<double>? x2,
        long memoryBudgetBytes = 256L << 20, Action<int, int>? onTile = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ClassificationChecks.RequireInputs(x1, nameof(x1));
        if (x2 is not null)
        {
            ClassificationChecks.RequireInputs(x2, nameof(x2));
            if (x2.Cols != x1.Cols)
                throw new ArgumentException($"'{nameof(x2)}' must have {x1.Cols} columns like x1, but has shape [{x2.Rows}, {x2.Cols}].", nameof(x2));
        }

        if (memoryBudgetBytes <= 0) throw new ArgumentOutOfRangeException(nameof(memoryBudgetBytes), memoryBudgetBytes, "memoryBudgetBytes must be > 0.");
        int tile = TileSize(kernel, memoryBudgetBytes);
        int n1 = x1.Rows, n2 = (x2 ?? x1).Rows;
        int blocks1 = (n1 + tile - 1) / tile, blocks2 = (n2 + tile - 1) / tile;
        int total = x2 is null ? blocks1 * (blocks1 + 1) / 2 : blocks1 * blocks2;
        var results = kernel.Names.Select(_ => new Matrix<double>(n1, n2)).ToArray();
        int done = 0;
        for (int ib = 0; ib < blocks1; ib++)
        {
            int r0 = ib * tile, rc = Math.Min(tile, n1 - r0);
            var a = Slice(x1, r0, rc);
            for (int jb = x2 is null ? ib : 0; jb < blocks2; jb++)
            {
                int c0 = jb * tile, cc = Math.Min(tile, n2 - c0);
                bool diagonal = x2 is null && ib == jb;
                var blocks = kernel.ComputeBlock(a, diagonal ? null : Slice(x2 ?? x1, c0, cc));
                for (int k = 0; k < results.Length; k++)
                {
                    Place(blocks[k], results[k], r0, c0, transpose: false);
                    if (x2 is null && !diagonal) Place(blocks[k], results[k], c0, r0, transpose: true);
                }

                onTile?.Invoke(++done, total);
            }
        }

        return results;
    }

    /// <summary>
    /// One kernel of <paramref name="kernel"/> on the rows of x against themselves, in the tiles of a
    /// <see cref="TiledSymmetricMatrix"/> (one triangle of tiles, each its own array, so n may exceed what one .NET
    /// array or the dense n x n matrix would hold): held are the tiles plus one tile's kernel evaluation.
    /// </summary>
    /// <param name="kernel">The kernel family.</param>
    /// <param name="index">Which of its <see cref="ClassifierKernel.Names"/> to keep.</param>
    /// <param name="x">Inputs [N, d].</param>
    /// <param name="tileSize">Tile side in samples, &gt;= 1: both the storage tiles and the evaluated blocks.</param>
    /// <param name="onTile">Called after each tile with (tiles done, tiles in total).</param>
    public static TiledSymmetricMatrix ComputeTiled(ClassifierKernel kernel, int index, Matrix<double> x, int tileSize, Action<int, int>? onTile = null)
    {
        RequireKernelIndex(kernel, index);
        ClassificationChecks.RequireInputs(x, nameof(x));
        var k = new TiledSymmetricMatrix(x.Rows, tileSize);
        int b = k.TileCount, total = b * (b + 1) / 2, done = 0;
        for (int i = 0; i < b; i++)
        {
            var xi = Slice(x, i * k.TileSize, k.Extent(i));
            for (int j = i; j < b; j++)
            {
                var block = kernel.ComputeBlock(xi, i == j ? null : Slice(x, j * k.TileSize, k.Extent(j)))[index];
                block.Data.CopyTo(k.Tile(i, j));
                CollectTileGarbage();
                onTile?.Invoke(++done, total);
            }
        }

        return k;
    }

    /// <summary>
    /// K(x1, x2) C for one kernel of <paramref name="kernel"/>, streaming the kernel in tiles of
    /// <paramref name="tileSize"/> x <paramref name="tileSize"/> samples that are multiplied by the rows of C as soon
    /// as they are computed (for predictions K(X*, X) alpha): held are the result and one tile.
    /// </summary>
    /// <param name="kernel">The kernel family.</param>
    /// <param name="index">Which of its <see cref="ClassifierKernel.Names"/> to use.</param>
    /// <param name="x1">Inputs [N1, d] (the rows of the result).</param>
    /// <param name="x2">Inputs [N2, d].</param>
    /// <param name="coefficients">C [N2, r].</param>
    /// <param name="tileSize">Tile side in samples, &gt;= 1.</param>
    /// <param name="onTile">Called after each tile with (tiles done, tiles in total).</param>
    /// <returns>[N1, r].</returns>
    public static Matrix<double> MultiplyTiled(ClassifierKernel kernel, int index, Matrix<double> x1, Matrix<double> x2, Matrix<double> coefficients,
        int tileSize, Action<int, int>? onTile = null)
    {
        RequireKernelIndex(kernel, index);
        ClassificationChecks.RequireInputs(x1, nameof(x1));
        ClassificationChecks.RequireInputs(x2, nameof(x2));
        ArgumentNullException.ThrowIfNull(coefficients);
        if (x2.Cols != x1.Cols)
            throw new ArgumentException($"'{nameof(x2)}' must have {x1.Cols} columns like x1, but has shape [{x2.Rows}, {x2.Cols}].", nameof(x2));
        if (coefficients.Rows != x2.Rows)
            throw new ArgumentException($"'{nameof(coefficients)}' must have {x2.Rows} rows (one per row of x2), but has shape [{coefficients.Rows}, {coefficients.Cols}].", nameof(coefficients));
        if (tileSize < 1) throw new ArgumentOutOfRangeException(nameof(tileSize), tileSize, "tileSize must be >= 1.");
        int n1 = x1.Rows, n2 = x2.Rows, r = coefficients.Cols;
        int b1 = (n1 + tileSize - 1) / tileSize, b2 = (n2 + tileSize - 1) / tileSize, done = 0;
        var result = new Matrix<double>(n1, r);
        for (int i = 0; i < b1; i++)
        {
            int r0 = i * tileSize, rc = Math.Min(tileSize, n1 - r0);
            var a = Slice(x1, r0, rc);
            var acc = new Matrix<double>(rc, r);
            for (int j = 0; j < b2; j++)
            {
                int c0 = j * tileSize, cc = Math.Min(tileSize, n2 - c0);
                var block = kernel.ComputeBlock(a, Slice(x2, c0, cc))[index];
                var part = CpuLinearAlgebra.Multiply(block, false, Slice(coefficients, c0, cc), false);
                System.Numerics.Tensors.TensorPrimitives.Add(acc.Data, part.Data, acc.Data);
                CollectTileGarbage();
                onTile?.Invoke(++done, b1 * b2);
            }

            acc.Data.CopyTo(result.Data.AsSpan(r0 * r, rc * r));
        }

        return result;
    }

    /// <summary>The tile side (samples) that <see cref="Compute"/> uses for a kernel under a budget: the largest with side^2 x BytesPerEntry within it.</summary>
    /// <param name="kernel">The kernel family.</param>
    /// <param name="memoryBudgetBytes">The budget in bytes.</param>
    public static int TileSize(ClassifierKernel kernel, long memoryBudgetBytes)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        long entries = Math.Max(1, memoryBudgetBytes / Math.Max(1, kernel.BytesPerEntry));
        return (int)Math.Clamp((long)Math.Sqrt(entries), 1, 1 << 20);
    }

    private static void RequireKernelIndex(ClassifierKernel kernel, int index)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if ((uint)index >= (uint)kernel.Names.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"index must pick one of the kernel's {kernel.Names.Count} matrices ({string.Join(", ", kernel.Names)}).");
    }

    // A tile's evaluation leaves large arrays behind; collecting them at once keeps the peak at the kernel plus one
    // tile (the large-object heap is otherwise collected only when its budget, which grows with the live kernel, runs out).
    private static void CollectTileGarbage() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);

    private static Matrix<double> Slice(Matrix<double> x, int start, int count) =>
        start == 0 && count == x.Rows ? x : new Matrix<double>(count, x.Cols, x.Data.AsSpan(start * x.Cols, count * x.Cols).ToArray());

    private static void Place(Matrix<double> block, Matrix<double> dst, int r0, int c0, bool transpose)
    {
        for (int i = 0; i < block.Rows; i++)
        {
            var src = block.Row(i);
            if (!transpose) src.CopyTo(dst.Data.AsSpan((r0 + i) * dst.Cols + c0, src.Length));
            else
                for (int j = 0; j < src.Length; j++) dst.Data[(r0 + j) * dst.Cols + c0 + i] = src[j];
        }
    }
}

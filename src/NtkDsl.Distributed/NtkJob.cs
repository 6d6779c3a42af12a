using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NtkDsl.Backends;
using NtkDsl.Tiling;

namespace NtkDsl.Distributed;

/// <summary>Which kernel a <see cref="NtkJob"/> computes.</summary>
public enum NtkKernelKind
{
    /// <summary>The empirical NTK of the network at given parameters (in a <see cref="NtkMode"/>).</summary>
    Empirical,

    /// <summary>The infinite-width NNGP covariance (float64).</summary>
    InfiniteWidthNngp,

    /// <summary>The infinite-width NTK (float64).</summary>
    InfiniteWidthNtk,
}

/// <summary>
/// What a cluster computes: a kernel of a network on inputs (and parameters), in the tiles of a plan. The header (the
/// network's name and fingerprint, the kernel, the plan) travels with every check; the data (inputs, parameters) goes
/// once to each silo, which verifies it against <see cref="Hash"/>, a SHA-256 of everything here. Build one with
/// <see cref="Empirical{TNet, T}"/> or <see cref="InfiniteWidth{TNet}"/>.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record NtkJob
{
    /// <summary>The network's type name (<c>typeof(TNet).FullName</c>), what silos look their registered networks up by.</summary>
    [Id(0)] public required string Network { get; init; }

    /// <summary>A hash of the network's architecture (<see cref="NetworkFingerprint.Of{TNet}"/>): client and silo must agree.</summary>
    [Id(1)] public required string Fingerprint { get; init; }

    /// <summary>Which kernel.</summary>
    [Id(2)] public required NtkKernelKind Kind { get; init; }

    /// <summary>The layout of the result (<see cref="NtkMode.Trace"/> for infinite-width kernels: [N1, N2]).</summary>
    [Id(3)] public required NtkMode Mode { get; init; }

    /// <summary>Outputs per sample in the layout of <see cref="Mode"/> (1 for infinite-width kernels).</summary>
    [Id(4)] public required int Outputs { get; init; }

    /// <summary>True for float32 values, false for float64.</summary>
    [Id(5)] public required bool Float32 { get; init; }

    /// <summary>Input features per sample (d).</summary>
    [Id(6)] public required int InputSize { get; init; }

    /// <summary>The tiling (rows, columns, tile sizes, symmetry).</summary>
    [Id(7)] public required int[] PlanShape { get; init; }

    /// <summary>The network parameters (empty for infinite-width kernels), little-endian values of the element type.</summary>
    [Id(8)] public required byte[] Parameters { get; init; }

    /// <summary>x1, N1 x d, row-major values of the element type.</summary>
    [Id(9)] public required byte[] X1 { get; init; }

    /// <summary>x2, N2 x d (empty for a symmetric plan, whose x2 is x1).</summary>
    [Id(10)] public required byte[] X2 { get; init; }

    /// <summary>SHA-256 (hex) of the other fields: the job's identity on silos and in a resume journal.</summary>
    [Id(11)] public required string Hash { get; init; }

    /// <summary>The tile plan.</summary>
    public NtkTilePlan Plan => new(PlanShape[0], PlanShape[1], PlanShape[2], PlanShape[3], PlanShape[4] != 0, PlanShape[5] != 0);

    /// <summary>Shape [rows, cols] of the whole kernel.</summary>
    public (int Rows, int Cols) ResultShape => NtkModes.ResultShape(Mode, PlanShape[0], PlanShape[1], Outputs);

    /// <summary>Shape of one tile's values.</summary>
    public (int Rows, int Cols) TileShape(NtkTile tile) => NtkModes.ResultShape(Mode, tile.RowCount, tile.ColumnCount, Outputs);

    /// <summary>A job without its data: what a silo needs to check that it can run the job.</summary>
    public NtkJob Header => this with { Parameters = [], X1 = [], X2 = [] };

    /// <summary>Whether the data is present and hashes to <see cref="Hash"/>.</summary>
    public bool HasValidData => X1.Length > 0 && ComputeHash(this) == Hash;

    /// <summary>
    /// The empirical NTK Theta(x1, x2) of <typeparamref name="TNet"/> at <paramref name="parameters"/> in
    /// <paramref name="mode"/>, in the tiles of <paramref name="plan"/> (for example <c>TiledNtk.Plan</c>: its tile
    /// size follows a memory budget). x2 = null is x1 against itself (the plan must then be symmetric).
    /// </summary>
    /// <exception cref="ArgumentException">Shapes that do not fit the network or the plan, or non-finite values.</exception>
    public static NtkJob Empirical<TNet, T>(T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkMode mode, NtkTilePlan plan)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireParameters(parameters, nameof(parameters), TNet.Description);
        _ = NtkModes.ResultShape(mode, 1, 1, TNet.OutputSize);
        return Create<TNet, T>(NtkKernelKind.Empirical, mode, TNet.OutputSize, parameters, x1, x2, plan);
    }

    /// <summary>
    /// The infinite-width NNGP or NTK of <typeparamref name="TNet"/>'s architecture between the rows of x1 and x2
    /// (x2 = null: x1 with itself, symmetric plan), [N1, N2] in float64, in the tiles of <paramref name="plan"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes that do not fit the network or the plan, or non-finite values.</exception>
    public static NtkJob InfiniteWidth<TNet>(Matrix<double> x1, Matrix<double>? x2, InfiniteWidthKernel kernel, NtkTilePlan plan)
        where TNet : INetwork<TNet>
    {
        var kind = kernel switch
        {
            InfiniteWidthKernel.Nngp => NtkKernelKind.InfiniteWidthNngp,
            InfiniteWidthKernel.Ntk => NtkKernelKind.InfiniteWidthNtk,
            _ => throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "Use InfiniteWidthKernel.Nngp or InfiniteWidthKernel.Ntk."),
        };
        return Create<TNet, double>(kind, NtkMode.Trace, 1, [], x1, x2, plan);
    }

    private static NtkJob Create<TNet, T>(NtkKernelKind kind, NtkMode mode, int outputs, T[] parameters, Matrix<T> x1, Matrix<T>? x2, NtkTilePlan plan)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(plan);
        Shapes.RequireInput(x1, nameof(x1), TNet.InputSize);
        bool symmetric = x2 is null || ReferenceEquals(x1, x2);
        if (!symmetric) Shapes.RequireInput(x2, nameof(x2), TNet.InputSize);
        int n2 = symmetric ? x1.Rows : x2!.Rows;
        if (plan.Rows != x1.Rows || plan.Columns != n2 || plan.Symmetric != symmetric || plan.TileRows < 1 || plan.TileColumns < 1)
            throw new ArgumentException($"'{nameof(plan)}' must tile {x1.Rows} x {n2} samples ({(symmetric ? "symmetric: x2 is x1" : "x2 distinct from x1")}), " +
                $"but tiles {plan.Rows} x {plan.Columns} ({(plan.Symmetric ? "symmetric" : "not symmetric")}) in tiles of {plan.TileRows} x {plan.TileColumns}.", nameof(plan));
        var job = new NtkJob
        {
            Network = typeof(TNet).FullName!, Fingerprint = NetworkFingerprint.Of<TNet>(), Kind = kind, Mode = mode, Outputs = outputs,
            Float32 = typeof(T) == typeof(float), InputSize = TNet.InputSize,
            PlanShape = [plan.Rows, plan.Columns, plan.TileRows, plan.TileColumns, plan.Symmetric ? 1 : 0, plan.MirrorLower ? 1 : 0],
            Parameters = Bytes(parameters), X1 = Bytes(x1.Data), X2 = symmetric ? [] : Bytes(x2!.Data), Hash = "",
        };
        return job with { Hash = ComputeHash(job) };
    }

    internal static byte[] Bytes<T>(T[] values) where T : unmanaged => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    internal static T[] Values<T>(byte[] bytes) where T : unmanaged => MemoryMarshal.Cast<byte, T>(bytes).ToArray();

    private static string ComputeHash(NtkJob job)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{job.Network}|{job.Fingerprint}|{job.Kind}|{job.Mode}|{job.Outputs}|{job.Float32}|{job.InputSize}|{string.Join(",", job.PlanShape)}"));
        foreach (var data in new[] { job.Parameters, job.X1, job.X2 })
        {
            sha.AppendData(BitConverter.GetBytes((long)data.Length));
            sha.AppendData(data);
        }

        return Convert.ToHexString(sha.GetHashAndReset());
    }
}

/// <summary>A short hash of a network's resolved architecture, so that a client and a silo built from different declarations of one name disagree.</summary>
public static class NetworkFingerprint
{
    /// <summary>SHA-256 (first 16 hex digits) of the sizes and every resolved layer of <typeparamref name="TNet"/>.</summary>
    public static string Of<TNet>() where TNet : INetwork<TNet>
    {
        var d = TNet.Description;
        string text = $"{d.Name}|{TNet.InputSize}|{TNet.OutputSize}|{TNet.ParameterCount}|{(d.Parameterization == Parameterization.Abc ? d.Abc : d.Parameterization)}|{d.InputChannels}|{d.InputSpatial}|" +
                      string.Join("|", d.Layers.Select(l => l is ElementwiseLayer e ? $"Elementwise({e.Name})" : l.ToString()));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }
}

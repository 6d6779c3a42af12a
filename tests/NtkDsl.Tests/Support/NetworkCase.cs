using NtkDsl.Backends;
using NtkDsl.Cpu;

namespace NtkDsl.Tests.Support;

/// <summary>A generated network behind a non-generic face, so one theory can run over many networks.</summary>
public interface INetworkCase
{
    NetworkDescription Description { get; }
    int Inputs { get; }
    int Outputs { get; }
    int Parameters { get; }
    T[] Initialize<T>(int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>;
    Matrix<T> Forward<T>(T[] theta, Matrix<T> x) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>;
    T[] Vjp<T>(T[] theta, Matrix<T> x, Matrix<T> cotangent) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>;
    Matrix<T> Jvp<T>(T[] theta, Matrix<T> x, T[] tangent) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>;
    Matrix<T> Jacobian<T>(T[] theta, Matrix<T> x) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>;
    Matrix<T> Ntk<T>(T[] theta, Matrix<T> x1, Matrix<T>? x2, NtkMode mode) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>;
}

public sealed class NetworkCase<TNet> : INetworkCase where TNet : INetwork<TNet>
{
    public NetworkDescription Description => TNet.Description;
    public int Inputs => TNet.InputSize;
    public int Outputs => TNet.OutputSize;
    public int Parameters => TNet.ParameterCount;
    public T[] Initialize<T>(int seed) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => CpuNetwork<TNet, T>.InitializeParameters(seed);
    public Matrix<T> Forward<T>(T[] theta, Matrix<T> x) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => CpuNetwork<TNet, T>.Forward(theta, x);
    public T[] Vjp<T>(T[] theta, Matrix<T> x, Matrix<T> c) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => CpuNetwork<TNet, T>.Vjp(theta, x, c);
    public Matrix<T> Jvp<T>(T[] theta, Matrix<T> x, T[] v) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => CpuNetwork<TNet, T>.Jvp(theta, x, v);
    public Matrix<T> Jacobian<T>(T[] theta, Matrix<T> x) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => CpuNetwork<TNet, T>.Jacobian(theta, x);
    public Matrix<T> Ntk<T>(T[] theta, Matrix<T> x1, Matrix<T>? x2, NtkMode mode) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => CpuNetwork<TNet, T>.Ntk(theta, x1, x2, mode);
    public override string ToString() => typeof(TNet).Name;
}

public static class Cases
{
    public static readonly INetworkCase[] Small =
    [
        new NetworkCase<Networks.ReluNet>(), new NetworkCase<Networks.LeakyReluNet>(), new NetworkCase<Networks.AbsNet>(),
        new NetworkCase<Networks.ErfNet>(), new NetworkCase<Networks.TanhNet>(), new NetworkCase<Networks.SigmoidNet>(),
        new NetworkCase<Networks.GeluNet>(), new NetworkCase<Networks.SoftplusNet>(), new NetworkCase<Networks.SinNet>(),
        new NetworkCase<Networks.IdentityNet>(), new NetworkCase<Networks.StandardNet>(), new NetworkCase<Networks.OddShapesNet>(),
        new NetworkCase<Networks.LinearNet>(),
    ];

    public static TheoryData<INetworkCase> SmallData()
    {
        var data = new TheoryData<INetworkCase>();
        foreach (var c in Small) data.Add(c);
        return data;
    }
}

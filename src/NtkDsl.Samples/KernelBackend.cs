using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Torch;
using NtkDsl.Cpu;
using TorchSharp;

namespace NtkDsl.Samples;

/// <summary>Where empirical NTKs are computed: the generated code on the CPU backend, or on TorchSharp tensors.</summary>
internal enum BackendKind
{
    Cpu,
    Torch,
}

/// <summary>Empirical NTK Theta(x1, x2) (trace mode, as double) of network TNet on the chosen backend.</summary>
internal static class KernelBackend
{
    public static BackendKind Kind { get; set; } = BackendKind.Cpu;

    public static string Describe() => Kind == BackendKind.Cpu
        ? $"CPU backend (generated code, {(CpuSettings.MaxDegreeOfParallelism > 0 ? CpuSettings.MaxDegreeOfParallelism : Environment.ProcessorCount)} threads)"
        : $"TorchSharp backend ({torch.get_num_threads()} threads)";

    public static void Configure(BackendKind kind, int threads)
    {
        Kind = kind;
        CpuSettings.MaxDegreeOfParallelism = threads;
        if (kind == BackendKind.Torch)
        {
            TorchRuntime.EnsureLoaded();
            if (threads > 0) torch.set_num_threads(threads);
        }
    }

    public static Matrix<double> Ntk<TNet, T>(T[] theta, Matrix<T> x1, Matrix<T>? x2 = null)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Kind == BackendKind.Cpu) return ToDouble(NtkDsl.Cpu.CpuNetwork<TNet, T>.Ntk(theta, x1, x2, NtkMode.Trace));
        using var scope = torch.NewDisposeScope();
        var backend = typeof(T) == typeof(float) ? TorchBackend.Float32() : TorchBackend.Float64();
        using var net = new TorchNetwork<TNet>(backend);
        var th = TorchConvert.ToTensor<T>(theta, 1, theta.Length);
        var t1 = x1.ToTensor();
        var t2 = x2?.ToTensor();
        var k = net.Ntk(th, t1, t2, NtkMode.Trace);
        return ToDouble(k.ToMatrix<T>());
    }

    public static Matrix<double> ToDouble<T>(Matrix<T> m) where T : unmanaged, IFloatingPointIeee754<T> =>
        m is Matrix<double> d ? d : m.Convert<double>();
}

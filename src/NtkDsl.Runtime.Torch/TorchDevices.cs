using TorchSharp;
using static TorchSharp.torch;

namespace NtkDsl.Torch;

/// <summary>Picks the device to run on.</summary>
public static class TorchDevices
{
    /// <summary>The CPU device.</summary>
    public static Device Cpu
    {
        get
        {
            TorchRuntime.EnsureLoaded();
            return CPU;
        }
    }

    /// <summary>True when TorchSharp sees a usable CUDA device (a CUDA libtorch package and a GPU).</summary>
    public static bool IsCudaAvailable
    {
        get
        {
            TorchRuntime.EnsureLoaded();
            return cuda.is_available();
        }
    }

    /// <summary>The first CUDA device when <see cref="IsCudaAvailable"/>, else the CPU.</summary>
    public static Device Best() => IsCudaAvailable ? CUDA : Cpu;

    /// <summary>A backend of <paramref name="dtype"/> (float64 by default) on <see cref="Best"/>.</summary>
    public static TorchBackend BestBackend(ScalarType dtype = ScalarType.Float64) => new(dtype, Best());
}

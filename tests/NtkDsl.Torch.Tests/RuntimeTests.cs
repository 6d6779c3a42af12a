using System.Diagnostics;
using TorchSharp;
using static NtkDsl.Torch.Tests.TestSupport;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>Native loading, the Debian fix-up's effect on the output folder, devices, linear algebra.</summary>
public sealed class RuntimeTests
{
    [Fact]
    public void Torch_loads_and_the_report_describes_the_natives()
    {
        TorchRuntime.EnsureLoaded();
        Assert.True(TorchRuntime.IsLoaded);
        var report = TorchRuntime.Describe();
        Assert.Contains("libLibTorchSharp", report);
        Assert.Contains("libtorch", report);
    }

    [Fact]
    public void Output_copy_of_LibTorchSharp_is_patched_only_when_the_system_needs_it_and_the_cache_never()
    {
        if (!OperatingSystem.IsLinux()) return;
        var copy = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!File.Exists(copy)) copy = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        Assert.True(File.Exists(copy), $"{copy} not found");

        var report = TorchRuntime.Describe();
        bool systemHasIt = report.Contains($"defines {TorchRuntime.RequiredGlibcxxVersion}", StringComparison.Ordinal)
                           && !report.Contains($"does not define {TorchRuntime.RequiredGlibcxxVersion}", StringComparison.Ordinal);
        Assert.Contains(systemHasIt ? "NOT applied" : "marked weak", report);

        // The NuGet cache copy keeps its strong need (the patch wrote a new file in the output folder).
        var nugetRoot = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var cached = Path.Combine(nugetRoot, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (File.Exists(cached))
            Assert.Equal(NeedState.Required, StateOf(cached));
    }

    [Fact]
    public void Best_device_falls_back_to_cpu_without_cuda()
    {
        var best = TorchDevices.Best();
        if (!TorchDevices.IsCudaAvailable)
            Assert.Equal(DeviceType.CPU, best.type);
        else
            Assert.Equal(DeviceType.CUDA, best.type);
        Assert.Equal(best.type, TorchDevices.BestBackend().Device.type);
    }

    private enum NeedState { Absent, Required, Weak }

    // An independent reader: readelf (binutils) when present, else skip by reporting Required.
    private static NeedState StateOf(string path)
    {
        try
        {
            var info = new ProcessStartInfo("readelf", ["-V", path]) { RedirectStandardOutput = true, UseShellExecute = false };
            using var p = Process.Start(info)!;
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            var line = output.Split('\n').FirstOrDefault(l => l.Contains("Name: " + TorchRuntime.RequiredGlibcxxVersion, StringComparison.Ordinal));
            if (line is null) return NeedState.Absent;
            return line.Contains("WEAK", StringComparison.Ordinal) ? NeedState.Weak : NeedState.Required;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return NeedState.Required; // no readelf: nothing to check independently
        }
    }
}

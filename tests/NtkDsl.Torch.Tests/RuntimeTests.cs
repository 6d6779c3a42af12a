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

    [Fact]
    public void Linear_algebra_matches_definitions()
    {
        var rng = Random(6, 6, 3);
        var k = new Matrix<double>(6, 6);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
            {
                for (int l = 0; l < 6; l++) k[i, j] += rng[i, l] * rng[j, l];
                if (i == j) k[i, j] += 0.5;
            }

        var la = new TorchLinearAlgebra();
        var (values, vectors) = la.SymmetricEigen(k);
        for (int i = 0; i < 5; i++) Assert.True(values[i] <= values[i + 1]);
        var rebuilt = new double[6, 6];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
                for (int l = 0; l < 6; l++)
                    rebuilt[i, j] += vectors[i, l] * values[l] * vectors[j, l];
        AssertClose(k.ToArray(), rebuilt, 1e-12);

        var factor = la.CholeskyFactor(k);
        var product = new double[6, 6];
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++)
            {
                if (j > i) Assert.Equal(0.0, factor[i, j]);
                for (int l = 0; l < 6; l++) product[i, j] += factor[i, l] * factor[j, l];
            }

        AssertClose(k.ToArray(), product, 1e-12);

        var singular = Matrix<double>.FromArray(new double[,] { { 1, 1 }, { 1, 1 } });
        Assert.Contains("diag_reg", Assert.Throws<InvalidOperationException>(() => la.CholeskyFactor(singular)).Message);
        Assert.Equal("k", Assert.Throws<ArgumentException>(() => la.SymmetricEigen(new Matrix<double>(2, 3))).ParamName);
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

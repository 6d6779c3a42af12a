using System.Diagnostics;
using TorchSharp;
using static NtkDsl.Torch.Tests.TestSupport;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>Native loading, the Debian fix-up's effect on the output folder, devices.</summary>
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

    // The fix-up, checked on the files themselves with the tests' own ELF reader (ElfVersions; and readelf, when
    // installed, must agree with it). The system side is read from the libstdc++ this process has loaded.

    [LinuxFact]
    public void Output_copy_of_LibTorchSharp_is_patched_exactly_when_the_loaded_libstdcxx_lacks_the_version()
    {
        TorchRuntime.EnsureLoaded();   // loads libLibTorchSharp, hence libstdc++, into this process
        string required = TorchRuntime.RequiredGlibcxxVersion;
        string stdcxx = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && Path.GetFileName(f[5]).StartsWith("libstdc++.so", StringComparison.Ordinal)).Select(f => f[5]).First();
        bool systemHasIt = ElfVersions.Definitions(File.ReadAllBytes(stdcxx)).Contains(required);
        Assert.Contains("GLIBCXX_3.4.30", ElfVersions.Definitions(File.ReadAllBytes(stdcxx)));   // the reader sees definitions at all

        var copy = ElfVersions.Needs(File.ReadAllBytes(OutputCopy));
        var need = Assert.Single(copy, n => n.Version == required);
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.True(need.IsWeak != systemHasIt,
            $"{stdcxx} {(systemHasIt ? "defines" : "does not define")} {required}, but the output copy's need is {(need.IsWeak ? "weak" : "strong")}");
        Assert.All(copy.Where(n => n.Version != required), n => Assert.False(n.IsWeak, $"{n.Version} must stay a strong need"));
        AssertReadelfAgrees(OutputCopy, copy);

        // The runtime's own report says the same.
        Assert.Contains(systemHasIt ? "NOT applied" : "marked weak", TorchRuntime.Describe());
    }

    [LinuxFact(NeedsCachedLibrary = true)]
    public void The_patch_changes_only_that_flag_and_never_the_NuGet_cache_copy()
    {
        string required = TorchRuntime.RequiredGlibcxxVersion;
        byte[] cached = File.ReadAllBytes(LinuxFactAttribute.CachedLibrary), output = File.ReadAllBytes(OutputCopy);
        var cachedNeed = Assert.Single(ElfVersions.Needs(cached), n => n.Version == required);
        Assert.False(cachedNeed.IsWeak, "the NuGet cache copy must keep its strong need");
        AssertReadelfAgrees(LinuxFactAttribute.CachedLibrary, ElfVersions.Needs(cached));

        Assert.Equal(cached.Length, output.Length);
        var changed = Enumerable.Range(0, cached.Length).Where(i => cached[i] != output[i]).ToArray();
        Assert.All(changed, i => Assert.InRange(i, cachedNeed.FlagsOffset, cachedNeed.FlagsOffset + 1));
        if (changed.Length > 0)
            Assert.Equal(cachedNeed.Flags | ElfVersions.VerFlgWeak, BitConverter.ToUInt16(output, cachedNeed.FlagsOffset));
    }

    private static string OutputCopy
    {
        get
        {
            var copy = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
            if (!File.Exists(copy)) copy = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
            Assert.True(File.Exists(copy), $"{copy} not found");
            return copy;
        }
    }

    // readelf -V prints "0x...: Name: GLIBCXX_3.4.32  Flags: WEAK  Version: 9" per Vernaux entry ("Flags: none" when 0).
    private static void AssertReadelfAgrees(string path, List<ElfVersions.Need> needs)
    {
        string output;
        try
        {
            var info = new ProcessStartInfo("readelf", ["-V", "-W", path]) { RedirectStandardOutput = true, UseShellExecute = false };
            using var p = Process.Start(info)!;
            output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return;   // no binutils here: the tests' own reader stands alone
        }

        var lines = output.Split('\n').Where(l => l.Contains(" Name: ", StringComparison.Ordinal) && l.Contains(" Flags: ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(needs.Count, lines.Length);
        foreach (var (need, line) in needs.Zip(lines))
        {
            Assert.Contains($"Name: {need.Version} ", line);
            Assert.Equal(need.IsWeak, line.Contains("WEAK", StringComparison.Ordinal));
        }
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
}

/// <summary>
/// A fact about the Linux libLibTorchSharp fix-up; reported as skipped (visibly, in the test results) off Linux, or
/// when it needs the NuGet cache's copy of the library and that is not where NuGet puts it.
/// </summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    /// <summary>TorchSharp 0.107.0's libLibTorchSharp.so in the NuGet package cache.</summary>
    public static string CachedLibrary =>
        Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
            "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "the libLibTorchSharp fix-up only runs on Linux";
    }

    /// <summary>Skip unless the NuGet cache's copy of the library exists.</summary>
    public bool NeedsCachedLibrary
    {
        get => _needsCachedLibrary;
        set
        {
            _needsCachedLibrary = value;
            if (value && Skip is null && !File.Exists(CachedLibrary)) Skip = $"no NuGet cache copy of libLibTorchSharp.so at {CachedLibrary}";
        }
    }

    private bool _needsCachedLibrary;
}

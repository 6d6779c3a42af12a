using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;

namespace NtkDsl.Torch;

/// <summary>
/// Loads libtorch through TorchSharp once, and explains what went wrong when it cannot (instead of
/// TorchSharp's message, which blames a missing package even when the package is there).
/// </summary>
public static class TorchRuntime
{
    /// <summary>The libstdc++ symbol version TorchSharp 0.107's libLibTorchSharp.so asks for (GCC 13).</summary>
    public const string RequiredGlibcxxVersion = "GLIBCXX_3.4.32";

    private static readonly Lock Gate = new();
    private static volatile bool _loaded;

    /// <summary>True once <see cref="EnsureLoaded"/> has succeeded in this process.</summary>
    public static bool IsLoaded => _loaded;

    /// <summary>
    /// Runs a trivial torch operation so that TorchSharp loads its native libraries. Cheap after the first success.
    /// </summary>
    /// <exception cref="TorchLoadException">
    /// The native libraries could not be loaded; the message lists which libLibTorchSharp.so was found, whether
    /// the libstdc++ fix-up applies and was applied, and which native package to reference.
    /// </exception>
    public static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Gate)
        {
            if (_loaded) return;
            try
            {
                using var probe = torch.zeros(1, dtype: torch.ScalarType.Float64);
                using var sum = probe.add(1.0.ToScalar());
                _ = sum.item<double>();
            }
            catch (Exception e) when (e is not TorchLoadException)
            {
                throw new TorchLoadException(Diagnose(e), e);
            }

            _loaded = true;
        }
    }

    /// <summary>
    /// A report of what the native-library check finds on this machine (paths, libstdc++ versions, the
    /// state of the GLIBCXX_3.4.32 need in libLibTorchSharp.so). Useful in bug reports.
    /// </summary>
    public static string Describe()
    {
        var text = new StringBuilder();
        text.AppendLine($"OS: {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture}); .NET {Environment.Version}.");
        text.AppendLine($"Application folder: {AppContext.BaseDirectory}");

        var native = FindInAppFolder(OperatingSystem.IsWindows() ? "LibTorchSharp.dll"
            : OperatingSystem.IsMacOS() ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so");
        if (native.Count == 0)
        {
            text.AppendLine("libLibTorchSharp: not found in the application folder (is the TorchSharp package referenced?).");
        }

        foreach (var path in native)
        {
            text.Append($"libLibTorchSharp: {path}");
            if (path.EndsWith(".so", StringComparison.Ordinal))
            {
                try
                {
                    var state = ElfVersionNeeds.GetState(File.ReadAllBytes(path), RequiredGlibcxxVersion);
                    text.Append(state switch
                    {
                        ElfVersionNeeds.NeedState.Absent => $" (does not need {RequiredGlibcxxVersion})",
                        ElfVersionNeeds.NeedState.Weak => $" (its {RequiredGlibcxxVersion} need is marked weak: the NtkDsl.Torch build fix-up was applied)",
                        _ => $" (needs {RequiredGlibcxxVersion}; the NtkDsl.Torch build fix-up was NOT applied to this copy)",
                    });
                }
                catch (Exception e)
                {
                    text.Append($" (could not be read: {e.Message})");
                }
            }

            text.AppendLine();
        }

        var libtorch = OperatingSystem.IsWindows() ? FindInAppFolder("torch_cpu.dll", "torch_cuda.dll")
            : OperatingSystem.IsMacOS() ? FindInAppFolder("libtorch_cpu.dylib") : FindInAppFolder("libtorch_cpu.so", "libtorch_cuda.so");
        text.AppendLine(libtorch.Count == 0
            ? "libtorch: not found in the application folder. Reference a native package, e.g. libtorch-cpu-linux-x64 2.10.0 (CPU, Linux x64)."
            : $"libtorch: {string.Join(", ", libtorch)}");

        if (OperatingSystem.IsLinux())
        {
            var stdcxx = SystemLibStdCxx();
            text.AppendLine(stdcxx is null
                ? "libstdc++.so.6: not found in the usual folders."
                : $"libstdc++.so.6: {stdcxx.Value.Path}, {(stdcxx.Value.HasRequired ? "defines" : "does not define")} {RequiredGlibcxxVersion}.");
        }

        return text.ToString();
    }

    private static string Diagnose(Exception e)
    {
        var text = new StringBuilder();
        text.AppendLine("TorchSharp could not load its native libraries (libLibTorchSharp and libtorch).");
        string said = e.GetBaseException().Message;
        int end = said.IndexOf('\n');
        text.AppendLine($"TorchSharp said: {(end > 0 ? said[..end].Trim() : said)} (its full trace is in InnerException)");
        text.AppendLine("(TorchSharp reports any load failure as a missing native package, which is often not the cause.)");
        text.AppendLine();
        text.AppendLine("What NtkDsl.Torch checked:");
        text.Append(Describe());
        text.AppendLine();
        text.AppendLine("What to do:");
        text.AppendLine(" - Reference exactly one libtorch native package next to TorchSharp 0.107.0: libtorch-cpu-linux-x64 2.10.0 on Linux x64 (not TorchSharp-cpu, which also brings Windows and macOS natives).");
        text.AppendLine($" - On Linux with a libstdc++ older than GCC 13 (Debian 12: GLIBCXX_3.4.30), libLibTorchSharp.so needs {RequiredGlibcxxVersion} for one symbol that is never used.");
        text.AppendLine("   The NtkDsl.Torch package's build step (build/NtkDsl.Torch.targets, after Build and Publish) marks that need weak in the copy in your output folder.");
        text.AppendLine("   If the report above says the fix-up was not applied: make sure the targets file is imported (a ProjectReference does not import it: add");
        text.AppendLine("   <Import Project=\".../NtkDsl.Runtime.Torch/build/NtkDsl.Torch.targets\" />), that NtkDslPatchLibTorchSharp is not false, and rebuild;");
        text.AppendLine("   or install a newer libstdc++ (GCC 13 or later).");
        return text.ToString();
    }

    private static List<string> FindInAppFolder(params string[] names)
    {
        var found = new List<string>();
        string baseDir = AppContext.BaseDirectory;
        var dirs = new List<string> { baseDir };
        string runtimes = Path.Combine(baseDir, "runtimes");
        if (Directory.Exists(runtimes))
            dirs.AddRange(Directory.GetDirectories(runtimes).Select(d => Path.Combine(d, "native")).Where(Directory.Exists));
        foreach (var dir in dirs)
            foreach (var name in names)
            {
                string path = Path.Combine(dir, name);
                if (File.Exists(path)) found.Add(path);
            }

        return found;
    }

    private static (string Path, bool HasRequired)? SystemLibStdCxx()
    {
        string[] dirs =
        [
            "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64", "/lib64", "/usr/lib", "/lib",
        ];
        byte[] needle = Encoding.ASCII.GetBytes("\0" + RequiredGlibcxxVersion + "\0");
        foreach (var dir in dirs)
        {
            string path = Path.Combine(dir, "libstdc++.so.6");
            if (!File.Exists(path)) continue;
            try
            {
                return (path, File.ReadAllBytes(path).AsSpan().IndexOf(needle) >= 0);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return null;
    }
}

/// <summary>TorchSharp's native libraries could not be loaded; the message says what was checked and what to do.</summary>
public sealed class TorchLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TorchLoadException(string message, Exception inner) : base(message, inner)
    {
    }
}

/// <summary>Reads the version needs (.gnu.version_r) of a 64-bit little-endian ELF file.</summary>
internal static class ElfVersionNeeds
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    internal enum NeedState
    {
        Absent,
        Required,
        Weak,
    }

    /// <summary>Whether the file needs <paramref name="versionName"/>, and if so whether weakly.</summary>
    public static NeedState GetState(ReadOnlySpan<byte> elf, string versionName)
    {
        int offset = FindVernauxFlags(elf, versionName);
        if (offset < 0) return NeedState.Absent;
        return (BitConverter.ToUInt16(elf.Slice(offset, 2)) & VerFlgWeak) != 0 ? NeedState.Weak : NeedState.Required;
    }

    /// <summary>File offset of vna_flags of the Vernaux entry named <paramref name="versionName"/>, or -1.</summary>
    public static int FindVernauxFlags(ReadOnlySpan<byte> elf, string versionName)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("Not an ELF file.");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("Not a 64-bit little-endian ELF file.");

        long shoff = BitConverter.ToInt64(elf.Slice(0x28, 8));
        int shentsize = BitConverter.ToUInt16(elf.Slice(0x3a, 2));
        int shnum = BitConverter.ToUInt16(elf.Slice(0x3c, 2));
        if (shoff <= 0 || shentsize < 64 || shoff + (long)shnum * shentsize > elf.Length)
            throw new InvalidDataException("Bad section header table.");

        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)(shoff + (long)s * shentsize));
            if (BitConverter.ToUInt32(elf.Slice(sh + 4, 4)) != ShtGnuVerneed) continue;

            long start = BitConverter.ToInt64(elf.Slice(sh + 0x18, 8));
            long size = BitConverter.ToInt64(elf.Slice(sh + 0x20, 8));
            int link = (int)BitConverter.ToUInt32(elf.Slice(sh + 0x28, 4));
            int count = (int)BitConverter.ToUInt32(elf.Slice(sh + 0x2c, 4));
            if (link >= shnum || start < 0 || start + size > elf.Length)
                throw new InvalidDataException("Bad .gnu.version_r section.");
            long strtab = BitConverter.ToInt64(elf.Slice(checked((int)(shoff + (long)link * shentsize)) + 0x18, 8));

            long vn = start;
            for (int i = 0; i < count && vn + 16 <= start + size; i++)
            {
                int cnt = BitConverter.ToUInt16(elf.Slice((int)vn + 2, 2));
                long aux = vn + BitConverter.ToUInt32(elf.Slice((int)vn + 8, 4));
                for (int j = 0; j < cnt && aux + 16 <= start + size; j++)
                {
                    uint name = BitConverter.ToUInt32(elf.Slice((int)aux + 8, 4));
                    if (NameEquals(elf, strtab + name, versionName)) return (int)aux + 4;
                    uint nextAux = BitConverter.ToUInt32(elf.Slice((int)aux + 12, 4));
                    if (nextAux == 0) break;
                    aux += nextAux;
                }

                uint next = BitConverter.ToUInt32(elf.Slice((int)vn + 12, 4));
                if (next == 0) break;
                vn += next;
            }
        }

        return -1;
    }

    private static bool NameEquals(ReadOnlySpan<byte> elf, long start, string name)
    {
        if (start < 0 || start + name.Length >= elf.Length) return false;
        for (int i = 0; i < name.Length; i++)
            if (elf[(int)start + i] != (byte)name[i]) return false;
        return elf[(int)start + name.Length] == 0;
    }
}

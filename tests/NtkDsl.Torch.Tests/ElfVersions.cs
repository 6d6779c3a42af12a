using System.Buffers.Binary;
using System.Text;

namespace NtkDsl.Torch.Tests;

/// <summary>
/// A small reader of the GNU symbol-versioning sections of a 64-bit little-endian ELF file, written for the tests
/// independently of the build fix-up's patcher and of the runtime's report: the version needs (.gnu.version_r,
/// SHT_GNU_verneed) with their vna_flags, and the version definitions (.gnu.version_d, SHT_GNU_verdef).
/// </summary>
internal static class ElfVersions
{
    public const ushort VerFlgWeak = 0x2;
    private const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe;

    /// <summary>One Vernaux entry: the version needed, its flags, and the file offset of the flags.</summary>
    public readonly record struct Need(string File, string Version, ushort Flags, int FlagsOffset)
    {
        public bool IsWeak => (Flags & VerFlgWeak) != 0;
    }

    /// <summary>Every version need of the file (.gnu.version_r), in file order.</summary>
    public static List<Need> Needs(byte[] elf)
    {
        var needs = new List<Need>();
        foreach (var (offset, size, strtab, count) in Sections(elf, ShtGnuVerneed))
        {
            int vn = offset;
            for (int i = 0; i < count; i++)
            {
                Check(elf, vn + 16 <= offset + size, "Verneed entry outside its section");
                int cnt = U16(elf, vn + 2);
                string file = Str(elf, strtab + (int)U32(elf, vn + 4));
                int aux = vn + (int)U32(elf, vn + 8);
                for (int j = 0; j < cnt; j++)
                {
                    Check(elf, aux + 16 <= offset + size, "Vernaux entry outside its section");
                    needs.Add(new Need(file, Str(elf, strtab + (int)U32(elf, aux + 8)), U16(elf, aux + 4), aux + 4));
                    aux += (int)U32(elf, aux + 12);
                }
                vn += (int)U32(elf, vn + 12);
            }
        }
        return needs;
    }

    /// <summary>Every version name the file defines (.gnu.version_d).</summary>
    public static HashSet<string> Definitions(byte[] elf)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (offset, size, strtab, count) in Sections(elf, ShtGnuVerdef))
        {
            int vd = offset;
            for (int i = 0; i < count; i++)
            {
                Check(elf, vd + 20 <= offset + size, "Verdef entry outside its section");
                int aux = vd + (int)U32(elf, vd + 12);
                if (U16(elf, vd + 6) > 0) names.Add(Str(elf, strtab + (int)U32(elf, aux)));   // the first Verdaux names the version
                vd += (int)U32(elf, vd + 16);
            }
        }
        return names;
    }

    // (file offset, size, file offset of the linked string table, sh_info = entry count) of every section of the type.
    private static IEnumerable<(int Offset, int Size, int Strtab, int Count)> Sections(byte[] elf, uint type)
    {
        Check(elf, elf.Length >= 64 && elf[0] == 0x7f && elf[1] == 'E' && elf[2] == 'L' && elf[3] == 'F', "not an ELF file");
        Check(elf, elf[4] == 2 && elf[5] == 1, "not a 64-bit little-endian ELF file");
        long shoff = (long)U64(elf, 0x28);
        int shentsize = U16(elf, 0x3a), shnum = U16(elf, 0x3c);
        Check(elf, shentsize >= 64 && shoff + (long)shnum * shentsize <= elf.Length, "bad section header table");
        for (int s = 0; s < shnum; s++)
        {
            int sh = (int)(shoff + (long)s * shentsize);
            if (U32(elf, sh + 4) != type) continue;
            int link = (int)U32(elf, sh + 0x28);
            Check(elf, link < shnum, "bad sh_link");
            int strtab = (int)U64(elf, (int)(shoff + (long)link * shentsize) + 0x18);
            yield return ((int)U64(elf, sh + 0x18), (int)U64(elf, sh + 0x20), strtab, (int)U32(elf, sh + 0x2c));
        }
    }

    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at, 2));

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at, 4));

    private static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at, 8));

    private static string Str(byte[] b, int at)
    {
        int end = Array.IndexOf(b, (byte)0, at);
        return Encoding.ASCII.GetString(b, at, end - at);
    }

    private static void Check(byte[] elf, bool condition, string what)
    {
        if (!condition) throw new InvalidDataException($"ELF ({elf.Length} bytes): {what}.");
    }
}

using System.Reflection;
using Spectre.Console.Cli;

namespace NtkDsl.Samples;

/// <summary>"Did you mean" hints for unknown command-line options.</summary>
internal static class OptionSuggestions
{
    /// <summary>Every option name the commands of this program declare (with dashes), plus help and version.</summary>
    private static readonly string[] Known = typeof(OptionSuggestions).Assembly.GetTypes()
        .Where(t => typeof(CommandSettings).IsAssignableFrom(t))
        .SelectMany(t => t.GetProperties())
        .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
        .OfType<CommandOptionAttribute>()
        .SelectMany(a => a.LongNames.Select(n => "--" + n).Concat(a.ShortNames.Select(n => "-" + n)))
        .Concat(["--help", "-h", "--version", "-v"])
        .Distinct(StringComparer.Ordinal)
        .ToArray();

    /// <summary>
    /// For the first argument that looks like an option no command declares: " Did you mean '--x'?" with the
    /// closest declared option (edit distance at most a third of its length, at least 2), or "" when none is close.
    /// </summary>
    public static string For(IEnumerable<string> args)
    {
        foreach (var arg in args)
        {
            if (arg.Length < 2 || arg[0] != '-' || !(char.IsLetter(arg[1]) || arg[1] == '-')) continue;
            var name = arg.Split('=', ':')[0];
            if (Known.Contains(name, StringComparer.Ordinal)) continue;
            var best = Known.MinBy(k => Distance(name, k))!;
            return Distance(name, best) <= Math.Max(2, best.Length / 3) ? $" Did you mean '{best}'?" : "";
        }

        return "";
    }

    /// <summary>Levenshtein distance (insertions, deletions, substitutions; adjacent swaps count 2).</summary>
    internal static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        var current = new int[b.Length + 1];
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}

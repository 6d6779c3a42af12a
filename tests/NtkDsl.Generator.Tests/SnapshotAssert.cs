using System.Runtime.CompilerServices;

namespace NtkDsl.Generator.Tests;

/// <summary>
/// Snapshot assertions in Verify's file layout, so Verify can replace this helper when it can be restored:
/// Snapshots/{Class}.{Test}#{HintName}.verified.cs whose first line is "//HintName: {HintName}", and
/// Snapshots/{Class}.{Test}.verified.txt for text. On a mismatch a .received. file is written next to
/// it and the test fails; set NTKDSL_ACCEPT_SNAPSHOTS=1 to accept received output as verified.
/// </summary>
internal static class SnapshotAssert
{
    public static void MatchesGenerated(string hintName, string source, string className, string testName, [CallerFilePath] string callerFile = "") =>
        Match($"{className}.{testName}#{hintName.Replace(".cs", "")}", ".cs", $"//HintName: {hintName}\n" + Scrub(source), callerFile);

    public static void MatchesText(string text, string className, string testName, [CallerFilePath] string callerFile = "") =>
        Match($"{className}.{testName}", ".txt", text, callerFile);

    // The generator version changes every release; snapshots must not.
    private static string Scrub(string source) =>
        System.Text.RegularExpressions.Regex.Replace(source, "GeneratedCode\\(\"NtkDsl.Generator\", \"[^\"]*\"\\)", "GeneratedCode(\"NtkDsl.Generator\", \"{version}\")");

    private static void Match(string name, string extension, string actual, string callerFile)
    {
        actual = actual.Replace("\r\n", "\n");
        var directory = Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots");
        Directory.CreateDirectory(directory);
        var verified = Path.Combine(directory, $"{name}.verified{extension}");
        var received = Path.Combine(directory, $"{name}.received{extension}");
        var expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n") : null;
        if (expected == actual)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }

        if (Environment.GetEnvironmentVariable("NTKDSL_ACCEPT_SNAPSHOTS") == "1")
        {
            File.WriteAllText(verified, actual);
            if (File.Exists(received)) File.Delete(received);
            return;
        }

        File.WriteAllText(received, actual);
        Xunit.Assert.Fail(expected is null
            ? $"No verified snapshot {verified}. Review {received} and accept it (NTKDSL_ACCEPT_SNAPSHOTS=1)."
            : $"Snapshot {verified} differs from the generated output written to {received}.");
    }
}

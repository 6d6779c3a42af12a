using System.Text.Json;

namespace NtkDsl.Tests.Support;

/// <summary>
/// Locates ../shared/reference (values computed independently of this code) for every test project:
/// NTKDSL_REFERENCE_DIR if set, else the shared/reference folder beside the repository root (the folder
/// holding NtkDsl.sln).
/// </summary>
public static class ReferenceData
{
    public static string Directory
    {
        get
        {
            var fromEnvironment = Environment.GetEnvironmentVariable("NTKDSL_REFERENCE_DIR");
            if (!string.IsNullOrEmpty(fromEnvironment)) return fromEnvironment;
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "NtkDsl.sln"))) continue;
                var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "reference"));
                if (System.IO.Directory.Exists(candidate)) return candidate;
                throw new DirectoryNotFoundException($"Reference data not found at {candidate}; set NTKDSL_REFERENCE_DIR.");
            }
            throw new DirectoryNotFoundException("NtkDsl.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public static JsonElement Load(string fileName) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, fileName))).RootElement;

    public static double[] Vector(JsonElement e) => e.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    public static Matrix<double> Matrix(JsonElement e) =>
        Matrix<double>.FromRows(e.EnumerateArray().Select(Vector).ToList());

    /// <summary>Flattens a nested array of any depth in row-major order.</summary>
    public static double[] Flatten(JsonElement e) => e.ValueKind == JsonValueKind.Array
        ? e.EnumerateArray().SelectMany(Flatten).ToArray()
        : [e.GetDouble()];
}

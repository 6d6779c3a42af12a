using System.Text.Json;

namespace NtkDsl.Tests.Support;

/// <summary>
/// Reads the reference values of tests/reference (computed independently of this code; see its README.md),
/// which every test project that uses them copies to reference/ beside its assembly.
/// </summary>
public static class ReferenceData
{
    /// <summary>The folder holding the reference files in the test output.</summary>
    public static string Directory { get; } = Path.Combine(AppContext.BaseDirectory, "reference");

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

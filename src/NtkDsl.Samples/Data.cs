using System.Globalization;
using NtkDsl.IO;

namespace NtkDsl.Samples;

/// <summary>Inputs on the unit circle and the regression task of the tour.</summary>
internal static class Data
{
    /// <summary>The target function on the circle, f*(gamma).</summary>
    public static double Target(double gamma) => Math.Sin(2 * gamma) + 0.4 * Math.Cos(3 * gamma);

    /// <summary>M angles evenly spaced in [from, to].</summary>
    public static double[] Angles(int m, double from = -Math.PI, double to = Math.PI) =>
        Enumerable.Range(0, m).Select(i => from + (to - from) * i / (m - 1)).ToArray();

    /// <summary>Rows (cos gamma, sin gamma).</summary>
    public static Matrix<double> Circle(IReadOnlyList<double> gammas)
    {
        var x = new Matrix<double>(gammas.Count, 2);
        for (int i = 0; i < gammas.Count; i++)
        {
            x[i, 0] = Math.Cos(gammas[i]);
            x[i, 1] = Math.Sin(gammas[i]);
        }

        return x;
    }

    /// <summary>Targets [N, 1].</summary>
    public static Matrix<double> Targets(IReadOnlyList<double> gammas) => new(gammas.Count, 1, gammas.Select(Target).ToArray());

    /// <summary>Stacks the rows of a and b.</summary>
    public static Matrix<double> Stack(Matrix<double> a, Matrix<double> b) => new(a.Rows + b.Rows, a.Cols, [.. a.Data, .. b.Data]);

    /// <summary>Rows [start, start + count).</summary>
    public static Matrix<double> Rows(Matrix<double> a, int start, int count) => new(count, a.Cols, a.Data.AsSpan(start * a.Cols, count * a.Cols).ToArray());

    /// <summary>Reads inputs from .npy or .csv (comma/semicolon/whitespace separated, optional header line).</summary>
    public static Matrix<double> ReadInputs(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Input file '{path}' does not exist.", path);
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return Npy.ReadMatrix<double>(path);
        if (path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase)) return ReadCsv(path);
        throw new ArgumentException($"'{path}': expected a .npy or .csv file.", nameof(path));
    }

    /// <summary>A CSV of numbers; a first line that does not parse as numbers is taken as a header.</summary>
    public static Matrix<double> ReadCsv(string path)
    {
        var rows = new List<double[]>();
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var cells = line.Split([',', ';', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            var values = new double[cells.Length];
            bool ok = true;
            for (int i = 0; i < cells.Length && ok; i++)
                ok = double.TryParse(cells[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]);
            if (!ok)
            {
                if (rows.Count == 0 && lineNo == 1) continue;   // header
                throw new FormatException($"'{path}' line {lineNo}: '{raw}' is not a row of numbers.");
            }

            if (rows.Count > 0 && values.Length != rows[0].Length)
                throw new FormatException($"'{path}' line {lineNo}: {values.Length} columns, but the first row has {rows[0].Length}.");
            if (values.Any(v => !double.IsFinite(v)))
                throw new FormatException($"'{path}' line {lineNo}: NaN or infinite value.");
            rows.Add(values);
        }

        if (rows.Count == 0) throw new FormatException($"'{path}' holds no rows of numbers.");
        return Matrix<double>.FromRows(rows);
    }
}

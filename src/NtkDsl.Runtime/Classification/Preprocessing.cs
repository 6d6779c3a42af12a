namespace NtkDsl.Classification;

/// <summary>
/// Per-feature standardization fitted on training data: x' = (x - mean) / std, column by column. Apply the
/// same instance to the test set so both use the training statistics. Constant columns (std below
/// <see cref="MinStd"/>, e.g. border pixels that are always 0) are only centered.
/// </summary>
public sealed class Standardizer
{
    /// <summary>Columns whose standard deviation is below this are centered but not scaled.</summary>
    public const double MinStd = 1e-12;

    private Standardizer(double[] mean, double[] std)
    {
        Mean = mean;
        Std = std;
    }

    /// <summary>Per-column means of the training data.</summary>
    public IReadOnlyList<double> Mean { get; }

    /// <summary>Per-column divisors: the population standard deviation, or 1 for constant columns.</summary>
    public IReadOnlyList<double> Std { get; }

    /// <summary>Fits column means and standard deviations (population, 1/N) on <paramref name="x"/>.</summary>
    /// <param name="x">Training inputs [N &gt;= 1, d], finite.</param>
    public static Standardizer Fit(Matrix<double> x)
    {
        ClassificationChecks.RequireInputs(x, nameof(x));
        int n = x.Rows, d = x.Cols;
        var mean = new double[d];
        var std = new double[d];
        for (int i = 0; i < n; i++)
        {
            var row = x.Row(i);
            for (int j = 0; j < d; j++) mean[j] += row[j];
        }

        for (int j = 0; j < d; j++) mean[j] /= n;
        for (int i = 0; i < n; i++)
        {
            var row = x.Row(i);
            for (int j = 0; j < d; j++) std[j] += (row[j] - mean[j]) * (row[j] - mean[j]);
        }

        for (int j = 0; j < d; j++)
        {
            double s = Math.Sqrt(std[j] / n);
            std[j] = s < MinStd ? 1.0 : s;
        }

        return new Standardizer(mean, std);
    }

    /// <summary>Returns (x - mean) / std as a new matrix.</summary>
    /// <param name="x">Inputs [N, d] with the d of the fitted data, finite.</param>
    public Matrix<double> Transform(Matrix<double> x)
    {
        ClassificationChecks.RequireInputs(x, nameof(x));
        if (x.Cols != Mean.Count)
            throw new ArgumentException($"'{nameof(x)}' must have {Mean.Count} columns like the data the standardizer was fitted on, but has shape [{x.Rows}, {x.Cols}].", nameof(x));
        var result = new Matrix<double>(x.Rows, x.Cols);
        int d = x.Cols;
        for (int i = 0; i < x.Rows; i++)
        {
            var src = x.Row(i);
            var dst = result.Row(i);
            for (int j = 0; j < d; j++) dst[j] = (src[j] - Mean[j]) / Std[j];
        }

        return result;
    }
}

/// <summary>Class labels as regression targets and back.</summary>
public static class Labels
{
    /// <summary>One-hot targets [N, classCount]: row i has <paramref name="on"/> in column labels[i], <paramref name="off"/> elsewhere.</summary>
    /// <param name="labels">Class indices in [0, classCount).</param>
    /// <param name="classCount">Number of classes, &gt;= 2.</param>
    /// <param name="off">Value of the other columns (0 by default).</param>
    /// <param name="on">Value of the label's column (1 by default).</param>
    public static Matrix<double> OneHot(IReadOnlyList<int> labels, int classCount, double off = 0.0, double on = 1.0)
    {
        ClassificationChecks.RequireLabels(labels, classCount, nameof(labels));
        if (!double.IsFinite(off) || !double.IsFinite(on))
            throw new ArgumentException($"'{nameof(off)}' and '{nameof(on)}' must be finite, got {off} and {on}.", nameof(on));
        var y = new Matrix<double>(labels.Count, classCount);
        Array.Fill(y.Data, off);
        for (int i = 0; i < labels.Count; i++) y[i, labels[i]] = on;
        return y;
    }

    /// <summary>The column of the largest score in every row (the first one on ties): predicted classes.</summary>
    /// <param name="scores">Scores [N, classCount], finite.</param>
    public static int[] ArgMax(Matrix<double> scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Cols == 0)
            throw new ArgumentException($"'{nameof(scores)}' must have at least one column, but has shape [{scores.Rows}, {scores.Cols}].", nameof(scores));
        var result = new int[scores.Rows];
        for (int i = 0; i < scores.Rows; i++)
        {
            var row = scores.Row(i);
            int best = 0;
            for (int k = 0; k < row.Length; k++)
            {
                if (!double.IsFinite(row[k]))
                    throw new ArgumentException($"'{nameof(scores)}' contains {row[k]} at [{i}, {k}]; scores must be finite.", nameof(scores));
                if (row[k] > row[best]) best = k;
            }

            result[i] = best;
        }

        return result;
    }
}

internal static class ClassificationChecks
{
    public static void RequireInputs(Matrix<double> x, string name)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        if (x.Rows == 0 || x.Cols == 0)
            throw new ArgumentException($"'{name}' must have shape [N >= 1, d >= 1], but has shape [{x.Rows}, {x.Cols}].", name);
        var data = x.Data;
        for (int i = 0; i < data.Length; i++)
            if (!double.IsFinite(data[i]))
                throw new ArgumentException($"'{name}' contains {data[i]} at [{i / x.Cols}, {i % x.Cols}]; inputs must be finite.", name);
    }

    public static void RequireLabels(IReadOnlyList<int> labels, int classCount, string name)
    {
        ArgumentNullException.ThrowIfNull(labels, name);
        if (classCount < 2) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "classCount must be >= 2.");
        for (int i = 0; i < labels.Count; i++)
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"'{name}' has label {labels[i]} at index {i}; labels must be in [0, {classCount}).", name);
    }
}

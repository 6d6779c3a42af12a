namespace NtkDsl.Classification;

/// <summary>Accuracy, confusion matrix and per-class accuracy of predicted against true labels.</summary>
public sealed class ClassificationMetrics
{
    private ClassificationMetrics(int[,] confusion, int count)
    {
        Confusion = confusion;
        Count = count;
        int c = confusion.GetLength(0), correct = 0;
        var perClass = new double[c];
        for (int k = 0; k < c; k++)
        {
            int support = 0;
            for (int j = 0; j < c; j++) support += confusion[k, j];
            correct += confusion[k, k];
            perClass[k] = support == 0 ? double.NaN : confusion[k, k] / (double)support;
        }

        Correct = correct;
        Accuracy = correct / (double)count;
        PerClassAccuracy = perClass;
    }

    /// <summary>Number of samples scored.</summary>
    public int Count { get; }

    /// <summary>Number of samples whose predicted class is the true one.</summary>
    public int Correct { get; }

    /// <summary>Correct / Count.</summary>
    public double Accuracy { get; }

    /// <summary>Confusion[true class, predicted class] = number of samples.</summary>
    public int[,] Confusion { get; }

    /// <summary>Per true class, the fraction predicted correctly (recall); NaN for a class with no samples.</summary>
    public IReadOnlyList<double> PerClassAccuracy { get; }

    /// <summary>Compares predictions with the truth.</summary>
    /// <param name="predicted">Predicted classes, in [0, classCount).</param>
    /// <param name="actual">True classes, same length, in [0, classCount).</param>
    /// <param name="classCount">Number of classes, &gt;= 2.</param>
    public static ClassificationMetrics Compute(IReadOnlyList<int> predicted, IReadOnlyList<int> actual, int classCount)
    {
        ClassificationChecks.RequireLabels(predicted, classCount, nameof(predicted));
        ClassificationChecks.RequireLabels(actual, classCount, nameof(actual));
        if (predicted.Count != actual.Count || actual.Count == 0)
            throw new ArgumentException($"'{nameof(predicted)}' ({predicted.Count}) and '{nameof(actual)}' ({actual.Count}) must have the same, non-zero length.", nameof(predicted));
        var confusion = new int[classCount, classCount];
        for (int i = 0; i < actual.Count; i++) confusion[actual[i], predicted[i]]++;
        return new ClassificationMetrics(confusion, actual.Count);
    }
}

/// <summary>Deterministic stratified sampling of labeled data (a seed gives the same indices on every platform).</summary>
public static class Stratified
{
    /// <summary>
    /// Indices (ascending) of <paramref name="count"/> samples drawn without replacement, with every class
    /// represented in proportion to its frequency (largest-remainder rounding).
    /// </summary>
    /// <param name="labels">Class of each sample, &gt;= 0.</param>
    /// <param name="count">How many to take, 1 .. labels.Count.</param>
    /// <param name="seed">Shuffle seed.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> exceeds the number of samples (never silently truncated).</exception>
    public static int[] Sample(IReadOnlyList<int> labels, int count, int seed)
    {
        var (chosen, _) = Split(labels, count, seed);
        return chosen;
    }

    /// <summary>
    /// Splits the samples into a stratified part of <paramref name="count"/> samples and the rest (both ascending).
    /// </summary>
    /// <param name="labels">Class of each sample, &gt;= 0.</param>
    /// <param name="count">Size of the first part, 1 .. labels.Count.</param>
    /// <param name="seed">Shuffle seed.</param>
    public static (int[] Chosen, int[] Remaining) Split(IReadOnlyList<int> labels, int count, int seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        int n = labels.Count;
        if (count < 1 || count > n)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"count must be in [1, {n}] (the number of samples available); got {count}.");
        int classes = 0;
        for (int i = 0; i < n; i++)
        {
            if (labels[i] < 0) throw new ArgumentException($"'{nameof(labels)}' has label {labels[i]} at index {i}; labels must be >= 0.", nameof(labels));
            classes = Math.Max(classes, labels[i] + 1);
        }

        var byClass = new List<int>[classes];
        for (int k = 0; k < classes; k++) byClass[k] = [];
        for (int i = 0; i < n; i++) byClass[labels[i]].Add(i);

        // Largest-remainder quotas: floor(count n_k / n), then one more for the largest remainders (ties: lower class).
        var quota = new int[classes];
        var remainder = new (long Remainder, int Class)[classes];
        int assigned = 0;
        for (int k = 0; k < classes; k++)
        {
            long exact = (long)count * byClass[k].Count;
            quota[k] = (int)(exact / n);
            remainder[k] = (exact % n, k);
            assigned += quota[k];
        }

        Array.Sort(remainder, (a, b) => a.Remainder != b.Remainder ? b.Remainder.CompareTo(a.Remainder) : a.Class.CompareTo(b.Class));
        for (int r = 0; assigned < count; r++, assigned++) quota[remainder[r].Class]++;

        var rng = new SplitMix64(seed);
        var chosen = new List<int>(count);
        var rest = new List<int>(n - count);
        for (int k = 0; k < classes; k++)
        {
            var members = byClass[k].ToArray();
            rng.Shuffle(members);
            chosen.AddRange(members.AsSpan(0, quota[k]).ToArray());
            rest.AddRange(members.AsSpan(quota[k]).ToArray());
        }

        var c = chosen.ToArray();
        var o = rest.ToArray();
        Array.Sort(c);
        Array.Sort(o);
        return (c, o);
    }

    /// <summary>The rows of <paramref name="x"/> at <paramref name="indices"/>, in that order.</summary>
    /// <param name="x">Any matrix.</param>
    /// <param name="indices">Row indices in [0, x.Rows).</param>
    public static Matrix<double> Rows(Matrix<double> x, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(indices);
        var result = new Matrix<double>(indices.Count, x.Cols);
        for (int i = 0; i < indices.Count; i++)
        {
            if ((uint)indices[i] >= (uint)x.Rows)
                throw new ArgumentOutOfRangeException(nameof(indices), indices[i], $"Row index {indices[i]} at position {i} is outside [0, {x.Rows}).");
            x.Row(indices[i]).CopyTo(result.Row(i));
        }

        return result;
    }

    /// <summary>The block K[rows, cols] of a kernel matrix.</summary>
    /// <param name="k">A kernel matrix.</param>
    /// <param name="rows">Row indices.</param>
    /// <param name="cols">Column indices.</param>
    public static Matrix<double> Block(Matrix<double> k, IReadOnlyList<int> rows, IReadOnlyList<int> cols)
    {
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(cols);
        var result = new Matrix<double>(rows.Count, cols.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            var src = k.Row(rows[i]);
            var dst = result.Row(i);
            for (int j = 0; j < cols.Count; j++) dst[j] = src[cols[j]];
        }

        return result;
    }

    /// <summary>The elements of <paramref name="values"/> at <paramref name="indices"/>.</summary>
    /// <param name="values">Any list.</param>
    /// <param name="indices">Positions in it.</param>
    public static int[] Select(IReadOnlyList<int> values, IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(indices);
        var result = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++) result[i] = values[indices[i]];
        return result;
    }
}

using System.Numerics;

namespace NtkDsl;

/// <summary>
/// A training loss L(f, y) over a batch of outputs f [N, O], already normalized (a mean), with its gradient
/// dL/df. <see cref="Trainer{T}"/> back-propagates that gradient through the model.
/// </summary>
public interface ITrainingLoss
{
    /// <summary>A short name for logs.</summary>
    string Name { get; }

    /// <summary>Returns L(outputs, targets) and, if <paramref name="gradient"/> is not null, writes dL/df into it.</summary>
    /// <typeparam name="T">float or double; the loss value is accumulated in double.</typeparam>
    /// <param name="outputs">Model outputs f [N, O].</param>
    /// <param name="targets">Targets y [N, O].</param>
    /// <param name="gradient">Null, or a destination [N, O] for dL/df.</param>
    double Evaluate<T>(Matrix<T> outputs, Matrix<T> targets, Matrix<T>? gradient) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>
/// The built-in training losses, both normalized by n_y = N O (the number of scalar outputs in the batch),
/// neural-tangents' convention and the one of <see cref="GradientDescentMse"/> and <see cref="OdeDynamics"/>:
/// full-batch gradient descent with learning rate eta on these losses is the discrete counterpart of those
/// function-space dynamics with the same eta.
/// </summary>
public static class TrainingLosses
{
    /// <summary>L = 1/(2 N O) sum (f - y)^2 (1/2 mean squared error); dL/df = (f - y) / (N O).</summary>
    public static ITrainingLoss MeanSquaredError { get; } = new MseLoss();

    /// <summary>
    /// L = -1/(N O) sum_n sum_o y_no log softmax(f_n)_o, neural-tangents' -mean(y * log_softmax(f)); targets are
    /// one-hot rows or probabilities. This is the usual per-sample mean cross-entropy divided by O: multiply the
    /// learning rate by O to get the per-sample convention (PyTorch's CrossEntropyLoss).
    /// dL/df_n = (softmax(f_n) sum_o y_no - y_n) / (N O).
    /// </summary>
    public static ITrainingLoss SoftmaxCrossEntropy { get; } = new CrossEntropyLoss();

    internal static void CheckShapes<T>(Matrix<T> outputs, Matrix<T> targets, Matrix<T>? gradient) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Rows != outputs.Rows || targets.Cols != outputs.Cols)
            throw new ArgumentException($"'{nameof(targets)}' must have the shape of the outputs [{outputs.Rows}, {outputs.Cols}], but has shape [{targets.Rows}, {targets.Cols}].", nameof(targets));
        if (gradient is not null && (gradient.Rows != outputs.Rows || gradient.Cols != outputs.Cols))
            throw new ArgumentException($"'{nameof(gradient)}' must have the shape of the outputs [{outputs.Rows}, {outputs.Cols}], but has shape [{gradient.Rows}, {gradient.Cols}].", nameof(gradient));
        if (outputs.Data.Length == 0)
            throw new ArgumentException("The loss needs at least one sample and one output.", nameof(outputs));
    }

    private sealed class MseLoss : ITrainingLoss
    {
        public string Name => "mse";

        public double Evaluate<T>(Matrix<T> outputs, Matrix<T> targets, Matrix<T>? gradient) where T : unmanaged, IFloatingPointIeee754<T>
        {
            CheckShapes(outputs, targets, gradient);
            var f = outputs.Data;
            var y = targets.Data;
            double sum = 0;
            T invN = T.One / T.CreateChecked(f.Length);
            for (int i = 0; i < f.Length; i++)
            {
                T d = f[i] - y[i];
                sum += double.CreateChecked(d) * double.CreateChecked(d);
                if (gradient is not null) gradient.Data[i] = d * invN;
            }
            return 0.5 * sum / f.Length;
        }
    }

    private sealed class CrossEntropyLoss : ITrainingLoss
    {
        public string Name => "softmax-cross-entropy";

        public double Evaluate<T>(Matrix<T> outputs, Matrix<T> targets, Matrix<T>? gradient) where T : unmanaged, IFloatingPointIeee754<T>
        {
            CheckShapes(outputs, targets, gradient);
            int n = outputs.Rows, o = outputs.Cols;
            double invN = 1.0 / (n * (double)o), loss = 0;
            for (int r = 0; r < n; r++)
            {
                var f = outputs.Data.AsSpan(r * o, o);
                var y = targets.Data.AsSpan(r * o, o);
                double max = double.NegativeInfinity;
                for (int k = 0; k < o; k++) max = Math.Max(max, double.CreateChecked(f[k]));
                double sumExp = 0, ySum = 0;
                for (int k = 0; k < o; k++) sumExp += Math.Exp(double.CreateChecked(f[k]) - max);
                double lse = max + Math.Log(sumExp);
                for (int k = 0; k < o; k++)
                {
                    double yk = double.CreateChecked(y[k]);
                    ySum += yk;
                    loss -= yk * (double.CreateChecked(f[k]) - lse);
                }
                if (gradient is null) continue;
                var g = gradient.Data.AsSpan(r * o, o);
                for (int k = 0; k < o; k++)
                    g[k] = T.CreateChecked((Math.Exp(double.CreateChecked(f[k]) - lse) * ySum - double.CreateChecked(y[k])) * invN);
            }
            return loss * invN;
        }
    }
}

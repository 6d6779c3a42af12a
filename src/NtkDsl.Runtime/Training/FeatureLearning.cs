using NtkDsl.Backends;
using NtkDsl.Cpu;

namespace NtkDsl;

/// <summary>
/// What one training run did to a network's kernels (see <see cref="FeatureLearning.Measure{TNet}"/>): how far the
/// empirical NTK and the last hidden layer's kernel moved, and how well that kernel aligns with the targets before and after.
/// </summary>
/// <param name="Width">Width of the last hidden layer (fan-in of the output layer).</param>
/// <param name="KernelChange">||Theta_T - Theta_0||_F / ||Theta_0||_F of the empirical NTK (trace over outputs) on the training inputs.</param>
/// <param name="FeatureKernelChange">||K_T - K_0||_F / ||K_0||_F of the last hidden layer's kernel (<see cref="FeatureLearning.LastHiddenKernel{TNet}"/>).</param>
/// <param name="InitialAlignment">Centered alignment of K_0 with the targets (<see cref="FeatureLearning.CenteredAlignment"/>).</param>
/// <param name="FinalAlignment">Centered alignment of K_T with the targets.</param>
/// <param name="InitialLoss">Training loss at theta_0.</param>
/// <param name="FinalLoss">Training loss after the run.</param>
public sealed record RegimeMeasurement(int Width, double KernelChange, double FeatureKernelChange, double InitialAlignment, double FinalAlignment,
    double InitialLoss, double FinalLoss)
{
    /// <summary>FinalAlignment - InitialAlignment: how much training turned the representation towards the targets.</summary>
    public double AlignmentChange => FinalAlignment - InitialAlignment;
}

/// <summary>
/// Measures of the lazy (kernel) and feature-learning regimes: the kernel of a network's last hidden layer, its
/// alignment with the targets, and one training run's effect on both and on the empirical NTK. Under NTK parameterization
/// these changes vanish as the width grows (the kernel regime); under mean-field and maximal-update parameterization they
/// stay of order one (Yang &amp; Hu 2021). Runs in float64 on the CPU backend.
/// </summary>
public static class FeatureLearning
{
    /// <summary>
    /// The kernel of the last hidden layer's representation a(x) (the input of the output layer, of width n):
    /// K[i, j] = &lt;a(x_i), a(x_j)&gt; / n, [N, N]. It is read from the gradient of the first output with respect to the
    /// output layer's first row of weights, which is m a(x) (m that layer's forward multiplier), one VJP per sample.
    /// </summary>
    /// <param name="parameters">theta, length P.</param>
    /// <param name="x">Inputs [N, d].</param>
    public static Matrix<double> LastHiddenKernel<TNet>(double[] parameters, Matrix<double> x) where TNet : INetwork<TNet>
    {
        ArgumentNullException.ThrowIfNull(x);
        var description = TNet.Description;
        if (description.Layers[^1] is not DenseLayer output)
            throw new ArgumentException($"{description.Name} must end in a Dense layer to have a last hidden layer; it ends in {description.Layers[^1]}.", nameof(TNet));
        double m = output.WeightScale(description.Abc);
        if (m == 0) throw new ArgumentException($"The output layer of {description.Name} has forward multiplier 0 (WeightStd = 0), so its input cannot be read from its gradient.", nameof(TNet));
        int n = output.Inputs;
        var features = new double[x.Rows][];
        var row = new Matrix<double>(1, x.Cols);
        var seed = new Matrix<double>(1, TNet.OutputSize);
        seed[0, 0] = 1;
        for (int i = 0; i < x.Rows; i++)
        {
            Array.Copy(x.Data, i * x.Cols, row.Data, 0, x.Cols);
            var gradient = CpuNetwork<TNet, double>.Vjp(parameters, row, seed);
            features[i] = gradient.AsSpan(output.WeightOffset, n).ToArray();
        }

        var kernel = new Matrix<double>(x.Rows, x.Rows);
        for (int i = 0; i < x.Rows; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = 0;
                for (int k = 0; k < n; k++) s += features[i][k] * features[j][k];
                kernel[i, j] = kernel[j, i] = s / (m * m * n);
            }
        return kernel;
    }

    /// <summary>
    /// Centered kernel alignment (Cortes, Mohri &amp; Rostamizadeh 2012) of <paramref name="kernel"/> [N, N] with the
    /// targets Y [N, O]: &lt;H K H, H Y Y^T H&gt;_F / (||H K H||_F ||H Y Y^T H||_F) with H = I - 11^T / N, in [-1, 1]
    /// (1: the kernel is a multiple of the targets' Gram). NaN when either centered matrix is zero.
    /// </summary>
    /// <param name="kernel">A symmetric kernel matrix [N, N].</param>
    /// <param name="targets">Targets [N, O].</param>
    public static double CenteredAlignment(Matrix<double> kernel, Matrix<double> targets)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(targets);
        int n = kernel.Rows;
        if (kernel.Cols != n || targets.Rows != n)
            throw new ArgumentException($"Expected a kernel [N, N] and targets [N, O] with the same N; got kernel [{kernel.Rows}, {kernel.Cols}] and targets [{targets.Rows}, {targets.Cols}].", nameof(targets));
        var kc = Center(kernel);
        var yy = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int o = 0; o < targets.Cols; o++) s += targets[i, o] * targets[j, o];
                yy[i, j] = s;
            }
        var yc = Center(yy);
        double dot = 0, kk = 0, cc = 0;
        for (int i = 0; i < kc.Data.Length; i++)
        {
            dot += kc.Data[i] * yc.Data[i];
            kk += kc.Data[i] * kc.Data[i];
            cc += yc.Data[i] * yc.Data[i];
        }
        return kk == 0 || cc == 0 ? double.NaN : dot / Math.Sqrt(kk * cc);
    }

    /// <summary>
    /// Trains a copy of <paramref name="initialParameters"/> on (x, y) by full-batch gradient descent on the 1/2-mean MSE
    /// (<see cref="Sgd{T}"/> at <paramref name="learningRate"/> with the network's per-layer learning-rate multipliers) for
    /// <paramref name="steps"/> steps and reports how the empirical NTK and the last hidden layer's kernel moved.
    /// </summary>
    /// <param name="initialParameters">theta_0, length P (not modified).</param>
    /// <param name="x">Training inputs [N, d] (also where the kernels are compared).</param>
    /// <param name="y">Targets [N, O].</param>
    /// <param name="learningRate">eta &gt; 0.</param>
    /// <param name="steps">Gradient-descent steps, &gt;= 1.</param>
    /// <exception cref="TrainingDivergedException">The learning rate is too large for this network.</exception>
    public static RegimeMeasurement Measure<TNet>(double[] initialParameters, Matrix<double> x, Matrix<double> y, double learningRate, int steps)
        where TNet : INetwork<TNet>
    {
        ArgumentNullException.ThrowIfNull(initialParameters);
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var trainer = new Trainer<double>(new NetworkModel<TNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(learningRate));
        var ntk0 = CpuNetwork<TNet, double>.Ntk(initialParameters, x);
        var k0 = LastHiddenKernel<TNet>(initialParameters, x);
        double loss0 = trainer.Evaluate(initialParameters, x, y);
        var theta = (double[])initialParameters.Clone();
        trainer.Train(theta, x, y, new TrainingOptions<double> { Epochs = steps });
        var k = LastHiddenKernel<TNet>(theta, x);
        return new RegimeMeasurement(((DenseLayer)TNet.Description.Layers[^1]).Inputs,
            RelativeChange(CpuNetwork<TNet, double>.Ntk(theta, x), ntk0), RelativeChange(k, k0),
            CenteredAlignment(k0, y), CenteredAlignment(k, y), loss0, trainer.Evaluate(theta, x, y));
    }

    /// <summary>
    /// The training loss (1/2-mean MSE) after <paramref name="steps"/> full-batch gradient-descent steps at
    /// <paramref name="learningRate"/> (with the network's per-layer multipliers) from a copy of
    /// <paramref name="initialParameters"/>; +infinity when training diverges. One point of a learning-rate sweep.
    /// </summary>
    /// <param name="initialParameters">theta_0, length P (not modified).</param>
    /// <param name="x">Training inputs [N, d].</param>
    /// <param name="y">Targets [N, O].</param>
    /// <param name="learningRate">eta &gt; 0.</param>
    /// <param name="steps">Gradient-descent steps, &gt;= 0.</param>
    public static double LossAfterTraining<TNet>(double[] initialParameters, Matrix<double> x, Matrix<double> y, double learningRate, int steps)
        where TNet : INetwork<TNet>
    {
        ArgumentNullException.ThrowIfNull(initialParameters);
        var trainer = new Trainer<double>(new NetworkModel<TNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(learningRate));
        var theta = (double[])initialParameters.Clone();
        try
        {
            trainer.Train(theta, x, y, new TrainingOptions<double> { Epochs = steps });
        }
        catch (TrainingDivergedException)
        {
            return double.PositiveInfinity;
        }

        double loss = trainer.Evaluate(theta, x, y);
        return double.IsFinite(loss) ? loss : double.PositiveInfinity;
    }

    private static Matrix<double> Center(Matrix<double> k)
    {
        int n = k.Rows;
        var rowMean = new double[n];
        double mean = 0;
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = 0; j < n; j++) s += k[i, j];
            rowMean[i] = s / n;
            mean += s / ((double)n * n);
        }
        var c = new Matrix<double>(n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) c[i, j] = k[i, j] - rowMean[i] - rowMean[j] + mean;   // K symmetric: column means = row means
        return c;
    }

    private static double RelativeChange(Matrix<double> a, Matrix<double> b)
    {
        double d = 0, s = 0;
        for (int i = 0; i < a.Data.Length; i++)
        {
            d += (a.Data[i] - b.Data[i]) * (a.Data[i] - b.Data[i]);
            s += b.Data[i] * b.Data[i];
        }
        return Math.Sqrt(d / s);
    }
}

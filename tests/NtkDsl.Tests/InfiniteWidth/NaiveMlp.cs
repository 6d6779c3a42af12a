namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// A deliberately plain finite-width MLP (loops only, no library code but <see cref="Activation"/>'s
/// Evaluate/Derivative): forward pass, explicit per-sample gradient over all parameters by backpropagation,
/// and the empirical NNGP and NTK. An independent check of the infinite-width recursion.
/// Parameters follow the public layout: per Dense layer W [out, in] row-major, then b.
/// </summary>
internal sealed class NaiveMlp(NetworkDescription network)
{
    public double[] Parameters { get; } = new double[network.ParameterCount];

    /// <summary>
    /// NTK parameterization: W, b ~ N(0, 1). Standard: W ~ N(0, sw^2 / fan_in), b ~ N(0, sb^2).
    /// </summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        foreach (var d in network.DenseLayers)
        {
            bool ntk = network.Parameterization == Parameterization.Ntk;
            double wScale = ntk ? 1 : d.WeightStd / Math.Sqrt(d.Inputs);
            double bScale = ntk ? 1 : d.BiasStd;
            for (int i = 0; i < d.Width * d.Inputs; i++) Parameters[d.WeightOffset + i] = wScale * InfiniteWidthTestSupport.Gaussian(rng);
            if (d.HasBias)
                for (int i = 0; i < d.Width; i++) Parameters[d.BiasOffset + i] = bScale * InfiniteWidthTestSupport.Gaussian(rng);
        }
    }

    private (double W, double B) Scales(DenseLayer d) => network.Parameterization == Parameterization.Ntk
        ? (d.WeightStd / Math.Sqrt(d.Inputs), d.BiasStd)
        : (1, 1);

    /// <summary>Forward pass; <paramref name="layerInputs"/> receives each layer's input.</summary>
    public double[] Forward(double[] x, List<double[]>? layerInputs = null)
    {
        var a = x;
        foreach (var layer in network.Layers)
        {
            layerInputs?.Add(a);
            switch (layer)
            {
                case DenseLayer d:
                {
                    var (sw, sb) = Scales(d);
                    a = NaiveDense.Forward(d, Parameters, a, sw, sb);
                    break;
                }

                case ActivationLayer act:
                    a = a.Select(act.Activation.Evaluate).ToArray();
                    break;
            }
        }

        return a;
    }

    /// <summary>d f_output(x) / d theta for every parameter, by backpropagation written out.</summary>
    public double[] Gradient(double[] x, int output)
    {
        var inputs = new List<double[]>();
        var f = Forward(x, inputs);
        var grad = new double[Parameters.Length];
        var g = new double[f.Length];
        g[output] = 1;
        for (int l = network.Layers.Count - 1; l >= 0; l--)
        {
            var input = inputs[l];
            switch (network.Layers[l])
            {
                case ActivationLayer act:
                    for (int i = 0; i < g.Length; i++) g[i] *= act.Activation.Derivative(input[i]);
                    break;
                case DenseLayer d:
                {
                    var (sw, sb) = Scales(d);
                    g = NaiveDense.Backward(d, Parameters, input, g, grad, sw, sb);
                    break;
                }
            }
        }

        return grad;
    }

    /// <summary>Empirical NNGP (1/O) sum_k f_k(x_a) f_k(x_b) and NTK J_0 J_0^T (output 0) for the rows of X.</summary>
    public (Matrix<double> Nngp, Matrix<double> Ntk) EmpiricalKernels(Matrix<double> x)
    {
        int n = x.Rows;
        var outputs = new double[n][];
        var jacobian = new double[n][];
        for (int a = 0; a < n; a++)
        {
            var xa = x.Row(a).ToArray();
            outputs[a] = Forward(xa);
            jacobian[a] = Gradient(xa, 0);
        }

        var nngp = NaiveDense.Gram(outputs);
        for (int k = 0; k < nngp.Data.Length; k++) nngp.Data[k] /= outputs[0].Length;
        return (nngp, NaiveDense.Gram(jacobian));
    }
}

/// <summary>The plain-loop Dense layer and Gram matrix the naive networks share.</summary>
internal static class NaiveDense
{
    /// <summary>z = sw W a + sb b, W [Width, Inputs] row-major at the layer's offset.</summary>
    public static double[] Forward(DenseLayer d, double[] parameters, double[] a, double sw, double sb)
    {
        var z = new double[d.Width];
        for (int i = 0; i < d.Width; i++)
        {
            double s = 0;
            int row = d.WeightOffset + i * d.Inputs;
            for (int j = 0; j < d.Inputs; j++) s += parameters[row + j] * a[j];
            z[i] = sw * s + (d.HasBias ? sb * parameters[d.BiasOffset + i] : 0);
        }

        return z;
    }

    /// <summary>Writes d z / d(W, b) contracted with the cotangent <paramref name="g"/> into <paramref name="grad"/>; returns the input cotangent.</summary>
    public static double[] Backward(DenseLayer d, double[] parameters, double[] input, double[] g, double[] grad, double sw, double sb)
    {
        var gIn = new double[d.Inputs];
        for (int i = 0; i < d.Width; i++)
        {
            int row = d.WeightOffset + i * d.Inputs;
            for (int j = 0; j < d.Inputs; j++)
            {
                grad[row + j] = g[i] * sw * input[j];
                gIn[j] += sw * parameters[row + j] * g[i];
            }

            if (d.HasBias) grad[d.BiasOffset + i] = g[i] * sb;
        }

        return gIn;
    }

    /// <summary>G[a, b] = rows[a] . rows[b].</summary>
    public static Matrix<double> Gram(double[][] rows)
    {
        int n = rows.Length;
        var gram = new Matrix<double>(n, n);
        for (int a = 0; a < n; a++)
            for (int b = 0; b <= a; b++)
            {
                double s = 0;
                for (int k = 0; k < rows[a].Length; k++) s += rows[a][k] * rows[b][k];
                gram[a, b] = gram[b, a] = s;
            }

        return gram;
    }
}

using NtkDsl.Backends;

namespace NtkDsl.Tests.Training;

/// <summary>Small seeded data sets for the training tests.</summary>
internal static class TrainingData
{
    /// <summary>x ~ N(0, 1) [n, d] (platform-independent generator).</summary>
    public static Matrix<double> Gaussian(int rows, int cols, int seed, double scale = 1.0)
    {
        var g = new GaussianSource(seed);
        var m = new Matrix<double>(rows, cols);
        for (int i = 0; i < m.Data.Length; i++) m.Data[i] = scale * g.Next();
        return m;
    }

    /// <summary>A smooth regression target y = sin(x . w) + 0.5 cos(x_0) with a fixed w, [n, 1].</summary>
    public static Matrix<double> SmoothTarget(Matrix<double> x)
    {
        var y = new Matrix<double>(x.Rows, 1);
        for (int r = 0; r < x.Rows; r++)
        {
            double s = 0;
            for (int c = 0; c < x.Cols; c++) s += x[r, c] * (0.7 - 0.3 * c);
            y[r, 0] = Math.Sin(s) + 0.5 * Math.Cos(x[r, 0]);
        }
        return y;
    }

    /// <summary>One-hot labels of argmax of a fixed linear map of x, [n, classes].</summary>
    public static Matrix<double> OneHot(Matrix<double> x, int classes)
    {
        var y = new Matrix<double>(x.Rows, classes);
        for (int r = 0; r < x.Rows; r++)
        {
            int best = 0;
            double bestScore = double.NegativeInfinity;
            for (int k = 0; k < classes; k++)
            {
                double s = 0;
                for (int c = 0; c < x.Cols; c++) s += x[r, c] * Math.Cos(1.3 * k + 0.7 * c);
                if (s > bestScore) { bestScore = s; best = k; }
            }
            y[r, best] = 1;
        }
        return y;
    }

    public static double MaxAbsDiff(Matrix<double> a, Matrix<double> b)
    {
        Assert.Equal((b.Rows, b.Cols), (a.Rows, a.Cols));
        double d = 0;
        for (int i = 0; i < a.Data.Length; i++) d = Math.Max(d, Math.Abs(a.Data[i] - b.Data[i]));
        return d;
    }

    public static double MaxAbs(Matrix<double> a) => a.Data.Max(Math.Abs);

    public static Matrix<double> Add(Matrix<double> a, Matrix<double> b, double sb = 1.0)
    {
        var c = new Matrix<double>(a.Rows, a.Cols);
        for (int i = 0; i < c.Data.Length; i++) c.Data[i] = a.Data[i] + sb * b.Data[i];
        return c;
    }

    /// <summary>
    /// Full-batch GD on the 1/2-mean MSE, the same number of steps at the same learning rate, for the network from theta0
    /// and for its linearization around theta0. Returns the trained parameters of both and the linearized model.
    /// </summary>
    public static (double[] Theta, LinearizedModel<TNet, double> Linear, double[] ThetaLin) TrainNetworkAndLinearization<TNet>(
        double[] theta0, Matrix<double> x, Matrix<double> y, double eta, int steps,
        Action<TrainingStep<double>>? onNetworkStep = null, Action<TrainingStep<double>>? onLinearizedStep = null)
        where TNet : INetwork<TNet>
    {
        var theta = (double[])theta0.Clone();
        new Trainer<double>(new NetworkModel<TNet, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(eta))
            .Train(theta, x, y, new TrainingOptions<double> { Epochs = steps, OnStep = onNetworkStep });
        var lin = new LinearizedModel<TNet, double>(theta0);
        var thetaLin = lin.CopyInitialParameters();
        new Trainer<double>(lin, TrainingLosses.MeanSquaredError, new Sgd<double>(eta))
            .Train(thetaLin, x, y, new TrainingOptions<double> { Epochs = steps, OnStep = onLinearizedStep });
        return (theta, lin, thetaLin);
    }
}

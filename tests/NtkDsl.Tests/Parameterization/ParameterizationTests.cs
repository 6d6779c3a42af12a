using System.Reflection;
using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Tests.Empirical;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Parameterizations;

/// <summary>
/// Mean-field and maximal-update parameterization against their formulas written out here (not read from DenseScaling):
/// the per-layer multipliers, initialization and learning rates of Yang et al. 2022 (muTransfer, Table 3, SGD) and of the
/// mean-field form; the generated forward pass against a plain loop with those multipliers; Monte Carlo over seeds of
/// the initial output variance and of every layer's gradient scale at two widths; finite differences for Vjp, Jvp and
/// Jacobian; the empirical NTK against explicit J diag(rho) J^T; one training step against its closed form.
/// </summary>
public sealed class ParameterizationTests
{
    private const double Sw = 1.3, Sb = 0.2;   // the deep test networks' WeightStd and BiasStd (ParameterizationNetworks.cs)

    /// <summary>Per Dense layer: forward multipliers of W and b, their initialization stds, their learning-rate multipliers.</summary>
    private readonly record struct Expected(double Scale, double BiasScale, double Init, double BiasInit, double Rate, double BiasRate);

    // [Dense(7), Tanh][Dense(6, Bias = false), Relu][Dense(5), Erf][Dense(2)] on 3 inputs: input (3 -> 7), hidden (7 -> 6, no
    // bias), hidden (6 -> 5), output (5 -> 2). muP (muTransfer Table 3): input weights and every hidden bias N(0, 1/fan_in)
    // (sigma^2 times) with rate eta fan_out; hidden weights N(0, sigma_w^2/fan_in), rate eta; output weights
    // N(0, sigma_w^2/fan_in^2), rate eta/fan_in; output bias rate eta; multipliers 1.
    private static readonly Expected[] MupTable =
    [
        new(1, 1, Sw / Math.Sqrt(3), Sb, 7, 7),
        new(1, 0, Sw / Math.Sqrt(7), Sb, 1, 0),
        new(1, 1, Sw / Math.Sqrt(6), Sb, 1, 5),
        new(1, 1, Sw / 5, Sb, 1.0 / 5, 1),
    ];

    // Mean field: N(0, 1) parameters, NTK multipliers sigma_w / sqrt(fan_in) except the output layer's sigma_w / fan_in,
    // rate eta n for every weight (n = fan-out of the input layer, fan-in otherwise) and hidden bias (n = fan-out), eta for
    // the output bias.
    private static readonly Expected[] MeanFieldTable =
    [
        new(Sw / Math.Sqrt(3), Sb, 1, 1, 7, 7),
        new(Sw / Math.Sqrt(7), 0, 1, 1, 7, 0),
        new(Sw / Math.Sqrt(6), Sb, 1, 1, 6, 5),
        new(Sw / 5, Sb, 1, 1, 5, 1),
    ];

    public static TheoryData<INetworkCase> Networks() =>
        [new NetworkCase<MupDeep>(), new NetworkCase<MfDeep>(), new NetworkCase<MupLinear>(), new NetworkCase<MupConv>(), new NetworkCase<MfConv>(),
         new NetworkCase<MupConvPositionPairs>(), new NetworkCase<CustomDeep>(), new NetworkCase<CustomConv>()];

    [Fact]
    public void Layer_scalings_of_the_description_are_the_formulas()
    {
        foreach (var (description, table) in new[] { (MupDeep.Description, MupTable), (MfDeep.Description, MeanFieldTable) })
        {
            var layers = description.DenseLayers.ToArray();
            Assert.Equal(table.Length, layers.Length);
            Assert.Equal([LayerRole.Input, LayerRole.Hidden, LayerRole.Hidden, LayerRole.Output], layers.Select(l => l.Role));
            var rates = description.LearningRateMultipliers<double>()!;
            for (int l = 0; l < layers.Length; l++)
            {
                var (d, e, p) = (layers[l], table[l], description.Parameterization);
                string at = $"{description.Name} layer {l + 1}";
                Assert.True(Close(d.WeightScale(p), e.Scale) && Close(d.BiasScale(p), e.BiasScale), at);
                Assert.True(Close(d.WeightInitStd(p), e.Init) && (!d.HasBias || Close(d.BiasInitStd(p), e.BiasInit)), at);
                Assert.All(rates.AsSpan(d.WeightOffset, d.Width * d.Inputs).ToArray(), r => Assert.True(Close(r, e.Rate), at));
                if (d.HasBias) Assert.All(rates.AsSpan(d.BiasOffset, d.Width).ToArray(), r => Assert.True(Close(r, e.BiasRate), at));
            }
        }

        // A convolution's fan-in counts its taps; its width is its output channels (input layer) or fan-in (hidden).
        var conv = MupConv.Description.Layers.OfType<ConvLayer>().ToArray();
        var mupRates = MupConv.Description.LearningRateMultipliers<double>()!;
        Assert.Equal((LayerRole.Input, LayerRole.Hidden), (conv[0].Role, conv[1].Role));
        Assert.True(Close(conv[0].WeightInitStd(Parameterization.MaximalUpdate), 1.2 / Math.Sqrt(18)) && Close(mupRates[conv[0].WeightOffset], 3));
        Assert.True(Close(conv[1].WeightInitStd(Parameterization.MaximalUpdate), 1.2 / Math.Sqrt(27)) && Close(mupRates[conv[1].WeightOffset], 1));
        Assert.True(Close(mupRates[conv[1].BiasOffset], 4));
        var readout = MupConv.Description.DenseLayers.Single();
        Assert.True(readout.Role == LayerRole.Output && Close(readout.WeightInitStd(Parameterization.MaximalUpdate), 1.2 / 4) && Close(mupRates[readout.WeightOffset], 0.25));

        // NTK and standard parameterization: one learning rate, no multipliers at all.
        Assert.Null(NtkRelu64.Description.LearningRateMultipliers<double>());
        Assert.Null(SpRelu64.Description.LearningRateMultipliers<double>());
        Assert.Null(new NetworkModel<SpRelu64, double>().LearningRateMultipliers);
    }

    [Fact]
    public void Generated_forward_pass_uses_the_formula_multipliers()
    {
        foreach (var (net, table) in new (INetworkCase, Expected[])[] { (new NetworkCase<MupDeep>(), MupTable), (new NetworkCase<MfDeep>(), MeanFieldTable) })
        {
            var theta = net.Initialize<double>(seed: 3);
            var x = TestMath.RandomMatrix(5, 3, seed: 4);
            var expected = new Matrix<double>(5, 2);
            var dense = net.Description.DenseLayers.ToArray();
            for (int n = 0; n < 5; n++)
            {
                double[] a = x.Row(n).ToArray();
                int l = 0;
                foreach (var layer in net.Description.Layers)
                {
                    if (layer is ActivationLayer act) { a = [.. a.Select(act.Activation.Evaluate)]; continue; }
                    var (d, e) = (dense[l], table[l++]);
                    a = [.. Enumerable.Range(0, d.Width).Select(i =>
                        e.Scale * Enumerable.Range(0, d.Inputs).Sum(j => theta[d.WeightOffset + i * d.Inputs + j] * a[j]) + (d.HasBias ? e.BiasScale * theta[d.BiasOffset + i] : 0))];
                }
                a.CopyTo(expected.Row(n));
            }
            Assert.True(TestMath.RelativeError(net.Forward(theta, x), expected) < 1e-13, net.ToString());
        }
    }

    [Fact]
    public void Initialization_draws_every_segment_with_the_formula_std()
    {
        // Mean square of each weight and bias segment over 300 seeds (>= 1500 draws): relative standard error of a
        // chi-square mean sqrt(2 / draws) <= 3.7%; 5 standard errors allowed.
        foreach (var (net, table) in new (INetworkCase, Expected[])[] { (new NetworkCase<MupDeep>(), MupTable), (new NetworkCase<MfDeep>(), MeanFieldTable) })
        {
            var dense = net.Description.DenseLayers.ToArray();
            var squares = new double[dense.Length, 2];
            const int seeds = 300;
            for (int seed = 0; seed < seeds; seed++)
            {
                var theta = net.Initialize<double>(seed);
                for (int l = 0; l < dense.Length; l++)
                {
                    squares[l, 0] += theta.AsSpan(dense[l].WeightOffset, dense[l].Width * dense[l].Inputs).ToArray().Sum(v => v * v) / seeds;
                    if (dense[l].HasBias) squares[l, 1] += theta.AsSpan(dense[l].BiasOffset, dense[l].Width).ToArray().Sum(v => v * v) / seeds;
                }
            }
            for (int l = 0; l < dense.Length; l++)
            {
                double weights = squares[l, 0] / (dense[l].Width * dense[l].Inputs), draws = seeds * dense[l].Width * dense[l].Inputs;
                Assert.InRange(weights / (table[l].Init * table[l].Init), 1 - 5 * Math.Sqrt(2 / draws), 1 + 5 * Math.Sqrt(2 / draws));
                if (!dense[l].HasBias) continue;
                double bias = squares[l, 1] / dense[l].Width;
                draws = seeds * dense[l].Width;
                Assert.InRange(bias / (table[l].BiasInit * table[l].BiasInit), 1 - 5 * Math.Sqrt(2 / draws), 1 + 5 * Math.Sqrt(2 / draws));
            }
        }
    }

    /// <summary>
    /// [Dense(n), Relu][Dense(1)] (sigma_w 1.4, sigma_b 0.1, d = 4) at one input x: the first pre-activation is N(0, q),
    /// q = sigma_w^2 |x|^2 / d + sigma_b^2 in every parameterization, so E relu^2 = q / 2 and E relu'^2 = 1 / 2, and with
    /// v^2 = E (output multiplier x output weight)^2 (sigma_w^2 / n for NTK and standard, sigma_w^2 / n^2 for muP and MF):
    /// Var f = n v^2 q / 2 + sigma_b^2; the rate-weighted squared gradient rho |df/dtheta|^2 of the output weights
    /// rho_o m_o^2 n q / 2, output bias rho m_b^2, input weights rho_i m_i^2 n v^2 |x|^2 / 2, input bias rho m_b^2 n v^2 / 2.
    /// The expected values below are those formulas with each parameterization's rho and m; each is exact at finite n.
    /// Monte Carlo over 400 seeds; 4.5 standard errors allowed (computed from the samples), at widths 64 and 1024, so a
    /// wrong power of the width fails by a factor 16.
    /// </summary>
    [Fact]
    public void Initial_output_variance_and_per_layer_gradient_scales_match_their_formulas_at_two_widths()
    {
        CheckScales<NtkRelu64>(Parameterization.Ntk);
        CheckScales<NtkRelu1024>(Parameterization.Ntk);
        CheckScales<SpRelu64>(Parameterization.Standard);
        CheckScales<SpRelu1024>(Parameterization.Standard);
        CheckScales<MupRelu64>(Parameterization.MaximalUpdate);
        CheckScales<MupRelu1024>(Parameterization.MaximalUpdate);
        CheckScales<MfRelu64>(Parameterization.MeanField);
        CheckScales<MfRelu1024>(Parameterization.MeanField);
    }

    private static void CheckScales<TNet>(Parameterization p) where TNet : INetwork<TNet>
    {
        const double sw = 1.4, sb = 0.1;
        var x = new Matrix<double>(1, 4, [0.3, -1.1, 0.7, 0.5]);
        double x2 = x.Data.Sum(v => v * v), q = sw * sw * x2 / 4 + sb * sb;
        int n = TNet.Description.DenseLayers.First().Width;
        bool mu = p is Parameterization.MaximalUpdate or Parameterization.MeanField;
        double v2 = mu ? sw * sw / ((double)n * n) : sw * sw / n;
        // rho m^2 per parameter group: (output W, output b, input W, input b).
        var (ow, ob, iw, ib) = p switch
        {
            Parameterization.Ntk => (sw * sw / n, sb * sb, sw * sw / 4, sb * sb),
            Parameterization.Standard => (1.0, 1.0, 1.0, 1.0),
            Parameterization.MaximalUpdate => (1.0 / n, 1.0, n, n),
            _ => (n * (sw / n) * (sw / n), sb * sb, n * sw * sw / 4, n * sb * sb),
        };
        AssertScales<TNet>(x, [n * v2 * q / 2 + sb * sb, ow * n * q / 2, ob, iw * n * v2 * x2 / 2, ib * n * v2 / 2], firstSeed: 1000);
    }

    /// <summary>
    /// Monte Carlo over 400 seeds of [Dense(n), Relu][Dense(1)] at x: f^2 and the rate-weighted squared gradients
    /// rho |df/dtheta|^2 of the output weights, output bias, input weights and input bias, and Theta(x, x), against
    /// <paramref name="expected"/> (the first five; Theta is their gradient sum), within 4.5 standard errors.
    /// </summary>
    internal static void AssertScales<TNet>(Matrix<double> x, double[] expected, int firstSeed) where TNet : INetwork<TNet>
    {
        expected = [.. expected, expected[1] + expected[2] + expected[3] + expected[4]];
        var (input, output) = (TNet.Description.DenseLayers.First(), TNet.Description.DenseLayers.Last());
        var rates = TNet.Description.LearningRateMultipliers<double>();
        const int seeds = 400;
        var samples = new double[seeds, expected.Length];
        var one = new Matrix<double>(1, 1, [1.0]);
        for (int s = 0; s < seeds; s++)
        {
            var theta = CpuNetwork<TNet, double>.InitializeParameters(firstSeed + s);
            double f = CpuNetwork<TNet, double>.Forward(theta, x).Data[0];
            var g = CpuNetwork<TNet, double>.Vjp(theta, x, one);
            double Term(int offset, int length) => Enumerable.Range(offset, length).Sum(i => (rates?[i] ?? 1) * g[i] * g[i]);
            samples[s, 0] = f * f;
            samples[s, 1] = Term(output.WeightOffset, output.Inputs);
            samples[s, 2] = Term(output.BiasOffset, 1);
            samples[s, 3] = Term(input.WeightOffset, input.Width * input.Inputs);
            samples[s, 4] = Term(input.BiasOffset, input.Width);
            samples[s, 5] = CpuNetwork<TNet, double>.Ntk(theta, x).Data[0];
        }

        string[] names = ["Var f", "output weights", "output bias", "input weights", "input bias", "Theta(x, x)"];
        for (int k = 0; k < expected.Length; k++)
        {
            var column = Enumerable.Range(0, seeds).Select(s => samples[s, k]).ToArray();
            double mean = column.Average(), se = Math.Sqrt(column.Sum(c => (c - mean) * (c - mean)) / (seeds - 1) / seeds);
            Assert.True(Math.Abs(mean - expected[k]) <= 4.5 * se + 1e-12 * expected[k],
                $"{typeof(TNet).Name} {names[k]}: Monte Carlo {mean:E4} +- {se:E2}, formula {expected[k]:E4}");
        }
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Jacobian_Vjp_and_Jvp_match_finite_differences(INetworkCase net)
    {
        var passes = new EmpiricalKernelTests();
        passes.Jacobian_matches_central_finite_differences(net);
        passes.Vjp_and_Jvp_agree_with_the_Jacobian(net);
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Empirical_ntk_is_J_diag_rho_Jt(INetworkCase net)
    {
        // The NTK of gradient flow with the per-layer learning rates: Theta = J diag(rho) J^T (equal to J J^T only when rho = 1).
        var theta = net.Initialize<double>(seed: 9);
        var x1 = TestMath.RandomMatrix(5, net.Inputs, seed: 10);
        var x2 = TestMath.RandomMatrix(3, net.Inputs, seed: 11);
        var rates = net.Description.LearningRateMultipliers<double>()!;
        var j1 = net.Jacobian(theta, x1);
        var scaled = new Matrix<double>(j1.Rows, j1.Cols);
        for (int r = 0; r < j1.Rows; r++)
            for (int c = 0; c < j1.Cols; c++) scaled[r, c] = j1[r, c] * rates[c];
        var full = TestMath.TimesTranspose(scaled, net.Jacobian(theta, x2));
        Assert.True(TestMath.RelativeError(net.Ntk(theta, x1, x2, NtkMode.Full), full) < 1e-10);
        Assert.True(TestMath.RelativeError(full, TestMath.TimesTranspose(j1, net.Jacobian(theta, x2))) > 1e-3, "rho = 1 would pass too");

        var trace = new Matrix<double>(5, 3);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < net.Outputs; k++) trace[i, j] += full[i * net.Outputs + k, j * net.Outputs + k] / net.Outputs;
        Assert.True(TestMath.RelativeError(net.Ntk(theta, x1, x2, NtkMode.Trace), trace) < 1e-10);
    }

    [Fact]
    public void One_training_step_moves_parameters_by_the_per_layer_rates_and_the_linearization_by_the_ntk()
    {
        var x = TestMath.RandomMatrix(5, 3, seed: 12);
        var y = TestMath.RandomMatrix(5, 2, seed: 13);
        var theta0 = MupDeep.InitializeParameters<double>(14);
        var rates = MupDeep.Description.LearningRateMultipliers<double>()!;
        const double eta = 0.05;

        // The network: theta_1 = theta_0 - eta rho * grad L(theta_0).
        var trainer = new Trainer<double>(new NetworkModel<MupDeep, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(eta));
        var gradient = new double[theta0.Length];
        trainer.EvaluateWithGradient(theta0, x, y, gradient);
        var theta = (double[])theta0.Clone();
        trainer.Train(theta, x, y);
        Assert.True(TestMath.RelativeError(theta, [.. theta0.Select((t, i) => t - eta * rates[i] * gradient[i])]) < 1e-15);

        // Its linearization: f_lin(theta_1) = f_0 - eta Theta dL/df exactly, with the generated NTK (which includes rho).
        var linear = new LinearizedModel<MupDeep, double>(theta0);
        var thetaLin = linear.CopyInitialParameters();
        new Trainer<double>(linear, TrainingLosses.MeanSquaredError, new Sgd<double>(eta)).Train(thetaLin, x, y);
        var f0 = MupDeep.Forward(theta0, x);
        var dLdf = new Matrix<double>(5, 2);
        TrainingLosses.MeanSquaredError.Evaluate(f0, y, dLdf);
        var ntk = MupDeep.Ntk(theta0, x, mode: NtkMode.Full);
        var expected = new Matrix<double>(5, 2);
        for (int r = 0; r < 10; r++) expected.Data[r] = f0.Data[r] - eta * Enumerable.Range(0, 10).Sum(c => ntk[r, c] * dLdf.Data[c]);
        Assert.True(TestMath.RelativeError(linear.Forward(thetaLin, x), expected) < 1e-12);
    }

    [Fact]
    public void Last_hidden_kernel_is_the_gram_of_the_hidden_activations()
    {
        var theta = MupRelu64.InitializeParameters<double>(5);
        var x = TestMath.RandomMatrix(6, 4, seed: 6);
        var d = MupRelu64.Description.DenseLayers.First();
        var a = Enumerable.Range(0, 6).Select(r => Enumerable.Range(0, 64).Select(i =>
            Math.Max(0, d.WeightScale(Parameterization.MaximalUpdate) * Enumerable.Range(0, 4).Sum(j => theta[d.WeightOffset + i * 4 + j] * x[r, j])
                        + d.BiasScale(Parameterization.MaximalUpdate) * theta[d.BiasOffset + i])).ToArray()).ToArray();
        var expected = new Matrix<double>(6, 6);
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 6; j++) expected[i, j] = a[i].Zip(a[j], (u, v) => u * v).Sum() / 64;
        Assert.True(TestMath.RelativeError(FeatureLearning.LastHiddenKernel<MupRelu64>(theta, x), expected) < 1e-12);

        // Alignment: 1 for the targets' own Gram, invariant to scale, and the centered form ignores a constant offset.
        var y = TestMath.RandomMatrix(6, 1, seed: 7);
        var yy = TestMath.TimesTranspose(y, y);
        Assert.Equal(1, FeatureLearning.CenteredAlignment(yy, y), 1e-12);
        var shifted = new Matrix<double>(6, 6, [.. yy.Data.Select(v => 3 * v + 5)]);
        Assert.Equal(1, FeatureLearning.CenteredAlignment(shifted, y), 1e-12);
        Assert.Throws<ArgumentException>(() => FeatureLearning.CenteredAlignment(yy, new Matrix<double>(5, 1)));
    }

    [Fact]
    public void No_infinite_width_kernel_is_generated_or_computed_in_the_feature_learning_regime()
    {
        foreach (var type in new[] { typeof(MupRelu64), typeof(MfRelu64) })
            Assert.Null(type.GetMethod("InfiniteWidth", BindingFlags.Public | BindingFlags.Static));
        Assert.NotNull(typeof(NtkRelu64).GetMethod("InfiniteWidth", BindingFlags.Public | BindingFlags.Static));
        var x = TestMath.RandomMatrix(3, 4, seed: 1);
        var error = Assert.Throws<ArgumentException>(() => global::NtkDsl.InfiniteWidth.Kernels(MupRelu64.Description, x));
        Assert.Contains("maximal-update", error.Message);
        Assert.Contains("mean-field", Assert.Throws<ArgumentException>(() => global::NtkDsl.InfiniteWidth.Kernels(MfRelu64.Description, x)).Message);
    }

    private static bool Close(double actual, double expected) => Math.Abs(actual - expected) <= 1e-14 * Math.Max(1, Math.Abs(expected));
}

using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Parameterizations;

/// <summary>
/// User-chosen abc-parameterizations and muTransfer base widths (AbcNetworks.cs) against formulas written out here: the
/// per-layer multipliers, stds and learning rates; Monte Carlo of the initial function and gradient scales at two widths;
/// one SGD step (finite differences and J diag(rho) J^T: CustomDeep and CustomConv are in ParameterizationTests.Networks); the built-ins written as [Abc] giving bit-identical numbers; Yang &amp; Hu's
/// symmetry leaving the function and the NTK unchanged; muP at its base width equal to standard parameterization.
/// </summary>
public sealed class AbcParameterizationTests
{
    private const double Sw = 1.3, Sb = 0.2;

    // The custom exponents of AbcNetworks.cs: input (0, 0, -1/2), hidden (1/4, 1/4, -1/2), output (3/4, 1/4, 1/2).
    private static double P(double n, double e) => Math.Pow(n, e);

    [Fact]
    public void Custom_layer_scalings_and_learning_rates_are_the_formulas()
    {
        // CustomDeep, constants in the multiplier: 3 -> 7 (input, n = 7), 7 -> 6 (hidden, n = 7, no bias), 6 -> 5 (hidden,
        // n = 6; its bias n = 5), 5 -> 2 (output, n = 5; bias (0, 0, 0)). Per layer (m_W, m_b, s_W, s_b, rho_W, rho_b).
        (double, double, double, double, double, double)[] table =
        [
            (Sw / Math.Sqrt(3), Sb, 1, 1, P(7, 0.5), P(7, 0.5)),
            (Sw * P(7, -0.25), 0, P(7, -0.25), 1, P(7, 0.5), 0),
            (Sw * P(6, -0.25), Sb, P(6, -0.25), 1, P(6, 0.5), P(5, 0.5)),
            (Sw * P(5, -0.75), Sb, P(5, -0.25), 1, P(5, -0.5), 1),
        ];
        var abc = CustomDeep.Description.Abc;
        Assert.Equal(Parameterization.Abc, CustomDeep.Description.Parameterization);
        Assert.Equal(new AbcExponents(0.25, 0.25, -0.5), abc.Hidden);
        Assert.True(abc.ConstantsInMultiplier);
        var rates = CustomDeep.Description.LearningRateMultipliers<double>()!;
        var layers = CustomDeep.Description.DenseLayers.ToList();
        for (int l = 0; l < 4; l++)
        {
            var (m, mb, s, sbInit, rho, rhob) = table[l];
            var d = layers[l];
            string at = $"layer {l + 1}";
            Assert.True(Close(d.WeightScale(abc), m) && Close(d.BiasScale(abc), mb), at);
            Assert.True(Close(d.WeightInitStd(abc), s) && (!d.HasBias || Close(d.BiasInitStd(abc), sbInit)), at);
            Assert.True(Enumerable.Range(d.WeightOffset, d.Width * d.Inputs).All(i => Close(rates[i], rho)), at);
            Assert.True(!d.HasBias || Enumerable.Range(d.BiasOffset, d.Width).All(i => Close(rates[i], rhob)), at);
        }

        // CustomConv, constants in the initialization: conv 2 -> 3 (3x3, input, n = 3), conv 3 -> 4 (hidden, n = 27), readout 4 -> 2.
        var conv = CustomConv.Description.Layers.OfType<ConvLayer>().ToList();
        var readout = CustomConv.Description.DenseLayers.Single();
        var convAbc = CustomConv.Description.Abc;
        var convRates = CustomConv.Description.LearningRateMultipliers<double>()!;
        Assert.True(Close(conv[0].WeightScale(convAbc), 1) && Close(conv[0].WeightInitStd(convAbc), 1.2 / Math.Sqrt(18)) && Close(convRates[conv[0].WeightOffset], P(3, 0.5)));
        Assert.True(Close(conv[1].WeightScale(convAbc), P(27, -0.25)) && Close(conv[1].WeightInitStd(convAbc), 1.2 * P(27, -0.25)) &&
                    Close(convRates[conv[1].WeightOffset], P(27, 0.5)) && Close(convRates[conv[1].BiasOffset], 2));
        Assert.True(Close(readout.WeightScale(convAbc), P(4, -0.75)) && Close(readout.WeightInitStd(convAbc), 1.2 * P(4, -0.25)) &&
                    Close(convRates[readout.WeightOffset], 0.5) && Close(convRates[readout.BiasOffset], 1));
    }

    /// <summary>
    /// Monte Carlo over 400 initializations at widths 64 and 1024 of the custom abc (constants in the initialization): the
    /// initial output variance and every parameter group's rate-weighted squared gradient rho |df/dtheta|^2 against their
    /// closed forms for [Dense(n), Relu][Dense(1)] (4.5 standard errors).
    /// </summary>
    [Fact]
    public void Initial_function_and_gradient_scales_of_a_custom_abc_match_their_formulas_at_two_widths()
    {
        CheckScales<CustomRelu64>();
        CheckScales<CustomRelu1024>();
    }

    private static void CheckScales<TNet>() where TNet : INetwork<TNet>
    {
        const double sw = 1.4, sb = 0.1;
        var x = new Matrix<double>(1, 4, [0.3, -1.1, 0.7, 0.5]);
        int n = TNet.Description.DenseLayers.First().Width;
        double x2 = x.Data.Sum(v => v * v);
        // Input layer (n = fan-out): m = 1, W ~ N(0, sw^2 / 4), rho n^(1/2); bias m = 1, N(0, sb^2), rho n^(1/2).
        // Output layer (n = fan-in): m = n^-3/4, W ~ N(0, sw^2 n^-1/2), rho n^-1/2; bias m = 1, N(0, sb^2), rho 1.
        double q = sw * sw / 4 * x2 + sb * sb;            // variance of a hidden pre-activation
        double mOut = P(n, -0.75), v2 = mOut * mOut * sw * sw * P(n, -0.5); // (m s)^2 of the output weights
        double rhoIn = P(n, 0.5), rhoOut = P(n, -0.5);
        ParameterizationTests.AssertScales<TNet>(x,
        [
            n * v2 * q / 2 + sb * sb,                     // Var f: E relu(h)^2 = q / 2
            rhoOut * mOut * mOut * n * q / 2,             // output weights: rho m^2 sum relu(h)^2
            1,                                            // output bias
            rhoIn * n * v2 * x2 / 2,                      // input weights: rho (m_out v_i relu'(h_i) x_j)^2 summed
            rhoIn * n * v2 / 2,                           // input bias
        ], firstSeed: 2000);
    }

    [Fact]
    public void One_sgd_step_of_a_custom_abc_moves_each_parameter_by_eta_rho_g()
    {
        var x = TestMath.RandomMatrix(5, 3, seed: 12);
        var y = TestMath.RandomMatrix(5, 2, seed: 13);
        var theta0 = CustomDeep.InitializeParameters<double>(14);
        var rates = CustomDeep.Description.LearningRateMultipliers<double>()!;
        const double eta = 0.05;
        var trainer = new Trainer<double>(new NetworkModel<CustomDeep, double>(), TrainingLosses.MeanSquaredError, new Sgd<double>(eta));
        var gradient = new double[theta0.Length];
        trainer.EvaluateWithGradient(theta0, x, y, gradient);
        var theta = (double[])theta0.Clone();
        trainer.Train(theta, x, y);
        Assert.True(TestMath.RelativeError(theta, [.. theta0.Select((t, i) => t - eta * rates[i] * gradient[i])]) < 1e-15);
    }

    [Fact]
    public void A_built_in_written_as_abc_gives_bit_identical_numbers()
    {
        var x = TestMath.RandomMatrix(4, 3, seed: 3);
        var x2 = TestMath.RandomMatrix(2, 3, seed: 4);
        Same<MupDeep, MupDeepAsAbc>(x, x2);
        Same<NtkDeep, NtkDeepAsAbc>(x, x2);
        Assert.Equal(NtkDeep.InfiniteWidth(x, x2).Ntk.Data, NtkDeepAsAbc.InfiniteWidth(x, x2).Ntk.Data);
        Assert.Equal(NtkDeep.InfiniteWidth(x, x2).Nngp.Data, NtkDeepAsAbc.InfiniteWidth(x, x2).Nngp.Data);
    }

    private static void Same<TBuiltIn, TAbc>(Matrix<double> x, Matrix<double> x2) where TBuiltIn : INetwork<TBuiltIn> where TAbc : INetwork<TAbc>
    {
        var theta = CpuNetwork<TBuiltIn, double>.InitializeParameters(21);
        Assert.Equal(theta, CpuNetwork<TAbc, double>.InitializeParameters(21));
        Assert.Equal(CpuNetwork<TBuiltIn, double>.Forward(theta, x).Data, CpuNetwork<TAbc, double>.Forward(theta, x).Data);
        Assert.Equal(CpuNetwork<TBuiltIn, double>.Ntk(theta, x, x2, NtkMode.Full).Data, CpuNetwork<TAbc, double>.Ntk(theta, x, x2, NtkMode.Full).Data);
        Assert.Equal(CpuNetwork<TBuiltIn, double>.Jacobian(theta, x).Data, CpuNetwork<TAbc, double>.Jacobian(theta, x).Data);
        Assert.Equal(TBuiltIn.Description.LearningRateMultipliers<double>(), TAbc.Description.LearningRateMultipliers<double>());
        Assert.Equal(Parameterization.Abc, TAbc.Description.Parameterization);
    }

    [Fact]
    public void Yang_and_Hus_symmetry_keeps_the_function_the_ntk_and_the_infinite_width_kernel()
    {
        // SpDeepBySymmetry is SP with (a, b, c) -> (a + 1/2, b - 1/2, c - 1) on hidden and output layers: its raw weights are
        // sqrt(n) times SP's (the same seed draws the same normals), its function and J diag(rho) J^T are SP's.
        var x = TestMath.RandomMatrix(4, 3, seed: 5);
        var x2 = TestMath.RandomMatrix(2, 3, seed: 6);
        var sp = SpDeep.InitializeParameters<double>(8);
        var moved = SpDeepBySymmetry.InitializeParameters<double>(8);
        var layers = SpDeep.Description.DenseLayers.ToList();
        for (int l = 1; l < layers.Count; l++)
            for (int i = layers[l].WeightOffset; i < layers[l].WeightOffset + layers[l].Width * layers[l].Inputs; i++)
                Assert.True(Math.Abs(moved[i] - Math.Sqrt(layers[l].Inputs) * sp[i]) <= 1e-14 * Math.Abs(moved[i]) + 1e-300, $"parameter {i}");
        Assert.True(TestMath.RelativeError(SpDeepBySymmetry.Forward(moved, x), SpDeep.Forward(sp, x)) < 1e-13);
        Assert.True(TestMath.RelativeError(SpDeepBySymmetry.Ntk(moved, x, x2, NtkMode.Full), SpDeep.Ntk(sp, x, x2, NtkMode.Full)) < 1e-13);
        Assert.NotNull(SpDeepBySymmetry.Description.LearningRateMultipliers<double>());
        Assert.Equal(Parameterization.Standard, SpDeepBySymmetry.Description.KernelParameterization);
        Assert.Equal(SpDeep.InfiniteWidth(x, x2).Ntk.Data, SpDeepBySymmetry.InfiniteWidth(x, x2).Ntk.Data);
    }

    [Fact]
    public void A_custom_abc_outside_the_kernel_classes_has_no_infinite_width_kernel()
    {
        Assert.Null(typeof(CustomDeep).GetMethod("InfiniteWidth"));
        var error = Assert.Throws<ArgumentException>(() => global::NtkDsl.InfiniteWidth.Kernels(CustomDeep.Description, TestMath.RandomMatrix(2, 3, seed: 1)));
        Assert.Contains("up to Yang & Hu's symmetry", error.Message);
    }

    [Fact]
    public void MuP_at_its_base_width_is_standard_parameterization()
    {
        // n = n0 = 64: the same initialization, forward function, NTK and learning rates (all 1) as SpRelu64, bit for bit.
        var x = TestMath.RandomMatrix(5, 4, seed: 2);
        var theta = SpRelu64.InitializeParameters<double>(3);
        Assert.Equal(theta, MupBase64Relu64.InitializeParameters<double>(3));
        Assert.Equal(SpRelu64.Forward(theta, x).Data, MupBase64Relu64.Forward(theta, x).Data);
        Assert.Equal(SpRelu64.Ntk(theta, x, mode: NtkMode.Full).Data, MupBase64Relu64.Ntk(theta, x, mode: NtkMode.Full).Data);
        Assert.Null(MupBase64Relu64.Description.LearningRateMultipliers<double>());
        Assert.Equal(64, MupBase64Relu64.Description.Abc.BaseWidth);
        Assert.Equal(Parameterization.MaximalUpdate, MupBase64Relu64.Description.Parameterization);
    }

    [Fact]
    public void MuP_with_a_base_width_scales_with_the_width_ratio()
    {
        // n = 256, n0 = 64, ratio r = 4: input weights and hidden bias rho r; output weights N(0, sw^2 / n / r), rho 1 / r;
        // output bias rho 1; multipliers 1; SP's stds elsewhere (sw / sqrt(d), sb).
        const double sw = 1.4, sb = 0.1, r = 4;
        var d = MupBase64Relu256.Description;
        var (input, output) = (d.DenseLayers.First(), d.DenseLayers.Last());
        var rates = d.LearningRateMultipliers<double>()!;
        Assert.True(Close(input.WeightScale(d.Abc), 1) && Close(input.WeightInitStd(d.Abc), sw / 2) && Close(input.BiasInitStd(d.Abc), sb));
        Assert.True(Close(rates[input.WeightOffset], r) && Close(rates[input.BiasOffset], r));
        Assert.True(Close(output.WeightScale(d.Abc), 1) && Close(output.WeightInitStd(d.Abc), sw / Math.Sqrt(256 * r)));
        Assert.True(Close(rates[output.WeightOffset], 1 / r) && Close(rates[output.BiasOffset], 1));
        // The muP without a base width is this one with every factor's n0-part removed: rates n0 times larger or smaller.
        var plain = MupRelu256.Description.LearningRateMultipliers<double>()!;
        Assert.True(Close(plain[input.WeightOffset], 64 * r) && Close(plain[output.WeightOffset], 1 / (64 * r)));
    }

    [Fact]
    public void Run_time_abc_parameterizations_reject_bad_exponents_and_base_widths()
    {
        var ok = new AbcExponents(0, 0.5, 0);
        Assert.Equal("hidden", Assert.Throws<ArgumentOutOfRangeException>(() => AbcParameterization.Custom(ok, new AbcExponents(double.NaN, 0, 0), ok, false)).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentOutOfRangeException>(() => AbcParameterization.Custom(ok, ok, new AbcExponents(0, 0, 4.5), false)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => AbcParameterization.MaximalUpdate.WithBaseWidth(0));
        Assert.Throws<ArgumentException>(() => AbcParameterization.MeanField.WithBaseWidth(8));
        Assert.Throws<ArgumentException>(() => AbcParameterization.Of(Parameterization.Abc));

        // A description built at run time from the same exponents scales as the generated one.
        var custom = AbcParameterization.Custom(new(0, 0, -0.5), new(0.25, 0.25, -0.5), new(0.75, 0.25, 0.5), constantsInMultiplier: true);
        Assert.Equal(CustomDeep.Description.Abc, custom);
        var built = NetworkDescription.Create("Built", 3, custom, Sw, Sb, LayerSpec.Dense(7), LayerSpec.Act(Activation.Plain(ActivationKind.Tanh)), LayerSpec.Dense(6, bias: false),
            LayerSpec.Act(Activation.Relu), LayerSpec.Dense(5), LayerSpec.Act(Activation.Erf()), LayerSpec.Dense(2));
        Assert.Equal(CustomDeep.Description.LearningRateMultipliers<double>(), built.LearningRateMultipliers<double>());
        Assert.Equal(ParameterInitializer.Initialize<double>(CustomDeep.Description, 5), ParameterInitializer.Initialize<double>(built, 5));
    }

    private static bool Close(double actual, double expected) => Math.Abs(actual - expected) <= 1e-14 * Math.Max(1, Math.Abs(expected));
}

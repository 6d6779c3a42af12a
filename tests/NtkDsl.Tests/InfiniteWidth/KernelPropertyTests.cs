using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>
/// Structural properties every valid NNGP/NTK must have (symmetry, positive semi-definiteness, diagonal
/// consistency), numerical robustness (depth 50, zero inputs), parameterization identities, threading
/// determinism and argument validation.
/// </summary>
public sealed class KernelPropertyTests(ITestOutputHelper output)
{
    private static NetworkDescription Net(Activation a, Parameterization p = Parameterization.Ntk, int hidden = 3, double biasStd = 0.2) =>
        InfiniteWidthTestSupport.Mlp(5, 64, hidden, a, p, weightStd: 1.3, biasStd: biasStd, outputs: 2);

    [Theory]
    [MemberData(nameof(InfiniteWidthTestSupport.ActivationNames), MemberType = typeof(InfiniteWidthTestSupport))]
    public void SymmetricKernelsAreExactlySymmetricAndPositiveSemidefinite(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        var x = InfiniteWidthTestSupport.RandomInputs(30, 5, 11);
        foreach (var p in new[] { Parameterization.Ntk, Parameterization.Standard })
        {
            var k = NtkDsl.InfiniteWidth.Kernels(Net(activation, p), x);
            foreach (var (label, m) in new[] { ("NNGP", k.Nngp), ("NTK", k.Ntk) })
            {
                Assert.Equal(30, m.Rows);
                Assert.Equal(30, m.Cols);
                Assert.All(m.Data, v => Assert.True(double.IsFinite(v)));
                for (int i = 0; i < m.Rows; i++)
                    for (int j = 0; j < i; j++)
                        Assert.Equal(m[j, i], m[i, j]); // exact, not approximate
                var (min, max) = InfiniteWidthTestSupport.EigenRange(m);
                Assert.True(min >= -1e-10 * max, $"{name} {p} {label}: eigenvalues in [{min:E3}, {max:E3}]");
            }
        }
    }

    [Theory]
    [MemberData(nameof(InfiniteWidthTestSupport.ActivationNames), MemberType = typeof(InfiniteWidthTestSupport))]
    public void CrossKernelIsTransposeOfSwappedCall(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        var net = Net(activation);
        var x1 = InfiniteWidthTestSupport.RandomInputs(7, 5, 1);
        var x2 = InfiniteWidthTestSupport.RandomInputs(4, 5, 2);
        var a = NtkDsl.InfiniteWidth.Kernels(net, x1, x2);
        var b = NtkDsl.InfiniteWidth.Kernels(net, x2, x1);
        // Every moment is evaluated symmetrically in (q11, q22) (quadrature orders u and v canonically),
        // so swapping the arguments transposes the kernels bit for bit.
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 4; j++)
            {
                Assert.Equal(a.Nngp[i, j], b.Nngp[j, i]);
                Assert.Equal(a.Ntk[i, j], b.Ntk[j, i]);
            }
    }

    [Theory]
    [MemberData(nameof(InfiniteWidthTestSupport.ActivationNames), MemberType = typeof(InfiniteWidthTestSupport))]
    public void DiagonalEqualsDiagonalOfFullKernel(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        var x = InfiniteWidthTestSupport.RandomInputs(12, 5, 3);
        foreach (var p in new[] { Parameterization.Ntk, Parameterization.Standard })
        {
            var net = Net(activation, p);
            var full = NtkDsl.InfiniteWidth.Kernels(net, x);
            var diag = NtkDsl.InfiniteWidth.Diagonal(net, x);
            // Non-symmetric path with an equal copy of X: same values up to rounding.
            var copy = new Matrix<double>(x.Rows, x.Cols, (double[])x.Data.Clone());
            var cross = NtkDsl.InfiniteWidth.Kernels(net, x, copy);
            for (int i = 0; i < x.Rows; i++)
            {
                Assert.Equal(full.Nngp[i, i], diag.Nngp[i]); // bit for bit: same operations
                Assert.Equal(full.Ntk[i, i], diag.Ntk[i]);
                Assert.True(diag.Nngp[i] >= 0 && diag.Ntk[i] >= 0);
                Assert.Equal(diag.Nngp[i], cross.Nngp[i, i], 1e-12 * diag.Nngp[i]);
                Assert.Equal(diag.Ntk[i], cross.Ntk[i, i], 1e-12 * diag.Ntk[i]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(InfiniteWidthTestSupport.ActivationNames), MemberType = typeof(InfiniteWidthTestSupport))]
    public void DepthFiftyStaysFiniteSymmetricAndPositive(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        // Near-parallel inputs (correlation -> 1, where acos-based forms break) and an antipodal pair.
        var x = InfiniteWidthTestSupport.RandomInputs(6, 4, 5);
        for (int c = 0; c < 4; c++)
        {
            x[1, c] = x[0, c] * (1 + 1e-9);
            x[2, c] = -x[0, c];
        }

        foreach (var (sw, sb) in new[] { (Math.Sqrt(2), 0.0), (1.0, 0.1), (2.5, 0.5) })
        {
            var net = InfiniteWidthTestSupport.Mlp(4, 16, 50, activation, Parameterization.Ntk, sw, sb);
            var k = NtkDsl.InfiniteWidth.Kernels(net, x);
            var d = NtkDsl.InfiniteWidth.Diagonal(net, x);
            foreach (var m in new[] { k.Nngp, k.Ntk })
            {
                Assert.All(m.Data, v => Assert.True(double.IsFinite(v), $"{name} sw={sw} sb={sb}: {v}"));
                for (int i = 0; i < 6; i++)
                {
                    Assert.True(m[i, i] >= 0, $"{name} sw={sw} sb={sb}: negative variance {m[i, i]}");
                    for (int j = 0; j < 6; j++)
                    {
                        Assert.Equal(m[i, j], m[j, i]);
                        // Cauchy-Schwarz, with slack for rounding relative to the variances.
                        Assert.True(Math.Abs(m[i, j]) <= Math.Sqrt(m[i, i] * m[j, j]) * (1 + 1e-9) + 1e-300,
                            $"{name} sw={sw} sb={sb}: |k({i},{j})| = {Math.Abs(m[i, j])} > sqrt(k(i,i) k(j,j))");
                    }
                }
            }

            Assert.All(d.Nngp, v => Assert.True(double.IsFinite(v) && v >= 0));
            Assert.All(d.Ntk, v => Assert.True(double.IsFinite(v) && v >= 0));
        }
    }

    [Fact]
    public void ReluAtCriticalInitializationPreservesTheVarianceOverFiftyLayers()
    {
        // sw^2 = 2, sb = 0: E[relu(u)^2] = q/2, so Sigma(x, x) = |x|^2/d at every depth, and Theta(x, x) = L Sigma(x, x).
        var x = InfiniteWidthTestSupport.RandomInputs(3, 4, 8);
        var net = InfiniteWidthTestSupport.Mlp(4, 16, 49, Activation.Relu, Parameterization.Ntk, Math.Sqrt(2), 0);
        var d = NtkDsl.InfiniteWidth.Diagonal(net, x);
        for (int i = 0; i < 3; i++)
        {
            double q0 = 2 * x.Row(i).ToArray().Sum(v => v * v) / 4;
            Assert.Equal(q0, d.Nngp[i], 1e-12 * q0);
            Assert.Equal(50 * q0, d.Ntk[i], 1e-12 * 50 * q0);
        }
    }

    [Theory]
    [MemberData(nameof(InfiniteWidthTestSupport.ActivationNames), MemberType = typeof(InfiniteWidthTestSupport))]
    public void ZeroInputsGiveFiniteKernels(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        var x = InfiniteWidthTestSupport.RandomInputs(4, 3, 9);
        for (int c = 0; c < 3; c++) x[0, c] = x[2, c] = 0; // two zero rows: zero variance and zero covariance
        foreach (var p in new[] { Parameterization.Ntk, Parameterization.Standard })
            foreach (var sb in new[] { 0.0, 0.3 })
                foreach (bool bias in new[] { true, false })
                {
                    var net = InfiniteWidthTestSupport.Mlp(3, 8, 3, activation, p, 1.2, sb, bias: bias);
                    var k = NtkDsl.InfiniteWidth.Kernels(net, x);
                    var k2 = NtkDsl.InfiniteWidth.Kernels(net, x, InfiniteWidthTestSupport.RandomInputs(2, 3, 4));
                    var d = NtkDsl.InfiniteWidth.Diagonal(net, x);
                    foreach (var v in k.Nngp.Data.Concat(k.Ntk.Data).Concat(k2.Nngp.Data).Concat(k2.Ntk.Data).Concat(d.Nngp).Concat(d.Ntk))
                        Assert.True(double.IsFinite(v), $"{name} {p} sb={sb} bias={bias}: {v}");
                    Assert.All(d.Nngp, v => Assert.True(v >= 0));
                    Assert.All(d.Ntk, v => Assert.True(v >= 0));
                }
    }

    [Fact]
    public void ReluNetworkWithoutBiasMapsZeroToZero()
    {
        // phi(0) = 0 and no bias: every activation at x = 0 is 0 for every parameter value, and so is every
        // gradient (each is a product with some layer's input at x = 0): both kernels vanish on that row.
        var x = InfiniteWidthTestSupport.RandomInputs(3, 3, 9);
        for (int c = 0; c < 3; c++) x[0, c] = 0;
        var net = InfiniteWidthTestSupport.Mlp(3, 8, 3, Activation.Relu, Parameterization.Ntk, 1.4, 0.5, bias: false);
        var k = NtkDsl.InfiniteWidth.Kernels(net, x);
        for (int j = 0; j < 3; j++)
        {
            Assert.Equal(0, k.Nngp[0, j]);
            Assert.Equal(0, k.Ntk[0, j]);
        }

        Assert.True(k.Ntk[1, 1] > 0);
    }

    [Theory]
    [MemberData(nameof(InfiniteWidthTestSupport.ActivationNames), MemberType = typeof(InfiniteWidthTestSupport))]
    public void NngpDoesNotDependOnParameterization(string name)
    {
        var activation = InfiniteWidthTestSupport.ByName(name);
        var x = InfiniteWidthTestSupport.RandomInputs(5, 5, 4);
        var ntk = NtkDsl.InfiniteWidth.Kernels(Net(activation, Parameterization.Ntk), x);
        var std = NtkDsl.InfiniteWidth.Kernels(Net(activation, Parameterization.Standard), x);
        Assert.Equal(ntk.Nngp.Data, std.Nngp.Data);
        Assert.NotEqual(ntk.Ntk.Data, std.Ntk.Data);
    }

    [Fact]
    public void StandardParameterizationLastLayerMatchesHandDerivation()
    {
        // One hidden ReLU layer, standard parameterization, fan-ins d = 3 and n = 10:
        // Sigma1 = sw^2 x.x'/d + sb^2, Theta1 = x.x' + 1; Sigma2 = sw^2 K + sb^2,
        // Theta2 = sw^2 KDot Theta1 + n K + 1 (neural-tangents' Dense, 'standard').
        double sw = 1.7, sb = 0.4;
        var net = NetworkDescription.Create("Std", 3, Parameterization.Standard, sw, sb,
            LayerSpec.Dense(10), LayerSpec.Act(Activation.Relu), LayerSpec.Dense(1));
        var x = InfiniteWidthTestSupport.RandomInputs(2, 3, 6);
        double Dot(int i, int j) => x[i, 0] * x[j, 0] + x[i, 1] * x[j, 1] + x[i, 2] * x[j, 2];
        double S(int i, int j) => sw * sw * Dot(i, j) / 3 + sb * sb;
        double theta1 = Dot(0, 1) + 1;
        double th = Math.Acos(S(0, 1) / Math.Sqrt(S(0, 0) * S(1, 1)));
        double kk = Math.Sqrt(S(0, 0) * S(1, 1)) / (2 * Math.PI) * (Math.Sin(th) + (Math.PI - th) * Math.Cos(th));
        double kdot = (Math.PI - th) / (2 * Math.PI);
        var k = NtkDsl.InfiniteWidth.Kernels(net, x);
        Assert.Equal(sw * sw * kk + sb * sb, k.Nngp[0, 1], 1e-13);
        Assert.Equal(sw * sw * kdot * theta1 + 10 * kk + 1, k.Ntk[0, 1], 1e-12);
    }

    [Fact]
    public void PrimitivesComposeLikeTheHighLevelCall()
    {
        var net = Net(Activation.Plain(ActivationKind.Tanh), Parameterization.Standard);
        var x1 = InfiniteWidthTestSupport.RandomInputs(5, 5, 1);
        var x2 = InfiniteWidthTestSupport.RandomInputs(3, 5, 2);
        var state = KernelState.FromInputs(x1, x2);
        Assert.False(state.IsGaussian);
        foreach (var layer in net.Layers)
        {
            if (layer is DenseLayer dense) state.Dense(dense, Parameterization.Standard);
            else state.Activate(((ActivationLayer)layer).Activation, ActivationMoments.DefaultQuadratureTolerance);
        }

        Assert.Equal(2, state.Width);
        var viaState = state.Result();
        var direct = NtkDsl.InfiniteWidth.Kernels(net, x1, x2);
        Assert.Equal(direct.Nngp.Data, viaState.Nngp.Data);
        Assert.Equal(direct.Ntk.Data, viaState.Ntk.Data);
        Assert.Equal(3, state.Variance2.Length);
    }

    [Fact]
    public void MultithreadedAndSerialResultsAreIdentical()
    {
        var x = InfiniteWidthTestSupport.RandomInputs(40, 5, 12);
        foreach (var a in new[] { Activation.Relu, Activation.Plain(ActivationKind.Tanh) })
        {
            var net = Net(a, hidden: 2);
            var sw = Stopwatch.StartNew();
            var serial = NtkDsl.InfiniteWidth.Kernels(net, x, null, new InfiniteWidthOptions { MaxDegreeOfParallelism = 1 });
            var tSerial = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            var parallel = NtkDsl.InfiniteWidth.Kernels(net, x, null, new InfiniteWidthOptions { ParallelThreshold = 0 });
            var tParallel = sw.Elapsed.TotalMilliseconds;
            output.WriteLine($"{a}, N = 40, 2 hidden layers: serial {tSerial:F1} ms, parallel {tParallel:F1} ms");
            Assert.Equal(serial.Nngp.Data, parallel.Nngp.Data);
            Assert.Equal(serial.Ntk.Data, parallel.Ntk.Data);
        }
    }

    [Fact]
    public void ForceQuadratureAgreesWithClosedFormsThroughANetwork()
    {
        var x = InfiniteWidthTestSupport.RandomInputs(6, 5, 13);
        // Pre-activation variances reach ~3 here (where degree-25 Gauss-Hermite was 2e-2 off for erf); the adaptive
        // quadrature's default tolerance 1e-10 per moment compounds over three layers to well below 1e-9.
        foreach (var a in InfiniteWidthTestSupport.AllActivations().Where(ActivationMoments.HasClosedForm))
        {
            var net = Net(a, hidden: 3);
            var exact = NtkDsl.InfiniteWidth.Kernels(net, x);
            var numeric = NtkDsl.InfiniteWidth.Kernels(net, x, null, new InfiniteWidthOptions { ForceQuadrature = true });
            double eNngp = InfiniteWidthTestSupport.RelativeFrobenius(numeric.Nngp.Data, exact.Nngp.Data);
            double eNtk = InfiniteWidthTestSupport.RelativeFrobenius(numeric.Ntk.Data, exact.Ntk.Data);
            output.WriteLine($"{a}: forced quadrature vs closed form, relative Frobenius NNGP {eNngp:E2}, NTK {eNtk:E2}");
            Assert.True(eNngp < 1e-9 && eNtk < 1e-9, $"{a}: {eNngp:E2}, {eNtk:E2}");
        }
    }

    [Fact]
    public void BadArgumentsAreRejectedWithClearMessages()
    {
        var net = Net(Activation.Relu);
        var good = InfiniteWidthTestSupport.RandomInputs(3, 5, 1);
        var ex = Assert.Throws<ArgumentException>(() => NtkDsl.InfiniteWidth.Kernels(net, InfiniteWidthTestSupport.RandomInputs(3, 4, 1)));
        Assert.Equal("x1", ex.ParamName);
        Assert.Contains("3 x 4", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => NtkDsl.InfiniteWidth.Kernels(net, good, InfiniteWidthTestSupport.RandomInputs(2, 6, 1)));
        Assert.Equal("x2", ex.ParamName);
        var bad = InfiniteWidthTestSupport.RandomInputs(3, 5, 1);
        bad[1, 2] = double.NaN;
        ex = Assert.Throws<ArgumentException>(() => NtkDsl.InfiniteWidth.Diagonal(net, bad));
        Assert.Equal("x", ex.ParamName);
        Assert.Contains("NaN", ex.Message, StringComparison.Ordinal);

        var state = KernelState.FromInputs(good);
        Assert.Throws<InvalidOperationException>(() => state.Activate(Activation.Relu));
        Assert.Throws<ArgumentException>(() => state.Dense(new DenseLayer(7, 3, 1, 0, true, 0, 21), Parameterization.Ntk));
        state.Activate(Activation.Plain(ActivationKind.Identity)); // exact on any input
        state.Dense(new DenseLayer(5, 3, 1, 0, true, 0, 15), Parameterization.Ntk);
        state.Activate(Activation.Relu);
        Assert.Throws<InvalidOperationException>(() => state.Activate(Activation.Relu));
    }

    [Fact]
    public void LargeKernelTiming()
    {
        // Not asserted (tests never assert wall-clock time); reported so regressions are visible in the log.
        var x = InfiniteWidthTestSupport.RandomInputs(1000, 5, 21);
        var net = Net(Activation.Relu, hidden: 3);
        var sw = Stopwatch.StartNew();
        var k = NtkDsl.InfiniteWidth.Kernels(net, x);
        output.WriteLine($"ReLU depth 3, N = 1000 symmetric: {sw.Elapsed.TotalMilliseconds:F0} ms");
        sw.Restart();
        var tanh = NtkDsl.InfiniteWidth.Kernels(Net(Activation.Plain(ActivationKind.Tanh), hidden: 1), InfiniteWidthTestSupport.RandomInputs(64, 5, 22));
        output.WriteLine($"Tanh (adaptive quadrature, tolerance 1e-10) 1 hidden layer, N = 64 symmetric: {sw.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(double.IsFinite(k.Ntk[999, 0]) && double.IsFinite(tanh.Ntk[63, 0]));
    }
}

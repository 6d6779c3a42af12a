using NtkDsl.Cpu;
using NtkDsl.Tests.Networks;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Empirical
{
    /// <summary>
    /// User-defined activations ([Elementwise]): derivatives against finite differences, the empirical NTK against
    /// explicit J J^T, the numerical infinite-width kernel against the closed form of the same function (Erf) and
    /// against Monte Carlo over initializations (Swish, which has no closed form).
    /// </summary>
    public class ElementwiseActivationTests
    {
        private static readonly Matrix<double> X = TestMath.RandomMatrix(5, 3, seed: 17);

        [Fact]
        public void Jacobian_matches_central_finite_differences()
        {
            var theta = SwishNet.InitializeParameters<double>(4);
            var jacobian = SwishNet.Jacobian(theta, X);
            const double h = 1e-6;
            double worst = 0;
            for (int p = 0; p < theta.Length; p++)
            {
                var plus = (double[])theta.Clone();
                var minus = (double[])theta.Clone();
                plus[p] += h;
                minus[p] -= h;
                var fp = SwishNet.Forward(plus, X);
                var fm = SwishNet.Forward(minus, X);
                for (int r = 0; r < jacobian.Rows; r++)
                    worst = Math.Max(worst, Math.Abs((fp.Data[r] - fm.Data[r]) / (2 * h) - jacobian[r, p]));
            }

            // Central differences of a smooth function: error ~h^2 |f'''| plus rounding ~1e-16 / h.
            Assert.True(worst < 1e-7, $"max |FD - J| = {worst:E2}");
        }

        [Fact]
        public void Vjp_Jvp_and_Ntk_agree_with_the_explicit_Jacobian()
        {
            var theta = SwishNet.InitializeParameters<double>(9);
            var j = SwishNet.Jacobian(theta, X); // [N O, P]
            var cotangent = TestMath.RandomMatrix(X.Rows, SwishNet.OutputSize, seed: 3);
            var tangent = TestMath.RandomMatrix(1, SwishNet.ParameterCount, seed: 4).Data;

            var vjp = SwishNet.Vjp(theta, X, cotangent);
            var jvp = SwishNet.Jvp(theta, X, tangent);
            var ntk = SwishNet.Ntk(theta, X, null, NtkMode.Full);
            var expectedVjp = new double[j.Cols];
            var expectedJvp = new double[j.Rows];
            var expectedNtk = new double[j.Rows * j.Rows];
            for (int r = 0; r < j.Rows; r++)
            {
                for (int p = 0; p < j.Cols; p++)
                {
                    expectedVjp[p] += cotangent.Data[r] * j[r, p];
                    expectedJvp[r] += j[r, p] * tangent[p];
                }

                for (int s = 0; s < j.Rows; s++)
                    for (int p = 0; p < j.Cols; p++)
                        expectedNtk[r * j.Rows + s] += j[r, p] * j[s, p];
            }

            Assert.True(TestMath.RelativeError(vjp, expectedVjp) < 1e-12);
            Assert.True(TestMath.RelativeError(jvp.Data, expectedJvp) < 1e-12);
            Assert.True(TestMath.RelativeError(ntk.Data, expectedNtk) < 1e-12);
        }

        [Fact]
        public void Numerical_infinite_width_kernel_of_a_user_erf_matches_the_closed_form()
        {
            // Same architecture and stds; the built-in Erf uses the arcsine closed form, the user's erf adaptive
            // quadrature (QuadratureTolerance, 1e-10 relative per moment by default; a looser tolerance stays within it).
            var options = InfiniteWidthOptions.Default;
            var closed = Wide1024Erf.InfiniteWidth(X);
            var numerical = Wide1024UserErf.InfiniteWidth(X, null, options);
            Assert.True(TestMath.RelativeError(numerical.Nngp, closed.Nngp) < 1e-9, $"nngp {TestMath.RelativeError(numerical.Nngp, closed.Nngp):E2}");
            Assert.True(TestMath.RelativeError(numerical.Ntk, closed.Ntk) < 1e-9, $"ntk {TestMath.RelativeError(numerical.Ntk, closed.Ntk):E2}");
            var loose = Wide1024UserErf.InfiniteWidth(X, null, new InfiniteWidthOptions { QuadratureTolerance = 1e-6 });
            Assert.True(TestMath.RelativeError(loose.Ntk, closed.Ntk) < 1e-5);
            var diagonal = Wide1024UserErf.InfiniteWidthDiagonal(X, options);
            for (int i = 0; i < X.Rows; i++) Assert.Equal(numerical.Ntk[i, i], diagonal.Ntk[i], 1e-10);
            // The runtime walk over the description gives the same kernel as the generated code.
            Assert.True(TestMath.RelativeError(NtkDsl.InfiniteWidth.Kernels(Wide1024UserErf.Description, X, null, options).Ntk, numerical.Ntk) < 1e-14);
        }

        [Fact]
        public void Monte_Carlo_mean_at_width_1024_is_within_5_percent_of_the_numerical_ntk()
        {
            // As ConvergenceTests for the built-in activations: 64 initializations of a width-1024 network.
            var estimate = MonteCarloKernel.Run(seed => Wide1024Swish.Ntk(Wide1024Swish.InitializeParameters<double>(seed), X), 64, seed: 5);
            var analytic = Wide1024Swish.InfiniteWidth(X).Ntk;
            double error = NtkDsl.Tests.InfiniteWidth.InfiniteWidthTestSupport.RelativeFrobenius(estimate.MeanSpan, analytic.Data);
            Assert.True(error < 0.05, $"relative Frobenius error {error:P2}");
        }

        [Fact]
        public void Description_names_the_user_functions()
        {
            Assert.Equal("SwishNet: 3 -> Dense(16) -> Elementwise(Swish/SwishDerivative) -> Dense(16) -> Elementwise(Swish/SwishDerivative) -> Dense(2)",
                SwishNet.Description.ToString());
            Assert.Equal(CpuNetwork<SwishNet, double>.InitializeParameters(2), SwishNet.InitializeParameters<double>(2));
        }
    }
}

namespace NtkDsl.Tests.Networks
{
    internal static class UserFunctions
    {
        public static double Swish(double x) => x / (1 + Math.Exp(-x));

        public static double SwishDerivative(double x)
        {
            double s = 1 / (1 + Math.Exp(-x));
            return s + x * s * (1 - s);
        }
    }

    [Network(Inputs = 3, WeightStd = 1.3, BiasStd = 0.2)]
    [Dense(16), Elementwise(nameof(Swish), nameof(SwishDerivative))]
    [Dense(16), Elementwise(nameof(Swish), nameof(SwishDerivative))]
    [Dense(2)]
    public partial class SwishNet
    {
        private static double Swish(double x) => UserFunctions.Swish(x);

        private static double SwishDerivative(double x) => UserFunctions.SwishDerivative(x);
    }

    [Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)]
    [Dense(1024), Elementwise(nameof(Swish), nameof(SwishDerivative))]
    [Dense(1024), Elementwise(nameof(Swish), nameof(SwishDerivative))]
    [Dense(1)]
    public partial class Wide1024Swish
    {
        private static double Swish(double x) => UserFunctions.Swish(x);

        private static double SwishDerivative(double x) => UserFunctions.SwishDerivative(x);
    }

    /// <summary>Wide1024Erf with erf as user code.</summary>
    [Network(Inputs = 3, WeightStd = 1.4, BiasStd = 0.1)]
    [Dense(1024), Elementwise(nameof(Erf), nameof(ErfDerivative))]
    [Dense(1024), Elementwise(nameof(Erf), nameof(ErfDerivative))]
    [Dense(1)]
    public partial class Wide1024UserErf
    {
        internal static double Erf(double x) => MathNet.Numerics.SpecialFunctions.Erf(x);

        internal static double ErfDerivative(double x) => 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x);
    }
}

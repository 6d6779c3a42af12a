using System.Text.Json;
using NtkDsl.Tests.Networks;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.InfiniteWidth;

/// <summary>The generated, unrolled InfiniteWidth members against the published closed forms and the runtime recursion.</summary>
public class GeneratedInfiniteWidthTests
{
    private static JsonElement Case(string name) =>
        ReferenceData.Load("analytic-kernels.json").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    [Fact]
    public void Generated_kernels_match_the_reference_values_to_1e_12()
    {
        foreach (var (name, compute) in new (string, Func<Matrix<double>, Matrix<double>, InfiniteWidthKernels>)[]
                 {
                     ("jacot-fig1-relu-depth4", (a, b) => JacotRelu.InfiniteWidth(a, b)),
                     ("erf-two-hidden", (a, b) => ErfTwoHidden.InfiniteWidth(a, b)),
                 })
        {
            var c = Case(name);
            var kernels = compute(ReferenceData.Matrix(c.GetProperty("x1")), ReferenceData.Matrix(c.GetProperty("x2")));
            Assert.True(TestMath.RelativeError(kernels.Nngp, ReferenceData.Matrix(c.GetProperty("nngp"))) < 1e-12, name);
            Assert.True(TestMath.RelativeError(kernels.Ntk, ReferenceData.Matrix(c.GetProperty("ntk"))) < 1e-12, name);
        }
    }

    [Fact]
    public void Generated_kernels_equal_the_runtime_recursion_over_the_description_for_every_activation()
    {
        var x1 = TestMath.RandomMatrix(5, 3, 1);
        var x2 = TestMath.RandomMatrix(4, 3, 2);
        foreach (var (description, generated) in new (NetworkDescription, InfiniteWidthKernels)[]
                 {
                     (ReluNet.Description, ReluNet.InfiniteWidth(x1, x2)), (LeakyReluNet.Description, LeakyReluNet.InfiniteWidth(x1, x2)),
                     (AbsNet.Description, AbsNet.InfiniteWidth(x1, x2)), (ErfNet.Description, ErfNet.InfiniteWidth(x1, x2)),
                     (TanhNet.Description, TanhNet.InfiniteWidth(x1, x2)), (SigmoidNet.Description, SigmoidNet.InfiniteWidth(x1, x2)),
                     (GeluNet.Description, GeluNet.InfiniteWidth(x1, x2)), (SoftplusNet.Description, SoftplusNet.InfiniteWidth(x1, x2)),
                     (SinNet.Description, SinNet.InfiniteWidth(x1, x2)), (IdentityNet.Description, IdentityNet.InfiniteWidth(x1, x2)),
                 })
        {
            var runtime = NtkDsl.InfiniteWidth.Kernels(description, x1, x2);
            Assert.Equal(runtime.Nngp.Data, generated.Nngp.Data);
            Assert.Equal(runtime.Ntk.Data, generated.Ntk.Data);
        }

        var diagonal = ErfNet.InfiniteWidthDiagonal(x1);
        var full = ErfNet.InfiniteWidth(x1);
        for (int i = 0; i < x1.Rows; i++) Assert.Equal(full.Ntk[i, i], diagonal.Ntk[i], 1e-12);
    }

    [Fact]
    public void Generated_kernels_validate_their_inputs()
    {
        var e = Assert.Throws<ArgumentException>(() => ReluNet.InfiniteWidth(new Matrix<double>(2, 4)));
        Assert.Equal("x1", e.ParamName);
        Assert.Contains("[N >= 1, 3]", e.Message);
        var nan = new Matrix<double>(2, 3);
        nan[0, 1] = double.NaN;
        Assert.Equal("x2", Assert.Throws<ArgumentException>(() => ReluNet.InfiniteWidth(new Matrix<double>(2, 3), nan)).ParamName);
    }
}

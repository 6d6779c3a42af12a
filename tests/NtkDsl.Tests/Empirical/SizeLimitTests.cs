using NtkDsl.Tests.Networks;

namespace NtkDsl.Tests.Empirical;

/// <summary>
/// Shapes beyond one .NET array (Array.MaxLength = 2,147,483,591 elements) get an ArgumentException that names the
/// shape and the limit and suggests tiles, never a bare OverflowException. Nothing large is allocated here.
/// </summary>
public class SizeLimitTests
{
    private const string Limit = "2,147,483,591";

    private static ArgumentException Fails(Action action)
    {
        var e = Assert.ThrowsAny<ArgumentException>(action);
        Assert.IsNotType<ArgumentOutOfRangeException>(e);
        Assert.Contains(Limit, e.Message, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void The_limit_is_one_dotnet_array()
    {
        Assert.Equal(2_147_483_591L, ShapeLimits.MaxElements);
        ShapeLimits.RequireMatrix(1, Array.MaxLength, "m", "m", "");          // exactly at the limit
        ShapeLimits.RequireMatrix(46_340, 46_340, "m", "m", "");               // 2,147,395,600
        Fails(() => ShapeLimits.RequireMatrix(1, Array.MaxLength + 1L, "m", "m", ""));
        Fails(() => ShapeLimits.RequireMatrix(46_341, 46_341, "m", "m", ""));  // 2,147,488,281
        Fails(() => ShapeLimits.RequireMatrix(int.MaxValue, int.MaxValue, "m", "m", ""));   // no wrap-around
    }

    [Fact]
    public void A_matrix_beyond_the_limit_names_its_shape_and_the_limit()
    {
        var e = Fails(() => _ = new Matrix<float>(1 << 20, 1 << 12));
        Assert.Equal("rows", e.ParamName);
        Assert.Contains("[1,048,576, 4,096] = 4,294,967,296 elements", e.Message, StringComparison.Ordinal);
        Assert.Contains("TiledNtk.Compute", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_ntk_of_46341_samples_fails_with_the_limit_and_the_tiled_alternative()
    {
        var theta = ReluNet.InitializeParameters<float>(0);
        var x = new Matrix<float>(46_341, ReluNet.InputSize);
        var e = Fails(() => ReluNet.Ntk(theta, x));                        // Trace: [46,341, 46,341]
        Assert.Contains("TiledNtk.Compute", e.Message, StringComparison.Ordinal);
        Assert.Contains("onTile", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_full_mode_ntk_of_two_outputs_at_40000_samples_fails_with_the_limit()
    {
        var theta = ReluNet.InitializeParameters<float>(0);                // O = 2
        var e = Fails(() => ReluNet.Ntk(theta, new Matrix<float>(40_000, ReluNet.InputSize), mode: NtkMode.Full));
        Assert.Contains("[80,000, 80,000]", e.Message, StringComparison.Ordinal);
        ReluNet.Ntk(theta, new Matrix<float>(3, ReluNet.InputSize), mode: NtkMode.Full);   // small sizes are unaffected
    }

    [Fact]
    public void Ntk_shape_check_names_the_argument_mode_and_sizes()
    {
        var e = Fails(() => ShapeLimits.RequireNtk(40_000, 40_000, 2, NtkMode.Full, "x1"));
        Assert.Equal("x1", e.ParamName);
        Assert.Contains("Theta(x1, x2) in Full mode for N1 = 40,000, N2 = 40,000, O = 2 would be [80,000, 80,000] = 6,400,000,000 elements", e.Message, StringComparison.Ordinal);
        Assert.Contains("TiledNtk.Compute", e.Message, StringComparison.Ordinal);
        ShapeLimits.RequireNtk(40_000, 40_000, 2, NtkMode.Trace, "x1");      // [40,000, 40,000] fits
        Fails(() => ShapeLimits.RequireNtk(30_000, 40_000, 2, NtkMode.Diagonal, "x1"));   // [60,000, 40,000]
        Fails(() => ShapeLimits.RequireNtk(int.MaxValue, 1, 10, NtkMode.Full, "x1"));      // N1 O overflows int
    }

    [Fact]
    public void A_jacobian_beyond_the_limit_fails_with_the_limit()
    {
        var theta = ErfWide1024.InitializeParameters<double>(0);          // P = 6,145, O = 1
        int n = (int)(ShapeLimits.MaxElements / ErfWide1024.ParameterCount) + 1;
        Fails(() => ErfWide1024.Jacobian(theta, new Matrix<double>(n, ErfWide1024.InputSize)));
        var e = Fails(() => ShapeLimits.RequireJacobian(n, ErfWide1024.OutputSize, ErfWide1024.ParameterCount, "x"));
        Assert.Equal("x", e.ParamName);
        Assert.Contains("Jvp/Vjp", e.Message, StringComparison.Ordinal);
    }
}

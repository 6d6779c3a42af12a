using NtkDsl.Tests.Networks;

namespace NtkDsl.Tests.Empirical;

/// <summary>Bad input gets an ArgumentException that names the argument and states the expected and given shapes.</summary>
public class BadInputTests
{
    private static readonly double[] Theta = ReluNet.InitializeParameters<double>(0);
    private static readonly Matrix<double> X = new(4, ReluNet.InputSize);

    private static void Throws(string parameter, string messagePart, Action action)
    {
        var e = Assert.ThrowsAny<ArgumentException>(action);
        Assert.Equal(parameter, e.ParamName);
        Assert.Contains(messagePart, e.Message);
    }

    [Fact]
    public void Wrong_parameter_vector_length() =>
        Throws("parameters", $"length ParameterCount = {ReluNet.ParameterCount}", () => ReluNet.Forward(new double[10], X));

    [Fact]
    public void Wrong_input_width() =>
        Throws("x", "shape [N >= 1, 3], but has shape [4, 5]", () => ReluNet.Forward(Theta, new Matrix<double>(4, 5)));

    [Fact]
    public void Empty_batch() =>
        Throws("x", "but has shape [0, 3]", () => ReluNet.Forward(Theta, new Matrix<double>(0, 3)));

    [Fact]
    public void NaN_input_is_rejected()
    {
        var x = new Matrix<double>(2, 3);
        x[1, 2] = double.NaN;
        Throws("x1", "NaN", () => ReluNet.Ntk(Theta, x));
    }

    [Fact]
    public void Infinite_parameter_is_rejected()
    {
        var theta = (double[])Theta.Clone();
        theta[5] = double.PositiveInfinity;
        Throws("parameters", "index 5", () => ReluNet.Jacobian(theta, X));
    }

    [Fact]
    public void Second_batch_is_validated_too() =>
        Throws("x2", "but has shape [2, 4]", () => ReluNet.Ntk(Theta, X, new Matrix<double>(2, 4)));

    [Fact]
    public void Wrong_cotangent_shape() =>
        Throws("cotangent", "shape [4, 2], but has shape [4, 1]", () => ReluNet.Vjp(Theta, X, new Matrix<double>(4, 1)));

    [Fact]
    public void Wrong_tangent_length() =>
        Throws("tangent", "length ParameterCount", () => ReluNet.Jvp(Theta, X, new double[3]));

    [Fact]
    public void Null_input() =>
        Assert.Throws<ArgumentNullException>(() => ReluNet.Forward(Theta, null!));

    [Fact]
    public void Undefined_ntk_mode() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ReluNet.Ntk(Theta, X, null, (NtkMode)9));

    [Fact]
    public void Wrong_result_shape_through_the_backend_interface()
    {
        var backend = new NtkDsl.Cpu.CpuBackend<double>();
        var workspace = new NtkDsl.Backends.Workspace<NtkDsl.Cpu.CpuTensor<double>>();
        var x = NtkDsl.Cpu.CpuTensor<double>.Of(X);
        var e = Assert.Throws<ArgumentException>(() => CallNtk<ReluNet>(backend, Theta, x, NtkDsl.Cpu.CpuTensor<double>.Of(new Matrix<double>(4, 5)), workspace));
        Assert.Equal("result", e.ParamName);
        Assert.Contains("shape [4, 4], but has shape [4, 5]", e.Message);
    }

    private static void CallNtk<TNet>(NtkDsl.Cpu.CpuBackend<double> backend, double[] theta, NtkDsl.Cpu.CpuTensor<double> x, NtkDsl.Cpu.CpuTensor<double> result,
        NtkDsl.Backends.Workspace<NtkDsl.Cpu.CpuTensor<double>> workspace) where TNet : NtkDsl.Backends.INetwork<TNet> =>
        TNet.Ntk(backend, NtkDsl.Cpu.CpuTensor<double>.Of(theta), x, x, true, NtkMode.Trace, result, workspace);
}

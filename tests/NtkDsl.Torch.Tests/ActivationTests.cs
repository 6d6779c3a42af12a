using static NtkDsl.Torch.Tests.TestSupport;
using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>Activate and MultiplyByDerivative against <see cref="Activation.Evaluate"/> / <see cref="Activation.Derivative"/> for every kind.</summary>
public sealed class ActivationTests
{
    public static TheoryData<string, ScalarType> Cases()
    {
        var data = new TheoryData<string, ScalarType>();
        foreach (var name in Activations.Keys)
        {
            data.Add(name, ScalarType.Float64);
            data.Add(name, ScalarType.Float32);
        }

        return data;
    }

    private static readonly Dictionary<string, Activation> Activations = new()
    {
        ["Relu"] = Activation.Relu,
        ["LeakyRelu(0.1)"] = Activation.LeakyRelu(0.1),
        ["Abs"] = Activation.Abs,
        ["Erf"] = Activation.Erf(),
        ["Erf(1.5, 0.7, -0.2)"] = Activation.Erf(1.5, 0.7, -0.2),
        ["Tanh"] = Activation.Plain(ActivationKind.Tanh),
        ["Sigmoid"] = Activation.Plain(ActivationKind.Sigmoid),
        ["Gelu"] = Activation.Plain(ActivationKind.Gelu),
        ["Softplus"] = Activation.Plain(ActivationKind.Softplus),
        ["Sin"] = Activation.Sin(),
        ["Sin(0.8, 1.3, 0.4)"] = Activation.Sin(0.8, 1.3, 0.4),
        ["Identity"] = Activation.Plain(ActivationKind.Identity),
    };

    // 5 x 7 values: exact zeros (the kink), both signs, tails (softplus cut-offs at 20 / 30, gelu's far left).
    private static double[,] Inputs()
    {
        var z = Random(5, 7, 42, 3.0);
        double[] special = [0, -0.0, 1e-9, -1e-9, 2.5, -2.5, 19.5, 20.5, 35, -35, -9, 9, 45, -45];
        for (int i = 0; i < special.Length; i++) z[i / 7, i % 7] = special[i];
        return z;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Activate_matches_Evaluate(string name, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var act = Activations[name];
        var z = Rounded(Inputs(), dtype);
        var dst = ToTensor(Random(5, 7, 1), dtype);
        new TorchBackend(dtype).Activate(act, ToTensor(z, dtype), dst);
        var expected = new double[5, 7];
        for (int r = 0; r < 5; r++)
            for (int c = 0; c < 7; c++)
                expected[r, c] = act.Evaluate(z[r, c]);
        AssertClose(expected, ToHost(dst), Tolerance(dtype), name);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MultiplyByDerivative_matches_Derivative(string name, ScalarType dtype)
    {
        foreach (int repeat in new[] { 1, 3 })
        {
            using var scope = NewDisposeScope();
            var act = Activations[name];
            var z = Rounded(Inputs(), dtype);
            var c0 = Rounded(Random(5 * repeat, 7, 2), dtype);
            var dst = ToTensor(c0, dtype);
            new TorchBackend(dtype).MultiplyByDerivative(act, ToTensor(z, dtype), dst, repeat);
            var expected = new double[5 * repeat, 7];
            for (int r = 0; r < 5 * repeat; r++)
                for (int c = 0; c < 7; c++)
                    expected[r, c] = c0[r, c] * act.Derivative(z[r / repeat, c]);
            AssertClose(expected, ToHost(dst), Tolerance(dtype), $"{name}, repeat {repeat}");
        }
    }

    [Fact]
    public void Piecewise_linear_derivative_at_zero_is_the_left_slope()
    {
        using var scope = NewDisposeScope();
        var z = ToTensor(new double[,] { { 0.0, -0.0 } }, ScalarType.Float64);
        foreach (var act in new[] { Activation.Relu, Activation.LeakyRelu(0.2), Activation.Abs })
        {
            var dst = ToTensor(new double[,] { { 1, 1 } }, ScalarType.Float64);
            TorchBackend.Float64().MultiplyByDerivative(act, z, dst, 1);
            Assert.Equal(new[] { act.A, act.A }, dst.ToArray<double>());
        }
    }
}

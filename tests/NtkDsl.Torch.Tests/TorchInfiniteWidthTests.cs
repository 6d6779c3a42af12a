using static TorchSharp.torch;

namespace NtkDsl.Torch.Tests;

/// <summary>The torch CNN-GP / CNTK recursion against the CPU kernel state (InfiniteWidth.Kernels) on the same description.</summary>
public sealed class TorchInfiniteWidthTests
{
    public static TheoryData<string> Networks() => [nameof(CntkPooled), nameof(CntkFlatten), nameof(CntkSequence), nameof(ReluErf) + "-dense"];

    private static NetworkDescription Describe(string name) => name switch
    {
        nameof(CntkPooled) => CntkPooled.Description,
        nameof(CntkFlatten) => CntkFlatten.Description,
        nameof(CntkSequence) => CntkSequence.Description,
        _ => NetworkDescription.Create("ReluDense", 3, Parameterization.Ntk, 1.5, 0.1,
            LayerSpec.Dense(16, null, null, true), LayerSpec.Act(Activation.Relu), LayerSpec.Dense(2, null, null, true)),
    };

    [Theory]
    [MemberData(nameof(Networks))]
    public void Kernels_equal_the_cpu_kernel_state(string name)
    {
        using var scope = NewDisposeScope();
        var d = Describe(name);
        var x1 = new Matrix<double>(5, d.Inputs, TestSupport.Random(5, d.Inputs, 21).Cast<double>().ToArray());
        var x2 = new Matrix<double>(3, d.Inputs, TestSupport.Random(3, d.Inputs, 22).Cast<double>().ToArray());
        foreach (bool same in new[] { true, false })
        {
            var expected = InfiniteWidth.Kernels(d, x1, same ? null : x2);
            // A small tile budget so that rows split into several tiles.
            var (nngp, ntk) = TorchInfiniteWidth.Kernels(d, x1.ToTensor(), same ? null : x2.ToTensor(), tileElements: 2000);
            Close(expected.Nngp, nngp.ToMatrix<double>(), $"{name} NNGP same={same}");
            Close(expected.Ntk, ntk.ToMatrix<double>(), $"{name} NTK same={same}");
            if (same) Assert.Equal(ntk.ToMatrix<double>().Data, ntk.t().contiguous().ToMatrix<double>().Data);
        }
    }

    [Fact]
    public void Bad_input_and_unsupported_activations_are_rejected()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ArgumentException>(() => TorchInfiniteWidth.Kernels(CntkPooled.Description, zeros(2, 49, dtype: ScalarType.Float64)));
        Assert.Equal("x1", error.ParamName);
        Assert.Contains("[2, 5, 5]", error.Message);
        Assert.Contains("[2, 49]", error.Message);
        var good = ones(2, 50, dtype: ScalarType.Float64);
        error = Assert.Throws<ArgumentException>(() => TorchInfiniteWidth.Kernels(CntkPooled.Description, good, full(1, 50, double.NaN, dtype: ScalarType.Float64)));
        Assert.Equal("x2", error.ParamName);
        var unsupported = Assert.Throws<NotSupportedException>(() => TorchInfiniteWidth.Kernels(ConvImage.Description, ones(1, ConvImage.InputSize, dtype: ScalarType.Float64)));
        Assert.Contains("Erf", unsupported.Message);
    }

    private static void Close(Matrix<double> expected, Matrix<double> actual, string what)
    {
        double diff = expected.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max(), scale = expected.Data.Max(Math.Abs);
        Assert.True(diff / scale < 1e-12, $"{what}: relative difference {diff / scale:E2}");
    }
}

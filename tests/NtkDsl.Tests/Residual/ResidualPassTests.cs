using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Residual;

/// <summary>
/// Branching networks: the forward pass against a graph interpreter written from the layer definitions
/// (<see cref="NaiveGraphNet"/>), the description's sources and joins, and the infinite-width kernels against the runtime's
/// own walk of the description. Their derivatives and NTKs go through the checks of every network
/// (Empirical/EmpiricalKernelTests: finite differences, J contractions, explicit J J^T in every mode, float32), PyTorch
/// autograd in ResidualReferenceTests, and Monte Carlo in ResidualMonteCarloTests.
/// </summary>
public class ResidualPassTests
{
    public static TheoryData<INetworkCase> Networks() =>
    [
        new NetworkCase<ResidualMlp>(), new NetworkCase<ResidualConvNet>(), new NetworkCase<ConcatNet>(), new NetworkCase<ProjectionConcatNet>(),
    ];

    [Theory]
    [MemberData(nameof(Networks))]
    public void Forward_matches_a_graph_interpreter(INetworkCase net)
    {
        var theta = net.Initialize<double>(seed: 1);
        var x = TestMath.RandomMatrix(3, net.Inputs, seed: 2);
        var expected = NaiveGraphNet.Forward(net.Description, theta, x);
        double error = TestMath.RelativeError(net.Forward(theta, x), expected);
        Assert.True(error < 1e-13, $"relative error {error:E2}");
    }

    [Fact]
    public void Description_lists_sources_and_joins_in_node_order()
    {
        var d = ResidualMlp.Description;
        // Dense, then per block LayerNorm, Relu, Dense, Sum(block input, block output); LayerNorm, Erf, Dense.
        Assert.Equal(12, d.Layers.Count);
        var first = Assert.IsType<JoinLayer>(d.Layers[4]);
        Assert.Equal(JoinKind.Sum, first.Kind);
        Assert.Equal([0, 3], first.Inputs);
        Assert.Equal(0, d.Sources[1]); // the second block's LayerNorm reads the first Dense
        Assert.Equal(4, d.Sources[5]); // the second block reads the first sum
        Assert.Equal([4, 7], Assert.IsType<JoinLayer>(d.Layers[8]).Inputs);
        Assert.Equal(ResidualMlp.ParameterCount, d.ParameterCount);
        Assert.True(d.IsBranching);

        // Dense, Tanh, Left (Dense, Relu), Right (Dense), Concat(Relu, Right's Dense), Dense.
        var concat = Assert.IsType<JoinLayer>(ConcatNet.Description.Layers[5]);
        Assert.Equal(JoinKind.Concat, concat.Kind);
        Assert.Equal([3, 4], concat.Inputs);
        Assert.Equal([3, 2], concat.Widths);
        Assert.Equal(1, ConcatNet.Description.Sources[4]); // Right reads the Tanh, not Left's Relu
    }

    public static TheoryData<string> KernelNetworks() => ["ResidualMlp", "ResidualConvNet", "ConcatNet", "ProjectionConcatNet"];

    [Theory]
    [MemberData(nameof(KernelNetworks))]
    public void Generated_infinite_width_equals_the_runtime_walk_and_its_diagonal(string name)
    {
        var (description, kernels, diagonal) = name switch
        {
            "ResidualMlp" => (ResidualMlp.Description, (Func<Matrix<double>, Matrix<double>?, InfiniteWidthKernels>)((a, b) => ResidualMlp.InfiniteWidth(a, b)), (Func<Matrix<double>, InfiniteWidthDiagonal>)(a => ResidualMlp.InfiniteWidthDiagonal(a))),
            "ResidualConvNet" => (ResidualConvNet.Description, (a, b) => ResidualConvNet.InfiniteWidth(a, b), a => ResidualConvNet.InfiniteWidthDiagonal(a)),
            "ConcatNet" => (ConcatNet.Description, (a, b) => ConcatNet.InfiniteWidth(a, b), a => ConcatNet.InfiniteWidthDiagonal(a)),
            _ => (ProjectionConcatNet.Description, (Func<Matrix<double>, Matrix<double>?, InfiniteWidthKernels>)((a, b) => ProjectionConcatNet.InfiniteWidth(a, b)), (Func<Matrix<double>, InfiniteWidthDiagonal>)(a => ProjectionConcatNet.InfiniteWidthDiagonal(a))),
        };
        var x1 = TestMath.RandomMatrix(4, description.Inputs, seed: 3);
        var x2 = TestMath.RandomMatrix(3, description.Inputs, seed: 4);
        var generated = kernels(x1, x2);
        var walked = NtkDsl.InfiniteWidth.Kernels(description, x1, x2);
        Assert.Equal(walked.Nngp.Data, generated.Nngp.Data);
        Assert.Equal(walked.Ntk.Data, generated.Ntk.Data);

        var symmetric = kernels(x1, null);
        var diag = diagonal(x1);
        for (int i = 0; i < x1.Rows; i++)
        {
            Assert.Equal(symmetric.Nngp[i, i], diag.Nngp[i]);
            Assert.Equal(symmetric.Ntk[i, i], diag.Ntk[i]);
        }
    }
}

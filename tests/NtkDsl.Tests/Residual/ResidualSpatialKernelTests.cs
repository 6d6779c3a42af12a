namespace NtkDsl.Tests.Residual;

/// <summary>
/// The spatial infinite-width kernel of stacked residual blocks evaluates every layer of the graph once per tile of
/// sample pairs: the state at a branch point is kept for the branch that joins later, instead of the branch running the
/// layers before it again (which cost 2^blocks times the shared prefix).
/// </summary>
public class ResidualSpatialKernelTests
{
    private static ConvLayer Stem => ResidualConvNet.Description.Layers.OfType<ConvLayer>().First();

    private static ConvLayer BlockConv => ResidualConvNet.Description.Layers.OfType<ConvLayer>().Last();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Each_layer_runs_once_per_tile_however_many_blocks_are_stacked(int blocks)
    {
        var state = Stacked(blocks, Inputs(3, 1));
        var (applications, tiles) = state.SpatialEvaluations;
        // Per tile: the stem conv, per block a branch point, Relu, Conv and the sum, then Relu and the global pool.
        Assert.True(tiles > 0);
        Assert.Equal(tiles * (3 + 4 * blocks), applications);
    }

    [Fact]
    public void Keeping_the_branch_point_gives_the_kernel_of_recomputing_the_shared_layers_bit_for_bit()
    {
        var x = Inputs(3, 2);
        var kept = Stacked(1, x).Result();

        // x0 + Conv(Relu(x0)) with the branch copied before the stem, so it computes x0 = stem(x) again itself.
        var state = Start(x);
        var branch = state.Copy();
        state.Conv(Stem, Parameterization.Ntk);
        branch.Conv(Stem, Parameterization.Ntk);
        branch.Activate(Activation.Relu);
        branch.Conv(BlockConv, Parameterization.Ntk);
        state.Add(branch);
        var recomputed = Readout(state).Result();

        Assert.Equal(recomputed.Nngp.Data, kept.Nngp.Data);
        Assert.Equal(recomputed.Ntk.Data, kept.Ntk.Data);
    }

    // x0 = stem(x), then blocks times x_{b+1} = x_b + Conv(Relu(x_b)), Relu, GlobalAvgPool.
    private static KernelState Stacked(int blocks, Matrix<double> x)
    {
        var state = Start(x);
        state.Conv(Stem, Parameterization.Ntk);
        for (int b = 0; b < blocks; b++)
        {
            var branch = state.Copy();
            branch.Activate(Activation.Relu);
            branch.Conv(BlockConv, Parameterization.Ntk);
            state.Add(branch);
        }

        return Readout(state);
    }

    private static KernelState Start(Matrix<double> x) =>
        KernelState.FromInputs(x, null, null, Stem.InChannels, Stem.Window.Input, positionPairs: true);

    private static KernelState Readout(KernelState state)
    {
        state.Activate(Activation.Relu);
        state.GlobalAvgPool(new GlobalAvgPoolLayer(BlockConv.OutChannels, BlockConv.Window.Output));
        return state;
    }

    private static Matrix<double> Inputs(int n, int seed) =>
        NtkDsl.Tests.InfiniteWidth.InfiniteWidthTestSupport.RandomInputs(n, Stem.InChannels * Stem.Window.Input.Positions, seed);
}

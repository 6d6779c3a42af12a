using System.Runtime.CompilerServices;
using NtkDsl.Cpu;
using NtkDsl.Tests.Networks;

namespace NtkDsl.Tests.Empirical;

/// <summary>
/// The CPU host session and the static entry points: the same results, a workspace that is owned (session) or
/// bounded (static), the generated buffer plan's size against what a call really allocates, and the checks the
/// host adds (overlapping destinations, undefined modes, overflow from finite inputs).
/// </summary>
public class HostSessionTests
{
    private static readonly double[] Theta = MyNet.InitializeParameters<double>(3);

    private static Matrix<double> Inputs(int n, double scale = 1, int seed = 5)
    {
        var random = new Random(seed);
        var x = new Matrix<double>(n, MyNet.InputSize);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] = scale * (2 * random.NextDouble() - 1);
        return x;
    }

    [Fact]
    public void Session_matches_the_static_entry_points_and_releases_its_workspace()
    {
        var x1 = Inputs(7);
        var x2 = Inputs(5, seed: 6);
        using var session = new CpuSession<MyNet, double>();
        Assert.Equal(MyNet.Ntk(Theta, x1, x2, NtkMode.Full).Data, session.Ntk(Theta, x1, x2, NtkMode.Full).Data);
        Assert.Equal(MyNet.Forward(Theta, x1).Data, session.Forward(Theta, x1).Data);
        Assert.True(session.WorkspaceBytes > 0);
        session.Dispose();
        Assert.Equal(0, session.WorkspaceBytes);
        Assert.Throws<ObjectDisposedException>(() => session.Forward(Theta, x1));
    }

    [Theory]
    [InlineData(NtkMode.Trace, false)]
    [InlineData(NtkMode.Full, false)]
    [InlineData(NtkMode.Diagonal, false)]
    [InlineData(NtkMode.Trace, true)]
    [InlineData(NtkMode.Full, true)]
    public void Generated_workspace_size_is_what_an_Ntk_call_allocates(NtkMode mode, bool same)
    {
        // The buffer plan's count against the workspace's own tally of the buffers the call really took.
        var x1 = Inputs(9);
        var x2 = same ? x1 : Inputs(4, seed: 8);
        using var session = new CpuSession<MyNet, double>();
        session.Ntk(Theta, x1, same ? null : x2, mode);
        long expected = MyNet.NtkWorkspaceElements(x1.Rows, x2.Rows, same, mode, default(CpuBackend<double>).TraceOutputGroupLimit) * Unsafe.SizeOf<double>();
        Assert.Equal(expected, session.WorkspaceBytes);
    }

    [Fact]
    public void Static_entry_points_keep_small_workspaces_and_release_large_ones()
    {
        var small = Inputs(4);
        MyNet.Ntk(Theta, small);
        long kept = CpuNetwork<MyNet, double>.RetainedWorkspaceBytes;
        Assert.InRange(kept, 1, CpuSettings.RetainedWorkspaceBytes);

        // 1,500 samples in full mode need more than the 64 MiB default (the [N O, N O] cotangent Gram alone is 72 MB).
        var large = Inputs(1500);
        Assert.True(MyNet.NtkWorkspaceElements(1500, 1500, true, NtkMode.Full, default(CpuBackend<double>).TraceOutputGroupLimit) * 8 > CpuSettings.RetainedWorkspaceBytes);
        MyNet.Ntk(Theta, large, null, NtkMode.Full);
        Assert.Equal(0, CpuNetwork<MyNet, double>.RetainedWorkspaceBytes);
    }

    [Fact]
    public void Destinations_that_overlap_an_input_are_rejected()
    {
        var x = Inputs(3);
        var output = new Matrix<double>(3, MyNet.OutputSize);
        var theta = (double[])Theta.Clone();
        var e = Assert.Throws<ArgumentException>(() => CpuNetwork<MyNet, double>.Vjp(theta, x, new Matrix<double>(3, 2), output, theta));
        Assert.Equal("gradient", e.ParamName);
        Assert.Contains("overlaps 'parameters'", e.Message);
        Assert.Equal(Theta, theta); // nothing was written

        var kernel = Assert.Throws<ArgumentException>(() => CpuNetwork<MyNet, double>.Ntk(Theta, x, null, NtkMode.Trace, x));
        Assert.Equal("result", kernel.ParamName);
    }

    [Fact]
    public void Undefined_mode_is_rejected_by_both_Ntk_overloads()
    {
        var x = Inputs(3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CpuNetwork<MyNet, double>.Ntk(Theta, x, null, (NtkMode)7, new Matrix<double>(3, 3)));
        Assert.Equal("mode", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => MyNet.Ntk(Theta, x, null, (NtkMode)7));
    }

    [Fact]
    public void Finite_inputs_that_overflow_say_so()
    {
        var forward = Assert.Throws<OverflowException>(() => MyNet.Forward(Theta, Inputs(2, scale: 1e308)));
        Assert.Contains("'output'", forward.Message);
        Assert.Contains("overflowed Double", forward.Message);

        var infinite = Assert.Throws<OverflowException>(() => MyNet.InfiniteWidth(Inputs(2, scale: 1e200)));
        Assert.Contains("'nngp'", infinite.Message);
        Assert.Throws<OverflowException>(() => MyNet.InfiniteWidthDiagonal(Inputs(2, scale: 1e200)));

        // Large but representable values still work.
        Assert.All(MyNet.Forward(Theta, Inputs(2, scale: 1e100)).Data, v => Assert.True(double.IsFinite(v)));
    }
}

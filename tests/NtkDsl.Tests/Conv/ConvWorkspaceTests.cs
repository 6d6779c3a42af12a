using System.Runtime.CompilerServices;
using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.Tests.Support;

namespace NtkDsl.Tests.Conv;

/// <summary>
/// The generated NtkWorkspaceElements of conv networks (both NTK strategies, every mode, one batch or two) against the
/// workspace's own tally of the buffers an Ntk call really took.
/// </summary>
public class ConvWorkspaceTests
{
    public static TheoryData<string, NtkMode, bool> Cases()
    {
        var data = new TheoryData<string, NtkMode, bool>();
        foreach (var net in new[] { nameof(SameValidConvNet), nameof(PositionPairConvNet), nameof(MixedStrategyConvNet) })
            foreach (var mode in new[] { NtkMode.Trace, NtkMode.Full, NtkMode.Diagonal })
                foreach (bool same in new[] { true, false })
                    data.Add(net, mode, same);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Generated_workspace_size_is_what_an_Ntk_call_allocates(string net, NtkMode mode, bool same)
    {
        long[] measured = net switch
        {
            nameof(SameValidConvNet) => Measure<SameValidConvNet>(mode, same),
            nameof(PositionPairConvNet) => Measure<PositionPairConvNet>(mode, same),
            _ => Measure<MixedStrategyConvNet>(mode, same),
        };
        Assert.Equal(measured[0], measured[1]);
    }

    // [bytes the plan counts, bytes the session's workspace holds] after one Ntk call of 7 x 4 (or 7 x 7) samples.
    private static long[] Measure<TNet>(NtkMode mode, bool same) where TNet : INetwork<TNet>
    {
        var theta = CpuNetwork<TNet, double>.InitializeParameters(3);
        var x1 = TestMath.RandomMatrix(7, TNet.InputSize, seed: 5);
        var x2 = same ? x1 : TestMath.RandomMatrix(4, TNet.InputSize, seed: 6);
        using var session = new CpuSession<TNet, double>();
        session.Ntk(theta, x1, same ? null : x2, mode);
        return [TNet.NtkWorkspaceElements(x1.Rows, x2.Rows, same, mode, default(CpuBackend<double>).TraceOutputGroupLimit) * Unsafe.SizeOf<double>(), session.WorkspaceBytes];
    }
}

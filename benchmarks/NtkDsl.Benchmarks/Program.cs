using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace NtkDsl.Benchmarks;

/// <summary>
/// <c>quick [--json FILE] [--tiny] [--threads N] [--only cases] [--no-autograd]</c>: the side-by-side quick mode;
/// anything else is passed to BenchmarkDotNet (e.g. <c>--filter *Ntk*</c>), which runs the suites in-process.
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length > 0 && args[0] == "quick")
        {
            QuickOptions options;
            try
            {
                options = QuickRunner.Parse(args[1..]);
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }

            QuickRunner.Run(options);
            return 0;
        }

        // In-process toolchain: building a separate benchmark process per suite is slow on this machine.
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithOptions(ConfigOptions.JoinSummary);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return 0;
    }
}

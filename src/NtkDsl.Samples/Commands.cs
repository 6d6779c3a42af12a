using System.ComponentModel;
using System.Diagnostics;
using System.Numerics;
using NtkDsl.Backends;
using NtkDsl.Cpu;
using NtkDsl.IO;
using Spectre.Console;
using Spectre.Console.Cli;

namespace NtkDsl.Samples;

/// <summary>Entry point of the tour and of the <c>kernel</c> command (also called in-process by the tests).</summary>
public static class TourProgram
{
    /// <summary>Parses <paramref name="args"/> and runs the tour (no command) or the <c>kernel</c> command.</summary>
    /// <param name="args">Command-line arguments, e.g. <c>--quick --out dir</c>.</param>
    /// <returns>The process exit code.</returns>
    public static int Run(string[] args)
    {
        AnsiConsole.Console = SampleConsole.Create(Console.Out);
        var errors = SampleConsole.Create(Console.Error);
        var app = new CommandApp<TourCommand>();
        app.Configure(c =>
        {
            c.ConfigureConsole(AnsiConsole.Console);
            c.SetApplicationName("NtkDsl.Samples");
            c.AddCommand<KernelCommand>("kernel")
                .WithDescription("Compute the empirical or infinite-width kernel of a sample network on inputs read from .npy or .csv, and write it as .npy.")
                .WithExample("kernel", "inputs.csv", "--network", "jacot-500", "--output", "theta.npy")
                .WithExample("kernel", "x.npy", "--x2", "x_test.npy", "--infinite", "--output", "theta_inf.npy");
            c.AddCommand<ClassifyCommand>("classify").WithDescription("Classify Fashion-MNIST with the NNGP/NTK of a declared network, RBF and linear kernels, and the network trained by SGD.");
            c.UseStrictParsing();
            c.PropagateExceptions();
        });
        try
        {
            return app.Run(args);
        }
        catch (CommandParseException e)
        {
            // Strict parsing: an unknown or misspelled option is an error, never silently ignored.
            errors.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message + OptionSuggestions.For(args))} See --help.");
            return 2;
        }
        catch (Exception e) when (e is CommandRuntimeException or FileNotFoundException or FormatException or ArgumentException or NpyFormatException)
        {
            errors.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 2;
        }
    }
}

/// <summary>Options shared by the tour and the kernel command.</summary>
public class CommonSettings : CommandSettings
{
    /// <summary>--threads.</summary>
    [CommandOption("--threads <N>")]
    [Description("Threads for the CPU and torch backends (0 = all cores).")]
    [DefaultValue(0)]
    public int Threads { get; init; }

    /// <summary>--backend.</summary>
    [CommandOption("--backend <BACKEND>")]
    [Description("Where empirical NTKs are computed: cpu (generated code) or torch (TorchSharp, CPU).")]
    [DefaultValue("cpu")]
    public string Backend { get; init; } = "cpu";

    /// <summary>--seed.</summary>
    [CommandOption("--seed <SEED>")]
    [Description("Seed of every parameter initialization.")]
    [DefaultValue(0)]
    public int Seed { get; init; }

    internal BackendKind BackendKind => Backend.Equals("torch", StringComparison.OrdinalIgnoreCase) ? BackendKind.Torch : BackendKind.Cpu;

    /// <inheritdoc/>
    public override ValidationResult Validate()
    {
        if (!Backend.Equals("cpu", StringComparison.OrdinalIgnoreCase) && !Backend.Equals("torch", StringComparison.OrdinalIgnoreCase))
            return ValidationResult.Error($"--backend must be cpu or torch, got '{Backend}'.");
        if (Threads < 0) return ValidationResult.Error($"--threads must be >= 0, got {Threads}.");
        return ValidationResult.Success();
    }
}

/// <summary>Settings of the tour (the default command).</summary>
public sealed class TourSettings : CommonSettings
{
    /// <summary>--out.</summary>
    [CommandOption("-o|--out <DIR>")]
    [Description("Folder for the plots (PNG and SVG) and report.html.")]
    [DefaultValue("ntk-output")]
    public string Out { get; init; } = "ntk-output";

    /// <summary>--quick.</summary>
    [CommandOption("--quick")]
    [Description("Smaller widths and fewer initializations and steps (under 30 s); used by the tests.")]
    public bool Quick { get; init; }
}

/// <summary>The tour: sections a-d with tables, plots and report.html.</summary>
public sealed class TourCommand : Command<TourSettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, TourSettings settings, CancellationToken cancellationToken)
    {
        KernelBackend.Configure(settings.BackendKind, settings.Threads);
        return new Tour(AnsiConsole.Console, new TourOptions(settings.Out, settings.Quick, settings.Seed)).Run();
    }
}

/// <summary>Settings of the kernel command.</summary>
public sealed class KernelSettings : CommonSettings
{
    /// <summary>Input file.</summary>
    [CommandArgument(0, "<INPUTS>")]
    [Description("Inputs X1, N1 rows of d numbers: .npy (float32/float64, 1-D or 2-D) or .csv (numbers, optional header line).")]
    public string Inputs { get; init; } = "";

    /// <summary>--x2.</summary>
    [CommandOption("--x2 <FILE>")]
    [Description("Second inputs X2, N2 rows of d numbers (.npy or .csv); default X1.")]
    public string? Inputs2 { get; init; }

    /// <summary>--network.</summary>
    [CommandOption("-n|--network <NAME>")]
    [Description("Sample network: two-layer, jacot-500, jacot-2000, jacot-10000, relu-16 ... relu-4096.")]
    [DefaultValue("two-layer")]
    public string Network { get; init; } = "two-layer";

    /// <summary>--infinite.</summary>
    [CommandOption("--infinite")]
    [Description("The analytic infinite-width kernel instead of the empirical NTK of one initialization.")]
    public bool Infinite { get; init; }

    /// <summary>--nngp.</summary>
    [CommandOption("--nngp")]
    [Description("With --infinite: write the NNGP kernel instead of the NTK.")]
    public bool Nngp { get; init; }

    /// <summary>--float32.</summary>
    [CommandOption("--float32")]
    [Description("Empirical kernel in float32, written as <f4 (default float64, <f8).")]
    public bool Float32 { get; init; }

    /// <summary>--output.</summary>
    [CommandOption("-o|--output <FILE>")]
    [Description("Destination .npy file.")]
    [DefaultValue("kernel.npy")]
    public string Output { get; init; } = "kernel.npy";

    /// <inheritdoc/>
    public override ValidationResult Validate()
    {
        var common = base.Validate();
        if (!common.Successful) return common;
        if (!SampleNetworks.All.ContainsKey(Network))
            return ValidationResult.Error($"Unknown network '{Network}'. Choose one of: {string.Join(", ", SampleNetworks.All.Keys)}.");
        if (Nngp && !Infinite) return ValidationResult.Error("--nngp needs --infinite (the empirical kernel is the NTK).");
        return ValidationResult.Success();
    }
}

/// <summary>Computes a kernel of a sample network and writes it as .npy.</summary>
public sealed class KernelCommand : Command<KernelSettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, KernelSettings settings, CancellationToken cancellationToken)
    {
        KernelBackend.Configure(settings.BackendKind, settings.Threads);
        var net = SampleNetworks.All[settings.Network];
        var x1 = Data.ReadInputs(settings.Inputs);
        var x2 = settings.Inputs2 is null ? null : Data.ReadInputs(settings.Inputs2);
        foreach (var (x, name) in new[] { (x1, settings.Inputs), (x2, settings.Inputs2) })
        {
            if (x is not null && x.Cols != net.Description.Inputs)
                throw new ArgumentException($"'{name}' has {x.Cols} columns, but network {settings.Network} takes {net.Description.Inputs} inputs.");
        }

        var sw = Stopwatch.StartNew();
        string what;
        if (settings.Infinite)
        {
            var k = InfiniteWidth.Kernels(net.Description, x1, x2, new InfiniteWidthOptions { MaxDegreeOfParallelism = settings.Threads > 0 ? settings.Threads : -1 });
            Npy.Write(settings.Output, settings.Nngp ? k.Nngp : k.Ntk);
            what = settings.Nngp ? "infinite-width NNGP" : "infinite-width NTK";
        }
        else if (settings.Float32)
        {
            Npy.Write(settings.Output, net.EmpiricalFloat(settings.Seed, x1.Convert<float>(), x2?.Convert<float>()));
            what = $"empirical NTK (float32, seed {settings.Seed}, {KernelBackend.Describe()})";
        }
        else
        {
            Npy.Write(settings.Output, net.Empirical(settings.Seed, x1, x2));
            what = $"empirical NTK (float64, seed {settings.Seed}, {KernelBackend.Describe()})";
        }

        AnsiConsole.MarkupLine($"{Markup.Escape(what)} of [bold]{settings.Network}[/] on {x1.Rows} x {(x2 ?? x1).Rows} inputs -> [bold]{Markup.Escape(settings.Output)}[/] in {sw.Elapsed.TotalSeconds:F2} s");
        return 0;
    }
}

/// <summary>The sample networks the kernel command can use.</summary>
internal sealed record SampleNetwork(NetworkDescription Description, Func<int, Matrix<double>, Matrix<double>?, Matrix<double>> Empirical,
    Func<int, Matrix<float>, Matrix<float>?, Matrix<float>> EmpiricalFloat)
{
    public static SampleNetwork Of<TNet>() where TNet : INetwork<TNet> => new(TNet.Description, Compute<TNet, double>, Compute<TNet, float>);

    private static Matrix<T> Compute<TNet, T>(int seed, Matrix<T> x1, Matrix<T>? x2)
        where TNet : INetwork<TNet>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var theta = CpuNetwork<TNet, T>.InitializeParameters(seed);
        return KernelBackend.Ntk<TNet, T>(theta, x1, x2).Convert<T>();
    }
}

internal static class SampleNetworks
{
    public static IReadOnlyDictionary<string, SampleNetwork> All { get; } = new Dictionary<string, SampleNetwork>(StringComparer.OrdinalIgnoreCase)
    {
        ["two-layer"] = SampleNetwork.Of<TwoLayerNet>(),
        ["jacot-500"] = SampleNetwork.Of<Jacot500>(),
        ["jacot-2000"] = SampleNetwork.Of<Jacot2000>(),
        ["jacot-10000"] = SampleNetwork.Of<Jacot10000>(),
        ["relu-16"] = SampleNetwork.Of<Relu16>(),
        ["relu-32"] = SampleNetwork.Of<Relu32>(),
        ["relu-64"] = SampleNetwork.Of<Relu64>(),
        ["relu-128"] = SampleNetwork.Of<Relu128>(),
        ["relu-256"] = SampleNetwork.Of<Relu256>(),
        ["relu-512"] = SampleNetwork.Of<Relu512>(),
        ["relu-1024"] = SampleNetwork.Of<Relu1024>(),
        ["relu-2048"] = SampleNetwork.Of<Relu2048>(),
        ["relu-4096"] = SampleNetwork.Of<Relu4096>(),
    };
}

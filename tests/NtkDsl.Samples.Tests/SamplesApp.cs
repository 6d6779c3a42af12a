namespace NtkDsl.Samples.Tests;

/// <summary>Runs the samples app in-process with standard output and standard error captured.</summary>
internal static class SamplesApp
{
    public static (int ExitCode, string Out, string Error) Run(params string[] args)
    {
        TextWriter previousOut = Console.Out, previousError = Console.Error;
        using StringWriter output = new(), error = new();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            return (TourProgram.Run(args), output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }
    }
}

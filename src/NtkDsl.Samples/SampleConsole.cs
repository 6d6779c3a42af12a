using Spectre.Console;

namespace NtkDsl.Samples;

/// <summary>The consoles of the samples: terminal-width layout on a terminal, unwrapped lines otherwise.</summary>
internal static class SampleConsole
{
    /// <summary>
    /// Columns when the output is not a terminal (a file, a pipe, CI logs): wide enough that no table or paragraph is
    /// hard-wrapped (Spectre.Console would otherwise assume 80).
    /// </summary>
    public const int RedirectedWidth = 4096;

    /// <summary>Width of a section heading when the output is not a terminal.</summary>
    private const int RedirectedHeadingWidth = 100;

    /// <summary>A console writing to <paramref name="writer"/> (<see cref="Console.Out"/> or <see cref="Console.Error"/>).</summary>
    public static IAnsiConsole Create(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        if (!console.Profile.Out.IsTerminal) console.Profile.Width = RedirectedWidth;
        return console;
    }

    /// <summary>A section heading: a rule across the terminal, or a line of <see cref="RedirectedHeadingWidth"/> columns.</summary>
    public static void Heading(this IAnsiConsole console, string title)
    {
        if (console.Profile.Out.IsTerminal)
            console.Write(new Rule($"[bold]{Markup.Escape(title)}[/]").LeftJustified());
        else
            console.WriteLine($"── {title} " + new string('─', Math.Max(4, RedirectedHeadingWidth - title.Length - 4)));
    }
}

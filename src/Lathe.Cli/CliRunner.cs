using System.CommandLine;
using Lathe.Distributed;

namespace Lathe.Cli;

/// <summary>Thrown for bad arguments or bad input; becomes a one-line message and exit code 2.</summary>
public sealed class UserInputException(string message) : Exception(message);

internal static class CliRunner
{
    /// <summary>Where error lines go: the stderr the run started with, even on a rank whose ordinary output is silenced.</summary>
    static TextWriter s_errors = Console.Error;

    public static int Run(Command root, string[] args)
    {
        // In an mpirun job only rank 0 prints progress and results (every rank runs the same verb); the other ranks keep
        // their stderr for errors of their own.
        s_errors = Console.Error;
        if (Job.LauncherRank != 0)
        {
            Console.SetOut(TextWriter.Null);
            Console.SetError(TextWriter.Null);
        }
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // Every rank of an mpirun job parses the same arguments: rank 0 alone says what is wrong.
            if (Job.LauncherRank == 0)
                foreach (var error in parsed.Errors)
                    s_errors.WriteLine($"lathe: {error.Message}");
            return 2;
        }
        int code;
        if (Job.LauncherSize > 1 && !SpreadsOverRanks(parsed.CommandResult.Command))
        {
            // K copies of a one-process verb would each do the whole job into the same files.
            if (Job.LauncherRank == 0)
                s_errors.WriteLine($"lathe: `{VerbPath(parsed.CommandResult.Command)}` runs as one process, not over {Job.LauncherSize} ranks; run it without mpirun " +
                    $"(verbs that spread over ranks: {string.Join(", ", RankedVerbs.Order())})");
            return 2;
        }
        try
        {
            // Our handler below turns exceptions into one-line messages and exit codes, not the library's stack trace.
            code = parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            code = Fail(e);
        }
        Job.Shutdown();
        return code;
    }

    // One line and an exit code. In an mpirun job: an error every rank met alike (before MPI started, or agreed at a
    // JobFence) is printed by rank 0 alone; an error one rank met alone after MPI started is printed by that rank and
    // ends the whole job (MPI_Abort), so no rank is left waiting in a collective. Verbs start MPI as late as they can
    // (when the trainer is built), so bad input is found before.
    static int Fail(Exception e)
    {
        var (code, message) = Describe(e);
        if (!Job.Started)
        {
            // Before MPI: a rank's non-zero exit makes mpirun end the job. When rank 0 met the same error it has said it
            // and the job is gone before this rank's pause ends; an error of this rank alone is still reported.
            if (Job.LauncherRank != 0)
            {
                Thread.Sleep(1000);
                message = $"lathe: rank {Job.LauncherRank}: {message["lathe: ".Length..]}";
            }
            s_errors.WriteLine(message);
            return code;
        }
        var world = Job.World;
        if (world.Size == 1 || e is JobFenceException)
        {
            if (world.IsRoot) s_errors.WriteLine(message);
            return code;
        }
        s_errors.WriteLine(world.IsRoot ? message : $"lathe: rank {world.Rank}: {message["lathe: ".Length..]}");
        world.Abort(code);
        return code;
    }

    /// <summary>What the CLI prints for an exception that ends a verb, and its exit code: a user error (bad input) is
    /// `lathe: MESSAGE` with code 2; anything else names the exception type, code 1. The fuzzer classifies outcomes
    /// with this same mapping.</summary>
    internal static (int Code, string Message) Describe(Exception e)
    {
        if (e is JobFenceException fenced) return (fenced.ExitCode, $"lathe: {e.Message}");
        return IsUserError(e) ? (2, $"lathe: {e.Message}") : (1, $"lathe: {e.GetType().Name}: {e.Message}");
    }

    /// <summary>The verbs that split their work over mpirun's ranks (each joins the job itself); any other verb launched
    /// with more than one rank is refused in one line.</summary>
    internal static readonly HashSet<string> RankedVerbs =
        ["pretrain", "finetune", "align reward", "align dpo", "align ppo", "align rejection", "align rlaif", "eval tasks", "eval loss", "data prepare", "bench train", "bench comm"];

    static bool SpreadsOverRanks(Command command) => RankedVerbs.Contains(VerbPath(command));

    // "eval tasks" for the command `lathe eval tasks`.
    static string VerbPath(Command command)
    {
        var names = new List<string>();
        for (var c = command; c is not null && c.Parents.FirstOrDefault() is Command parent; c = parent) names.Insert(0, c.Name);
        return string.Join(' ', names);
    }

    // Errors that describe the caller's input rather than a fault of ours.
    internal static bool IsUserError(Exception e) =>
        e is UserInputException or ArgumentException or FileNotFoundException or DirectoryNotFoundException
          or InvalidDataException or FormatException or MpiUnavailableException;
}

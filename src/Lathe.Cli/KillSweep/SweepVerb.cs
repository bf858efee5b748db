namespace Lathe.Cli.KillSweep;

/// <summary>One training verb as the kill sweep runs it: its arguments for a fresh run into a run folder, its arguments
/// to continue an interrupted one, and whether a folder holds something to continue (else the fresh command runs
/// again, as a user would). Paths are relative to the sweep's work folder, where <see cref="SweepInputs"/> are.</summary>
/// <param name="Name">The sweep's name for it (`--verb`).</param>
/// <param name="Fresh">`lathe` arguments that run the verb from the start into the run folder given.</param>
/// <param name="Resume">`lathe` arguments that continue the run in the folder given.</param>
/// <param name="Resumable">Whether the run folder (absolute) holds a state <paramref name="Resume"/> continues from.</param>
internal sealed record SweepVerb(string Name, Func<string, string[]> Fresh, Func<string, string[]> Resume, Func<string, bool> Resumable);

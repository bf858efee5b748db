using System.Globalization;

namespace Lathe.IO;

/// <summary>Named moments a kill test aims at (the write of a checkpoint, an evaluation). Off unless the environment
/// asks: LATHE_TEST_TRACE=1 prints "lathe: kill point NAME #N" to stderr at each one (a sweep counts them in its
/// reference run); LATHE_TEST_PAUSE_IN=NAME:N prints "lathe: paused at kill point NAME #N" at the N-th and sleeps
/// there (LATHE_TEST_PAUSE_SECONDS, default 60), so the test's SIGKILL — or its Ctrl-C — lands exactly inside it. A
/// Ctrl-C ends the pause (<see cref="Release"/>, called by the verbs' signal handler), so an interrupted run does not
/// depend on how quickly the test could send it. Off, a point costs one static read.</summary>
public static class KillPoints
{
    /// <summary>Between a checkpoint's temporary folder being complete and the first rename of the swap.</summary>
    public const string CheckpointWrite = "checkpoint-write";
    /// <summary>Between the swap's two renames: only checkpoint.old/ holds the last checkpoint.</summary>
    public const string CheckpointSwap = "checkpoint-swap";
    /// <summary>After the swap, the previous checkpoint moved aside under the temporary name, before it is deleted.</summary>
    public const string CheckpointCleanup = "checkpoint-cleanup";
    /// <summary>Just after a trainer's checkpoint swap: the checkpoint is on disk, the step goes on.</summary>
    public const string CheckpointDone = "checkpoint-done";
    /// <summary>Inside a validation pass.</summary>
    public const string Evaluation = "evaluation";
    /// <summary>An atomically written file flushed under its temporary name, not yet renamed.</summary>
    public const string FileWrite = "file-write";

    public const string TraceVariable = "LATHE_TEST_TRACE", PauseVariable = "LATHE_TEST_PAUSE_IN", PauseSecondsVariable = "LATHE_TEST_PAUSE_SECONDS";
    public const string TracePrefix = "lathe: kill point ", PausePrefix = "lathe: paused at kill point ";

    static readonly bool s_trace = Environment.GetEnvironmentVariable(TraceVariable) == "1";
    static readonly (string Name, int Occurrence)? s_pause = ParsePause(Environment.GetEnvironmentVariable(PauseVariable));
    static readonly bool s_on = s_trace || s_pause is not null;
    static readonly double s_pauseSeconds = double.TryParse(Environment.GetEnvironmentVariable(PauseSecondsVariable), NumberStyles.Float,
        CultureInfo.InvariantCulture, out double seconds) && seconds > 0 ? seconds : 60;
    static readonly Dictionary<string, int> s_counts = [];
    static readonly ManualResetEventSlim s_released = new(false);

    /// <summary>Ends a pause in progress (and any later one) at once: the process has been asked to stop.</summary>
    public static void Release() => s_released.Set();

    static (string, int)? ParsePause(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        int colon = value.LastIndexOf(':');
        if (colon < 0) return (value, 1);
        return int.TryParse(value.AsSpan(colon + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 1 ? (value[..colon], n) : (value, 1);
    }

    /// <summary>Marks the moment <paramref name="name"/>; traces or pauses when the environment asks.</summary>
    public static void Reach(string name)
    {
        if (!s_on) return;
        int n;
        lock (s_counts)
        {
            s_counts[name] = n = s_counts.GetValueOrDefault(name) + 1;
        }
        if (s_trace) WriteLine($"{TracePrefix}{name} #{n}");
        if (s_pause is { } p && p.Name == name && p.Occurrence == n)
        {
            WriteLine($"{PausePrefix}{name} #{n}");
            s_released.Wait(TimeSpan.FromSeconds(s_pauseSeconds));   // the test kills or interrupts us here; then the run goes on
        }
    }

    // Straight to the process's stderr: a verb may have redirected Console.Error (a rank that prints nothing).
    static void WriteLine(string line)
    {
        using var stderr = Console.OpenStandardError();
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(line + "\n");
        stderr.Write(bytes);
        stderr.Flush();
    }
}

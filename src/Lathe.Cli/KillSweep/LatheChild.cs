using System.Diagnostics;
using Lathe.IO;

namespace Lathe.Cli.KillSweep;

/// <summary>One `lathe` child process of the sweep (`dotnet Lathe.Cli.dll …` in the work folder), run to its end or
/// killed with SIGKILL — after a delay, or when it reports that it is paused at a kill point.</summary>
internal static class LatheChild
{
    /// <summary>How a child ended: its exit code (null when we killed it), its stderr, its wall time, and whether it
    /// reached the kill point it was told to pause at.</summary>
    /// <param name="FirstPointSeconds">When the first kill point was reported (traced runs; NaN when none was).</param>
    public sealed record Outcome(int? ExitCode, string Stderr, double Seconds, bool Paused, double FirstPointSeconds)
    {
        public bool Killed => ExitCode is null;
        public string LastLine => Stderr.TrimEnd().Split('\n')[^1];
    }

    // The command line the sweep runs: this very CLI, through the dotnet host that runs it in-process (so killing the
    // host kills the run, with no wrapper in between).
    static string Cli => typeof(LatheChild).Assembly.Location;

    /// <param name="killAfter">SIGKILL this long after the start, if still running.</param>
    /// <param name="pauseAt">A kill point and its occurrence ("checkpoint-swap:3"): the child pauses there and is killed.</param>
    /// <param name="trace">Report every kill point on stderr (the reference run counts them).</param>
    /// <param name="interruptAfter">Send SIGINT (Ctrl-C) this long after the start, once, and let the run end itself.</param>
    /// <param name="interruptAt">A kill point and its occurrence ("checkpoint-done:1") where the child pauses until its
    /// SIGINT (Ctrl-C) arrives (30 s at most), then goes on to answer it.</param>
    public static Outcome Run(string workFolder, IReadOnlyList<string> args, TimeSpan? killAfter = null, string? pauseAt = null, bool trace = false,
        TimeSpan? limit = null, TimeSpan? interruptAfter = null, string? interruptAt = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = workFolder,
        };
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove(KillPoints.TraceVariable);
        psi.Environment.Remove(KillPoints.PauseVariable);
        if (trace) psi.Environment[KillPoints.TraceVariable] = "1";
        psi.Environment.Remove(KillPoints.PauseSecondsVariable);
        if (pauseAt is not null) psi.Environment[KillPoints.PauseVariable] = pauseAt;
        if (interruptAt is not null)
        {
            psi.Environment[KillPoints.PauseVariable] = interruptAt;
            // The Ctrl-C ends the pause (KillPoints.Release); the bound only matters for a verb that would ignore it.
            // (It was 2 s: on a busy machine the signal could come after the pause, and a fast run then ended first.)
            psi.Environment[KillPoints.PauseSecondsVariable] = "30";
        }
        var stderr = new System.Text.StringBuilder();
        using var paused = new ManualResetEventSlim();
        var clock = Stopwatch.StartNew();
        double firstPoint = double.NaN;
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, _) => { };
        p.Start();
        // The child's stderr on a thread of its own, not the thread pool's async reads: under a loaded test run (every
        // test assembly at once) the pool was starved long enough that the pause line reached us after the child's
        // pause had timed out, and the run finished without its Ctrl-C.
        var reader = new Thread(() =>
        {
            while (p.StandardError.ReadLine() is { } line)
            {
                lock (stderr) stderr.Append(line).Append('\n');
                if (line.StartsWith(KillPoints.PausePrefix, StringComparison.Ordinal)) paused.Set();
                if (double.IsNaN(firstPoint) && line.StartsWith(KillPoints.TracePrefix, StringComparison.Ordinal)) firstPoint = clock.Elapsed.TotalSeconds;
            }
        }) { IsBackground = true, Name = "lathe-child-stderr" };
        reader.Start();
        p.BeginOutputReadLine();
        var deadline = limit ?? TimeSpan.FromMinutes(5);
        bool killed = false, sawPause = false, interrupted = false;
        while (!p.HasExited)
        {
            if (!interrupted && (interruptAfter is { } i && clock.Elapsed >= i || interruptAt is not null && paused.IsSet))
            {
                interrupted = true;
                sawPause = paused.IsSet;
                _ = kill(p.Id, SigInt);
            }
            if (paused.IsSet && interruptAt is null) { sawPause = true; Kill(p); killed = true; break; }
            if (killAfter is { } k && clock.Elapsed >= k) { Kill(p); killed = true; break; }
            if (clock.Elapsed > deadline) { Kill(p); throw new TimeoutException($"bench kill: lathe {string.Join(' ', args)} did not finish in {deadline.TotalSeconds:F0} s"); }
            if (interrupted) p.WaitForExit(5);
            else paused.Wait(5);
        }
        p.WaitForExit();
        reader.Join();     // the stderr reader drains
        double seconds = clock.Elapsed.TotalSeconds;
        string text;
        lock (stderr) text = stderr.ToString();
        // 128 + SIGKILL; a run that ended on its own just before our kill landed keeps its exit code.
        int? code = killed && p.ExitCode == 137 ? null : p.ExitCode;
        return new Outcome(code, text, seconds, sawPause, firstPoint);
    }

    const int SigInt = 2;
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);

    // SIGKILL to the direct process: no handler runs, nothing is flushed.
    static void Kill(Process p)
    {
        try { p.Kill(); }
        catch (InvalidOperationException) { }   // it had already exited
    }
}

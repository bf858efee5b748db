using System.Diagnostics;
using Lathe.IO;
using Lathe.Tensors.Storage;

namespace Lathe.Cli.Fuzzing;

/// <summary>How a fuzz run is set up.</summary>
internal sealed record FuzzOptions
{
    public required int Cases { get; init; }
    public required ulong Seed { get; init; }
    /// <summary>A case still running after this long is a hang (its thread is left behind; the run goes on).</summary>
    public int TimeoutMs { get; init; } = 5000;
    /// <summary>Where each failing case's files and a note with its replay command are written (null: nowhere).</summary>
    public string? KeepFailures { get; init; }
    /// <summary>Run only this case index (with <see cref="Cases"/> ignored); its exception goes to progress in full.</summary>
    public int? Replay { get; init; }
    public Action<string>? Progress { get; init; }
}

/// <summary>Runs cases of one <see cref="FuzzTarget"/>: each mutated input is written to its own folder and read by
/// the target's reading path on a fresh thread with a time limit, the allocations it made are measured, and the
/// outcome is classified with the CLI's own exception → message/exit-code mapping (<see cref="CliRunner.Describe"/>).</summary>
internal static class FuzzRunner
{
    /// <summary>The stated memory bound of a case: ten times its input's bytes plus 64 MiB (a reader may decode a file
    /// into a few copies of itself and build a tiny model; it must never size an allocation from an unchecked count).</summary>
    public static long MemoryBound(long inputBytes) => 10 * inputBytes + (64L << 20);

    public static (FuzzCounts Counts, List<FuzzCaseResult> Failures, double Seconds) Run(FuzzTarget target, FuzzOptions options, string workDir)
    {
        var counts = new FuzzCounts();
        var failures = new List<FuzzCaseResult>();
        Directory.CreateDirectory(workDir);
        target.Prepare(Path.Combine(workDir, "seeds"));
        CheckSeeds(target, workDir);
        var watch = Stopwatch.StartNew();
        var lastReport = Stopwatch.StartNew();
        int first = options.Replay ?? 0, end = options.Replay is int r ? r + 1 : options.Cases;
        for (int index = first; index < end; index++)
        {
            var result = RunCase(target, options, workDir, index);
            counts.Add(result.Outcome);
            if (result.IsFailure)
            {
                failures.Add(result);
                options.Progress?.Invoke($"fuzz {target.Name}: case {index} {result.Outcome.ToString().ToLowerInvariant()} ({result.Mutations}): {FirstLine(result.Detail)}");
            }
            if (options.Replay is not null) options.Progress?.Invoke($"fuzz {target.Name}: case {index} {result.Outcome.ToString().ToLowerInvariant()} ({result.Mutations}), " +
                $"{result.AllocatedBytes} bytes allocated:\n{result.Detail}");
            if (lastReport.ElapsedMilliseconds > 2000)
            {
                options.Progress?.Invoke($"fuzz {target.Name}: {index + 1 - first}/{end - first} cases, {counts.Accepted} accepted, {counts.Rejected} rejected, {counts.Failures} failures");
                lastReport.Restart();
            }
        }
        return (counts, failures, watch.Elapsed.TotalSeconds);
    }

    // A seed the reader refuses would make every case a test of the refusal: each must load and run as it is.
    static void CheckSeeds(FuzzTarget target, string workDir)
    {
        foreach (var seed in target.Seeds)
        {
            string dir = Path.Combine(workDir, "seed-check", seed.Name);
            foreach (var (name, bytes) in seed.Files)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir, name))!);
                File.WriteAllBytes(Path.Combine(dir, name), bytes);
            }
            try { target.Run(dir, seed); }
            catch (Exception e) { throw new InvalidOperationException($"fuzz {target.Name}: seed '{seed.Name}' is not accepted unmutated: {e}"); }
            Directory.Delete(dir, recursive: true);
        }
    }

    static string FirstLine(string s) => s.Split('\n')[0];

    /// <summary>Runs case <paramref name="index"/>: the same seed and index give the same bytes, so a failure replays alone.</summary>
    internal static FuzzCaseResult RunCase(FuzzTarget target, FuzzOptions options, string workDir, int index)
    {
        var rng = FuzzRandom.ForCase(options.Seed, index);
        var (seed, files, mutations) = target.MakeCase(rng);
        string caseDir = Path.Combine(workDir, $"case-{index}");
        if (Directory.Exists(caseDir)) Directory.Delete(caseDir, recursive: true);
        Directory.CreateDirectory(caseDir);
        long inputBytes = 0;
        foreach (var (name, bytes) in files)
        {
            string path = Path.Combine(caseDir, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            inputBytes += bytes.Length;
        }

        Exception? error = null;
        long managed = 0, native = 0;
        var thread = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread(), live = BufferPool.LiveBytes;
            BufferPool.ResetPeak();
            try { target.Run(caseDir, seed); }
            catch (Exception e) { error = e; }
            managed = GC.GetAllocatedBytesForCurrentThread() - before;
            native = Math.Max(0, BufferPool.PeakLiveBytes - live);
        }, 16 << 20) { IsBackground = true, Name = $"fuzz {target.Name} {index}" };
        thread.Start();
        var outcome = FuzzOutcome.Accepted;
        string detail = "";
        if (!thread.Join(options.TimeoutMs))
        {
            outcome = FuzzOutcome.Hang;
            detail = $"still running after {options.TimeoutMs} ms";
        }
        else
        {
            long allocated = managed + native;
            if (error is OutOfMemoryException || error is InsufficientExecutionStackException)
                (outcome, detail) = (FuzzOutcome.Memory, error.ToString());
            else if (allocated > MemoryBound(inputBytes))
                (outcome, detail) = (FuzzOutcome.Memory, $"allocated {allocated} bytes ({managed} managed, {native} native) for {inputBytes} bytes of input; the bound is {MemoryBound(inputBytes)}");
            else if (error is not null)
                (outcome, detail) = Classify(error, caseDir, target.UserPath(caseDir, seed));
        }
        var result = new FuzzCaseResult(index, outcome, detail, managed + native, mutations);
        if (result.IsFailure && options.KeepFailures is { } keep) Keep(keep, target, options, result, files);
        if (outcome != FuzzOutcome.Hang) Directory.Delete(caseDir, recursive: true);
        return result;
    }

    /// <summary>Rejected when the CLI would exit 2 with one line naming the input (its folder or a file inside it);
    /// anything else is a crash, with the line the CLI would print and the stack trace.</summary>
    internal static (FuzzOutcome, string) Classify(Exception error, string caseDir, string userPath)
    {
        var (code, line) = CliRunner.Describe(error);
        bool oneLine = line.IndexOfAny(['\n', '\r']) < 0;
        bool namesInput = line.Contains(caseDir, StringComparison.Ordinal) || line.Contains(userPath, StringComparison.Ordinal);
        if (code == 2 && oneLine && namesInput) return (FuzzOutcome.Rejected, line);
        string why = code != 2 ? "not a user error" : !oneLine ? "more than one line" : "does not name the file";
        return (FuzzOutcome.Crash, $"{why}: {line}\n{error}");
    }

    static void Keep(string keepDir, FuzzTarget target, FuzzOptions options, FuzzCaseResult result, Dictionary<string, byte[]> files)
    {
        string dir = Path.Combine(keepDir, $"{target.Name}-{result.Index}");
        foreach (var (name, bytes) in files)
        {
            string path = Path.Combine(dir, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            AtomicFile.WriteAllBytes(path, bytes);
        }
        AtomicFile.WriteAllText(Path.Combine(dir, "CASE.txt"),
            $"{result.Outcome}: {result.Mutations}\nreplay: lathe bench fuzz --format {target.Name} --seed {options.Seed} --replay {result.Index}\n\n{result.Detail}\n");
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lathe.Cli.Verbs;

/// <summary>What every benchmark verb shares: timing (median of repeated runs after warm-up), peak
/// resident memory, and the JSON line a benchmark prints last.</summary>
internal static unsafe class BenchSupport
{
    /// <summary>CPU seconds this process has used (all threads), to the nanosecond where Linux's
    /// clock_gettime(CLOCK_PROCESS_CPUTIME_ID) is there; else <see cref="Process.TotalProcessorTime"/>, which /proc
    /// rounds to clock ticks (10 ms), too coarse for one benchmark phase.</summary>
    public static double ProcessCpuSeconds()
    {
        if (OperatingSystem.IsLinux())
        {
            TimeSpec t;
            if (clock_gettime(ClockProcessCpuTime, &t) == 0) return t.Seconds + t.Nanoseconds * 1e-9;
        }
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds;
    }

    const int ClockProcessCpuTime = 2;
    struct TimeSpec { public long Seconds, Nanoseconds; }
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int clock_gettime(int clock, TimeSpec* time);

    /// <summary>Runs <paramref name="action"/> <paramref name="warmup"/> times, then times it until both
    /// <paramref name="minRuns"/> runs and <paramref name="minSeconds"/> have passed; returns the run times in ms.</summary>
    public static List<double> Time(Action action, int warmup = 3, int minRuns = 5, double minSeconds = 1.0)
    {
        for (int i = 0; i < warmup; i++) action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < minRuns || total.Elapsed.TotalSeconds < minSeconds)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (times.Count >= 10_000) break;
        }
        return times;
    }

    /// <summary>The training benches' loop: <paramref name="step"/> <paramref name="warmup"/> times untimed, then
    /// <paramref name="steps"/> timed one by one. Returns the median step in seconds and the managed bytes this thread
    /// allocated per timed step (a training step should allocate nothing per step).</summary>
    public static (double MedianSeconds, long AllocatedPerStep) TimeSteps(Action step, int warmup, int steps)
    {
        for (int i = 0; i < warmup; i++) step();
        var times = new List<double>(steps);   // sized up front: the loop measures the step's allocations, not the list's
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < steps; i++)
        {
            long start = Stopwatch.GetTimestamp();
            step();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        long allocatedPerStep = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / steps;
        return (Median(times), allocatedPerStep);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        int n = sorted.Length;
        return n == 0 ? double.NaN : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>Peak resident set size of this process in MiB (VmHWM from /proc), or -1 where unavailable.</summary>
    public static double PeakRssMb() => StatusMb("VmHWM:");

    /// <summary>The resident set now, in MB (-1 where /proc is missing).</summary>
    public static double CurrentRssMb() => StatusMb("VmRSS:");

    static double StatusMb(string field)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return double.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        return -1;
    }

    /// <summary>Resets the process's peak RSS (VmHWM) to its current RSS (Linux: "5" into /proc/self/clear_refs), so a
    /// later <see cref="PeakRssMb"/> measures one phase; a no-op where the kernel offers no such reset.</summary>
    public static void ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Prints one JSON object on one line (the figures a script reads).</summary>
    public static void PrintJson(params (string Key, object? Value)[] fields)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            foreach (var (key, value) in fields)
            {
                switch (value)
                {
                    case null: w.WriteNull(key); break;
                    case string s: w.WriteString(key, s); break;
                    case double d when !double.IsFinite(d): w.WriteNull(key); break;
                    case bool b: w.WriteBoolean(key, b); break;
                    case int i: w.WriteNumber(key, i); break;
                    case long l: w.WriteNumber(key, l); break;
                    case double d: w.WriteNumber(key, Math.Round(d, 4)); break;
                    case float f: w.WriteNumber(key, Math.Round(f, 4)); break;
                    case long[] ls: w.WriteStartArray(key); foreach (long l in ls) w.WriteNumberValue(l); w.WriteEndArray(); break;
                    case double[] ds: w.WriteStartArray(key); foreach (double d in ds) w.WriteNumberValue(Math.Round(d, 4)); w.WriteEndArray(); break;
                    default: w.WriteString(key, value.ToString()); break;
                }
            }
            w.WriteEndObject();
        }
        Console.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }
}

using System.CommandLine;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench membw`: the memory bandwidth a streaming read gets on this machine — a buffer much larger than
/// the caches summed with 256-bit loads by N threads on the compute pool, median over repetitions. It is the ceiling for
/// generation, which reads every weight once per token (bench decode reports the bytes read per token and the rate it
/// reached). Prints read_gb_per_s as JSON last.</summary>
internal static unsafe class BenchMemBw
{
    public static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "Reading threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var size = new Option<int>("--mb") { Description = "Buffer size in MB (well above the last-level cache).", DefaultValueFactory = _ => 512 };
        var reps = new Option<int>("--repetitions") { Description = "Timed passes over the buffer (median reported).", DefaultValueFactory = _ => 9 };
        var command = new Command("membw", "Streaming-read memory bandwidth (GB/s) with N threads; prints read_gb_per_s as JSON last.") { threads, size, reps };
        command.SetAction(r => Run(r.GetValue(threads), r.GetValue(size), r.GetValue(reps)));
        return command;
    }

    // Slices of 1 MB: enough tasks for the pool to balance, each long enough that dispatch costs nothing.
    const int SliceBytes = 1 << 20;

    static int Run(int threads, int mb, int repetitions)
    {
        if (threads <= 0 || mb <= 0 || repetitions <= 0)
            throw new UserInputException("bench membw: --threads, --mb and --repetitions must be positive");
        ComputePool.SetSharedThreads(threads);
        long bytes = (long)mb << 20;
        int slices = (int)(bytes / SliceBytes);
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        long* sums = (long*)NativeMemory.Alloc((nuint)slices, sizeof(long));
        try
        {
            for (long i = 0; i < bytes; i += 4096) buffer[i] = (byte)i;   // touch every page so no pass faults them in
            var body = new ReadBody { Buffer = buffer, Sums = sums };
            for (int w = 0; w < 2; w++) ComputePool.Shared.For(slices, ref body);
            var rates = new List<double>();
            for (int r = 0; r < repetitions; r++)
            {
                long start = Stopwatch.GetTimestamp();
                ComputePool.Shared.For(slices, ref body);
                rates.Add(bytes / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
            }
            long check = 0;
            for (int s = 0; s < slices; s++) check += sums[s];
            double rate = BenchSupport.Median(rates);
            Console.Error.WriteLine($"bench membw: {mb} MB read by {threads} threads at {rate:F1} GB/s (median of {repetitions}; checksum {check})");
            BenchSupport.PrintJson(("bench", "membw"), ("threads", threads), ("mb", mb), ("repetitions", repetitions), ("read_gb_per_s", rate));
            return 0;
        }
        finally
        {
            NativeMemory.Free(sums);
            NativeMemory.AlignedFree(buffer);
        }
    }

    struct ReadBody : IParallelBody
    {
        public byte* Buffer;
        public long* Sums;

        // Four independent accumulators so the loads, not the adds, set the pace; the sum is kept so the reads are not
        // optimised away.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Execute(int slice)
        {
            var p = (Vector256<long>*)(Buffer + (long)slice * SliceBytes);
            Vector256<long> a = default, b = default, c = default, d = default;
            for (int i = 0; i < SliceBytes / 32; i += 4)
            {
                a += p[i]; b += p[i + 1]; c += p[i + 2]; d += p[i + 3];
            }
            Sums[slice] = Vector256.Sum(a + b + c + d);
        }
    }
}

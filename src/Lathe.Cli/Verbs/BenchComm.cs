using System.CommandLine;
using System.Diagnostics;
using Lathe.Distributed;

namespace Lathe.Cli.Verbs;

/// <summary>`mpirun -np K lathe bench comm`: checks every collective of the MPI binding on values whose sums are exact
/// (blocking and non-blocking forms), then times all-reduce over message sizes — the latency and bandwidth the
/// distributed cost model (docs/DISTRIBUTED.md) is fitted to. Rank 0 prints; the JSON line is last.</summary>
internal static unsafe class BenchComm
{
    public static Command Create()
    {
        var maxMb = new Option<double>("--max-mb") { Description = "Largest all-reduce message, MB.", DefaultValueFactory = _ => 64 };
        var repeats = new Option<int>("--repeats") { Description = "Timed all-reduces per size (median reported).", DefaultValueFactory = _ => 9 };
        var command = new Command("comm", "Checks the MPI collectives and times all-reduce by size (run under mpirun); JSON last.") { maxMb, repeats };
        command.SetAction(r => Run(r.GetValue(maxMb), r.GetValue(repeats)));
        return command;
    }

    static int Run(double maxMb, int repeats)
    {
        if (maxMb <= 0 || repeats <= 0) throw new UserInputException("bench comm: --max-mb and --repeats must be positive");
        var world = Job.World;
        int checks = Check(world);
        var sizes = new List<(long Bytes, double Ms)>();
        for (long bytes = 4; bytes <= (long)(maxMb * 1024 * 1024); bytes *= 4)
        {
            long n = bytes / 4;
            var buffer = new float[n];
            var times = new double[repeats];
            fixed (float* b = buffer)
            {
                world.AllReduceSum(b, n);   // warm-up
                for (int i = 0; i < repeats; i++)
                {
                    world.Barrier();
                    long start = Stopwatch.GetTimestamp();
                    world.AllReduceSum(b, n);
                    double mine = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    times[i] = world.AllGather(mine).Max();   // the job waits for its slowest rank
                }
            }
            sizes.Add((bytes, BenchSupport.Median(times)));
        }
        if (!world.IsRoot) return 0;
        foreach (var (bytes, ms) in sizes)
            Console.Error.WriteLine($"bench comm: all-reduce {bytes,10:N0} B over {world.Size} ranks: {ms * 1e3,9:F1} µs, {bytes / (ms * 1e-3) / 1e9:F2} GB/s algorithm bandwidth");
        BenchSupport.PrintJson(("bench", "comm"), ("ranks", world.Size), ("checks_passed", checks),
            ("allreduce_bytes", sizes.Select(s => s.Bytes).ToArray()), ("allreduce_ms", sizes.Select(s => Math.Round(s.Ms, 4)).ToArray()));
        return 0;
    }

    // Each collective on values chosen so that float sums are exact; a wrong result is a runtime failure naming the call.
    static int Check(Communicator world)
    {
        int K = world.Size, r = world.Rank, passed = 0;
        void Expect(bool ok, string what)
        {
            if (!ok) throw new InvalidOperationException($"bench comm: {what} gave a wrong result on rank {r} of {K}");
            passed++;
        }
        const int n = 1000;
        for (int blocking = 1; blocking >= 0; blocking--)
        {
            string form = blocking == 1 ? "" : " (non-blocking)";
            var data = new float[n];
            for (int i = 0; i < n; i++) data[i] = r + 0.5f * i;
            fixed (float* d = data)
            {
                if (blocking == 1) world.AllReduceSum(d, n);
                else { var q = world.StartAllReduceSum(d, n); while (!world.Test(ref q)) { } }
            }
            float rankSum = K * (K - 1) / 2f;
            Expect(data.Select((v, i) => v == rankSum + K * 0.5f * i).All(x => x), "all-reduce" + form);

            var bytes = new byte[777];
            if (r == K - 1) for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 7 + 3);
            fixed (byte* b = bytes)
            {
                if (blocking == 1) world.Broadcast(b, bytes.Length, K - 1);
                else { var q = world.StartBroadcast(b, bytes.Length, K - 1); world.Wait(ref q); }
            }
            Expect(bytes.Select((v, i) => v == (byte)(i * 7 + 3)).All(x => x), "broadcast" + form);

            var mine = new long[3] { r, 10L * r, -r };
            var all = new long[3 * K];
            fixed (long* m = mine) fixed (long* a = all)
            {
                if (blocking == 1) world.AllGather(m, 3 * sizeof(long), a);
                else { var q = world.StartAllGather(m, 3 * sizeof(long), a); world.Wait(ref q); }
            }
            Expect(Enumerable.Range(0, K).All(k => all[3 * k] == k && all[3 * k + 1] == 10L * k && all[3 * k + 2] == -k), "all-gather" + form);

            const int each = 257;
            var blocks = new float[each * K];
            for (int b = 0; b < K; b++) for (int i = 0; i < each; i++) blocks[b * each + i] = 1000f * r + 3f * b + i;
            var part = new float[each];
            fixed (float* s = blocks) fixed (float* p = part)
            {
                if (blocking == 1) world.ReduceScatterSum(s, p, each);
                else { var q = world.StartReduceScatterSum(s, p, each); world.Wait(ref q); }
            }
            Expect(part.Select((v, i) => v == 1000f * rankSum + K * (3f * r + i)).All(x => x), "reduce-scatter" + form);

            if (blocking == 1) world.Barrier();
            else { var q = world.StartBarrier(); world.Wait(ref q); }
            passed++;
        }
        world.CheckAgreement("the check count", passed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return passed;
    }
}

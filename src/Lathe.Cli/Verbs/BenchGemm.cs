using System.CommandLine;
using System.Runtime.InteropServices;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench gemm`: fp32 GEMM throughput in GFLOP/s (median over timed runs, in-process after warm-up).</summary>
internal static unsafe class BenchGemm
{
    public static Command Create()
    {
        var m = new Option<int>("--m") { Description = "Rows of C.", DefaultValueFactory = _ => 1024 };
        var n = new Option<int>("--n") { Description = "Columns of C.", DefaultValueFactory = _ => 1024 };
        var k = new Option<int>("--k") { Description = "Contraction length.", DefaultValueFactory = _ => 1024 };
        var threads = new Option<int>("--threads") { Description = "Compute threads (default: the core count).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var transA = new Option<bool>("--trans-a") { Description = "A is stored k×m." };
        var transB = new Option<bool>("--trans-b") { Description = "B is stored n×k." };
        var seconds = new Option<double>("--seconds") { Description = "Minimum timed seconds.", DefaultValueFactory = _ => 2.0 };
        var command = new Command("gemm", "fp32 matrix multiply C = op(A)·op(B); prints GFLOP/s as JSON last.")
        {
            m, n, k, threads, transA, transB, seconds,
        };
        command.SetAction(r => Run(r.GetValue(m), r.GetValue(n), r.GetValue(k), r.GetValue(threads), r.GetValue(transA), r.GetValue(transB), r.GetValue(seconds)));
        return command;
    }

    static int Run(int m, int n, int k, int threads, bool transA, bool transB, double seconds)
    {
        if (m <= 0 || n <= 0 || k <= 0) throw new UserInputException($"bench gemm: --m, --n and --k must be positive (got {m}, {n}, {k}).");
        if (threads <= 0) throw new UserInputException($"bench gemm: --threads must be positive (got {threads}).");
        if (!(seconds > 0)) throw new UserInputException($"bench gemm: --seconds must be positive (got {seconds}).");
        ComputePool.SetSharedThreads(threads);
        long sa = (long)m * k, sb = (long)k * n, sc = (long)m * n;
        float* a = (float*)NativeMemory.AlignedAlloc((nuint)(sa * 4), 64);
        float* b = (float*)NativeMemory.AlignedAlloc((nuint)(sb * 4), 64);
        float* c = (float*)NativeMemory.AlignedAlloc((nuint)(sc * 4), 64);
        try
        {
            var rng = new Random(1);
            for (long i = 0; i < sa; i++) a[i] = (float)rng.NextDouble() - 0.5f;
            for (long i = 0; i < sb; i++) b[i] = (float)rng.NextDouble() - 0.5f;
            int lda = transA ? m : k, ldb = transB ? k : n;
            var times = BenchSupport.Time(() => Gemm.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, n), warmup: 5, minRuns: 10, minSeconds: seconds);
            double median = BenchSupport.Median(times);
            double gflops = 2.0 * m * n * k / (median * 1e-3) / 1e9;
            Console.Error.WriteLine($"gemm {m}×{n}×{k} transA={transA} transB={transB} threads={threads}: median {median:F3} ms over {times.Count} runs, {gflops:F1} GFLOP/s");
            BenchSupport.PrintJson(("bench", "gemm"), ("m", m), ("n", n), ("k", k), ("threads", threads), ("trans_a", transA), ("trans_b", transB),
                ("runs", times.Count), ("median_ms", median), ("gflops", gflops));
            return 0;
        }
        finally
        {
            NativeMemory.AlignedFree(a); NativeMemory.AlignedFree(b); NativeMemory.AlignedFree(c);
        }
    }
}

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
        var cold = new Option<bool>("--cold") { Description = "Rotate over copies of A, B and C (≥ 256 MB in all), so each product finds its operands in memory, not cache, as a training step's GEMMs do." };
        var command = new Command("gemm", "fp32 matrix multiply C = op(A)·op(B); prints GFLOP/s as JSON last.")
        {
            m, n, k, threads, transA, transB, seconds, cold,
        };
        command.SetAction(r => Run(r.GetValue(m), r.GetValue(n), r.GetValue(k), r.GetValue(threads), r.GetValue(transA), r.GetValue(transB), r.GetValue(seconds), r.GetValue(cold)));
        return command;
    }

    static int Run(int m, int n, int k, int threads, bool transA, bool transB, double seconds, bool cold)
    {
        if (m <= 0 || n <= 0 || k <= 0) throw new UserInputException($"bench gemm: --m, --n and --k must be positive (got {m}, {n}, {k}).");
        if (threads <= 0) throw new UserInputException($"bench gemm: --threads must be positive (got {threads}).");
        if (!(seconds > 0)) throw new UserInputException($"bench gemm: --seconds must be positive (got {seconds}).");
        ComputePool.SetSharedThreads(threads);
        long sa = (long)m * k, sb = (long)k * n, sc = (long)m * n;
        // Cold: enough copies that the set of them (≥ 256 MB) outgrows any cache, used in turn.
        int copies = cold ? (int)Math.Max(2, (256L << 20) / ((sa + sb + sc) * 4) + 1) : 1;
        long stride = (sa + sb + sc + 15) / 16 * 16;
        float* all = (float*)NativeMemory.AlignedAlloc((nuint)(stride * copies * 4), 64);
        float* a = all, b = all + sa, c = all + sa + sb;
        try
        {
            var rng = new Random(1);
            for (long i = 0; i < sa; i++) a[i] = (float)rng.NextDouble() - 0.5f;
            for (long i = 0; i < sb; i++) b[i] = (float)rng.NextDouble() - 0.5f;
            for (int copy = 1; copy < copies; copy++) new Span<float>(all, (int)(sa + sb)).CopyTo(new Span<float>(all + copy * stride, (int)(sa + sb)));
            for (int copy = 0; copy < copies; copy++) new Span<float>(all + copy * stride + sa + sb, (int)sc).Clear();
            int lda = transA ? m : k, ldb = transB ? k : n;
            int turn = 0;
            var times = BenchSupport.Time(() =>
            {
                float* o = all + (long)(turn++ % copies) * stride;
                Gemm.Multiply(transA, transB, m, n, k, o, lda, o + sa, ldb, o + sa + sb, n);
            }, warmup: 5, minRuns: 10, minSeconds: seconds);
            double median = BenchSupport.Median(times);
            double gflops = 2.0 * m * n * k / (median * 1e-3) / 1e9;
            Console.Error.WriteLine($"gemm {m}×{n}×{k} transA={transA} transB={transB} threads={threads}{(cold ? $", cold ({copies} copies)" : "")}: median {median:F3} ms over {times.Count} runs, {gflops:F1} GFLOP/s");
            BenchSupport.PrintJson(("bench", "gemm"), ("m", m), ("n", n), ("k", k), ("threads", threads), ("trans_a", transA), ("trans_b", transB), ("cold", cold),
                ("runs", times.Count), ("median_ms", median), ("gflops", gflops));
            return 0;
        }
        finally
        {
            NativeMemory.AlignedFree(all);
        }
    }
}

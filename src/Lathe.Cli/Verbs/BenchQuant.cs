using System.CommandLine;
using System.Runtime.InteropServices;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench quant`: matrix-vector (and optionally matrix-matrix) throughput of the quantized kernels, as GB/s
/// of weight bytes streamed (decode is bound by how fast weights stream) and GOP/s, for W (N, K) in F32 (the F32 GEMM),
/// F16, BF16, Q8_0 and Q4_0. Median over timed runs after warm-up.</summary>
internal static unsafe class BenchQuant
{
    public static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var rows = new Option<int>("--m") { Description = "Activation rows M (1 = matvec, as in decoding).", DefaultValueFactory = _ => 1 };
        var seconds = new Option<double>("--seconds") { Description = "Minimum timed seconds per case.", DefaultValueFactory = _ => 0.5 };
        var command = new Command("quant", "Quantized matvec throughput (GB/s of weights) for 4096×4096, 1408×512 and 1536×512 in f32, f16, bf16, q8_0, q4_0 and the k-quants; JSON last.")
        {
            threads, rows, seconds,
        };
        command.SetAction(r => Run(r.GetValue(threads), r.GetValue(rows), r.GetValue(seconds)));
        return command;
    }

    static int Run(int threads, int m, double seconds)
    {
        if (threads <= 0 || m <= 0 || !(seconds > 0)) throw new UserInputException("bench quant: --threads, --m and --seconds must be positive");
        ComputePool.SetSharedThreads(threads);
        var fields = new List<(string, object)> { ("bench", "quant"), ("threads", threads), ("m", m), ("path", QuantMatMul.Path) };
        Console.Error.WriteLine($"quant: integer dot products via {QuantMatMul.Path}");
        foreach (var (n, k) in new[] { (4096, 4096), (1408, 512), (1536, 512) })
            foreach (string type in new[] { "f32", "f16", "bf16", "q8_0", "q4_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k" })
            {
                var (ms, bytes) = Case(type, m, n, k, seconds);
                double gbs = bytes / (ms * 1e-3) / 1e9, gops = 2.0 * m * n * k / (ms * 1e-3) / 1e9;
                Console.Error.WriteLine($"quant {type,-4} W {n}×{k}, M={m}, {threads} threads: {ms * 1e3:F1} µs, {gbs:F1} GB/s of weights, {gops:F1} GOP/s");
                fields.Add(($"{type}_{n}x{k}_gb_per_s", gbs));
                fields.Add(($"{type}_{n}x{k}_us", ms * 1e3));
            }
        BenchSupport.PrintJson([.. fields]);
        return 0;
    }

    // k-quant rows for speed only: random bytes (every pattern is a valid block) with the fp16 super-block scales
    // (the first two or last two bytes of the block) set to a small finite value.
    static QuantizedMatrix RandomKQuant(QuantType type, int n, int k, Random rng)
    {
        var bytes = new byte[QuantTypes.RowBytes(type, k) * n];
        rng.NextBytes(bytes);
        int bb = QuantTypes.BlockBytes(type);
        for (int b = 0; b < bytes.Length / bb; b++)
        {
            var block = bytes.AsSpan(b * bb, bb);
            if (type is QuantType.Q4_K or QuantType.Q5_K) { BitConverter.TryWriteBytes(block, (Half)0.01f); BitConverter.TryWriteBytes(block[2..], (Half)0.01f); }
            else if (type == QuantType.Q2_K) { BitConverter.TryWriteBytes(block[^4..], (Half)0.01f); BitConverter.TryWriteBytes(block[^2..], (Half)0.01f); }
            else BitConverter.TryWriteBytes(block[^2..], (Half)0.01f);
        }
        return QuantizedMatrix.FromBytes(bytes, n, k, type);
    }

    // Median milliseconds of one y = x·Wᵀ and the weight bytes it reads.
    static (double Ms, long Bytes) Case(string type, int m, int n, int k, double seconds)
    {
        var rng = new Random(3);
        var wf = new float[(long)n * k];
        for (long i = 0; i < wf.Length; i++) wf[i] = (float)rng.NextDouble() - 0.5f;
        float* x = (float*)NativeMemory.AlignedAlloc((nuint)((long)m * k * 4), 64);
        float* y = (float*)NativeMemory.AlignedAlloc((nuint)((long)m * n * 4), 64);
        for (long i = 0; i < (long)m * k; i++) x[i] = (float)rng.NextDouble() - 0.5f;
        try
        {
            if (type == "f32")
            {
                fixed (float* w = wf)
                {
                    float* pw = w;
                    var times = BenchSupport.Time(() => Gemm.Multiply(false, true, m, n, k, x, k, pw, k, y, n), warmup: 5, minRuns: 20, minSeconds: seconds);
                    return (BenchSupport.Median(times), (long)n * k * 4);
                }
            }
            var qt = QuantTypes.Parse(type);
            using var qm = QuantTypes.IsKQuant(qt) ? RandomKQuant(qt, n, k, rng) : QuantizedMatrix.FromFloat(wf, n, k, qt);
            byte* scratch = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, QuantMatMul.ScratchBytes(qt, m, k)), 64);
            try
            {
                var t = BenchSupport.Time(() => QuantMatMul.Forward(x, m, k, qm, y, scratch), warmup: 5, minRuns: 20, minSeconds: seconds);
                return (BenchSupport.Median(t), qm.ByteLength);
            }
            finally { NativeMemory.AlignedFree(scratch); }
        }
        finally { NativeMemory.AlignedFree(x); NativeMemory.AlignedFree(y); }
    }
}

using System.CommandLine;
using System.Diagnostics;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench kquantize`: how long ggml's k-quant quantizers take in Lathe on a model-sized set of weights
/// (Gaussian rows of 2048, quantized row by row as the GGUF writer does), without and with an importance matrix, and
/// BF16 encoding. Seconds per type and millions of weights per second; JSON last.</summary>
internal static class BenchKQuantize
{
    public static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var parameters = new Option<long>("--params") { Description = "Weights to quantize (rounded to rows of 2048).", DefaultValueFactory = _ => 40_000_000 };
        var command = new Command("kquantize", "Seconds to quantize --params weights to q2_k…q6_k (reference and importance paths) and bf16; JSON last.")
        {
            threads, parameters,
        };
        command.SetAction(r => Run(r.GetValue(threads), r.GetValue(parameters)));
        return command;
    }

    const int Columns = 2048;

    static int Run(int threads, long parameters)
    {
        if (threads <= 0 || parameters < Columns) throw new UserInputException($"bench kquantize: --threads must be positive and --params at least {Columns}");
        ComputePool.SetSharedThreads(threads);
        int rows = (int)Math.Min(parameters / Columns, int.MaxValue / Columns);
        var rng = new Random(19);
        var w = new float[(long)rows * Columns];
        for (long i = 0; i < w.Length; i++) w[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()) * 0.02);
        var importance = new float[Columns];
        for (int i = 0; i < Columns; i++) importance[i] = (float)(0.1 + rng.NextDouble());
        var fields = new List<(string, object)> { ("bench", "kquantize"), ("threads", threads), ("params", (long)rows * Columns) };
        foreach (var type in new[] { QuantType.Q2_K, QuantType.Q3_K, QuantType.Q4_K, QuantType.Q5_K, QuantType.Q6_K, QuantType.BF16 })
            foreach (bool weighted in QuantTypes.IsKQuant(type) ? new[] { false, true } : new[] { false })
            {
                var output = new byte[QuantTypes.RowBytes(type, Columns) * rows];
                long rowBytes = QuantTypes.RowBytes(type, Columns);
                var clock = Stopwatch.StartNew();
                for (int r = 0; r < rows; r++)
                    BlockCodec.Quantize(type, w.AsSpan(r * Columns, Columns), output.AsSpan((int)(r * rowBytes), (int)rowBytes), weighted ? importance : default);
                double s = clock.Elapsed.TotalSeconds;
                string name = QuantTypes.Name(type) + (weighted ? "_imatrix" : "");
                Console.Error.WriteLine($"kquantize {name,-12} {rows}×{Columns}, {threads} threads: {s:F2} s, {rows * (double)Columns / s / 1e6:F1} M weights/s");
                fields.Add(($"{name}_s", s));
            }
        BenchSupport.PrintJson([.. fields]);
        return 0;
    }
}

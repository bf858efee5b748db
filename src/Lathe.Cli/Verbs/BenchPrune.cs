using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Lathe.Compression.Pruning;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench prune`: does unstructured or 2:4 sparsity buy speed on this CPU? The engine's dense GEMM
/// against a CSR and a 2:4 compressed kernel at one weight shape, for decode (matvec, one token) and prefill/training
/// (GEMM over --tokens tokens), median milliseconds after warm-up. All single-threaded unless --threads says
/// otherwise for the dense kernel (the sparse kernels have one thread).</summary>
internal static unsafe class BenchPrune
{
    public static Command Create()
    {
        var rows = new Option<int>("--rows") { Description = "Output features of the weight (out).", DefaultValueFactory = _ => 2048 };
        var cols = new Option<int>("--cols") { Description = "Input features (in); a multiple of 4.", DefaultValueFactory = _ => 512 };
        var tokens = new Option<int>("--tokens") { Description = "Tokens of the GEMM case (prefill/training).", DefaultValueFactory = _ => 128 };
        var sparsities = new Option<string>("--sparsity") { Description = "Comma-separated CSR sparsities.", DefaultValueFactory = _ => "0.5,0.75,0.9,0.95" };
        var threads = new Option<int>("--threads") { Description = "Threads of the dense kernel.", DefaultValueFactory = _ => 1 };
        var seconds = new Option<double>("--seconds") { Description = "Minimum timed seconds per case.", DefaultValueFactory = _ => 0.5 };
        var command = new Command("prune", "Dense vs CSR vs 2:4 sparse matvec and GEMM at one shape; JSON line last.") { rows, cols, tokens, sparsities, threads, seconds };
        command.SetAction(r => Run(r.GetValue(rows), r.GetValue(cols), r.GetValue(tokens), r.GetValue(sparsities)!, r.GetValue(threads), r.GetValue(seconds)));
        return command;
    }

    static int Run(int rows, int cols, int tokens, string sparsityList, int threads, double seconds)
    {
        if (rows <= 0 || cols <= 0 || cols % 4 != 0) throw new UserInputException($"bench prune: --rows must be positive and --cols a positive multiple of 4 (got {rows}, {cols}).");
        if (tokens < 2) throw new UserInputException($"bench prune: --tokens must be at least 2 (got {tokens}).");
        if (threads <= 0 || !(seconds > 0)) throw new UserInputException("bench prune: --threads and --seconds must be positive.");
        var levels = sparsityList.Split(',').Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && v < 1 ? v
            : throw new UserInputException($"bench prune: --sparsity '{s}' is not a fraction in (0, 1).")).ToArray();
        ComputePool.SetSharedThreads(threads);
        var rng = new Random(1);
        var w = new float[rows * cols];
        for (int i = 0; i < w.Length; i++) w[i] = (float)rng.NextDouble() - 0.5f;
        var x = new float[tokens * cols];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() - 0.5f;
        var xT = new float[cols * tokens];
        for (int n = 0; n < tokens; n++) for (int j = 0; j < cols; j++) xT[j * tokens + n] = x[n * cols + j];
        var y = new float[rows * tokens];
        var scores = UnstructuredPruner.Scores(w, rows, cols, null);

        double denseVec = Dense(w, x, y, 1, rows, cols, seconds), denseGemm = Dense(w, x, y, tokens, rows, cols, seconds);
        var half = (float[])w.Clone();
        foreach (int i in UnstructuredPruner.TwoOfFour(scores, rows, cols)) half[i] = 0;
        var twoFour = new TwoFourMatrix(half, rows, cols);
        double tfVec = Median(() => twoFour.MatVec(x.AsSpan(0, cols), y), seconds), tfGemm = Median(() => twoFour.MatMul(xT, tokens, y), seconds);
        var csrVec = new double[levels.Length];
        var csrGemm = new double[levels.Length];
        for (int s = 0; s < levels.Length; s++)
        {
            var sparse = (float[])w.Clone();
            foreach (int i in UnstructuredPruner.LowestOfMatrix(scores, levels[s])) sparse[i] = 0;
            var csr = new CsrMatrix(sparse, rows, cols);
            csrVec[s] = Median(() => csr.MatVec(x.AsSpan(0, cols), y), seconds);
            csrGemm[s] = Median(() => csr.MatMul(xT, tokens, y), seconds);
            Console.Error.WriteLine($"csr {levels[s]:P0}: matvec {csrVec[s]:F4} ms ({denseVec / csrVec[s]:F2}× dense), gemm {csrGemm[s]:F3} ms ({denseGemm / csrGemm[s]:F2}× dense)");
        }
        Console.Error.WriteLine($"dense ({threads} thread{(threads == 1 ? "" : "s")}): matvec {denseVec:F4} ms, gemm {tokens} tokens {denseGemm:F3} ms; " +
            $"2:4: matvec {tfVec:F4} ms ({denseVec / tfVec:F2}×), gemm {tfGemm:F3} ms ({denseGemm / tfGemm:F2}×)");
        BenchSupport.PrintJson(("bench", "prune"), ("rows", rows), ("cols", cols), ("tokens", tokens), ("dense_threads", threads), ("sparse_threads", 1),
            ("dense_matvec_ms", denseVec), ("dense_gemm_ms", denseGemm), ("twofour_matvec_ms", tfVec), ("twofour_gemm_ms", tfGemm),
            ("twofour_matvec_speedup", denseVec / tfVec), ("twofour_gemm_speedup", denseGemm / tfGemm),
            ("csr_sparsity", levels), ("csr_matvec_ms", csrVec), ("csr_gemm_ms", csrGemm),
            ("csr_matvec_speedup", csrVec.Select(v => denseVec / v).ToArray()), ("csr_gemm_speedup", csrGemm.Select(v => denseGemm / v).ToArray()));
        return 0;
    }

    // Median milliseconds of one call. A call shorter than the timer resolves is repeated inside each timed sample
    // (as many times as make ~0.2 ms) and the sample divided by that count.
    static double Median(Action a, double seconds)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int calls = 0;
        while (clock.Elapsed.TotalMilliseconds < 0.2) { a(); calls++; }
        // A sample must span timer ticks: on a loaded machine a preemption can cut the calibration above short, and a
        // sample of one tiny call then reads 0 on a coarse clock (0/0 speed-ups, seen in CI). Grow the count until it resolves.
        for (int repeat = Math.Max(1, calls); ; repeat *= 4)
        {
            int n = repeat;
            double ms = BenchSupport.Median(BenchSupport.Time(() => { for (int i = 0; i < n; i++) a(); }, warmup: 3, minRuns: 10, minSeconds: seconds)) / n;
            if (ms > 0 || repeat >= 1 << 24) return ms;
        }
    }

    // Y (N, out) = X (N, in) · Wᵀ through the engine's packed GEMM — what Ops.Linear runs.
    static double Dense(float[] w, float[] x, float[] y, int N, int rows, int cols, double seconds)
    {
        fixed (float* pw = w, px = x, py = y)
        {
            float* a = px, b = pw, c = py;
            return Median(() => Gemm.Multiply(false, true, N, rows, cols, a, cols, b, cols, c, rows), seconds);
        }
    }
}

using Lathe.Formats;
using Lathe.Compression;
using System.CommandLine;
using System.Diagnostics;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench decode`: llama.cpp-style inference figures — prompt processing tokens/s (one batched pass over
/// a random prompt, logits of the last token only, as llama-bench's pp) and generation tokens/s (greedy, one token per
/// forward with the KV cache, as llama-bench's tg; with --sequences N, N sequences advance together in one batched step and tokens/s are
/// their sum; --sequences 1,4,16,64 measures each count in turn in one process, a JSON line each), median over repetitions,
/// and peak RSS (whole process, and from after loading on: decode_peak_rss_mb).</summary>
internal static unsafe class BenchDecode
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "A GGUF file to benchmark (in its stored types)." };
        var preset = new Option<string>("--preset") { Description = "A model preset with random weights (used without --model).", DefaultValueFactory = _ => "llama-40m" };
        var type = new Option<string>("--type") { Description = "Weight type of the linear layers: f32, f16, q8_0 or q4_0 (with --preset).", DefaultValueFactory = _ => "q4_0" };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Prompt length for prompt processing.", DefaultValueFactory = _ => 512 };
        var gen = new Option<int>("--gen-tokens") { Description = "Tokens generated for the generation figure.", DefaultValueFactory = _ => 128 };
        var reps = new Option<int>("--repetitions") { Description = "Timed repetitions (median reported).", DefaultValueFactory = _ => 3 };
        var sequences = new Option<string>("--sequences") { Description = "Concurrent sequences advanced together by the batched step (each with its own prompt); tokens/s are summed over them. A list (1,4,16,64) measures each count in turn, one JSON line each.", DefaultValueFactory = _ => "1" };
        var command = new Command("decode", "Prompt-processing and generation tokens/s with the KV cache; prints pp_tokens_per_s, tg_tokens_per_s, peak_rss_mb as JSON last.")
        {
            model, preset, type, threads, prompt, gen, reps, sequences,
        };
        command.SetAction(r => Run(r.GetValue(model), r.GetValue(preset)!, r.GetValue(type)!, r.GetValue(threads), r.GetValue(prompt), r.GetValue(gen),
            r.GetValue(reps), ParseCounts(r.GetValue(sequences)!)));
        return command;
    }

    // "16" or "1,4,16,64": positive counts, in the order given.
    static int[] ParseCounts(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var counts = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out counts[i]) || counts[i] <= 0)
                throw new UserInputException($"bench decode: --sequences '{text}' must be a positive count or a comma-separated list of them (1,4,16,64)");
        return counts;
    }

    static int Run(string? modelPath, string preset, string typeName, int threads, int promptTokens, int genTokens, int repetitions, int[] sequenceCounts)
    {
        if (threads <= 0 || promptTokens <= 0 || genTokens <= 0 || repetitions <= 0)
            throw new UserInputException("bench decode: --threads, --prompt-tokens, --gen-tokens and --repetitions must be positive");
        QuantType? type = typeName.ToLowerInvariant() == "f32" ? null
            : typeName.ToLowerInvariant() is "f16" or "q8_0" or "q4_0" ? QuantTypes.Parse(typeName)
            : throw new UserInputException($"bench decode: --type '{typeName}' is not one of f32, f16, q8_0, q4_0");
        ComputePool.SetSharedThreads(threads);
        using var model = Load(modelPath, preset, type);
        var config = model.Config;
        if (promptTokens + genTokens > config.MaxPositions)
            throw new UserInputException($"bench decode: {promptTokens} + {genTokens} tokens exceed the model's context {config.MaxPositions}");

        // The F32 weights a --preset model is built from are freed by quantization, but the process's high-water mark
        // keeps them; reset it (Linux: clear_refs 5) so decode_peak_rss_mb is the peak from here on.
        double loadPeak = BenchSupport.PeakRssMb();
        bool hwmReset = ResetPeakRss();
        int most = sequenceCounts.Max();
        var rng = new Philox(7);
        var prompts = new int[most * promptTokens];   // one prompt per sequence, side by side; N sequences take the first N
        for (int i = 0; i < prompts.Length; i++) prompts[i] = rng.NextInt(config.VocabSize);
        int blocksPerSequence = (promptTokens + genTokens + PagedKvCache.DefaultBlockSize - 1) / PagedKvCache.DefaultBlockSize;
        using var cache = new PagedKvCache(config, most * blocksPerSequence);
        using var tape = new Tape();
        string label = modelPath ?? preset;
        if (modelPath is not null) typeName = "gguf";
        for (int c = 0; c < sequenceCounts.Length; c++)
        {
            int sequences = sequenceCounts[c];
            var prompt = prompts.AsSpan(0, sequences * promptTokens).ToArray();
            var next = new int[sequences];
            // Warm-up: whole repetitions for at least 2 s, so the runtime's tier-1 recompilation (which runs on a background
            // thread, taking a core from the compute threads) is over before timing — a short warm-up left it inside the
            // timed runs and made 2-thread figures swing by up to 2× between processes. Later counts reuse the compiled
            // code and only need their own shapes warm.
            long warmStart = Stopwatch.GetTimestamp();
            double warmSeconds = c == 0 ? 2 : 0.5;
            for (int w = 0; w < 2 || Stopwatch.GetElapsedTime(warmStart).TotalSeconds < warmSeconds; w++)
                Measure(model, cache, tape, prompt, genTokens, next);
            var pp = new List<double>();
            var tg = new List<double>();
            var tgCpu = new List<double>();
            var process = Process.GetCurrentProcess();
            var cpuBefore = process.TotalProcessorTime;
            for (int r = 0; r < repetitions; r++)
            {
                var (ppSeconds, tgSeconds, tgCpuSeconds) = Measure(model, cache, tape, prompt, genTokens, next);
                pp.Add((double)sequences * promptTokens / ppSeconds);
                tg.Add((double)sequences * genTokens / tgSeconds);
                tgCpu.Add((double)sequences * genTokens / tgCpuSeconds);
            }
            process.Refresh();
            // CPU seconds per repetition: on a loaded machine wall time overstates the cost; CPU time shows the work
            // (with 2+ threads it includes the workers' spinning).
            double cpuPerRep = (process.TotalProcessorTime - cpuBefore).TotalSeconds / repetitions;
            double ppRate = BenchSupport.Median(pp), tgRate = BenchSupport.Median(tg), rss = BenchSupport.PeakRssMb();
            double decodeRss = hwmReset ? rss : -1;
            // Generation reads every linear weight once per step (the embedding only a row): the bandwidth that took.
            double weightBytes = WeightBytesPerStep(model);
            Console.Error.WriteLine($"bench decode {label} ({model.ParameterCount / 1e6:F1}M params, {typeName}), {threads} threads: " +
                $"{(sequences > 1 ? $"{sequences} sequences, " : "")}pp{promptTokens} {ppRate:F1} tok/s, tg{genTokens} {tgRate:F1} tok/s, peak RSS {(hwmReset ? "after loading " : "")}{rss:F0} MB; CPU {cpuPerRep * 1e3:F0} ms per repetition");
            BenchSupport.PrintJson(("bench", "decode"), ("model", label), ("type", typeName.ToLowerInvariant()), ("threads", threads),
                ("params_m", model.ParameterCount / 1e6), ("sequences", sequences), ("prompt_tokens", promptTokens), ("gen_tokens", genTokens), ("repetitions", repetitions),
                ("cpu_ms_per_repetition", cpuPerRep * 1e3), ("pp_tokens_per_s", ppRate), ("tg_tokens_per_s", tgRate),
                ("tg_tokens_per_cpu_s", BenchSupport.Median(tgCpu)), ("weight_mb_per_step", weightBytes / 1e6),
                ("tg_weight_gb_per_s", weightBytes * tgRate / sequences / 1e9), ("peak_rss_mb", Math.Max(loadPeak, rss)), ("decode_peak_rss_mb", decodeRss));
        }
        return 0;
    }

    /// <summary>Bytes of the linear weights (stored type, or F32) — what one generation step streams from memory.</summary>
    static double WeightBytesPerStep(CausalLM model)
    {
        double bytes = 0;
        foreach (var layer in model.Linears) bytes += layer.Quantized?.ByteLength ?? (double)layer.Weight.Length * sizeof(float);
        return bytes;
    }

    static bool ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    static CausalLM Load(string? modelPath, string preset, QuantType? type)
    {
        // A GGUF file runs in its own stored types (F16/Q8_0/Q4_0 linear weights stay quantized; --type is ignored).
        if (modelPath is not null)
        {
            if (!File.Exists(modelPath)) throw new FileNotFoundException($"bench decode: --model {modelPath}: file not found");
            return GgufModelLoader.LoadQuantized(modelPath);
        }
        var model = CausalLM.Create(ModelConfig.FromPresetOrFile(preset), seed: 1);
        if (type is { } t) ModelQuantizer.Quantize(model, t, releaseFloatWeights: true);
        return model;
    }

    // Each sequence's prompt, then greedy generation with every sequence advancing one token per batched step; returns
    // (prompt seconds, generation seconds, generation CPU seconds of the whole process). The CPU figure is robust on a
    // loaded machine at one thread (time descheduled is not counted); with more threads it includes the workers' spinning.
    static (double, double, double) Measure(CausalLM model, PagedKvCache cache, Tape tape, int[] prompt, int genTokens, int[] next)
    {
        int n = next.Length, promptTokens = prompt.Length / n;
        Span<int> ids = stackalloc int[n];
        for (int i = 0; i < n; i++) ids[i] = cache.AddSequence();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < n; i++) next[i] = Step(model, cache, tape, prompt.AsSpan(i * promptTokens, promptTokens), ids[i]);
        double ppSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        Span<int> ones = stackalloc int[n];
        ones.Fill(1);
        double cpuStart = BenchSupport.ProcessCpuSeconds();
        start = Stopwatch.GetTimestamp();
        for (int t = 0; t < genTokens; t++)
        {
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = Ops.Contiguous(cache.Forward(model, next, ids, ones));   // (n, V): one row per sequence
                for (int i = 0; i < n; i++) next[i] = ArgMax(new ReadOnlySpan<float>(logits.Data + (long)i * model.Config.VocabSize, model.Config.VocabSize));
            }
        }
        double tgSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        double tgCpuSeconds = BenchSupport.ProcessCpuSeconds() - cpuStart;
        for (int i = 0; i < n; i++) cache.Free(ids[i]);
        return (ppSeconds, tgSeconds, tgCpuSeconds);
    }

    // Feeds a prompt (in chunks of Generator.PromptChunk, as generation does) and returns the greedy next token.
    static int Step(CausalLM model, PagedKvCache cache, Tape tape, ReadOnlySpan<int> tokens, int sequence)
    {
        int best = 0;
        for (int start = 0; start < tokens.Length; start += Generator.PromptChunk)
        {
            var chunk = tokens.Slice(start, Math.Min(Generator.PromptChunk, tokens.Length - start));
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = Ops.Contiguous(cache.Forward(model, chunk, sequence));   // (1, V)
                best = ArgMax(new ReadOnlySpan<float>(logits.Data, model.Config.VocabSize));
            }
        }
        return best;
    }

    static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
        return best;
    }
}

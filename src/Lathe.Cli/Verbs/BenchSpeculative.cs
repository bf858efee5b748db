using System.CommandLine;
using System.Diagnostics;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench speculative`: generation tokens/s of a model with and without a draft (speculative decoding) on
/// the same prompts, interleaved prompt by prompt (alternating which goes first) after a warm-up, in-process; the draft's
/// acceptance rate, tokens per target pass, the speed-up, whether greedy output was identical, and what one target pass
/// of 1 and of k + 1 rows and one draft pass cost (the terms of the speed-up). JSON line last.</summary>
internal static class BenchSpeculative
{
    // Openings in the style of the corpus the shipped pair learns from (Moby-Dick, State of the Union addresses).
    static readonly string[] DefaultPrompts =
    [
        "Call me Ishmael. Some years ago",
        "Fellow-Citizens of the Senate and of the House of Representatives:",
        "The whale",
        "Mr. Speaker, Mr. Vice President, Members of Congress, my fellow Americans:",
        "It was the captain of the Pequod who",
        "The Congress of the United States",
        "And the sea",
        "We must never forget that",
    ];

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The target model (checkpoint, Hugging Face folder or .gguf).", Required = true };
        var draft = new Option<string>("--draft") { Description = "The draft model, with the target's tokenizer.", Required = true };
        var draftTokens = new Option<int>("--draft-tokens") { Description = "Tokens the draft proposes per step (1-16).", DefaultValueFactory = _ => 4 };
        var pMin = new Option<float>("--draft-p-min") { Description = "The draft stops a step's proposals below this confidence (0 = always --draft-tokens).", DefaultValueFactory = _ => 0f };
        var prompts = new Option<int>("--prompts") { Description = "Prompts to run (the built-in openings, or --prompt-file's lines, cycled).", DefaultValueFactory = _ => 8 };
        var promptFile = new Option<string?>("--prompt-file") { Description = "A text file with one prompt per line." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens generated per prompt (stop tokens ignored, so every run generates them all).", DefaultValueFactory = _ => 128 };
        var temperature = new Option<float>("--temperature") { Description = "0: greedy (and the outputs are compared); else sampled with top-k 40, top-p 0.95, min-p 0.05, seed = prompt number.", DefaultValueFactory = _ => 0f };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("speculative", "Tokens/s with and without a draft model on the same prompts, acceptance rate and speed-up; JSON line last.")
        {
            model, draft, draftTokens, pMin, prompts, promptFile, maxTokens, temperature, threads,
        };
        command.SetAction(r => Run(r.GetValue(model)!, r.GetValue(draft)!, r.GetValue(draftTokens), r.GetValue(pMin), r.GetValue(prompts), r.GetValue(promptFile),
            r.GetValue(maxTokens), r.GetValue(temperature), r.GetValue(threads)));
        return command;
    }

    static int Run(string modelPath, string draftPath, int k, float pMin, int promptCount, string? promptFile, int maxTokens, float temperature, int threads)
    {
        if (threads <= 0 || promptCount <= 0 || maxTokens <= 0)
            throw new UserInputException("bench speculative: --threads, --prompts and --max-tokens must be positive");
        if (k is < 1 or > 16) throw new UserInputException($"bench speculative: --draft-tokens {k} must be in 1-16");
        if (!(pMin is >= 0 and <= 1)) throw new UserInputException($"bench speculative: --draft-p-min {pMin} must be in [0, 1]");
        if (!(temperature >= 0)) throw new UserInputException($"bench speculative: --temperature {temperature} must be ≥ 0");
        string[] texts = promptFile is null ? DefaultPrompts
            : File.Exists(promptFile) ? [.. File.ReadAllLines(promptFile).Where(l => l.Trim().Length > 0)]
            : throw new UserInputException($"bench speculative: --prompt-file {promptFile}: file not found");
        if (texts.Length == 0) throw new UserInputException($"bench speculative: --prompt-file {promptFile} has no prompts");
        ComputePool.SetSharedThreads(threads);
        using var target = ModelLoader.Load(modelPath);
        using var draftModel = ModelLoader.Load(draftPath);
        SpeculativeDecoder.CheckVocabularies(target, draftModel);
        var lm = target.Decoder;
        var small = draftModel.Decoder;
        int context = lm.Config.MaxPositions;
        if (maxTokens >= context) throw new UserInputException($"bench speculative: --max-tokens {maxTokens} leaves no room for a prompt in the context of {context}");
        var ids = new int[promptCount][];
        for (int i = 0; i < promptCount; i++)
        {
            int[] all = target.Encode(texts[i % texts.Length]);
            ids[i] = all.Length + maxTokens <= context ? all : all[^(context - maxTokens)..];   // keep the prompt's end
        }
        SamplingOptions Options(int i) => temperature == 0 ? new SamplingOptions { Temperature = 0 } : new SamplingOptions { Temperature = temperature, Seed = (ulong)(i + 1) };

        using var plain = new Generator(lm);
        using var speculative = new SpeculativeGenerator(lm, small, k, pMin);
        // Warm-up of both paths for at least 2 s: the runtime's tier-1 recompilation runs on a background thread and
        // would otherwise fall inside the first timed runs (see bench decode).
        long warmStart = Stopwatch.GetTimestamp();
        for (int w = 0; w < 2 || Stopwatch.GetElapsedTime(warmStart).TotalSeconds < 2; w++)
        {
            plain.Generate(ids[0], Math.Min(maxTokens, 32), Options(0)).Count();
            speculative.Generate(ids[0], Math.Min(maxTokens, 32), Options(0)).Count();
        }

        long plainTokens = 0, specTokens = 0, proposed = 0, accepted = 0, steps = 0;
        double plainSeconds = 0, specSeconds = 0;
        int mismatches = 0;
        var ratios = new List<double>();
        for (int i = 0; i < promptCount; i++)
        {
            List<int> a = [], b = [];
            double ta = 0, tb = 0;
            for (int order = 0; order < 2; order++)
            {
                bool runPlain = (order == 0) == (i % 2 == 0);   // alternate which goes first
                long start = Stopwatch.GetTimestamp();
                if (runPlain) { a = plain.Generate(ids[i], maxTokens, Options(i)).ToList(); ta = Stopwatch.GetElapsedTime(start).TotalSeconds; }
                else { b = speculative.Generate(ids[i], maxTokens, Options(i)).ToList(); tb = Stopwatch.GetElapsedTime(start).TotalSeconds; }
            }
            plainTokens += a.Count; plainSeconds += ta;
            specTokens += b.Count; specSeconds += tb;
            proposed += speculative.Proposed; accepted += speculative.Accepted; steps += speculative.Steps;
            bool same = a.SequenceEqual(b);
            if (!same) mismatches++;
            ratios.Add((b.Count / tb) / (a.Count / ta));
            Console.Error.WriteLine($"prompt {i}: {ids[i].Length} tokens; plain {a.Count / ta:F1} tok/s, speculative {b.Count / tb:F1} tok/s " +
                $"(accepted {speculative.Accepted}/{speculative.Proposed}, {speculative.Steps} target passes){(temperature == 0 ? same ? ", identical" : ", DIFFERENT" : "")}");
        }
        var (pass1, passK, draftPass) = PassCosts(lm, small, ids[0], k);
        double plainRate = plainTokens / plainSeconds, specRate = specTokens / specSeconds, speedup = specRate / plainRate;
        double acceptance = proposed == 0 ? 0 : (double)accepted / proposed;
        Console.Error.WriteLine($"bench speculative: {modelPath} ({lm.ParameterCount / 1e6:F1}M) with draft {draftPath} ({small.ParameterCount / 1e6:F2}M), k {k}{(pMin > 0 ? $", p-min {pMin}" : "")}, " +
            $"temperature {temperature}, {threads} threads: plain {plainRate:F1} tok/s, speculative {specRate:F1} tok/s, speed-up {speedup:F2}× " +
            $"(acceptance {100 * acceptance:F1}%, {(double)specTokens / steps:F2} tokens per target pass; target pass {pass1:F2} ms for 1 row, {passK:F2} ms for {k + 1}; draft pass {draftPass:F2} ms)" +
            (temperature == 0 ? mismatches == 0 ? "; greedy output identical" : $"; greedy output DIFFERENT on {mismatches} of {promptCount} prompts" : ""));
        BenchSupport.PrintJson(("bench", "speculative"), ("model", modelPath), ("draft", draftPath), ("threads", threads),
            ("target_params_m", lm.ParameterCount / 1e6), ("draft_params_m", small.ParameterCount / 1e6), ("draft_tokens", k), ("draft_p_min", (double)pMin),
            ("temperature", (double)temperature), ("prompts", promptCount), ("max_tokens", maxTokens),
            ("plain_tokens_per_s", plainRate), ("speculative_tokens_per_s", specRate), ("speedup", speedup), ("speedup_median", BenchSupport.Median(ratios)),
            ("acceptance_rate", acceptance), ("tokens_per_target_pass", (double)specTokens / steps),
            ("target_pass_ms_1_row", pass1), ("target_pass_ms_k1_rows", passK), ("draft_pass_ms", draftPass),
            ("identical", temperature == 0 ? mismatches == 0 : null));
        return 0;
    }

    // Median milliseconds of one target pass of 1 row and of k + 1 rows, and of one draft pass of 1 row, each after the
    // prompt (cut back after every pass, so each runs at the same position).
    static (double, double, double) PassCosts(CausalLM target, CausalLM draft, int[] prompt, int k)
    {
        double Cost(CausalLM model, int rows)
        {
            using var cache = new PagedKvCache(model.Config);
            using var tape = new Tape();
            int s = cache.AddSequence();
            int[] ids = prompt.Length + rows <= model.Config.MaxPositions ? prompt : prompt[..(model.Config.MaxPositions - rows)];
            void Pass(ReadOnlySpan<int> tokens, bool lastOnly)
            {
                tape.Reset();
                using (tape.Activate())
                using (Tape.NoGrad())
                    cache.Forward(model, tokens, s, lastOnly);
            }
            Pass(ids, true);
            int length = cache.Length(s);
            var next = new int[rows];
            var times = BenchSupport.Time(() => { Pass(next, lastOnly: false); cache.Truncate(s, length); }, warmup: 5, minRuns: 20, minSeconds: 0.5);
            return BenchSupport.Median(times);
        }
        return (Cost(target, 1), Cost(target, k + 1), Cost(draft, 1));
    }
}

using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Inference.Constraints;
using Lathe.Inference.ToolCalls;
using Lathe.IO;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Threading;
using Lathe.Tokenizers;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench grammar`: the cost of constrained decoding. For each vocabulary (GPT-2's 50,257 tokens, and a
/// 4,096-token BPE trained on the State of the Union text) and each built-in constraint (an object schema, a recursive
/// $ref schema, json_object, required tool calls), a random-weight decoder generates greedily with the constraint's processor
/// in the loop: the processor's time per token (mask + accept; median, mean and p99 over every token, the first visits
/// of a state, which walk the token trie, included) and tokens/s with the constraint and without it (same model, same
/// number of tokens), per wall second and per CPU second of the process. In-process, after a warm-up; JSON line per
/// pair, and a summary line last.</summary>
internal static class BenchGrammar
{
    static readonly (string Name, string Json)[] Schemas =
    [
        ("person", """
            {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"email":{"type":["string","null"]},
             "tags":{"type":"array","items":{"enum":["admin","user","guest"]},"maxItems":3},
             "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}},"required":["city"],"additionalProperties":false}},
             "required":["name","age","address"],"additionalProperties":false}
            """),
        ("tree", """
            {"$defs":{"node":{"type":"object","properties":{"label":{"type":"string"},"weight":{"type":"number"},
              "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":3}},"required":["label","children"],"additionalProperties":false}},
             "$ref":"#/$defs/node"}
            """),
        ("json_object", ""),
        ("tool_calls", ""),
    ];

    static readonly ChatTool[] Tools =
    [
        new("get_weather", "Current weather", """{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city"],"additionalProperties":false}"""),
        new("search", "Web search", """{"type":"object","properties":{"query":{"type":"string"},"max_results":{"type":"integer"}},"required":["query"],"additionalProperties":false}"""),
    ];

    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Decoder preset with random weights (its vocab_size is set to each vocabulary's).", DefaultValueFactory = _ => "gpt2-tiny" };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var tokens = new Option<int>("--tokens") { Description = "Tokens per output (a constrained output ends sooner when its value closes).", DefaultValueFactory = _ => 96 };
        var outputs = new Option<int>("--outputs") { Description = "Outputs (requests, each with its own prompt and a freshly compiled constraint) per vocabulary and constraint.", DefaultValueFactory = _ => 8 };
        var vocabs = new Option<string[]>("--vocab") { Description = "Vocabularies: gpt2, bpe4k.", DefaultValueFactory = _ => ["gpt2", "bpe4k"], AllowMultipleArgumentsPerToken = true };
        var command = new Command("grammar", "Constrained decoding: processor µs per token and tokens/s with and without the constraint; JSON line last.")
        {
            preset, threads, tokens, outputs, vocabs,
        };
        command.SetAction(r => Run(r.GetValue(preset)!, r.GetValue(threads), r.GetValue(tokens), r.GetValue(outputs), r.GetValue(vocabs)!));
        return command;
    }

    static int Run(string preset, int threads, int tokens, int outputs, string[] vocabs)
    {
        if (threads <= 0 || tokens <= 0 || outputs <= 0) throw new UserInputException("bench grammar: --threads, --tokens and --outputs must be positive");
        foreach (string v in vocabs)
            if (v is not ("gpt2" or "bpe4k")) throw new UserInputException($"bench grammar: --vocab '{v}' is not one of gpt2, bpe4k");
        ComputePool.SetSharedThreads(threads);
        var summary = new List<(string, object?)> { ("bench", "grammar"), ("preset", preset), ("threads", threads) };
        foreach (string vocab in vocabs.Distinct())
        {
            var tokenizer = LoadVocabulary(vocab);
            long trieStart = Stopwatch.GetTimestamp();
            var trie = TokenTrie.For(tokenizer);
            double trieMs = Stopwatch.GetElapsedTime(trieStart).TotalMilliseconds;
            var config = ModelConfig.FromPresetOrFile(preset) with { VocabSize = tokenizer.VocabSize };
            using var model = CausalLM.Create(config, seed: 1);
            int stop = tokenizer.EndOfTextId;
            // A different prompt per output, so that greedy outputs differ.
            var prompts = Enumerable.Range(0, outputs + 1).Select(o => tokenizer.Encode($"Record {o}. Reply with JSON:\n", allowSpecial: false).ToArray()).ToArray();
            if (prompts.Max(p => p.Length) + tokens > config.MaxPositions)
                throw new UserInputException($"bench grammar: the prompt + {tokens} tokens exceed the preset's context {config.MaxPositions}");
            using var cache = new PagedKvCache(config);
            using var tape = new Tape();
            var logits = new float[config.VocabSize];

            Generate(model, cache, tape, prompts[0], tokens, null, stop, logits, null);   // warm-up
            foreach (var (name, json) in Schemas)
            {
                Generate(model, cache, tape, prompts[0], tokens, Constraint(tokenizer, name, json, stop)(), stop, logits, null);   // warm-up (JIT)
                var perToken = new List<double>();
                var compileMs = new List<double>();
                int constrainedTokens = 0, freeTokens = 0;
                double constrainedSeconds = 0, freeSeconds = 0, constrainedCpu = 0, freeCpu = 0;
                for (int o = 1; o <= outputs; o++)
                {
                    // As a request: the constraint compiled for it, its masks computed as its output first needs them.
                    long start = Stopwatch.GetTimestamp();
                    var factory = Constraint(tokenizer, name, json, stop);
                    compileMs.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    start = Stopwatch.GetTimestamp();
                    double cpu = CpuSeconds();
                    int n = Generate(model, cache, tape, prompts[o], tokens, factory(), stop, logits, perToken);
                    constrainedSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    constrainedCpu += CpuSeconds() - cpu;
                    constrainedTokens += n;
                    // The same number of tokens without a constraint (the stop token ignored).
                    start = Stopwatch.GetTimestamp();
                    cpu = CpuSeconds();
                    freeTokens += Generate(model, cache, tape, prompts[o], n, null, -1, logits, null);
                    freeSeconds += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    freeCpu += CpuSeconds() - cpu;
                }
                var sorted = perToken.Order().ToArray();
                double median = BenchSupport.Median(sorted), mean = sorted.Average(), p99 = sorted[(int)Math.Min(sorted.Length - 1, Math.Ceiling(sorted.Length * 0.99) - 1)];
                double withRate = constrainedTokens / constrainedSeconds, withoutRate = freeTokens / freeSeconds;
                Console.Error.WriteLine($"bench grammar {vocab} (V={tokenizer.VocabSize}, trie {trie.NodeCount} nodes) {name}: processor median {median:F1} µs, mean {mean:F1} µs, p99 {p99:F1} µs per token; " +
                    $"{withRate:F1} tok/s constrained vs {withoutRate:F1} free ({constrainedTokens / constrainedCpu:F1} vs {freeTokens / freeCpu:F1} per CPU second; " +
                    $"{constrainedTokens} tokens); compile {BenchSupport.Median(compileMs):F2} ms");
                BenchSupport.PrintJson(("bench", "grammar"), ("vocab", vocab), ("vocab_size", tokenizer.VocabSize), ("trie_nodes", trie.NodeCount), ("trie_build_ms", trieMs),
                    ("constraint", name), ("compile_ms", BenchSupport.Median(compileMs)), ("tokens", constrainedTokens), ("mask_us_median", median), ("mask_us_mean", mean), ("mask_us_p99", p99),
                    ("tokens_per_s_constrained", withRate), ("tokens_per_s_free", withoutRate),
                    ("tokens_per_cpu_s_constrained", constrainedTokens / constrainedCpu), ("tokens_per_cpu_s_free", freeTokens / freeCpu));
                summary.Add(($"{vocab}_{name}_mask_us_median", median));
                summary.Add(($"{vocab}_{name}_mask_us_mean", mean));
                summary.Add(($"{vocab}_{name}_tokens_per_s_ratio", withRate / withoutRate));
            }
        }
        summary.Add(("peak_rss_mb", BenchSupport.PeakRssMb()));
        BenchSupport.PrintJson([.. summary]);
        return 0;
    }

    // The process's CPU seconds: on a loaded machine wall time counts the time other processes held the cores; CPU time
    // counts the work (with --threads above 1 it includes the workers' spinning).
    static double CpuSeconds()
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.TotalProcessorTime.TotalSeconds;
    }

    static ITokenizer LoadVocabulary(string name)
    {
        if (name == "gpt2") return TokenizerVerb.Load("gpt2");
        string sotu = string.Concat(Directory.GetFiles(Path.Combine(NodeModules.Find(), "@stdlib", "datasets", "sotu", "data"), "*.txt")
            .Order(StringComparer.Ordinal).Select(File.ReadAllText));
        return new BpeTrainer(4096, ["<|endoftext|>"]).Train([sotu[..Math.Min(sotu.Length, 2_000_000)]]);
    }

    static Func<ILogitsProcessor> Constraint(ITokenizer tokenizer, string name, string json, int stop) => name switch
    {
        "json_object" => JsonSchemaConstraint.JsonObject(tokenizer, [stop]),
        "tool_calls" => ToolCallConstraint.Create(tokenizer, Tools, ToolChoice.Required, parallelToolCalls: true, [stop])!,
        _ => JsonSchemaConstraint.Create(tokenizer, JsonDocument.Parse(json).RootElement, [stop]),
    };

    // One output: the prompt, then up to maxTokens greedy tokens (the sampler's full sort, which masking shortens, would
    // blur the comparison; over a random-weight model greedy is as good a workload); with a processor its time per
    // token (Process + Accept) is added to perToken, and the output ends at the stop token or when it is complete.
    // Returns the tokens generated.
    static unsafe int Generate(CausalLM model, PagedKvCache cache, Tape tape, int[] prompt, int maxTokens, ILogitsProcessor? processor, int stop,
        float[] logits, List<double>? perToken)
    {
        int sequence = cache.AddSequence();
        var sampler = new SamplerChain(new SamplingOptions { Temperature = 0 });
        try
        {
            Forward(model, cache, tape, prompt, sequence, logits);
            int n = 0;
            Span<int> one = stackalloc int[1];
            while (n < maxTokens)
            {
                long start = Stopwatch.GetTimestamp();
                processor?.Process(logits);
                double processUs = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                int token = sampler.Sample(logits, []);
                if (token == stop) break;
                start = Stopwatch.GetTimestamp();
                processor?.Accept(token);
                perToken?.Add(processUs + Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                n++;
                if (processor is { IsComplete: true } || n == maxTokens) break;
                one[0] = token;
                Forward(model, cache, tape, one, sequence, logits);
            }
            return n;
        }
        finally { cache.Free(sequence); }
    }

    static unsafe void Forward(CausalLM model, PagedKvCache cache, Tape tape, ReadOnlySpan<int> tokens, int sequence, float[] logits)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
            new ReadOnlySpan<float>(Ops.Contiguous(cache.Forward(model, tokens, sequence)).Data, logits.Length).CopyTo(logits);   // (1, V)
    }
}

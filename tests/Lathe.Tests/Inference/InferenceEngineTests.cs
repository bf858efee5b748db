using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Inference;

/// <summary>The continuous-batching engine against the single-sequence generator (the oracle): the same tokens for
/// every request whatever else runs beside it, prompts prefilled in chunks, choices forked, prefixes reused, stop
/// conditions, log-probabilities against a direct forward pass, cancellation freeing every block, and the queue's
/// limit.</summary>
public class InferenceEngineTests
{
    static LoadedModel Load(string preset = "llama-tiny", ulong seed = 5) =>
        new(CausalLM.Create(ModelConfig.FromPresetOrFile(preset), seed), ToyTokenizer.Bytes);

    static int[] Prompt(int length, int salt) => Enumerable.Range(0, length).Select(i => (i * 7 + salt * 13 + 3) % 251).ToArray();

    static readonly SamplingOptions Greedy = new() { Temperature = 0 };

    // The oracle: the single-sequence generator, greedy or sampled with the same seed.
    static int[] Solo(LoadedModel m, int[] prompt, int maxTokens, SamplingOptions options)
    {
        using var g = new Generator(m.Decoder);
        return g.Generate(prompt, maxTokens, options).ToArray();
    }

    static async Task<GenerationResult[]> Run(InferenceEngine engine, GenerationRequest request) =>
        await engine.Submit(request).CollectAsync();

    [Fact]
    public async Task Concurrent_requests_each_get_what_they_would_get_alone()
    {
        using var m = Load();
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 4, PrefillChunk = 24 });
        var prompts = Enumerable.Range(0, 7).Select(i => Prompt(5 + 9 * i, i)).ToArray();
        var sampled = new SamplingOptions { Temperature = 0.9f, TopK = 0, TopP = 1, MinP = 0, Seed = 11 };
        var tasks = prompts.Select((p, i) => Run(engine, new GenerationRequest { Prompt = p, MaxTokens = 12, Sampling = i % 2 == 0 ? Greedy : sampled })).ToArray();
        var results = await Task.WhenAll(tasks);
        for (int i = 0; i < prompts.Length; i++)
        {
            var expected = Solo(m, prompts[i], 12, i % 2 == 0 ? Greedy : sampled);
            Assert.Equal(expected, results[i][0].Tokens);
            Assert.Equal(FinishReason.Length, results[i][0].Finish);
        }
        var stats = engine.Stats;
        Assert.Equal(0, stats.RunningSequences);
        Assert.Equal(stats.KvBlocks, stats.KvBlocksFree + stats.KvBlocksCached);
        Assert.Equal(7 * 12, stats.GeneratedTokens);
    }

    [Fact]
    public async Task Choices_share_the_prompt_and_draw_from_consecutive_seeds()
    {
        using var m = Load();
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 4 });
        int[] prompt = Prompt(40, 1);
        var options = new SamplingOptions { Temperature = 1.2f, TopK = 0, TopP = 1, MinP = 0, Seed = 7 };
        var results = await Run(engine, new GenerationRequest { Prompt = prompt, MaxTokens = 10, Sampling = options, Choices = 3 });
        for (int c = 0; c < 3; c++)
            Assert.Equal(Solo(m, prompt, 10, options with { Seed = 7 + (ulong)c }), results[c].Tokens);
        Assert.NotEqual(results[0].Tokens, results[1].Tokens);
        Assert.Equal(engine.Stats.KvBlocks, engine.Stats.KvBlocksFree + engine.Stats.KvBlocksCached);
    }

    [Fact]
    public async Task A_repeated_prefix_is_taken_from_the_cache()
    {
        using var m = Load();
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 2 });
        int[] first = Prompt(50, 2);
        await Run(engine, new GenerationRequest { Prompt = first, MaxTokens = 4, Sampling = Greedy });
        int[] second = [.. first.Take(40), 9, 8, 7];
        var stream = engine.Submit(new GenerationRequest { Prompt = second, MaxTokens = 6, Sampling = Greedy });
        var results = await stream.CollectAsync();
        Assert.Equal(32, stream.CachedPromptTokens);   // two whole 16-token blocks of the shared 40
        Assert.Equal(Solo(m, second, 6, Greedy), results[0].Tokens);
        Assert.Equal(32, engine.Stats.CachedPromptTokens);

        // The same prompt again: everything but its last token comes from the cache (the prompt's own blocks).
        var again = engine.Submit(new GenerationRequest { Prompt = second, MaxTokens = 6, Sampling = Greedy });
        Assert.Equal(results[0].Tokens, (await again.CollectAsync())[0].Tokens);
        Assert.Equal(32, again.CachedPromptTokens);
    }

    [Fact]
    public async Task Stop_tokens_stop_strings_and_the_length_limit_end_a_choice()
    {
        using var m = Load();
        using var engine = new InferenceEngine(m);
        int[] prompt = Prompt(12, 3);
        var reference = Solo(m, prompt, 20, Greedy);
        // A stop token: the reference's 5th token ends the choice before it (and is not reported).
        var stopped = await Run(engine, new GenerationRequest { Prompt = prompt, MaxTokens = 20, Sampling = Greedy, StopTokens = [reference[4]] });
        int firstStop = Array.IndexOf(reference, reference[4]);
        Assert.Equal(reference.Take(firstStop), stopped[0].Tokens);
        Assert.Equal(FinishReason.Stop, stopped[0].Finish);
        // A stop string: the text of tokens 3–4 of the reference; the text ends before it.
        string full = m.Tokenizer.Decode(reference);
        string stop = m.Tokenizer.Decode(reference.Skip(3).Take(2));
        var byString = await Run(engine, new GenerationRequest { Prompt = prompt, MaxTokens = 20, Sampling = Greedy, StopStrings = [stop] });
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], byString[0].Text.ToString());
        Assert.Equal(FinishReason.Stop, byString[0].Finish);
    }

    [Fact]
    public async Task Logprobs_are_the_log_softmax_of_the_models_own_logits()
    {
        using var m = Load();
        using var engine = new InferenceEngine(m);
        int[] prompt = Prompt(9, 4);
        var results = await Run(engine, new GenerationRequest { Prompt = prompt, MaxTokens = 1, Sampling = Greedy, TopLogprobs = 5 });
        var e = results[0].Events[0];

        float[] logits;
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var all = m.Decoder.Logits(prompt, 1, prompt.Length);   // (T, V)
            int V = m.Decoder.Config.VocabSize;
            logits = all.ToArray().AsSpan((prompt.Length - 1) * V, V).ToArray();
        }
        double max = logits.Max(), lse = max + Math.Log(logits.Sum(x => Math.Exp(x - max)));
        int best = Array.IndexOf(logits, logits.Max());
        Assert.Equal(best, e.Token);
        Assert.Equal(logits[best] - lse, e.Logprob!.Value, 4);
        Assert.Equal(5, e.TopLogprobs!.Length);
        Assert.Equal(best, e.TopLogprobs[0].Token);
        var sorted = logits.Select((x, i) => (x, i)).OrderByDescending(p => p.x).Take(5).ToArray();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(sorted[i].i, e.TopLogprobs[i].Token);
            Assert.Equal(sorted[i].x - lse, e.TopLogprobs[i].Logprob, 4);
        }
    }

    [Fact]
    public async Task A_logits_processor_masks_tokens_and_ends_the_choice_when_complete()
    {
        using var m = Load();
        using var engine = new InferenceEngine(m);
        var results = await Run(engine, new GenerationRequest
        {
            Prompt = Prompt(10, 5), MaxTokens = 30, Choices = 2,
            Sampling = new SamplingOptions { Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0, Seed = 3 },
            Constraint = () => new OnlyDigits(4),
        });
        foreach (var r in results)
        {
            Assert.Equal(4, r.Tokens.Count);
            Assert.All(r.Tokens, t => Assert.InRange(t, '0', '9'));
            Assert.Equal(FinishReason.Stop, r.Finish);
        }
    }

    // Allows only the digits' byte tokens and is complete after `count` of them.
    sealed class OnlyDigits(int count) : ILogitsProcessor
    {
        int _seen;
        public void Process(Span<float> logits)
        {
            for (int i = 0; i < logits.Length; i++) if (i < '0' || i > '9') logits[i] = float.NegativeInfinity;
        }
        public void Accept(int token) { Assert.InRange(token, '0', '9'); _seen++; }
        public bool IsComplete => _seen == count;
    }

    [Fact]
    public async Task Cancelling_frees_the_sequences_at_once()
    {
        using var m = Load();
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 2, PrefixCaching = false });
        // On a loaded machine the engine can finish all 200 tokens before this reader sees its third event; such a run
        // cancels nothing, so it is retried (its blocks are still checked): one of five attempts must be cut short.
        bool cutShort = false;
        DateTime deadline;
        for (int attempt = 0; attempt < 5 && !cutShort; attempt++)
        {
            using var cancel = new CancellationTokenSource();
            var stream = engine.Submit(new GenerationRequest { Prompt = Prompt(20, 6 + attempt), MaxTokens = 100, Sampling = Greedy, Choices = 2 }, cancel.Token);
            int seen = 0;
            await foreach (var e in stream)
                if (++seen == 3) cancel.Cancel();
            // The stream ends soon after the cancel; then nothing runs and every block is free.
            deadline = DateTime.UtcNow.AddSeconds(10);
            while (engine.Stats.RunningSequences > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
            Assert.Equal(0, engine.Stats.RunningSequences);
            Assert.Equal(engine.Stats.KvBlocks, engine.Stats.KvBlocksFree);
            cutShort = seen < 200;
        }
        Assert.True(cutShort, "no attempt was cancelled before it finished");

        // A reader that walks away (breaks out of the loop) cancels too.
        var second = engine.Submit(new GenerationRequest { Prompt = Prompt(20, 7), MaxTokens = 100, Sampling = Greedy });
        await foreach (var e in second) break;
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (engine.Stats.RunningSequences > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        Assert.Equal(engine.Stats.KvBlocks, engine.Stats.KvBlocksFree);
    }

    [Fact]
    public async Task A_full_queue_refuses_and_bad_requests_name_their_field()
    {
        using var m = Load();
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 1, QueueCapacity = 1 });
        var r = new GenerationRequest { Prompt = Prompt(8, 1), MaxTokens = 100, Sampling = Greedy };
        using var cancel = new CancellationTokenSource();
        var streams = new List<GenerationStream>();
        Assert.Throws<EngineBusyException>(() => { for (int i = 0; i < 10; i++) streams.Add(engine.Submit(r, cancel.Token)); });
        Assert.InRange(streams.Count, 1, 3);
        cancel.Cancel();
        foreach (var s in streams) await s.CollectAsync();

        Assert.Contains("prompt", Assert.Throws<ArgumentException>(() => engine.Submit(r with { Prompt = Prompt(128, 1) })).Message);
        Assert.Contains("max_tokens", Assert.Throws<ArgumentException>(() => engine.Submit(r with { MaxTokens = 125 })).Message);
        Assert.Contains("n:", Assert.Throws<ArgumentException>(() => engine.Submit(r with { Choices = 2 })).Message);
        Assert.Contains("adapter", Assert.Throws<ArgumentException>(() => engine.Submit(r with { Adapter = "x" })).Message);
        Assert.Contains("prompt", Assert.Throws<ArgumentException>(() => engine.Submit(r with { Prompt = [] })).Message);
        Assert.Contains("top_logprobs", Assert.Throws<ArgumentException>(() => engine.Submit(r with { TopLogprobs = 21 })).Message);
        Assert.Contains("token id 300", Assert.Throws<ArgumentException>(() => engine.Submit(r with { Prompt = [1, 300] })).Message);
    }

    [Fact]
    public async Task Requests_beyond_the_parallel_limit_wait_and_then_run()
    {
        using var m = Load("gpt2-tiny", 9);
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 2, PrefillChunk = 7 });
        var prompts = Enumerable.Range(0, 5).Select(i => Prompt(30 + i, i)).ToArray();
        var results = await Task.WhenAll(prompts.Select(p => Run(engine, new GenerationRequest { Prompt = p, MaxTokens = 8, Sampling = Greedy })));
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(Solo(m, prompts[i], 8, Greedy), results[i][0].Tokens);
    }
}

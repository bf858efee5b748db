using Lathe.Inference;
using Lathe.Models;

namespace Lathe.Tests.Inference;

/// <summary>The engine with a draft model (speculative decoding) against two oracles: the engine without a draft and
/// the single-sequence <see cref="Generator"/>. Greedy output is the same token for token whatever the draft proposes
/// (a random draft: mostly rejected; the target's twin: always accepted), with requests prefilling beside others that
/// decode, forked choices, stop tokens and strings landing inside a verified run, max_tokens, log-probabilities and a
/// prefix cached after a run was cut. Sampled requests give their counts; cancelling frees both KV pools; a draft with
/// another vocabulary is refused at construction.</summary>
public class InferenceEngineSpeculativeTests
{
    static LoadedModel Target() => new(SpeculativeGreedyTests.Model("llama-tiny", 5), ToyTokenizer.Bytes);

    // "other": a random 1-layer draft (its proposals mostly fail); "twin": the target's own weights (all accepted).
    static LoadedModel Draft(string kind) => new(kind == "twin"
        ? SpeculativeGreedyTests.Model("llama-tiny", 5)
        : SpeculativeGreedyTests.Model("llama-tiny", 6, layers: 1, embd: 64), ToyTokenizer.Bytes);

    static int[] Prompt(int length, int salt) => Enumerable.Range(0, length).Select(i => (i * 7 + salt * 13 + 3) % 251).ToArray();

    static readonly SamplingOptions Greedy = new() { Temperature = 0 };

    static int[] Solo(LoadedModel m, int[] prompt, int maxTokens)
    {
        using var g = new Generator(m.Decoder);
        return g.Generate(prompt, maxTokens, Greedy).ToArray();
    }

    static async Task<GenerationResult[]> Run(InferenceEngine engine, GenerationRequest request) =>
        await engine.Submit(request).CollectAsync();

    static void AssertPoolsFree(InferenceEngine engine)
    {
        var stats = engine.Stats;
        Assert.Equal(0, stats.RunningSequences);
        Assert.Equal(stats.KvBlocks, stats.KvBlocksFree + stats.KvBlocksCached);
        Assert.True(stats.DraftKvBlocks > 0);
        Assert.Equal(stats.DraftKvBlocks, stats.DraftKvBlocksFree);
    }

    [Theory]
    [InlineData("other", 3)]
    [InlineData("twin", 4)]
    public async Task Greedy_concurrent_requests_match_the_engine_without_a_draft_and_the_generator(string kind, int k)
    {
        using var m = Target();
        using var d = Draft(kind);
        var options = new EngineOptions { Parallel = 4, PrefillChunk = 24, DraftTokens = k };
        using var plain = new InferenceEngine(m, options);
        using var engine = new InferenceEngine(m, options, draft: d);
        // Seven prompts for four slots, long ones prefilled over several steps while earlier ones decode.
        var prompts = Enumerable.Range(0, 7).Select(i => Prompt(5 + 9 * i, i)).ToArray();
        var fast = await Task.WhenAll(prompts.Select(p => Run(engine, new GenerationRequest { Prompt = p, MaxTokens = 13, Sampling = Greedy })));
        var slow = await Task.WhenAll(prompts.Select(p => Run(plain, new GenerationRequest { Prompt = p, MaxTokens = 13, Sampling = Greedy })));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(Solo(m, prompts[i], 13), fast[i][0].Tokens);
            Assert.Equal(slow[i][0].Tokens, fast[i][0].Tokens);
            Assert.Equal(slow[i][0].Text.ToString(), fast[i][0].Text.ToString());
            Assert.Equal(FinishReason.Length, fast[i][0].Finish);
        }
        var stats = engine.Stats;
        Assert.Equal(7 * 13, stats.GeneratedTokens);
        Assert.True(stats.DraftProposed > 0);
        if (kind == "twin") Assert.Equal(stats.DraftProposed, stats.DraftAccepted);
        else Assert.True(stats.DraftAccepted < stats.DraftProposed);
        // With every proposal accepted a step emits up to k + 1 tokens: far fewer steps than tokens.
        if (kind == "twin") Assert.True(stats.Steps < slow.Length * 13 / 2, $"{stats.Steps} steps");
        AssertPoolsFree(engine);
        Assert.Equal(0, plain.Stats.DraftProposed);
    }

    [Fact]
    public async Task Greedy_choices_fork_each_with_its_own_speculative_sequence()
    {
        using var m = Target();
        using var d = Draft("twin");
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 4, DraftTokens = 3 }, draft: d);
        int[] prompt = Prompt(40, 1);
        var results = await Run(engine, new GenerationRequest { Prompt = prompt, MaxTokens = 11, Sampling = Greedy, Choices = 3 });
        var expected = Solo(m, prompt, 11);
        for (int c = 0; c < 3; c++) Assert.Equal(expected, results[c].Tokens);
        AssertPoolsFree(engine);
    }

    [Fact]
    public async Task A_draft_pool_too_small_for_forked_choices_falls_back_to_plain_steps()
    {
        using var m = Target();
        using var d = Draft("twin");
        // 8 blocks: the target's reservation for 3 choices of 40 + 20 (2 shared prompt blocks + 3 × 2); the draft's
        // copies of the prompt would need 12, so some steps of some choices go without proposals.
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 3, ContextLength = 64, KvTokens = 128, DraftTokens = 4 }, draft: d);
        Assert.Equal(8, engine.Stats.DraftKvBlocks);
        int[] prompt = Prompt(40, 4);
        var results = await Run(engine, new GenerationRequest { Prompt = prompt, MaxTokens = 20, Sampling = Greedy, Choices = 3 });
        var expected = Solo(m, prompt, 20);
        for (int c = 0; c < 3; c++) Assert.Equal(expected, results[c].Tokens);
        Assert.True(engine.Stats.DraftProposed > 0);
        AssertPoolsFree(engine);
    }

    [Fact]
    public async Task Sampled_requests_and_choices_complete_with_their_counts()
    {
        using var m = Target();
        using var d = Draft("other");
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 6, PrefillChunk = 16 }, draft: d);
        var sampled = new SamplingOptions { Temperature = 0.9f, TopK = 0, TopP = 1, MinP = 0, Seed = 11 };
        var tasks = Enumerable.Range(0, 3).Select(i =>
            Run(engine, new GenerationRequest { Prompt = Prompt(10 + 15 * i, i), MaxTokens = 9 + i, Sampling = sampled, Choices = 2 })).ToArray();
        var results = await Task.WhenAll(tasks);
        for (int i = 0; i < 3; i++)
            foreach (var choice in results[i])
            {
                Assert.Equal(9 + i, choice.Tokens.Count);
                Assert.Equal(FinishReason.Length, choice.Finish);
                Assert.All(choice.Tokens, t => Assert.InRange(t, 0, m.Model.Config.VocabSize - 1));
            }
        Assert.Equal(2 * (9 + 10 + 11), engine.Stats.GeneratedTokens);
        // Same seed, same output.
        var again = await Run(engine, new GenerationRequest { Prompt = Prompt(10, 0), MaxTokens = 9, Sampling = sampled, Choices = 2 });
        Assert.Equal(results[0][0].Tokens, again[0].Tokens);
        Assert.Equal(results[0][1].Tokens, again[1].Tokens);
        AssertPoolsFree(engine);
    }

    [Fact]
    public async Task Stops_inside_a_verified_run_match_the_engine_without_a_draft()
    {
        using var m = Target();
        using var d = Draft("twin");   // every proposal accepted: a stop lands inside a run of k + 1 tokens
        var options = new EngineOptions { Parallel = 2, DraftTokens = 5 };
        using var plain = new InferenceEngine(m, options);
        using var engine = new InferenceEngine(m, options, draft: d);
        int[] prompt = Prompt(12, 3);
        var reference = Solo(m, prompt, 20);
        GenerationRequest[] requests =
        [
            new() { Prompt = prompt, MaxTokens = 20, Sampling = Greedy, StopTokens = [reference[8]] },
            new() { Prompt = prompt, MaxTokens = 20, Sampling = Greedy, StopStrings = [m.Tokenizer.Decode(reference.Skip(7).Take(2))] },
            new() { Prompt = prompt, MaxTokens = 8, Sampling = Greedy },    // max_tokens inside the second run of 6
            new() { Prompt = prompt, MaxTokens = 20, Sampling = Greedy, TopLogprobs = 3 },
        ];
        foreach (var r in requests)
        {
            var a = (await Run(plain, r))[0];
            var b = (await Run(engine, r))[0];
            Assert.Equal(a.Tokens, b.Tokens);
            Assert.Equal(a.Text.ToString(), b.Text.ToString());
            Assert.Equal(a.Finish, b.Finish);
            Assert.Equal(a.Events.Count, b.Events.Count);
            for (int i = 0; i < a.Events.Count; i++)
            {
                if (a.Events[i].Logprob is not float la) { Assert.Null(b.Events[i].Logprob); continue; }
                Assert.Equal(la, b.Events[i].Logprob!.Value, 1e-4f);   // absolute: rounding to 4 places flips at a boundary
                for (int j = 0; j < 3; j++)
                {
                    Assert.Equal(a.Events[i].TopLogprobs![j].Token, b.Events[i].TopLogprobs![j].Token);
                    Assert.Equal(a.Events[i].TopLogprobs![j].Logprob, b.Events[i].TopLogprobs![j].Logprob, 1e-4f);
                }
            }
        }
        Assert.Equal(FinishReason.Stop, (await Run(engine, requests[1]))[0].Finish);
        // The cut run's blocks went to the prefix cache with the reported tokens only: a request that continues the
        // stopped reply reuses them and still gets the generator's tokens.
        var stopped = (await Run(engine, requests[0]))[0];
        int[] next = [.. prompt, .. stopped.Tokens, 65, 66];
        var stream = engine.Submit(new GenerationRequest { Prompt = next, MaxTokens = 10, Sampling = Greedy });
        var continued = await stream.CollectAsync();
        Assert.True(stream.CachedPromptTokens > 0);
        Assert.Equal(Solo(m, next, 10), continued[0].Tokens);
        AssertPoolsFree(engine);
    }

    [Fact]
    public async Task A_logits_processor_masks_the_verify_rows_and_hears_each_token_once()
    {
        using var m = Target();
        using var d = Draft("twin");   // proposes unmasked: its proposals are rejected wherever they are not digits
        using var plain = new InferenceEngine(m);
        using var engine = new InferenceEngine(m, draft: d);
        var greedy = new GenerationRequest { Prompt = Prompt(10, 5), MaxTokens = 30, Sampling = Greedy, Constraint = () => new OnlyDigits(6) };
        Assert.Equal((await Run(plain, greedy))[0].Tokens, (await Run(engine, greedy))[0].Tokens);
        var sampled = greedy with { Choices = 2, Sampling = new SamplingOptions { Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0, Seed = 3 } };
        foreach (var r in await Run(engine, sampled))
        {
            Assert.Equal(6, r.Tokens.Count);   // one Accept per token: a second would end the choice early
            Assert.All(r.Tokens, t => Assert.InRange(t, '0', '9'));
            Assert.Equal(FinishReason.Stop, r.Finish);
        }
        AssertPoolsFree(engine);
    }

    [Fact]
    public async Task A_constraint_completed_inside_a_verified_run_keeps_the_whole_run()
    {
        using var m = Target();
        using var d = Draft("twin");
        using var engine = new InferenceEngine(m, new EngineOptions { DraftTokens = 4 }, draft: d);
        int[] prompt = Prompt(10, 6);
        // The first token, a run of 5, then a run cut by the constraint after its 2nd token: all 8 are reported.
        var r = (await Run(engine, new GenerationRequest { Prompt = prompt, MaxTokens = 30, Sampling = Greedy, Constraint = () => new CompleteAfter(8) }))[0];
        Assert.Equal(Solo(m, prompt, 8), r.Tokens);
        Assert.Equal(FinishReason.Stop, r.Finish);
        AssertPoolsFree(engine);
    }

    // Masks nothing; complete after `count` tokens.
    sealed class CompleteAfter(int count) : ILogitsProcessor
    {
        int _seen;
        public void Process(Span<float> logits) { }
        public void Accept(int token) => _seen++;
        public bool IsComplete => _seen >= count;
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
    public async Task Cancelling_frees_both_pools()
    {
        using var m = Target();
        using var d = Draft("other");
        using var engine = new InferenceEngine(m, new EngineOptions { Parallel = 2, PrefixCaching = false }, draft: d);
        // On a loaded machine the engine can finish all 200 tokens before this reader sees its third event; such a run
        // cancels nothing, so it is retried (its pools are still checked): one of five attempts must be cut short.
        bool cutShort = false;
        for (int attempt = 0; attempt < 5 && !cutShort; attempt++)
        {
            using var cancel = new CancellationTokenSource();
            var stream = engine.Submit(new GenerationRequest { Prompt = Prompt(20, 6 + attempt), MaxTokens = 100, Sampling = Greedy, Choices = 2 }, cancel.Token);
            int seen = 0;
            await foreach (var e in stream)
                if (++seen == 3) cancel.Cancel();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (engine.Stats.RunningSequences > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
            cutShort = seen < 200;
            var stats = engine.Stats;
            Assert.Equal(0, stats.RunningSequences);
            Assert.Equal(stats.KvBlocks, stats.KvBlocksFree);
            Assert.Equal(stats.DraftKvBlocks, stats.DraftKvBlocksFree);
        }
        Assert.True(cutShort, "no attempt was cancelled before it finished");
    }

    [Fact]
    public void A_draft_with_another_vocabulary_is_refused_in_one_line()
    {
        using var m = Target();
        using var d = new LoadedModel(SpeculativeGreedyTests.Model("llama-tiny", 6, layers: 1, embd: 64),
            new ToyTokenizer(200, s => [.. System.Text.Encoding.UTF8.GetBytes(s).Select(b => b % 200)], id => [(byte)id]));
        var e = Assert.Throws<ArgumentException>(() => new InferenceEngine(m, draft: d));
        Assert.StartsWith("draft:", e.Message);
        Assert.Contains("200", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }
}

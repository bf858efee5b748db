using Lathe.Formats;
using Lathe.Tokenizers;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Data;

namespace Lathe.Tests.Inference;

/// <summary>The batched step: several sequences (different prompts, samplers, draft lengths, one joining late, one with a
/// logits processor) stepped together emit exactly what each emits stepped alone; the split API (Propose, the caller's
/// own target pass, Verify) is the same step; a processor's mask holds and it hears each token once; caches end at the
/// sequence's tokens; and a draft with another tokenizer is refused naming what differs.</summary>
public class SpeculativeBatchTests
{
    /// <summary>Allows only ids below a limit, and is complete after <see cref="Length"/> tokens.</summary>
    sealed class BelowProcessor(int limit, int length) : ILogitsProcessor
    {
        public readonly List<int> Heard = [];
        public int Length => length;
        public void Process(Span<float> logits) { for (int i = limit; i < logits.Length; i++) logits[i] = float.NegativeInfinity; }
        public void Accept(int token) => Heard.Add(token);
        public bool IsComplete => Heard.Count >= length;
    }

    record Spec(int[] Prompt, SamplingOptions Options, int DraftTokens, int JoinAt, bool Constrained);

    static List<int>[] Run(CausalLM target, CausalLM draft, Spec[] specs, bool together, int tokens, List<BelowProcessor?> processors)
    {
        var outputs = new List<int>[specs.Length];
        for (int i = 0; i < specs.Length; i++) outputs[i] = [];
        using var decoder = new SpeculativeDecoder(target, draft);
        using var tape = new Tape();
        var groups = together ? [Enumerable.Range(0, specs.Length).ToArray()] : Enumerable.Range(0, specs.Length).Select(i => new[] { i }).ToArray();
        foreach (var group in groups)
        {
            using var targetCache = new PagedKvCache(target.Config, blocks: 40);
            using var draftCache = new PagedKvCache(draft.Config, blocks: 40);
            var sequences = new Dictionary<int, SpeculativeSequence>();
            for (int step = 0; group.Any(i => outputs[i].Count < tokens && !(sequences.GetValueOrDefault(i)?.Stopped ?? false)); step++)
            {
                foreach (int i in group)
                    if (!sequences.ContainsKey(i) && step >= (together ? specs[i].JoinAt : 0))
                    {
                        int t = targetCache.AddSequence();
                        tape.Reset();
                        if (specs[i].Prompt.Length > 1)
                            using (tape.Activate())
                            using (Tape.NoGrad())
                                targetCache.Forward(target, specs[i].Prompt.AsSpan(0, specs[i].Prompt.Length - 1), t);
                        var processor = specs[i].Constrained ? new BelowProcessor(target.Config.VocabSize / 2, 9) : null;
                        processors[i] = processor;
                        sequences[i] = new SpeculativeSequence(t, draftCache.AddSequence(), specs[i].Prompt, specs[i].Options, processor) { DraftTokens = specs[i].DraftTokens };
                    }
                var running = group.Where(i => sequences.ContainsKey(i) && outputs[i].Count < tokens && !sequences[i].Stopped).ToList();
                decoder.Step(targetCache, draftCache, [.. running.Select(i => sequences[i])]);
                foreach (int i in running)
                {
                    outputs[i].AddRange(sequences[i].Emitted.ToArray());
                    var s = sequences[i];
                    Assert.Equal(s.Tokens.Count - 1, targetCache.Length(s.TargetSequence));
                    Assert.True(draftCache.Length(s.DraftSequence) <= s.Tokens.Count - 1);
                    Assert.Equal([.. specs[i].Prompt, .. outputs[i]], s.Tokens);
                }
            }
        }
        return outputs;
    }

    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("llama-tiny")]
    public void A_batch_of_sequences_emits_what_each_emits_alone(string preset)
    {
        // A context of 256, so that one prompt is longer than the draft's catch-up chunk (Generator.PromptChunk).
        using var target = SpeculativeGreedyTests.Model(preset, 5, context: 256);
        using var draft = SpeculativeGreedyTests.Model(preset, 5, "q4_0", context: 256);
        int V = target.Config.VocabSize;
        var prompts = SpeculativeGreedyTests.Prompts(V, 3, 17, 1, Generator.PromptChunk + 12, 9);
        var sampled = new SamplingOptions { Temperature = 0.9f, TopK = 20, TopP = 0.95f, MinP = 0.02f };
        Spec[] specs =
        [
            new(prompts[0], sampled with { Seed = 1 }, 4, 0, false),
            new(prompts[1], new SamplingOptions { Temperature = 0 }, 2, 0, false),
            new(prompts[2], sampled with { Seed = 2, RepetitionPenalty = 1.4f }, 5, 1, false),   // joins a step late
            new(prompts[3], sampled with { Seed = 3 }, 3, 0, false),                              // a prompt longer than a draft chunk
            new(prompts[4], sampled with { Seed = 4 }, 3, 2, true),                               // constrained
        ];
        var aloneProcessors = new List<BelowProcessor?>(new BelowProcessor?[specs.Length]);
        var togetherProcessors = new List<BelowProcessor?>(new BelowProcessor?[specs.Length]);
        var alone = Run(target, draft, specs, together: false, tokens: 24, aloneProcessors);
        var together = Run(target, draft, specs, together: true, tokens: 24, togetherProcessors);
        for (int i = 0; i < specs.Length; i++) Assert.Equal(alone[i], together[i]);
        for (int i = 0; i < 4; i++) Assert.True(alone[i].Count >= 24, $"sequence {i}: {alone[i].Count} tokens");

        // The constrained sequence: only allowed ids, each told to the processor once, in order, and it ends complete.
        var processor = togetherProcessors[4]!;
        Assert.Equal(processor.Length, together[4].Count);
        Assert.Equal(together[4], processor.Heard);
        Assert.All(together[4], t => Assert.True(t < V / 2));
    }

    [Fact]
    public void The_split_step_with_the_callers_own_target_pass_is_the_same_step()
    {
        using var target = SpeculativeGreedyTests.Model("llama-tiny", 5);
        using var draft = SpeculativeGreedyTests.Model("llama-tiny", 5, "q4_0");
        var prompts = SpeculativeGreedyTests.Prompts(target.Config.VocabSize, 4, 11);
        var options = new SamplingOptions { Temperature = 0.8f, Seed = 9 };
        List<int>[] Decode(bool split)
        {
            using var decoder = new SpeculativeDecoder(target, draft);
            using var targetCache = new PagedKvCache(target.Config, blocks: 20);
            using var draftCache = new PagedKvCache(draft.Config, blocks: 20);
            using var tape = new Tape();
            var sequences = prompts.Select(p =>
            {
                int t = targetCache.AddSequence();
                tape.Reset();
                using (tape.Activate())
                using (Tape.NoGrad())
                    targetCache.Forward(target, p.AsSpan(0, p.Length - 1), t);
                return new SpeculativeSequence(t, draftCache.AddSequence(), p, options) { DraftTokens = 3 };
            }).ToList();
            var outputs = new List<int>[] { [], [] };
            for (int step = 0; step < 8; step++)
            {
                if (!split) decoder.Step(targetCache, draftCache, sequences);
                else
                {
                    decoder.Propose(targetCache, draftCache, sequences);
                    List<int> ids = [], seqs = [], counts = [];
                    foreach (var s in sequences) SpeculativeDecoder.AddVerifyRows(s, ids, seqs, counts);
                    tape.Reset();
                    float[] logits;
                    using (tape.Activate())
                    using (Tape.NoGrad())
                        logits = Ops.Contiguous(targetCache.Forward(target, ids.ToArray(), seqs.ToArray(), counts.ToArray(), lastOnly: false)).ToArray();
                    int V = target.Config.VocabSize, row = 0;
                    for (int i = 0; i < sequences.Count; row += counts[i], i++)
                        SpeculativeDecoder.Verify(targetCache, draftCache, sequences[i], logits.AsSpan(row * V, counts[i] * V));
                }
                for (int i = 0; i < sequences.Count; i++) outputs[i].AddRange(sequences[i].Emitted.ToArray());
            }
            return outputs;
        }
        var whole = Decode(split: false);
        Assert.Equal(whole, Decode(split: true));
        Assert.True(whole[0].Count > 8);   // some proposals were accepted
    }

    [Fact]
    public void Emitted_logits_are_the_target_rows_the_tokens_came_from()
    {
        using var target = SpeculativeGreedyTests.Model("gpt2-tiny", 5);
        using var draft = SpeculativeGreedyTests.Model("gpt2-tiny", 5, "q4_0");
        int[] prompt = SpeculativeGreedyTests.Prompts(target.Config.VocabSize, 5)[0];
        using var decoder = new SpeculativeDecoder(target, draft);
        using var targetCache = new PagedKvCache(target.Config);
        using var draftCache = new PagedKvCache(draft.Config);
        using var tape = new Tape();
        int t = targetCache.AddSequence();
        using (tape.Activate())
        using (Tape.NoGrad())
            targetCache.Forward(target, prompt.AsSpan(0, prompt.Length - 1), t);
        var s = new SpeculativeSequence(t, draftCache.AddSequence(), prompt, new SamplingOptions { Temperature = 0 });
        for (int step = 0; step < 4; step++)
        {
            var before = s.Tokens.ToArray();
            decoder.Step(targetCache, draftCache, [s]);
            // Oracle: the target run on the whole prefix without a cache; greedy, so each emitted token is that row's argmax.
            for (int e = 0; e < s.Emitted.Length; e++)
            {
                int[] prefix = [.. before, .. s.Emitted[..e].ToArray()];
                float[] expected;
                using (var one = new OneSequenceCache(target.Config))
                {
                    tape.Reset();
                    using (tape.Activate())
                    using (Tape.NoGrad())
                        expected = Ops.Contiguous(one.LastLogits(target, prefix)).ToArray();
                }
                var got = decoder.EmittedLogits(0, e).ToArray();
                for (int v = 0; v < expected.Length; v++) Assert.True(Math.Abs(expected[v] - got[v]) <= 1e-4f * (1 + Math.Abs(expected[v])), $"step {step} token {e} logit {v}");
                Assert.Equal(Array.IndexOf(got, got.Max()), s.Emitted[e]);
            }
        }
    }

    [Fact]
    public void A_draft_with_another_tokenizer_is_refused_naming_the_difference()
    {
        using var dir = new TempDir();
        string targetDir = dir.File("target"), bigger = dir.File("bigger"), same = dir.File("same"), retrained = dir.File("retrained");
        var small = ModelLoaderTests.Gpt2Tiny with { Embd = 16, Heads = 1, KvHeads = 1, Intermediate = 32 };
        var tokenizer290 = ModelLoaderTests.WriteCheckpoint(targetDir, tokenizerSize: 290);
        ModelLoaderTests.WriteCheckpoint(bigger, small, tokenizerSize: 295);
        ModelLoaderTests.WriteCheckpoint(same, small, tokenizerSize: 290, seed: 3);
        using var target = ModelLoader.Load(targetDir);
        using (var draft = ModelLoader.Load(bigger))
        {
            var e = Assert.Throws<ArgumentException>(() => SpeculativeDecoder.CheckVocabularies(target, draft));
            Assert.Contains($"{draft.Tokenizer.VocabSize} tokens and the target's {target.Tokenizer.VocabSize}", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        using (var draft = ModelLoader.Load(same)) SpeculativeDecoder.CheckVocabularies(target, draft);   // same tokenizer: fine
        // The same tokenizer inside a GGUF file (its special token a control token, decoded to nothing): fine too.
        string gguf = dir.File("same.gguf");
        using (var model = CausalLM.Create(small with { VocabSize = 290 }, 5)) GgufExport.Save(model, tokenizer290, gguf, GgmlType.F32);
        using (var draft = ModelLoader.Load(gguf)) SpeculativeDecoder.CheckVocabularies(target, draft);

        // Same size, other merges: a tokenizer trained on other text.
        var tokenizer = new Lathe.Tokenizers.BpeTrainer(290, ["<|endoftext|>", "<s>", "<|im_end|>"], minFrequency: 1)
            .Train([ModelLoaderTests.Text.ToUpperInvariant() + " 0123456789 zebra quartz jive", ModelLoaderTests.Text.ToUpperInvariant()]);
        Directory.CreateDirectory(retrained);
        TokenizerJson.Save(tokenizer, Path.Combine(retrained, Checkpoint.TokenizerFile));
        using (var model = LanguageModel.Create(small, 4)) Checkpoint.SaveModel(retrained, model, null);
        using (var draft = ModelLoader.Load(retrained))
        {
            Assert.Equal(target.Tokenizer.VocabSize, draft.Tokenizer.VocabSize);
            var e = Assert.Throws<ArgumentException>(() => SpeculativeDecoder.CheckVocabularies(target, draft));
            Assert.Matches("^draft: token \\d+ is \".*\" in the target's tokenizer but \".*\" in the draft's", e.Message);
        }
    }
}

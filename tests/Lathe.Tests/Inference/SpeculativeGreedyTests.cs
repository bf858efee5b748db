using Lathe.Compression;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Quantized;
using Lathe.Tests.Data;
using Lathe.Tokenizers;

namespace Lathe.Tests.Inference;

/// <summary>Greedy speculative decoding gives exactly the tokens of greedy decoding without a draft (the oracle:
/// <see cref="Generator"/>), whatever the draft proposes: a random draft of another shape (most proposals rejected),
/// the target quantized (most accepted), the target itself (all accepted: the bonus token and the draft's catch-up of
/// two tokens every step), and a Q4_0 target; with penalties whose history includes the proposals; and stopping at a
/// stop token, at max tokens and at the end of the context as Generator does.</summary>
public class SpeculativeGreedyTests
{
    internal static CausalLM Model(string preset, ulong seed, string variant = "f32", int? layers = null, int? embd = null, int? context = null)
    {
        var config = ModelConfig.FromPresetOrFile(preset) with { InitStd = 0.1f };
        if (context is int n) config = config with { MaxPositions = n };
        if (layers is int l) config = config with { Layers = l };
        if (embd is int e) config = config with { Embd = e, Intermediate = 2 * e };
        var model = CausalLM.Create(config, seed);
        if (variant == "q4_0") ModelQuantizer.Quantize(model, QuantType.Q4_0);
        return model;
    }

    internal static int[][] Prompts(int vocab, params int[] lengths)
    {
        var rng = new Philox(11);
        return [.. lengths.Select(n => Enumerable.Range(0, n).Select(_ => rng.NextInt(vocab)).ToArray())];
    }

    public static TheoryData<string, string, string, int> Pairs => new()
    {
        { "gpt2-tiny", "f32", "other", 4 },       // a 1-layer random draft: mostly rejected
        { "gpt2-tiny", "f32", "q4_0", 3 },        // the target quantized: some accepted, some not
        { "llama-tiny", "f32", "self", 4 },       // always accepted: k + 1 tokens a step
        { "llama-tiny", "f32", "other", 2 },
        { "llama-tiny", "q4_0", "f32", 5 },       // a Q4_0 target (one packed kernel for any row count) and its F32 twin as draft
    };

    // A draft p-min that these random drafts (flat distributions) fall below at some positions and not at others.
    const float PMin = 0.2f;

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Greedy_output_is_the_targets_greedy_output(string preset, string targetVariant, string draftKind, int k)
    {
        using var target = Model(preset, 5, targetVariant);
        using var draft = draftKind switch
        {
            "other" => Model(preset, 6, layers: 1, embd: 64),
            "self" => Model(preset, 5, targetVariant),
            "q4_0" => Model(preset, 5, "q4_0"),
            _ => Model(preset, 5, "f32"),
        };
        int V = target.Config.VocabSize;
        var greedy = new SamplingOptions { Temperature = 0 };
        var penalised = new SamplingOptions { Temperature = 0, RepetitionPenalty = 1.5f, FrequencyPenalty = 0.3f, PenaltyWindow = 8 };
        using var speculative = new SpeculativeGenerator(target, draft, k);
        using var unsure = new SpeculativeGenerator(target, draft, k, minDraftProbability: PMin);   // stops where the draft is unsure
        long proposed = 0, accepted = 0, proposedUnsure = 0;
        foreach (var options in new[] { greedy, penalised })
            foreach (var prompt in Prompts(V, 1, 7, 40))
            {
                using var plain = new Generator(target);
                var expected = plain.Generate(prompt, 48, options).ToList();
                var got = speculative.Generate(prompt, 48, options).ToList();
                Assert.Equal(expected, got);
                Assert.Equal(StopReason.MaxTokens, speculative.Reason);
                proposed += speculative.Proposed;
                accepted += speculative.Accepted;
                Assert.Equal(expected, unsure.Generate(prompt, 48, options).ToList());
                proposedUnsure += unsure.Proposed;
            }
        Assert.True(proposedUnsure < proposed, $"p-min proposed {proposedUnsure} of {proposed}");
        // The pair does what its name says (so each case exercises the path it is here for).
        double rate = (double)accepted / proposed;
        switch (draftKind)
        {
            case "self": Assert.Equal(1.0, rate); break;
            case "other": Assert.InRange(rate, 0.0, 0.5); break;
            default: Assert.InRange(rate, 0.1, 0.999); break;   // a quantized twin of a random model: some of each
        }
    }

    [Fact]
    public void Stops_at_a_stop_token_and_at_the_context_end_as_generator_does()
    {
        using var target = Model("gpt2-tiny", 5);
        using var draft = Model("gpt2-tiny", 5, "q4_0");
        var greedy = new SamplingOptions { Temperature = 0 };
        int[] prompt = Prompts(target.Config.VocabSize, 5)[0];
        using var plain = new Generator(target);
        var free = plain.Generate(prompt, 40, greedy).ToList();
        // A stop token: the first token that appears after position 10 and not before it.
        int stop = free.Skip(10).First(t => !free.Take(10).Contains(t));
        var stops = new HashSet<int> { stop };
        using var speculative = new SpeculativeGenerator(target, draft, 4);
        var expected = plain.Generate(prompt, 40, greedy, stops).ToList();
        Assert.Equal(expected, speculative.Generate(prompt, 40, greedy, stops).ToList());
        Assert.Equal((StopReason.StopToken, StopReason.StopToken), (plain.Reason, speculative.Reason));
        Assert.DoesNotContain(stop, expected);

        // The end of the context (128 tokens): a 120-token prompt leaves room for 9 tokens.
        int[] longPrompt = Prompts(target.Config.VocabSize, 120)[0];
        expected = plain.Generate(longPrompt, 40, greedy).ToList();
        Assert.Equal(expected, speculative.Generate(longPrompt, 40, greedy).ToList());
        Assert.Equal(9, expected.Count);
        Assert.Equal((StopReason.Context, StopReason.Context), (plain.Reason, speculative.Reason));
        Assert.Empty(speculative.Generate(prompt, 0, greedy));

        // A draft with a shorter context (32) proposes while the sequence fits it, then the target decodes alone.
        using var shortDraft = Model("gpt2-tiny", 5, "q4_0", context: 32);
        using var limited = new SpeculativeGenerator(target, shortDraft, 4);
        int[] prompt20 = Prompts(target.Config.VocabSize, 20)[0];
        expected = plain.Generate(prompt20, 40, greedy).ToList();
        Assert.Equal(expected, limited.Generate(prompt20, 40, greedy).ToList());
        Assert.InRange(limited.Proposed, 1, 4 * (32 - 20 + 1));
        Assert.True(limited.Steps >= 20 + 40 - 33, $"{limited.Steps} steps");   // one token a step once past 33 tokens
    }

    [Fact]
    public void A_q4_0_gguf_target_with_an_f32_gguf_draft_gives_the_targets_greedy_output()
    {
        using var dir = new TempDir();
        var tokenizer = new BpeTrainer(290, ["<|endoftext|>"], minFrequency: 1).Train([ModelLoaderTests.Text, ModelLoaderTests.Text]);
        // vocab_size 304 (the tokenizer's 290 padded to a multiple of 16): every Q4_0 matrix then has a multiple of 16
        // rows and takes the packed kernel, whose logits are the same bits in a pass of 1 or k + 1 rows. (With 290 the
        // lm_head takes the pointer path, whose rows differ by ~5e-7 between the two, and this random model meets a
        // near-tie at token 33: docs/SPECULATIVE.md.)
        var config = new ModelConfig
        {
            ModelType = "llama", VocabSize = 304, MaxPositions = 64, Embd = 64, Layers = 2, Heads = 4, KvHeads = 2,
            Intermediate = 96, TieEmbeddings = false, NormEps = 1e-5f, RopeTheta = 10000, InitStd = 0.1f,
        };
        string gguf = dir.File("target.gguf"), draftFile = dir.File("draft.gguf");
        using (var model = CausalLM.Create(config, 3)) GgufExport.Save(model, tokenizer, gguf, GgmlType.Q4_0);
        using (var model = CausalLM.Create(config with { Layers = 1, Embd = 32, Heads = 2, KvHeads = 1, Intermediate = 64 }, 4))
            GgufExport.Save(model, tokenizer, draftFile, GgmlType.F32);

        using var target = ModelLoader.Load(gguf);
        using var draft = ModelLoader.Load(draftFile);
        SpeculativeDecoder.CheckVocabularies(target, draft);
        var greedy = new SamplingOptions { Temperature = 0 };
        using var speculative = new SpeculativeGenerator(target.Decoder, draft.Decoder, 3);
        foreach (var text in new[] { "the whale", "Call me Ishmael.", "It was the Pequod" })
        {
            int[] prompt = target.Encode(text);
            using var plain = new Generator(target.Decoder);
            Assert.Equal(plain.Generate(prompt, 40, greedy).ToList(), speculative.Generate(prompt, 40, greedy).ToList());
        }
    }
}

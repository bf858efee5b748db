using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Inference;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Tests.Models;

/// <summary>Gemma and Gemma 2 against an independent PyTorch implementation in float64
/// (fixtures/make_gemma_fixtures.py, from Hugging Face's formulas): Gemma's logits, training loss and every gradient
/// (through the GeGLU MLP, the √C embedding scale and the tied head); Gemma 2's logits — post norms, attention and final
/// soft caps that bite, a sliding window of 4 over 12 tokens on layer 0, queries scaled by 1/√24 — on the full-sequence
/// path and on the cached path (prompt chunk, then single tokens through the paged kernel).</summary>
public class GemmaParityTests
{
    // As ModelParityTests: float32 through two layers against float64.
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Models", "fixtures", name);

    static ModelConfig Config(bool gemma2) => new ModelConfig
    {
        ModelType = gemma2 ? "gemma2" : "gemma", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2,
        Intermediate = 24, NormEps = 1e-6f, TieEmbeddings = true,
    } is var c && gemma2 ? c with { SlidingWindow = 4, AttentionSoftCap = 2f, FinalLogitSoftCap = 3f, QueryPreAttnScalar = 24f } : c;

    [Fact]
    public void Gemma_logits_loss_and_gradients_match_PyTorch()
    {
        using var model = CausalLM.Create(Config(gemma2: false), seed: 1);
        Checkpoint.LoadWeights(Fixture("gemma.model.safetensors"), model);
        using var expected = SafetensorsFile.Open(Fixture("gemma.expected.safetensors"));
        int B = int.Parse(expected.Metadata["B"]), T = int.Parse(expected.Metadata["T"]);
        int[] ids = expected.ReadInts("inputs"), targets = expected.ReadInts("targets");
        using var tape = new Tape();
        float[] logits;
        float loss;
        using (tape.Activate())
        {
            logits = model.Logits(ids, B, T).ToArray();
            tape.Reset();
            var l = new CausalLmObjective().Loss(model, new TrainingBatch(ids, targets, B, T, 0));
            loss = l.Item();
            tape.Backward(l);
        }
        ModelParityTests.AssertClose("logits", expected.ReadFloats("logits"), logits, ForwardTolerance);
        ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [loss], ForwardTolerance);
        int checkedCount = 0;
        foreach (var p in model.Parameters)
        {
            Assert.False(p.StoredTransposed);
            ModelParityTests.AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray(), GradientTolerance);
            checkedCount++;
        }
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)), checkedCount);
    }

    [Fact]
    public void Gemma2_logits_match_PyTorch_on_the_full_and_cached_paths()
    {
        var config = Config(gemma2: true);
        using var model = CausalLM.Create(config, seed: 1);
        Checkpoint.LoadWeights(Fixture("gemma2.model.safetensors"), model);
        using var expected = SafetensorsFile.Open(Fixture("gemma2.expected.safetensors"));
        int B = int.Parse(expected.Metadata["B"]), T = int.Parse(expected.Metadata["T"]), V = config.VocabSize;
        int[] ids = expected.ReadInts("inputs");
        float[] want = expected.ReadFloats("logits");
        using var tape = new Tape();
        using var active = tape.Activate();
        using var noGrad = Tape.NoGrad();
        ModelParityTests.AssertClose("logits", want, model.Logits(ids, B, T).ToArray(), ForwardTolerance);
        for (int b = 0; b < B; b++)
        {
            // Row b: the first 5 tokens as one prompt chunk (the flash kernel over gathered keys), then one at a time.
            using var cache = new OneSequenceCache(config);
            var got = new float[T * V];
            tape.Reset();
            cache.Logits(model, ids.AsSpan(b * T, 5)).AsSpan().CopyTo(got);
            for (int t = 5; t < T; t++)
            {
                tape.Reset();
                cache.LastLogits(model, ids.AsSpan(b * T + t, 1)).AsSpan().CopyTo(got.AsSpan(t * V, V));
            }
            ModelParityTests.AssertClose($"cached logits of row {b}", want.AsSpan(b * T * V, T * V).ToArray(), got, ForwardTolerance);
        }
    }

    /// <summary>The soft caps have no backward: training a Gemma 2 model is a clear error, not a wrong gradient.</summary>
    [Fact]
    public void Gemma2_training_is_refused_by_the_soft_cap()
    {
        using var model = CausalLM.Create(Config(gemma2: true), seed: 1);
        using var tape = new Tape();
        using var active = tape.Activate();
        var e = Assert.Throws<NotSupportedException>(() => model.Logits([1, 2, 3], 1, 3));
        Assert.Contains("inference only", e.Message);
    }

    [Fact]
    public void Gemma_configs_are_checked_and_not_written_as_config_json()
    {
        Assert.Equal([true, false, true, false], Enumerable.Range(0, 4).Select(l => (Config(true) with { Layers = 4 }).IsSlidingLayer(l)));
        Assert.All(Enumerable.Range(0, 3), l => Assert.True((Config(true) with { SlidingWindowPattern = 0 }).IsSlidingLayer(l)));
        Assert.Contains("tie_word_embeddings", Assert.Throws<InvalidDataException>(() => (Config(false) with { TieEmbeddings = false }).Validate()).Message);
        // A sliding window is llama's too (Mistral); soft caps are Gemma's alone.
        Assert.Contains("not llama's", Assert.Throws<InvalidDataException>(() => (Config(false) with { ModelType = "llama", AttentionSoftCap = 30 }).Validate()).Message);
        Assert.Throws<NotSupportedException>(() => Config(true).ToJson());
        Assert.Contains("GGUF files only", Assert.Throws<InvalidDataException>(() => ModelConfig.Parse("{\"model_type\": \"gemma2\"}")).Message);
    }
}

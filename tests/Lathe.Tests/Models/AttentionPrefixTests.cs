using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Inference;

namespace Lathe.Tests.Models;

/// <summary>Prefix tuning through the shared attention layer: the training path (prefix rows concatenated before the
/// keys, general attention kernel) against the cached path (paged kernel reading the prefix beside the block
/// tables) — two independent implementations — and the prefix's gradient against central finite differences.</summary>
public class AttentionPrefixTests
{
    const int P = 3;

    // Random (Hkv, P, D) prefixes on every layer, trainable.
    static List<Tensor> SetPrefixes(CausalLM model, ulong seed)
    {
        var c = model.Config;
        var rng = new Philox(seed);
        var tensors = new List<Tensor>();
        for (int l = 0; l < c.Layers; l++)
        {
            var k = Tensor.Zeros(c.KvHeads, P, c.HeadDim);
            var v = Tensor.Zeros(c.KvHeads, P, c.HeadDim);
            rng.FillNormal(k.AsSpan(), 0, 1);
            rng.FillNormal(v.AsSpan(), 0, 1);
            k.RequiresGrad = v.RequiresGrad = true;
            model.SetAttentionPrefix(l, k, v);
            tensors.Add(k);
            tensors.Add(v);
        }
        return tensors;
    }

    [Theory]
    [InlineData("gpt2-tiny", null)]
    [InlineData("gpt2-tiny", "rope")]
    [InlineData("llama-tiny", null)]
    public void Cached_decoding_with_a_prefix_matches_full_recompute(string preset, string? positions)
    {
        var config = ModelConfig.FromPresetOrFile(preset) with { InitStd = 0.1f };
        if (positions is not null) config = config with { PositionEmbeddingType = positions };
        using var model = CausalLM.Create(config, 11);
        var rng = new Philox(5);
        int[] ids = Enumerable.Range(0, 13).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
        int V = config.VocabSize;
        using var tape = new Tape();
        float[] Full()
        {
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                return model.Logits(ids, 1, ids.Length).ToArray();
        }
        var without = Full();
        var prefixes = SetPrefixes(model, 3);
        var full = Full();
        Assert.True(without.Zip(full).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "the prefix must change the logits");
        using var cache = new OneSequenceCache(config);
        int position = 0;
        foreach (int step in new[] { 5, 1, 1, 3, 1, 1, 1 })   // a prompt of 5 (the flash path), single tokens (the paged kernel), a chunk of 3
        {
            tape.Reset();
            float[] part;
            using (tape.Activate())
            using (Tape.NoGrad())
                part = cache.Logits(model, ids.AsSpan(position, step)).ToArray();
            ModelParityTests.AssertClose($"{preset} {positions} positions {position}..{position + step - 1}", full.AsSpan(position * V, step * V).ToArray(), part, 1e-5f);
            position += step;
        }
        foreach (var t in prefixes) t.Dispose();
    }

    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("llama-tiny")]
    public void Prefix_gradients_match_finite_differences(string preset)
    {
        var config = ModelConfig.FromPresetOrFile(preset) with { InitStd = 0.1f, Layers = 2 };
        using var model = CausalLM.Create(config, 7);
        var prefixes = SetPrefixes(model, 4);
        var rng = new Philox(9);
        const int B = 2, T = 6;
        int[] ids = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
        int[] targets = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
        using var tape = new Tape();
        double Loss()
        {
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                return Ops.CrossEntropy(model.Logits(ids, B, T), targets).Item();
        }
        tape.Reset();
        using (tape.Activate()) tape.Backward(Ops.CrossEntropy(model.Logits(ids, B, T), targets));
        // Layer 1's value prefix and layer 0's key prefix: the three largest-gradient elements of each (so the check is
        // not swamped by the float32 loss's round-off; the step is coarse for the same reason).
        foreach (var (tensor, name) in new[] { (prefixes[3], "layer 1 values"), (prefixes[0], "layer 0 keys") })
        {
            var analytic = tensor.Grad!.ToArray();
            var largest = Enumerable.Range(0, analytic.Length).OrderByDescending(i => Math.Abs(analytic[i])).Take(3).ToArray();
            Assert.True(Math.Abs(analytic[largest[2]]) > 1e-2, $"{preset} {name}: the gradient must reach the prefix (largest {analytic[largest[0]]})");
            foreach (int i in largest)
            {
                const float h = 1e-2f;
                float saved = tensor.AsSpan()[i];
                tensor.AsSpan()[i] = saved + h; double plus = Loss();
                tensor.AsSpan()[i] = saved - h; double minus = Loss();
                tensor.AsSpan()[i] = saved;
                double numeric = (plus - minus) / (2 * h);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-4 + 0.01 * Math.Abs(numeric), $"{preset} {name}[{i}]: analytic {analytic[i]}, numeric {numeric}");
            }
        }
        foreach (var t in prefixes) t.Dispose();
    }

    [Fact]
    public void A_bad_prefix_is_a_clear_error()
    {
        var config = ModelConfig.FromPresetOrFile("llama-tiny");
        using var model = CausalLM.Create(config, 1);
        using var wrong = Tensor.Zeros(config.KvHeads + 1, 2, config.HeadDim);
        var e = Assert.Throws<ArgumentException>(() => model.SetAttentionPrefix(0, wrong, wrong));
        Assert.Contains($"({config.KvHeads}, P, {config.HeadDim})", e.Message);
        Assert.Throws<ArgumentException>(() => model.SetAttentionPrefix(config.Layers, null, null));
        using var alibi = CausalLM.Create(ModelConfig.FromPresetOrFile("gpt2-tiny") with { PositionEmbeddingType = "alibi" }, 1);
        using var ok = Tensor.Zeros(alibi.Config.KvHeads, 2, alibi.Config.HeadDim);
        Assert.Throws<ArgumentException>(() => alibi.SetAttentionPrefix(0, ok, ok));
    }
}

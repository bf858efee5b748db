using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Inference;

/// <summary>Decoding with a KV cache must give the logits of recomputing the whole sequence.</summary>
public class KvCacheTests
{
    // (The gpt2 position variants — sinusoidal, ALiBi, rotary — are checked the same way in MoEBehaviourTests.)
    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("llama-tiny")]
    public void Cached_decoding_matches_full_recompute(string preset)
    {
        var config = ModelConfig.FromPresetOrFile(preset);
        using var model = CausalLM.Create(config, 11);
        var rng = new Philox(5);
        int[] ids = Enumerable.Range(0, 13).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
        int V = config.VocabSize;
        using var tape = new Tape();
        float[] full;
        using (tape.Activate())
        using (Tape.NoGrad())
            full = model.Logits(ids, 1, ids.Length).ToArray();
        using var cache = new OneSequenceCache(config);
        int position = 0;
        foreach (int step in new[] { 5, 1, 1, 3, 1, 1, 1 })   // a prompt of 5, then single tokens and one chunk of 3
        {
            tape.Reset();
            float[] part;
            using (tape.Activate())
            using (Tape.NoGrad())
                part = cache.Logits(model, ids.AsSpan(position, step)).ToArray();
            for (int t = 0; t < step; t++)
                for (int v = 0; v < V; v++)
                {
                    float e = full[(position + t) * V + v], a = part[t * V + v];
                    Assert.True(Math.Abs(e - a) <= 1e-5f * (1 + Math.Abs(e)), $"{preset}: position {position + t}, token {v}: {a} vs {e}");
                }
            position += step;
            Assert.Equal(position, cache.Length);
        }
    }

    [Fact]
    public void A_cache_past_the_context_is_a_clear_error()
    {
        var config = ModelConfig.FromPresetOrFile("gpt2-tiny");
        using var model = CausalLM.Create(config, 1);
        using var cache = new OneSequenceCache(config with { MaxPositions = 4 });
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            cache.Logits(model, [1, 2, 3, 4]);
            var error = Assert.Throws<InvalidOperationException>(() => cache.Logits(model, [5]));
            Assert.Contains("exceeds the context of 4", error.Message);
            Assert.Equal(4, cache.Length);   // the failed step changed nothing
        }
    }
}

public class GeneratorTests
{
    [Fact]
    public void Greedy_generation_equals_argmax_of_full_recompute_and_stops_at_stop_tokens()
    {
        var config = ModelConfig.FromPresetOrFile("gpt2-tiny");
        using var model = CausalLM.Create(config, 3);
        int[] prompt = [5, 17, 99];
        using var generator = new Lathe.Inference.Generator(model);
        var greedy = new Lathe.Inference.SamplingOptions { Temperature = 0 };
        int[] fast = generator.Generate(prompt, 12, greedy).ToArray();
        // The oracle: re-run the whole sequence for every token and take the argmax.
        var tokens = new List<int>(prompt);
        using var tape = new Tape();
        for (int n = 0; n < 12; n++)
        {
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = model.Logits(tokens.ToArray(), 1, tokens.Count).ToArray();
                var last = logits.AsSpan((tokens.Count - 1) * config.VocabSize, config.VocabSize);
                int best = 0;
                for (int v = 1; v < last.Length; v++) if (last[v] > last[best]) best = v;
                tokens.Add(best);
            }
        }
        Assert.Equal(tokens.Skip(prompt.Length).ToArray(), fast);
        int[] stopped = generator.Generate(prompt, 12, greedy, new HashSet<int> { fast[4] }).ToArray();
        Assert.Equal(fast.TakeWhile(t => t != fast[4]).ToArray(), stopped);
        Assert.Equal(Lathe.Inference.StopReason.StopToken, generator.Reason);
    }
}

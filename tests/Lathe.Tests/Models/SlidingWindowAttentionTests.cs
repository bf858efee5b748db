using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Inference;

namespace Lathe.Tests.Models;

/// <summary>Sliding-window attention (Mistral; <see cref="ModelConfig.SlidingWindow"/> W): a query sees its last W keys.
/// The full forward is checked against an independent oracle, the cached (paged) path against the full forward.</summary>
public class SlidingWindowAttentionTests
{
    static ModelConfig Config(int layers, int window) => new ModelConfig
    {
        ModelType = "llama", VocabSize = 64, MaxPositions = 96, Embd = 32, Layers = layers, Heads = 4, KvHeads = 2,
        Intermediate = 48, InitStd = 0.3f, TieEmbeddings = false, SlidingWindow = window,
    }.Validate();

    static int[] Ids(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next(64)).ToArray();
    }

    static float[] Logits(CausalLM model, int[] ids)
    {
        using var tape = new Tape();
        using var active = tape.Activate();
        using var noGrad = Tape.NoGrad();
        return model.Logits(ids, 1, ids.Length).ToArray();   // (T, V)
    }

    /// <summary>One layer: RoPE scores depend only on the query–key distance, so with a window W the logits at position t
    /// are those of the same weights without a window run on tokens t−W+1..t alone (positions 0..W−1). Same seed, same
    /// weights (the window is no parameter).</summary>
    [Fact]
    public void Full_forward_equals_plain_attention_over_the_window_alone()
    {
        const int W = 5, T = 24, V = 64;
        using var windowed = CausalLM.Create(Config(1, W), 3);
        using var plain = CausalLM.Create(Config(1, 0), 3);
        int[] ids = Ids(T, 1);
        float[] all = Logits(windowed, ids), full = Logits(plain, ids);
        double differs = 0;
        for (int t = 0; t < T; t++)
        {
            int start = Math.Max(0, t - W + 1);
            float[] alone = Logits(plain, ids[start..(t + 1)]);
            var expected = alone.AsSpan((t - start) * V, V);
            for (int v = 0; v < V; v++)
            {
                Assert.True(Math.Abs(all[t * V + v] - expected[v]) < 2e-5, $"t={t} v={v}: {all[t * V + v]} vs {expected[v]}");
                differs = Math.Max(differs, Math.Abs(all[t * V + v] - full[t * V + v]));
            }
        }
        Assert.True(differs > 1e-2, $"the window changed nothing (max |Δ| {differs} against full attention)");
    }

    /// <summary>The paged cache gives the full forward's logits at every position: a prompt chunk (the blocked kernel with
    /// a window), single decode tokens (the paged kernel, its window starting mid-block), then a second chunk. Windows
    /// below and above the 16-token block, two layers.</summary>
    [Theory]
    [InlineData(5)]
    [InlineData(19)]
    public void Cached_decode_equals_the_full_forward(int window)
    {
        const int T = 70, V = 64;
        using var model = CausalLM.Create(Config(2, window), 4);
        int[] ids = Ids(T, 2);
        float[] full = Logits(model, ids);
        using var cache = new OneSequenceCache(model.Config);
        using var tape = new Tape();
        using var active = tape.Activate();
        using var noGrad = Tape.NoGrad();
        int at = 0;
        void Check(float[] got, int first)
        {
            for (int r = 0; r < got.Length / V; r++)
                for (int v = 0; v < V; v++)
                    Assert.True(Math.Abs(got[r * V + v] - full[(first + r) * V + v]) < 1e-5, $"window {window} position {first + r} v={v}: {got[r * V + v]} vs {full[(first + r) * V + v]}");
        }
        Check(cache.Logits(model, ids.AsSpan(0, 12)).ToArray(), 0);
        at = 12;
        for (; at < 45; at++) { tape.Reset(); Check(cache.LastLogits(model, ids.AsSpan(at, 1)).ToArray(), at); }
        tape.Reset();
        Check(cache.Logits(model, ids.AsSpan(at, 17)).ToArray(), at);
        for (at += 17; at < T; at++) { tape.Reset(); Check(cache.LastLogits(model, ids.AsSpan(at, 1)).ToArray(), at); }
    }

    /// <summary>Prefix tuning has no position to slide a window past: refused with one line.</summary>
    [Fact]
    public void A_prefix_with_a_window_is_refused()
    {
        using var model = CausalLM.Create(Config(1, 4), 5);
        var keys = Tensor.Zeros(2, 3, 8);
        var values = Tensor.Zeros(2, 3, 8);
        var e = Assert.Throws<ArgumentException>(() => model.SetAttentionPrefix(0, keys, values));
        Assert.Contains("sliding-window", e.Message);
    }

    /// <summary>config.json: Mistral's sliding_window, Qwen2's use_sliding_window; written back with Hugging Face's
    /// model_type.</summary>
    [Fact]
    public void Config_json_carries_the_window()
    {
        var mistral = ModelConfig.Parse("""{"model_type":"mistral","hidden_size":32,"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":1,"intermediate_size":48,"vocab_size":64,"sliding_window":4096}""");
        Assert.Equal(4096, mistral.SlidingWindow);
        Assert.Contains("\"model_type\": \"mistral\"", mistral.ToJson());
        Assert.Equal(mistral, ModelConfig.Parse(mistral.ToJson()));
        var qwen = ModelConfig.Parse("""{"model_type":"qwen2","hidden_size":32,"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":1,"intermediate_size":48,"vocab_size":64,"sliding_window":4096,"use_sliding_window":false}""");
        Assert.True(qwen.AttentionQkvBias);
        Assert.Equal(0, qwen.SlidingWindow);
        Assert.Equal(qwen, ModelConfig.Parse(qwen.ToJson()));
    }
}

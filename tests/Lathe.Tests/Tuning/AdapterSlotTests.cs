using Lathe.Compression;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Quantized;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Tests.Tuning;

/// <summary>The seams parameter-efficient tuning plugs into: the linear layer's adapter slot (also over quantized and
/// fused weights), input embeddings instead of ids, and the trainer's trainable set with every other parameter frozen.</summary>
public class AdapterSlotTests
{
    internal static ModelConfig Gpt2 => new() { ModelType = "gpt2", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 64 };
    internal static ModelConfig Llama => new() { ModelType = "llama", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 64 };

    /// <summary>A low-rank update y + s·(x·Aᵀ)·Bᵀ — LoRA's form, enough to exercise the slot.</summary>
    internal sealed class LowRank : ILinearAdapter, IDisposable
    {
        public readonly Tensor A, B;   // A (r, in), B (out, r)
        public readonly float Scale;
        public LowRank(LinearLayer layer, int rank, float scale, int seed, bool zeroB)
        {
            var rng = new Philox((ulong)seed);
            A = Tensor.Zeros(rank, layer.InFeatures); rng.FillNormal(A.AsSpan(), 0, 0.3f);
            B = Tensor.Zeros(layer.OutFeatures, rank); if (!zeroB) rng.FillNormal(B.AsSpan(), 0, 0.3f);
            A.Name = layer.Name + ".lora_A.weight"; B.Name = layer.Name + ".lora_B.weight";
            Scale = scale;
        }
        public Tensor Forward(Tensor x, Tensor y) => Ops.Add(y, Ops.Scale(Ops.Linear(Ops.Linear(x, A, null), B, null), Scale));
        public IEnumerable<ModelParameter> Parameters => [new(A.Name!, A, false, false), new(B.Name!, B, false, false)];
        public void Dispose() { A.Grad?.Dispose(); B.Grad?.Dispose(); A.Dispose(); B.Dispose(); }
    }

    static int[] Ids(int n, int seed)
    {
        var rng = new Philox((ulong)seed);
        var ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = rng.NextInt(64);
        return ids;
    }

    static float[] Logits(CausalLM model, int[] ids, int B, int T)
    {
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
            return model.Logits(ids, B, T).ToArray();
    }

    [Fact]
    public void Projections_carry_their_Hugging_Face_module_names()
    {
        using var gpt2 = CausalLM.Create(Gpt2, 1);
        var names = gpt2.Linears.Select(l => l.Name).ToArray();
        Assert.Equal(["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj"], names[..4]);
        Assert.Equal("lm_head", names[^1]);
        using var llama = CausalLM.Create(Llama, 1);
        Assert.Contains("model.layers.1.self_attn.q_proj", llama.Linears.Select(l => l.Name));
        Assert.Contains("model.layers.0.mlp.down_proj", llama.Linears.Select(l => l.Name));
        var q = llama.Linears.First(l => l.Name == "model.layers.0.self_attn.q_proj");
        Assert.Equal((32, 32), (q.InFeatures, q.OutFeatures));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void An_adapter_with_zero_B_leaves_the_logits_bit_for_bit_and_a_nonzero_one_adds_its_update(string type)
    {
        using var model = CausalLM.Create(type == "gpt2" ? Gpt2 : Llama, 2);
        int[] ids = Ids(32, 3);
        float[] plain = Logits(model, ids, 2, 16);
        var adapters = new List<LowRank>();
        foreach (var layer in model.Linears.Where(l => l.Name != "lm_head"))
        {
            var a = new LowRank(layer, 4, 2f, adapters.Count, zeroB: true);
            layer.Adapter = a;
            adapters.Add(a);
        }
        // y + s·(x·Aᵀ)·0 adds exact zeros: the same bits.
        Assert.True(plain.AsSpan().SequenceEqual(Logits(model, ids, 2, 16)));
        // The update of one layer, checked against the layer's output computed by hand.
        var first = model.Linears.First();
        var adapter = (LowRank)first.Adapter!;
        new Philox(9).FillNormal(adapter.B.AsSpan(), 0, 0.3f);
        using var x = Tensor.Zeros(3, first.InFeatures);
        new Philox(10).FillNormal(x.AsSpan(), 0, 1f);
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            float[] got = first.Forward(x).ToArray();
            float[] baseOut = Ops.Linear(x, first.Weight, first.Bias).ToArray();
            float[] xs = x.ToArray(), A = adapter.A.ToArray(), Bm = adapter.B.ToArray();
            int r = 4, n = first.InFeatures, o = first.OutFeatures;
            for (int row = 0; row < 3; row++)
                for (int j = 0; j < o; j++)
                {
                    double delta = 0;
                    for (int k = 0; k < r; k++)
                    {
                        double ax = 0;
                        for (int i = 0; i < n; i++) ax += (double)xs[row * n + i] * A[k * n + i];
                        delta += ax * Bm[j * r + k];
                    }
                {
                    double want = baseOut[row * o + j] + 2.0 * delta;
                    Assert.True(Math.Abs(want - got[row * o + j]) <= 1e-5 * (1 + Math.Abs(want)), $"row {row}, column {j}: {got[row * o + j]} vs {want}");
                }
                }
        }
        Assert.False(plain.AsSpan().SequenceEqual(Logits(model, ids, 2, 16)));
        foreach (var a in adapters) a.Dispose();
    }

    [Fact]
    public void Adapters_reach_the_fused_quantized_projections_of_llama()
    {
        // Quantized llama stacks q/k/v and gate/up into one matrix; the adapters of the stacked layers must still apply.
        int[] ids = Ids(16, 4);
        using var f32 = CausalLM.Create(Llama, 5);
        using var q8 = CausalLM.Create(Llama, 5);
        ModelQuantizer.Quantize(q8, QuantType.Q8_0);
        float[] q8Plain = Logits(q8, ids, 1, 16);
        var adapters = new List<LowRank>();
        foreach (var model in new[] { f32, q8 })
            foreach (var layer in model.Linears.Where(l => l.Name.Contains("q_proj") || l.Name.Contains("v_proj") || l.Name.Contains("up_proj")))
            {
                var a = new LowRank(layer, 4, 4f, adapters.Count % 6, zeroB: false);   // the same adapters on both models
                layer.Adapter = a;
                adapters.Add(a);
            }
        float[] f32Adapted = Logits(f32, ids, 1, 16), q8Adapted = Logits(q8, ids, 1, 16);
        double quantError = MaxAbsDiff(f32Adapted, q8Adapted), adapterEffect = MaxAbsDiff(q8Plain, q8Adapted);
        Assert.True(adapterEffect > 20 * quantError, $"adapter effect {adapterEffect:G3} vs Q8_0 error {quantError:G3}: the fused path lost the adapters");
        // Decoding through the paged cache (the server's path) applies them too: the prompt's last-position logits agree.
        using (var cache = new Lathe.Inference.PagedKvCache(q8.Config))
        {
            int sequence = cache.AddSequence();
            float[] cached;
            using (var tape = new Tape())
            using (tape.Activate())
            using (Tape.NoGrad())
                cached = cache.Forward(q8, ids, sequence).ToArray();                       // (1, V)
            double diff = MaxAbsDiff(cached, q8Adapted.AsSpan(15 * 64, 64).ToArray());
            Assert.True(diff <= 1e-5, $"cached decoding with adapters differs by {diff:G3} (adapter effect {adapterEffect:G3})");   // same kernels: equal in practice
        }
        foreach (var a in adapters) a.Dispose();
    }

    static double MaxAbsDiff(float[] a, float[] b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Input_embeddings_stand_in_for_ids(string type)
    {
        using var model = CausalLM.Create(type == "gpt2" ? Gpt2 : Llama, 6);
        int[] ids = Ids(24, 7);
        float[] fromIds = Logits(model, ids, 2, 12);
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var embeddings = model.Embed(ids, 2, 12);                                        // (B,T,C)
            Assert.True(fromIds.AsSpan().SequenceEqual(model.Logits(embeddings, 2, 12).ToArray()));
            var hidden = model.Hidden(embeddings, 2, 12);                                    // (B·T, C)
            Assert.Equal([24, 32], hidden.Shape.ToArray());
            Assert.True(fromIds.AsSpan().SequenceEqual(model.Head(hidden).ToArray()));
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Prompt_rows_decode_through_the_cache_as_they_score_in_full(string type)
    {
        // Prompt tuning at inference: trained rows, then the tokens, through the paged cache in two steps (prompt rows +
        // tokens, then one more token) give the logits the full forward over the same embeddings gives.
        using var model = CausalLM.Create(type == "gpt2" ? Gpt2 : Llama, 12);
        const int P = 3, T = 5;
        int[] ids = Ids(T + 1, 13);
        using var prompt = Tensor.Zeros(1, P, 32);
        new Philox(14).FillNormal(prompt.AsSpan(), 0, 0.5f);
        using var tape = new Tape();
        using var cache = new Lathe.Inference.PagedKvCache(model.Config);
        int sequence = cache.AddSequence();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var all = Ops.Concat([prompt, model.Embed(ids, 1, T + 1)], 1);                 // (1, P+T+1, C)
            float[] full = model.Logits(all, 1, P + T + 1).ToArray();                       // (P+T+1, V)
            cache.Schedule([sequence], [P + T]);
            float[] first = model.Forward(Ops.Narrow(all, 1, 0, P + T), cache).ToArray();    // (1, V): row P+T−1
            cache.Schedule([sequence], [1]);
            float[] second = model.Forward(ids.AsSpan(T, 1), cache).ToArray();              // (1, V): row P+T
            Assert.True(MaxAbsDiff(first, full.AsSpan((P + T - 1) * 64, 64).ToArray()) <= 1e-5);
            Assert.True(MaxAbsDiff(second, full.AsSpan((P + T) * 64, 64).ToArray()) <= 1e-5);
            var e = Assert.Throws<ArgumentException>(() => { cache.Schedule([sequence], [2]); model.Forward(Tensor.Zeros(3, 32), cache); });
            Assert.Contains("embeddings", e.Message);
        }
    }

    [Fact]
    public void Prompt_rows_prepended_to_the_embeddings_get_the_finite_difference_gradient()
    {
        // Prompt tuning's shape: P trained rows before the token embeddings, the model frozen.
        using var model = CausalLM.Create(Llama, 8);
        foreach (var p in model.Parameters) p.Value.RequiresGrad = false;
        const int P = 3, T = 6;
        int[] ids = Ids(T, 9), targets = Ids(P + T, 10);
        using var prompt = Tensor.Zeros(1, P, 32);
        new Philox(11).FillNormal(prompt.AsSpan(), 0, 0.5f);
        prompt.RequiresGrad = true;
        using var tape = new Tape();
        double Loss()
        {
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                return Ops.CrossEntropy(model.Logits(Ops.Concat([prompt, model.Embed(ids, 1, T)], 1), 1, P + T), targets).Item();
        }
        tape.Reset();
        using (tape.Activate())
        {
            var loss = Ops.CrossEntropy(model.Logits(Ops.Concat([prompt, model.Embed(ids, 1, T)], 1), 1, P + T), targets);
            tape.Backward(loss);
        }
        float[] analytic = prompt.Grad!.ToArray();
        var data = prompt.AsSpan();
        foreach (int i in new[] { 0, 17, 40, 95 })
        {
            float saved = data[i];
            data[i] = saved + 1e-2f; double plus = Loss();
            data[i] = saved - 1e-2f; double minus = Loss();
            data[i] = saved;
            double numeric = (plus - minus) / 2e-2;
            Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"prompt[{i}]: analytic {analytic[i]:G5}, numeric {numeric:G5}");
        }
        foreach (var p in model.Parameters) Assert.Null(p.Value.Grad);
    }
}

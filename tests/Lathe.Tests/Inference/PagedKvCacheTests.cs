using Lathe.Compression;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Quantized;

namespace Lathe.Tests.Inference;

/// <summary>The paged KV cache's bookkeeping (add, free, fork with copy-on-write, truncate, a full pool), the batched
/// step against each sequence decoded alone, and one model serving two generators at once.</summary>
public class PagedKvCacheTests
{
    static float[] Run(Tape tape, Func<Tensor> f)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
            return Ops.Contiguous(f()).ToArray();
    }

    [Fact]
    public void Fork_shares_blocks_until_written_and_truncate_and_free_return_them()
    {
        var config = ModelConfig.FromPresetOrFile("llama-tiny");
        using var model = CausalLM.Create(config, 2);
        using var cache = new PagedKvCache(config, blocks: 5, blockSize: 4);
        using var tape = new Tape();
        int a = cache.AddSequence();
        Run(tape, () => cache.Forward(model, [5, 6, 7, 8, 9, 10], a));
        Assert.Equal((6, 3), (cache.Length(a), cache.FreeBlocks));         // two blocks, the second half full

        int b = cache.Fork(a);
        Assert.Equal((6, 3), (cache.Length(b), cache.FreeBlocks));         // no copy yet
        var fromB = Run(tape, () => cache.Forward(model, [11], b));
        Assert.Equal(2, cache.FreeBlocks);                                  // b wrote into the shared half block: copied
        var fromA = Run(tape, () => cache.Forward(model, [11], a));
        Assert.Equal(2, cache.FreeBlocks);                                  // a now owns the original alone
        Assert.Equal(fromA, fromB);                                         // the same prefix, the same token: the same bits

        cache.Truncate(a, 3);                                               // a keeps block 0 only
        Assert.Equal((3, 3), (cache.Length(a), cache.FreeBlocks));
        cache.Free(b);                                                      // b's copy goes; block 0 stays with a
        Assert.Equal(4, cache.FreeBlocks);
        Assert.Throws<ArgumentException>(() => cache.Length(b));
        cache.Free(a);
        Assert.Equal(5, cache.FreeBlocks);
    }

    [Fact]
    public void Bad_requests_and_a_full_pool_are_clear_errors_that_change_nothing()
    {
        var config = ModelConfig.FromPresetOrFile("gpt2-tiny");
        using var model = CausalLM.Create(config, 2);
        using var cache = new PagedKvCache(config, blocks: 3, blockSize: 4);
        using var tape = new Tape();
        int a = cache.AddSequence(), b = cache.AddSequence();
        Run(tape, () => cache.Forward(model, [1, 2, 3, 4, 5], a));           // two blocks
        var full = Assert.Throws<InvalidOperationException>(() => Run(tape, () => cache.Forward(model, [1, 2, 3, 4, 5], b)));
        Assert.Contains("pool of 3 blocks of 4 tokens is full", full.Message);
        Assert.Equal((5, 0, 1), (cache.Length(a), cache.Length(b), cache.FreeBlocks));
        Assert.Throws<ArgumentException>(() => cache.Schedule([a, a], [1, 1]));
        Assert.Throws<ArgumentException>(() => cache.Schedule([7], [1]));
        Assert.Throws<ArgumentException>(() => cache.Schedule([a], [0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(a, 6));
        Assert.Throws<ArgumentException>(() => new PagedKvCache(config, blocks: 0));
        // The ids must match the scheduled rows.
        cache.Schedule([a], [2]);
        Assert.Throws<ArgumentException>(() => Run(tape, () => model.Forward([1], cache)));
    }

    public static TheoryData<string, string> Models => new() { { "gpt2-tiny", "f32" }, { "llama-tiny", "f32" }, { "llama-tiny", "q4_0" }, { "gpt2-tiny", "alibi" } };

    static CausalLM Create(string preset, string variant)
    {
        var config = ModelConfig.FromPresetOrFile(preset) with { InitStd = 0.1f };
        if (variant == "alibi") config = config with { PositionEmbeddingType = "alibi" };
        var model = CausalLM.Create(config, 9);
        if (variant == "q4_0") ModelQuantizer.Quantize(model, QuantType.Q4_0);
        return model;
    }

    /// <summary>Three sequences of different lengths (prompts crossing block boundaries) decoded greedily for 32 tokens
    /// in batched steps — two prompts in one step, the third prompt joining two steps later beside the others' decode
    /// tokens — against each decoded alone. Tokens must agree exactly; logits within 1e-5 relative: attention is per row
    /// and identical, and where the machine has the batch-invariant kernels the bits agree too (BatchInvarianceTests,
    /// with Q8_0); elsewhere the projections' GEMMs may take another kernel path for N rows than for 1.</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void A_batched_step_of_three_sequences_equals_each_decoded_alone(string preset, string variant)
    {
        using var model = Create(preset, variant);
        int V = model.Config.VocabSize, steps = 32;
        var rng = new Philox(3);
        int[][] prompts = [.. new[] { 3, 17, 33 }.Select(n => Enumerable.Range(0, n).Select(_ => rng.NextInt(V)).ToArray())];
        using var tape = new Tape();

        // Alone: one sequence per cache.
        var aloneTokens = new int[3][];
        var aloneLogits = new float[3][];
        for (int i = 0; i < 3; i++)
        {
            using var one = new OneSequenceCache(model.Config);
            aloneTokens[i] = new int[steps];
            aloneLogits[i] = new float[steps * V];
            var logits = Run(tape, () => one.LastLogits(model, prompts[i]));
            for (int s = 0; s < steps; s++)
            {
                logits.CopyTo(aloneLogits[i], s * V);
                int next = aloneTokens[i][s] = ArgMax(logits);
                logits = Run(tape, () => one.LastLogits(model, [next]));
            }
        }

        // Together: one cache (16-token blocks), each step schedules whichever sequences have work.
        using var cache = new PagedKvCache(model.Config, blocks: 16);
        int[] seq = [cache.AddSequence(), cache.AddSequence(), cache.AddSequence()];
        var tokens = new List<int>[3];
        for (int i = 0; i < 3; i++) tokens[i] = [];
        var produced = new int[3];
        for (int step = 0; produced.Any(p => p < steps); step++)
        {
            var ids = new List<int>();
            var who = new List<int>();
            var counts = new List<int>();
            for (int i = 0; i < 3; i++)
            {
                int start = i == 2 ? 2 : 0;                                 // the third prompt arrives at step 2
                if (step < start || produced[i] >= steps) continue;
                int[] input = step == start ? prompts[i] : [tokens[i][^1]];
                ids.AddRange(input);
                who.Add(i);
                counts.Add(input.Length);
            }
            var logits = Run(tape, () => cache.Forward(model, ids.ToArray(), who.Select(i => seq[i]).ToArray(), counts.ToArray()));
            for (int j = 0; j < who.Count; j++)
            {
                int i = who[j];
                var row = logits.AsSpan(j * V, V);
                for (int v = 0; v < V; v++)
                {
                    float e = aloneLogits[i][produced[i] * V + v], a = row[v];
                    Assert.True(Math.Abs(e - a) <= 1e-5f * (1 + Math.Abs(e)), $"{preset} {variant} sequence {i} step {produced[i]} token {v}: {a} vs alone {e}");
                }
                tokens[i].Add(ArgMax(row));
                produced[i]++;
            }
        }
        for (int i = 0; i < 3; i++) Assert.Equal(aloneTokens[i], tokens[i]);
    }

    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("llama-tiny")]
    public void Two_generators_on_one_model_interleaved_equal_each_alone(string preset)
    {
        using var model = CausalLM.Create(ModelConfig.FromPresetOrFile(preset) with { InitStd = 0.1f }, 4);
        var options = new SamplingOptions { Seed = 17 };
        int[] p1 = [1, 2, 3, 4, 5], p2 = [9, 8, 7];
        List<int> Alone(int[] prompt)
        {
            using var g = new Generator(model);
            return g.Generate(prompt, 24, options).ToList();
        }
        var alone1 = Alone(p1);
        var alone2 = Alone(p2);
        using var g1 = new Generator(model);
        using var g2 = new Generator(model);
        using var e1 = g1.Generate(p1, 24, options).GetEnumerator();
        using var e2 = g2.Generate(p2, 24, options).GetEnumerator();
        var got1 = new List<int>();
        var got2 = new List<int>();
        bool more1 = true, more2 = true;
        while (more1 || more2)
        {
            if (more1 && (more1 = e1.MoveNext())) got1.Add(e1.Current);
            if (more2 && (more2 = e2.MoveNext())) got2.Add(e2.Current);
        }
        Assert.Equal(24, alone1.Count);
        Assert.Equal(alone1, got1);
        Assert.Equal(alone2, got2);
    }

    static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
        return best;
    }
}

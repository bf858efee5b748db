using Lathe.Compression.Pruning;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Data;
using static Lathe.Tests.Compression.Pruning.PruningTestModels;

namespace Lathe.Tests.Compression.Pruning;

/// <summary>The correctness sentence: a pruned model's logits equal those of the unpruned model with the pruned
/// heads' outputs / channels masked to zero (for layers: the block skipped), before any recovery. The mask is applied
/// here, independently of the pruner: zeroed input columns of the projection that reads the heads (o_proj / c_proj) or
/// channels (down_proj / mlp.c_proj); a skipped block has every residual-writing weight and bias zeroed, so it adds 0.</summary>
/// <remarks>Tolerance 2e-5 on logits of size ~1–10: the pruned model sums the same products minus exact zeros, but its
/// GEMMs have a shorter contraction (H'·D or I' instead of C or I), so the packed kernel blocks and accumulates in a
/// different order — float rounding of a few ulps per sum, compounded over 3 blocks: measured ≤ 1.6e-6 (half the cases bit-equal).</remarks>
public class StructuredPruningTests
{
    const float Tolerance = 2e-5f;
    const int B = 2, T = 9;

    public static TheoryData<string> Architectures => ["gpt2", "llama", "llama-gqa"];

    static ModelConfig Config(string arch) => arch switch { "gpt2" => Gpt2, "llama" => Llama, _ => LlamaGqa };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Pruned_heads_give_the_logits_of_the_model_with_those_heads_masked(string arch)
    {
        var c = Config(arch);
        int units = c.KvHeads, group = c.Heads / c.KvHeads, D = c.HeadDim;
        // Different heads in each layer; one of the 2 kv groups (GQA) or 2 of 4 heads.
        int[][] kept = units == 4 ? [[0, 2], [1, 3], [2, 3]] : [[1], [0], [1]];
        using var model = Random(c, 11);
        using var pruned = StructuredPruner.KeepHeads(model, kept);
        Assert.Equal(kept[0].Length * group, pruned.Config.Heads);
        Assert.Equal(kept[0].Length, pruned.Config.KvHeads);
        Assert.Equal(D, pruned.Config.HeadDim);
        Assert.True(pruned.ParameterCount < model.ParameterCount);
        var ids = Ids(B * T, c.VocabSize, 3);
        var actual = Logits(pruned, ids, B, T);

        for (int l = 0; l < c.Layers; l++)
            for (int u = 0; u < units; u++)
                if (!kept[l].Contains(u))
                    ZeroColumns(model, arch == "gpt2" ? $"transformer.h.{l}.attn.c_proj.weight" : $"model.layers.{l}.self_attn.o_proj.weight", u * group * D, group * D);
        var masked = Logits(model, ids, B, T);
        Assert.True(MaxAbsDiff(actual, masked) <= Tolerance, $"max |Δ| {MaxAbsDiff(actual, masked)}");
        AssertSavesAndReloads(pruned, actual, ids);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Pruned_mlp_channels_give_the_logits_of_the_model_with_those_channels_masked(string arch)
    {
        var c = Config(arch);
        var rng = new Random(5);
        int keep = c.Intermediate - 13;
        var kept = Enumerable.Range(0, c.Layers).Select(_ => Enumerable.Range(0, c.Intermediate).OrderBy(_ => rng.Next()).Take(keep).Order().ToArray()).ToArray();
        using var model = Random(c, 12);
        using var pruned = StructuredPruner.KeepChannels(model, kept);
        Assert.Equal(keep, pruned.Config.Intermediate);
        var ids = Ids(B * T, c.VocabSize, 4);
        var actual = Logits(pruned, ids, B, T);
        for (int l = 0; l < c.Layers; l++)
            for (int j = 0; j < c.Intermediate; j++)
                if (!kept[l].Contains(j))
                    ZeroColumns(model, arch == "gpt2" ? $"transformer.h.{l}.mlp.c_proj.weight" : $"model.layers.{l}.mlp.down_proj.weight", j, 1);
        var masked = Logits(model, ids, B, T);
        Assert.True(MaxAbsDiff(actual, masked) <= Tolerance, $"max |Δ| {MaxAbsDiff(actual, masked)}");
        AssertSavesAndReloads(pruned, actual, ids);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Pruned_layers_give_the_logits_of_the_model_with_those_blocks_skipped(string arch)
    {
        var c = Config(arch);
        using var model = Random(c, 13);
        using var pruned = StructuredPruner.KeepLayers(model, [0, 2]);
        Assert.Equal(2, pruned.Config.Layers);
        var ids = Ids(B * T, c.VocabSize, 5);
        var actual = Logits(pruned, ids, B, T);
        string[] writers = arch == "gpt2"
            ? ["transformer.h.1.attn.c_proj.weight", "transformer.h.1.attn.c_proj.bias", "transformer.h.1.mlp.c_proj.weight", "transformer.h.1.mlp.c_proj.bias"]
            : ["model.layers.1.self_attn.o_proj.weight", "model.layers.1.mlp.down_proj.weight"];
        foreach (var n in writers) Param(model, n).AsSpan().Clear();
        var skipped = Logits(model, ids, B, T);
        Assert.True(MaxAbsDiff(actual, skipped) <= Tolerance, $"max |Δ| {MaxAbsDiff(actual, skipped)}");
        AssertSavesAndReloads(pruned, actual, ids);
    }

    [Fact]
    public void Head_dim_is_written_only_when_it_differs_from_d_model_over_heads()
    {
        Assert.DoesNotContain("head_dim", Gpt2.ToJson());
        Assert.DoesNotContain("head_dim", LlamaGqa.ToJson());
        var pruned = Gpt2 with { HeadDim = 8, Heads = 3, KvHeads = 3 };
        Assert.Contains("\"head_dim\": 8", pruned.ToJson());
        var back = ModelConfig.Parse(pruned.ToJson());
        Assert.Equal((3, 8, 32), (back.Heads, back.HeadDim, back.Embd));
        Assert.Equal(back, ModelConfig.Parse(back.ToJson()));
        // A head_dim equal to d_model / heads (newer Hugging Face Llama configs write it always) reads as no override.
        Assert.Equal(LlamaGqa.Validate(), ModelConfig.Parse(LlamaGqa.ToJson().Replace("\"num_key_value_heads\"", "\"head_dim\": 8, \"num_key_value_heads\"")));
    }

    [Fact]
    public void A_pruned_model_generates_on_the_cached_path_as_its_full_forward_does()
    {
        using var model = Random(LlamaGqa, 14);
        using var pruned = StructuredPruner.KeepHeads(model, [[1], [0], [1]]);
        var ids = Ids(T, LlamaGqa.VocabSize, 6);
        var full = Logits(pruned, ids, 1, T);
        using var cache = new Lathe.Inference.PagedKvCache(pruned.Config);
        int sequence = cache.AddSequence();
        // The prompt in two chunks: the second reads the first's keys and values from the cache.
        var first = cache.Forward(pruned, ids.AsSpan(0, 4), sequence, lastOnly: false).ToArray();
        var second = cache.Forward(pruned, ids.AsSpan(4), sequence, lastOnly: false).ToArray();
        var cached = first.Concat(second).ToArray();
        Assert.True(MaxAbsDiff(full, cached) <= Tolerance, $"max |Δ| {MaxAbsDiff(full, cached)}");
    }

    static void AssertSavesAndReloads(CausalLM pruned, float[] logits, int[] ids)
    {
        using var dir = new TempDir();
        Checkpoint.SaveModel(dir.Path, pruned, null);
        using var back = Checkpoint.LoadModel(dir.Path);
        Assert.Equal(pruned.Config, back.Config);
        Assert.Equal(logits, Logits(back, ids, B, T));
    }
}

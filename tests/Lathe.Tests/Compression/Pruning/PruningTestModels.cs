using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tests.Compression.Pruning;

/// <summary>Small decoders with every parameter random (biases and norm gains too), so a wrong row or column in a
/// pruned copy shows in its logits.</summary>
internal static class PruningTestModels
{
    public static ModelConfig Gpt2 => new() { ModelType = "gpt2", VocabSize = 61, MaxPositions = 32, Embd = 32, Layers = 3, Heads = 4, KvHeads = 4, Intermediate = 48 };

    /// <summary>Llama with grouped-query attention: 4 query heads over 2 kv heads.</summary>
    public static ModelConfig LlamaGqa => new() { ModelType = "llama", VocabSize = 61, MaxPositions = 32, Embd = 32, Layers = 3, Heads = 4, KvHeads = 2, Intermediate = 40, TieEmbeddings = false };

    public static ModelConfig Llama => LlamaGqa with { KvHeads = 4 };

    public static CausalLM Random(ModelConfig config, int seed, float scale = 0.3f)
    {
        var model = CausalLM.Create(config, (ulong)seed);
        var rng = new Random(seed);
        foreach (var p in model.Parameters)
        {
            var v = p.Value.AsSpan();
            bool gain = p.Name.EndsWith("norm.weight", StringComparison.Ordinal) || p.Name.Contains("ln_", StringComparison.Ordinal) && p.Name.EndsWith(".weight", StringComparison.Ordinal);
            for (int i = 0; i < v.Length; i++) v[i] = (gain ? 1f : 0f) + scale * (float)(rng.NextDouble() * 2 - 1);
        }
        return model;
    }

    public static int[] Ids(int count, int vocab, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    public static float[] Logits(CausalLM model, int[] ids, int B, int T) => model.Logits(ids, B, T).ToArray();

    public static float MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    public static Tensor Param(LanguageModel model, string name) => model.Parameters.First(p => p.Name == name).Value;

    /// <summary>Zeroes columns [start, start + count) of the (out, in) matrix <paramref name="name"/>: the inputs a
    /// projection reads from the pruned heads or channels.</summary>
    public static void ZeroColumns(LanguageModel model, string name, int start, int count)
    {
        var w = Param(model, name);
        int rows = w.Dim(0), cols = w.Dim(1);
        var v = w.AsSpan();
        for (int r = 0; r < rows; r++) v.Slice(r * cols + start, count).Clear();
    }
}

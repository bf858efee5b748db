using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Data;

namespace Lathe.Tests.Inference;

/// <summary>Bad GGUF models and tokenizers are one-line errors naming the file and the tensor or key.</summary>
public class GgufLoaderErrorTests
{
    /// <summary>Rewrites the F32 fixture through <see cref="GgufWriter"/> with its metadata and tensors edited.</summary>
    static string Variant(TempDir dir, Func<string, object, object?> metadata, Func<GgufTensorInfo, (long[] Dims, bool Keep)> tensors)
    {
        using var source = GgufFile.Open(GgufParityTests.Fixture("gpt2vocab-f32.gguf"));
        var w = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
        {
            var v = metadata(key, value);
            if (v is null) continue;
            w.Add(key, v is object[] items ? Typed(items) : v);
        }
        foreach (var t in source.Tensors)
        {
            var (dims, keep) = tensors(t);
            if (!keep) continue;
            long count = 1;
            foreach (long d in dims) count *= d;
            w.AddTensor(t.Name, dims, GgmlType.F32, new byte[count * 4]);
        }
        string path = dir.File("bad.gguf");
        w.Save(path);
        return path;
    }

    static Array Typed(object[] items)
    {
        var a = Array.CreateInstance(items[0].GetType(), items.Length);
        for (int i = 0; i < items.Length; i++) a.SetValue(items[i], i);
        return a;
    }

    static string LoadError(string path) => Assert.Throws<InvalidDataException>(() => GgufModelLoader.Load(path).Dispose()).Message;

    [Fact]
    public void Unknown_architecture()
    {
        using var dir = new TempDir();
        string path = Variant(dir, (k, v) => k == "general.architecture" ? "mamba" : v, t => (t.Dims, true));
        Assert.Contains("general.architecture 'mamba' is not supported", LoadError(path));
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        using var dir = new TempDir();
        string path = Variant(dir, (k, v) => v, t => (t.Dims, t.Name != "blk.1.ffn_up.weight"));
        Assert.Contains("tensor 'blk.1.ffn_up.weight' is missing", LoadError(path));
    }

    [Fact]
    public void Mis_shaped_tensor_is_named()
    {
        using var dir = new TempDir();
        string path = Variant(dir, (k, v) => v, t => (t.Name == "blk.0.attn_k.weight" ? [64, 64] : t.Dims, true));
        string message = LoadError(path);
        Assert.Contains("tensor 'blk.0.attn_k.weight' has dims [64, 64], expected [64, 32]", message);
        Assert.DoesNotContain('\n', message);
    }

    [Fact]
    public void Missing_and_inconsistent_metadata_are_named()
    {
        using var dir = new TempDir();
        Assert.Contains("metadata 'llama.block_count' is missing",
            LoadError(Variant(dir, (k, v) => k == "llama.block_count" ? null : v, t => (t.Dims, true))));
        Assert.Contains("llama.rope.dimension_count 8 differs from the head dimension 16",
            LoadError(Variant(dir, (k, v) => k == "llama.rope.dimension_count" ? 8u : v, t => (t.Dims, true))));
    }

    /// <summary>Metadata claiming a huge model is caught by the tensor checks before anything is allocated.</summary>
    [Fact]
    public void Lying_sizes_in_metadata_fail_before_allocation()
    {
        using var dir = new TempDir();
        Assert.Contains("tensor 'blk.2.attn_norm.weight' is missing",
            LoadError(Variant(dir, (k, v) => k == "llama.block_count" ? 1_000_000u : v, t => (t.Dims, true))));
        Assert.Contains("tensor 'blk.0.ffn_gate.weight' has dims [64, 160], expected [64, 1073741824]",
            LoadError(Variant(dir, (k, v) => k == "llama.feed_forward_length" ? 1u << 30 : v, t => (t.Dims, true))));
        Assert.Contains("tensor 'token_embd.weight' has dims [64, 512], expected [64, 2000000000]",
            LoadError(Variant(dir, (k, v) => k == "llama.vocab_size" ? 2_000_000_000u : v, t => (t.Dims, true))));
    }

    [Fact]
    public void Unsupported_tokenizers_are_named()
    {
        using var dir = new TempDir();
        string path = Variant(dir, (k, v) => k == "tokenizer.ggml.pre" ? "deepseek-coder" : v, t => (t.Dims, true));
        using (var file = GgufFile.Open(path))
            Assert.Contains("tokenizer.ggml.pre 'deepseek-coder' is not supported", Assert.Throws<InvalidDataException>(() => GgufTokenizer.Read(file)).Message);
        path = Variant(dir, (k, v) => k == "tokenizer.ggml.model" ? "bert" : v, t => (t.Dims, true));
        using (var file = GgufFile.Open(path))
            Assert.Contains("tokenizer.ggml.model 'bert' is not supported", Assert.Throws<InvalidDataException>(() => GgufTokenizer.Read(file)).Message);
        path = Variant(dir, (k, v) => k == "tokenizer.ggml.merges" ? new object[] { "Ġ t", "nothere x" } : v, t => (t.Dims, true));
        using (var file = GgufFile.Open(path))
            Assert.Contains("tokenizer.ggml.merges[1] 'nothere x' is not two tokens", Assert.Throws<InvalidDataException>(() => GgufTokenizer.Read(file)).Message);
    }

    [Fact]
    public void Rope_row_permutation_round_trips_and_matches_the_converter_formula()
    {
        // numpy: w.reshape(H, 2, D/2, in).swapaxes(1, 2).reshape(w.shape) with H = 2, D = 4: rows 0 2 1 3 | 4 6 5 7.
        float[] hf = [0, 1, 2, 3, 4, 5, 6, 7];
        var ggml = GgufRope.PermuteRows(hf, rows: 8, cols: 1, heads: 2);
        Assert.Equal(new float[] { 0, 2, 1, 3, 4, 6, 5, 7 }, ggml);
        Assert.Equal(hf, GgufRope.UnpermuteRows(ggml, 8, 1, 2));
        var hf16 = Enumerable.Range(0, 32).Select(i => (float)i).ToArray();   // 16 rows of 2, H = 2, D = 8
        Assert.Equal(new float[] { 0, 1, 8, 9, 2, 3, 10, 11 }, GgufRope.PermuteRows(hf16, 16, 2, 2)[..8]);
    }
}

using System.IO.Compression;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Data;
using Xunit.Abstractions;

namespace Lathe.Tests.Inference;

/// <summary>Lathe against llama.cpp on gemma and gemma2 GGUF files: small random-weight models (vocab 512, d 64, 2
/// layers, 4 heads of 16 over 2 kv heads, ffn 128; gemma2 with a sliding window of 8 on layer 0 — shorter than the
/// 35-token prompt, so it matters — an attention soft cap of 3 and a final soft cap of 15, both biting) written by
/// scripts/gen/random_gemma_gguf.py and committed gzipped, with llama.cpp's outputs recorded by make_gemma_reference.mjs
/// (regenerate both with make_gemma_fixtures.sh). The F16 files hold the F32 files' values exactly (the generator rounds
/// the weights to multiples of a power of two).
/// Tolerance: llama.cpp's GELU is a lookup table over F16-rounded inputs (ggml-cpu/vec.h, GGML_GELU_FP16) and its F16
/// matmuls round the activations to F16; Lathe computes both in F32, so logits differ by up to a few 1e-3 (bounds per test).</summary>
public class GgufGemmaParityTests(ITestOutputHelper output)
{
    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Inference", "fixtures", "gguf", "gemma", name);

    static JsonElement Reference(string model) =>
        JsonDocument.Parse(File.ReadAllText(Fixture("llama_cpp_gemma_reference.json"))).RootElement.GetProperty("models").GetProperty(model);

    static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>The committed <c>name.gguf.gz</c> unpacked into <paramref name="dir"/>.</summary>
    internal static string Unpack(TempDir dir, string name)
    {
        string path = dir.File(name + ".gguf");
        using var source = new GZipStream(File.OpenRead(Fixture(name + ".gguf.gz")), CompressionMode.Decompress);
        using var target = File.Create(path);
        source.CopyTo(target);
        return path;
    }

    static CausalLM Load(string path, bool quantizedKernels) => quantizedKernels ? GgufModelLoader.LoadQuantized(path) : GgufModelLoader.Load(path);

    /// <summary>Greedy decoding through Lathe's generator (paged KV cache: the prompt as one chunk, then one token per step;
    /// sampler at temperature 0) gives llama.cpp's 64 tokens, for each file, with the weights decoded to F32 and with F16
    /// kept as stored (the kernels `generate` runs).</summary>
    [Theory]
    [InlineData("gemma-f32", false)]
    [InlineData("gemma-f16", false)]
    [InlineData("gemma-f16", true)]
    [InlineData("gemma2-f32", false)]
    [InlineData("gemma2-f16", false)]
    [InlineData("gemma2-f16", true)]
    public void Greedy_continuation_equals_llama_cpp_over_64_tokens(string name, bool quantizedKernels)
    {
        var reference = Reference(name);
        using var dir = new TempDir();
        using var model = Load(Unpack(dir, name), quantizedKernels);
        using var generator = new Generator(model);
        var options = new SamplingOptions { Temperature = 0, TopK = 0, TopP = 1, MinP = 0 };
        int[] got = generator.Generate(Ints(reference.GetProperty("prompt")), 64, options).ToArray();
        Assert.Equal(Ints(reference.GetProperty("greedy")), got);
    }

    /// <summary>Raw logits at five steps of the continuation against llama.cpp's, both through the full-sequence forward
    /// (teacher-forced prompt + continuation in one pass: the flash kernel with the window and the cap) and through the
    /// cached path (prompt chunk, then single tokens through the paged kernel). Measured max |Δlogit| on logits of
    /// magnitude ~10: 6.7e-3 (gemma F32), 3.5e-3 (gemma2 F32) — llama.cpp's F16 GELU table — bound 1e-2; 1.6e-2 for the
    /// F16 files, where llama.cpp also rounds the activations to F16 for its F16 matmuls, bound 3e-2. The two paths agree
    /// with each other to the digits shown. (Checked once by hand: with GatedMlp's GeGLU gate rounded through F16 and looked up
    /// as ggml does, the F32 differences fall to 2.7e-4 and 3.1e-5 — the GELU table is the difference, not the model.)</summary>
    [Theory]
    [InlineData("gemma-f32", false, 1e-2)]
    [InlineData("gemma-f16", false, 3e-2)]
    [InlineData("gemma-f16", true, 3e-2)]
    [InlineData("gemma2-f32", false, 1e-2)]
    [InlineData("gemma2-f16", false, 3e-2)]
    [InlineData("gemma2-f16", true, 3e-2)]
    public void Logits_match_llama_cpp_on_both_paths(string name, bool quantizedKernels, double bound)
    {
        using var dir = new TempDir();
        using var model = Load(Unpack(dir, name), quantizedKernels);
        var (full, cached) = (MaxDiff(name, FullLogits(model, name)), MaxDiff(name, CachedLogits(model, name)));
        output.WriteLine($"{name}: max |Δlogit| full {full:g3}, cached {cached:g3}");
        Assert.True(full < bound, $"{name}: full forward max |Δlogit| {full} ≥ {bound}");
        Assert.True(cached < bound, $"{name}: cached max |Δlogit| {cached} ≥ {bound}");
    }

    /// <summary>The fixture exercises what Gemma 2 adds: without the sliding window, without the attention soft cap or
    /// without the final soft cap, the same weights give logits far outside the bound above — so the parity test could
    /// not pass with any of them ignored.</summary>
    [Fact]
    public void Window_and_soft_caps_each_move_the_gemma2_logits()
    {
        const string name = "gemma2-f32";
        using var dir = new TempDir();
        using var model = GgufModelLoader.Load(Unpack(dir, name));
        Assert.Equal(8, model.Config.SlidingWindow);
        Assert.True(model.Config.IsSlidingLayer(0) && !model.Config.IsSlidingLayer(1));
        foreach (var (what, config) in new[]
                 {
                     ("no window", model.Config with { SlidingWindow = 0 }),
                     ("no attention cap", model.Config with { AttentionSoftCap = 0 }),
                     ("no final cap", model.Config with { FinalLogitSoftCap = 0 }),
                 })
        {
            using var variant = CausalLM.Create(config, seed: 0);
            var byName = model.Parameters.ToDictionary(p => p.Name);
            foreach (var p in variant.Parameters) byName[p.Name].Value.AsSpan().CopyTo(p.Value.AsSpan());
            double diff = MaxDiff(name, FullLogits(variant, name));
            output.WriteLine($"{what}: max |Δlogit| {diff:g3}");
            Assert.True(diff > 0.1, $"{what}: logits moved only {diff}");
        }
    }

    /// <summary>A fixture rewritten through <see cref="GgufWriter"/> with its metadata edited (null drops a key), keys
    /// added and tensors dropped (the kept ones become zeros of their dims: enough for the loader's checks).</summary>
    static string Variant(TempDir dir, string name, Func<string, object, object?> metadata, Func<string, bool> keepTensor,
        params (string Key, object Value)[] added)
    {
        using var source = GgufFile.Open(Unpack(dir, name));
        var w = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
            if (metadata(key, value) is { } v) w.Add(key, v is object[] items ? Typed(items) : v);
        foreach (var (key, value) in added) w.Add(key, value);
        foreach (var t in source.Tensors)
        {
            if (!keepTensor(t.Name)) continue;
            long count = 1;
            foreach (long d in t.Dims) count *= d;
            w.AddTensor(t.Name, t.Dims, GgmlType.F32, new byte[count * 4]);
        }
        string path = dir.File("variant.gguf");
        w.Save(path);
        return path;
    }

    static Array Typed(object[] items)
    {
        var a = Array.CreateInstance(items[0].GetType(), items.Length);
        for (int i = 0; i < items.Length; i++) a.SetValue(items[i], i);
        return a;
    }

    static string LoadError(string path)
    {
        string message = Assert.Throws<InvalidDataException>(() => GgufModelLoader.Load(path).Dispose()).Message;
        Assert.DoesNotContain('\n', message);
        Assert.Contains("variant.gguf", message);
        return message;
    }

    [Theory]
    [InlineData("gemma2-f32", "blk.1.post_ffw_norm.weight")]
    [InlineData("gemma2-f32", "blk.0.post_attention_norm.weight")]
    [InlineData("gemma-f32", "blk.1.ffn_norm.weight")]
    [InlineData("gemma-f32", "token_embd.weight")]
    public void Missing_tensor_is_a_one_line_error_naming_it(string name, string tensor)
    {
        using var dir = new TempDir();
        Assert.Contains($"tensor '{tensor}' is missing", LoadError(Variant(dir, name, (k, v) => v, t => t != tensor)));
    }

    [Theory]
    [InlineData("gemma2-f32", "gemma2.attention.layer_norm_rms_epsilon")]
    [InlineData("gemma2-f32", "gemma2.block_count")]
    [InlineData("gemma2-f32", "gemma2.embedding_length")]
    [InlineData("gemma-f32", "gemma.feed_forward_length")]
    [InlineData("gemma-f32", "gemma.context_length")]
    public void Missing_key_is_a_one_line_error_naming_it(string name, string key)
    {
        using var dir = new TempDir();
        Assert.Contains($"metadata '{key}' is missing", LoadError(Variant(dir, name, (k, v) => k == key ? null : v, t => true)));
    }

    /// <summary>The optional gemma2 keys fall back to llama.cpp's defaults (sliding window 4096, caps 50 and 30, the even
    /// layers local); a sliding_window_pattern key is read as llama.cpp reads it (an integer period, 0 = every layer, or
    /// one bool per layer); what Lathe cannot represent is refused by name.</summary>
    [Fact]
    public void Optional_gemma2_keys_take_llama_cpp_defaults_and_bad_ones_are_named()
    {
        using var dir = new TempDir();
        string[] optional = ["gemma2.attention.sliding_window", "gemma2.attn_logit_softcapping", "gemma2.final_logit_softcapping"];
        using (var model = GgufModelLoader.Load(Variant(dir, "gemma2-f32", (k, v) => optional.Contains(k) ? null : v, t => true)))
        {
            var c = model.Config;
            Assert.Equal((4096, 50f, 30f, 2), (c.SlidingWindow, c.AttentionSoftCap, c.FinalLogitSoftCap, c.SlidingWindowPattern));
            Assert.Equal(16f, c.QueryPreAttnScalar);   // 1/√key_length, as llama.cpp scales the queries of all but the 27B model
        }
        string With(string key, object value) => Variant(dir, "gemma2-f32", (k, v) => v, t => true, (key, value));
        const string pattern = "gemma2.attention.sliding_window_pattern";
        using (var model = GgufModelLoader.Load(With(pattern, 0u)))
            Assert.True(model.Config.IsSlidingLayer(0) && model.Config.IsSlidingLayer(1));
        using (var model = GgufModelLoader.Load(With(pattern, new[] { false, false })))
            Assert.False(model.Config.IsSlidingLayer(0) || model.Config.IsSlidingLayer(1));
        Assert.Contains("must hold 2 booleans", LoadError(With(pattern, new[] { true })));
        Assert.Contains("gemma2.rope.freq_base_swa 1000 differs", LoadError(With("gemma2.rope.freq_base_swa", 1000f)));
        Assert.Contains("gemma2.attention.key_length 16 and gemma2.attention.value_length 8",
            LoadError(Variant(dir, "gemma2-f32", (k, v) => k == "gemma2.attention.value_length" ? 8u : v, t => true)));
    }

    // Every position's logits (T, V) of prompt + greedy in one full-sequence pass.
    static float[] FullLogits(CausalLM model, string name)
    {
        var reference = Reference(name);
        int[] ids = [.. Ints(reference.GetProperty("prompt")), .. Ints(reference.GetProperty("greedy"))];
        using var tape = new Tape();
        using var active = tape.Activate();
        using var noGrad = Tape.NoGrad();
        return model.Logits(ids, 1, ids.Length).ToArray();
    }

    // The same through the paged cache: the prompt in one chunk, then each greedy token alone.
    static float[] CachedLogits(CausalLM model, string name)
    {
        var reference = Reference(name);
        int[] prompt = Ints(reference.GetProperty("prompt")), greedy = Ints(reference.GetProperty("greedy"));
        int V = model.Config.VocabSize;
        var all = new float[(prompt.Length + greedy.Length) * V];
        using var cache = new OneSequenceCache(model.Config);
        using var tape = new Tape();
        using var active = tape.Activate();
        using var noGrad = Tape.NoGrad();
        cache.Logits(model, prompt).AsSpan().CopyTo(all);
        for (int i = 0; i < greedy.Length; i++)
        {
            tape.Reset();
            cache.LastLogits(model, greedy.AsSpan(i, 1)).AsSpan().CopyTo(all.AsSpan((prompt.Length + i) * V, V));
        }
        return all;
    }

    // max |Δ| over the recorded steps; logits (T, V) row prompt − 1 + step predicts step's token.
    static double MaxDiff(string name, float[] logits)
    {
        var reference = Reference(name);
        int promptLength = reference.GetProperty("prompt").GetArrayLength(), V = reference.GetProperty("vocab").GetInt32();
        double max = 0;
        foreach (var record in reference.GetProperty("logits").EnumerateArray())
        {
            int step = record.GetProperty("step").GetInt32(), v = 0;
            foreach (var e in record.GetProperty("logits").EnumerateArray())
                max = Math.Max(max, Math.Abs(e.GetDouble() - logits[(promptLength - 1 + step) * V + v++]));
        }
        return max;
    }
}

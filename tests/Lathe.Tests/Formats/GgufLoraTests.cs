using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Data;

namespace Lathe.Tests.Formats;

/// <summary>llama.cpp's GGUF LoRA adapter format as <see cref="GgufLoraAdapter"/> writes and reads it: the layout
/// llama.cpp expects (metadata, tensor names, ggml dims, B's q/k rows in RoPE order), exact round trips, the scale rule,
/// and one-line errors for files that do not fit the model. (That llama.cpp computes with these files what Lathe does is
/// <see cref="GgufLoraParityTests"/>.)</summary>
public class GgufLoraTests
{
    static ModelConfig Llama => GgufLoraParityTests.Models["llama-base-f32"];
    static ModelConfig Gpt2 => GgufLoraParityTests.Models["gpt2-base-f32"];

    [Fact]
    public void The_file_has_llama_cpp_metadata_names_dims_and_q_k_rows_in_rope_order()
    {
        using var dir = new TempDir();
        string path = dir.File("a.gguf");
        var modules = GgufLoraParityTests.SeededModules(Llama, 7);
        GgufLoraAdapter.Write(path, Llama, 16f, modules);
        using var file = GgufFile.Open(path);
        Assert.Equal("adapter", file.Meta<string>("general.type"));
        Assert.Equal("lora", file.Meta<string>("adapter.type"));
        Assert.Equal("llama", file.Meta<string>("general.architecture"));
        Assert.Equal(16f, file.Meta<float>("adapter.lora.alpha"));
        // 2 layers × 7 projections + lm_head, each an a/b pair written together (llama.cpp's writer pairs them so).
        Assert.Equal(2 * 15, file.Tensors.Count);
        Assert.Equal(["blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b"], file.Tensors.Take(2).Select(t => t.Name));
        Assert.Equal(["output.weight.lora_a", "output.weight.lora_b"], file.Tensors.TakeLast(2).Select(t => t.Name));
        Assert.All(file.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));
        // A: dims [in, r]; B: dims [r, out] (ggml order), llama.cpp's shape check.
        Assert.Equal(new long[] { 64, 8 }, file.Get("blk.0.attn_k.weight.lora_a").Dims);
        Assert.Equal(new long[] { 8, 32 }, file.Get("blk.0.attn_k.weight.lora_b").Dims);
        Assert.Equal(new long[] { 96, 4 }, file.Get("blk.1.ffn_down.weight.lora_a").Dims);
        Assert.Equal(new long[] { 4, 64 }, file.Get("blk.1.ffn_down.weight.lora_b").Dims);
        // q/k: B's rows permuted as the base rows are (heads 4 for q, kv heads 2 for k), A as is; v untouched.
        var q = modules.First(m => m.Name == "model.layers.0.self_attn.q_proj");
        var k = modules.First(m => m.Name == "model.layers.1.self_attn.k_proj");
        var v = modules.First(m => m.Name == "model.layers.0.self_attn.v_proj");
        Assert.Equal(q.A, file.ReadFloats("blk.0.attn_q.weight.lora_a"));
        Assert.Equal(GgufRope.PermuteRows(q.B, 64, 8, 4), file.ReadFloats("blk.0.attn_q.weight.lora_b"));
        Assert.NotEqual(q.B, file.ReadFloats("blk.0.attn_q.weight.lora_b"));
        Assert.Equal(GgufRope.PermuteRows(k.B, 32, 8, 2), file.ReadFloats("blk.1.attn_k.weight.lora_b"));
        Assert.Equal(v.B, file.ReadFloats("blk.0.attn_v.weight.lora_b"));
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void Written_then_read_gives_the_same_modules_in_model_order(string arch)
    {
        var config = arch == "llama" ? Llama : Gpt2;
        var modules = GgufLoraParityTests.SeededModules(config, 9);
        using var dir = new TempDir();
        string path = dir.File("a.gguf");
        // Given in reverse order: the file (and what is read) follows the model's projection order.
        GgufLoraAdapter.Write(path, config, 32f, modules.AsEnumerable().Reverse().ToList());
        var read = GgufLoraAdapter.Read(path, config);
        Assert.Equal(arch, read.Architecture);
        Assert.Equal(32f, read.Alpha);
        Assert.Empty(read.IgnoredTensors);
        Assert.Equal(modules.Select(m => m.Name), read.Modules.Select(m => m.Name));
        for (int i = 0; i < modules.Count; i++)
        {
            var (want, got) = (modules[i], read.Modules[i]);
            Assert.Equal((want.Rank, want.InFeatures, want.OutFeatures), (got.Rank, got.InFeatures, got.OutFeatures));
            Assert.Equal(want.A, got.A);
            Assert.Equal(want.B, got.B);
        }
        // llama's down_proj of layer 1 has rank 4: no shared rank, and its scale is alpha / 4.
        Assert.Equal(arch == "llama" ? 0 : 8, read.Rank);
        if (arch == "llama") Assert.Equal(8f, read.Scale(read.Modules.Single(m => m.Name == "model.layers.1.mlp.down_proj")));
        Assert.Equal(4f, read.Scale(read.Modules[0]));
        Assert.Equal(2f, read.Scale(read.Modules[0], userScale: 0.5f));
    }

    [Fact]
    public void F16_pairs_read_back_as_the_half_precision_values()
    {
        var modules = GgufLoraParityTests.SeededModules(Gpt2, 3);
        using var dir = new TempDir();
        string path = dir.File("a.gguf");
        GgufLoraAdapter.Write(path, Gpt2, 16f, modules, GgmlType.F16);
        using (var file = GgufFile.Open(path)) Assert.All(file.Tensors, t => Assert.Equal(GgmlType.F16, t.Type));
        var read = GgufLoraAdapter.Read(path, Gpt2);
        for (int i = 0; i < modules.Count; i++)
        {
            Assert.Equal(modules[i].A.Select(x => (float)(Half)x), read.Modules[i].A);
            Assert.Equal(modules[i].B.Select(x => (float)(Half)x), read.Modules[i].B);
        }
    }

    /// <summary>A file written by another tool: no alpha (llama.cpp then scales by the user scale alone), a norm vector
    /// mergekit adds (skipped by llama.cpp and here, but listed).</summary>
    [Fact]
    public void Without_alpha_the_scale_is_the_user_scale_and_norm_vectors_are_skipped()
    {
        using var dir = new TempDir();
        string path = dir.File("a.gguf");
        var w = Header("gpt2", alpha: null);
        Pair(w, "blk.0.attn_qkv.weight", 64, 4, 192);
        w.AddTensor("blk.0.attn_norm.weight", [64], GgmlType.F32, new byte[64 * 4]);
        w.Save(path);
        var read = GgufLoraAdapter.Read(path, Gpt2);
        Assert.Equal(0f, read.Alpha);
        Assert.Equal(["blk.0.attn_norm.weight"], read.IgnoredTensors);
        Assert.Equal("transformer.h.0.attn.c_attn", read.Modules.Single().Name);
        Assert.Equal(0.75f, read.Scale(read.Modules[0], 0.75f));
    }

    static GgufWriter Header(string arch, float? alpha = 16f, string type = "adapter")
    {
        var w = new GgufWriter().Add("general.architecture", arch).Add("general.type", type).Add("adapter.type", "lora");
        if (alpha is { } a) w.Add("adapter.lora.alpha", a);
        return w;
    }

    static void Pair(GgufWriter w, string tensor, int inFeatures, int rank, int outFeatures, bool a = true, bool b = true)
    {
        if (a) w.AddTensor(tensor + ".lora_a", [inFeatures, rank], GgmlType.F32, new byte[inFeatures * rank * 4]);
        if (b) w.AddTensor(tensor + ".lora_b", [rank, outFeatures], GgmlType.F32, new byte[rank * outFeatures * 4]);
    }

    static string ReadError(Action<GgufWriter> build, ModelConfig config)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.gguf");
        var w = Header(config.ModelType);
        build(w);
        w.Save(path);
        var e = Assert.Throws<InvalidDataException>(() => GgufLoraAdapter.Read(path, config));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith(path, e.Message);
        return e.Message;
    }

    [Fact]
    public void Reading_names_what_does_not_fit()
    {
        Assert.Contains("tensor 'blk.2.attn_q.weight.lora_a' has no base projection 'blk.2.attn_q.weight' in this llama model",
            ReadError(w => Pair(w, "blk.2.attn_q.weight", 64, 8, 64), Llama));
        Assert.Contains("tensor 'blk.0.attn_v.weight.lora_a' has no 'blk.0.attn_v.weight.lora_b' partner",
            ReadError(w => Pair(w, "blk.0.attn_v.weight", 64, 8, 32, b: false), Llama));
        Assert.Contains("'blk.0.attn_v.weight.lora_a' [64, 8] and 'blk.0.attn_v.weight.lora_b' [8, 64] do not fit 'model.layers.0.self_attn.v_proj' (out 32, in 64)",
            ReadError(w => Pair(w, "blk.0.attn_v.weight", 64, 8, 64), Llama));
        Assert.Contains("'blk.0.ffn_up.weight.lora_a' [64, 8] and 'blk.0.ffn_up.weight.lora_b' [4, 128]",
            ReadError(w => { w.AddTensor("blk.0.ffn_up.weight.lora_a", [64, 8], GgmlType.F32, new byte[64 * 8 * 4]); Pair(w, "blk.0.ffn_up.weight", 64, 4, 128, a: false); }, Gpt2));
        Assert.Contains("tensor 'blk.0.attn_q.weight' is neither a '.lora_a' nor a '.lora_b' tensor",
            ReadError(w => w.AddTensor("blk.0.attn_q.weight", [64, 64], GgmlType.F32, new byte[64 * 64 * 4]), Llama));
        Assert.Contains("a LoRA on the token embedding is not supported",
            ReadError(w => Pair(w, "token_embd.weight", 300, 8, 64), Llama));
        Assert.Contains("tensor 'blk.0.attn_v.weight.lora_a' appears twice",
            ReadError(w => { Pair(w, "blk.0.attn_v.weight", 64, 8, 32); Pair(w, "blk.0.attn_v.weight", 64, 8, 32, b: false); }, Llama));
        // gpt2's head is tied to token_embd: there is no output.weight to attach a pair to.
        Assert.Contains("'output.weight.lora_a' has no base projection",
            ReadError(w => Pair(w, "output.weight", 64, 8, 300), Gpt2));
    }

    [Fact]
    public void A_model_file_or_another_architecture_is_refused_in_one_line()
    {
        using var dir = new TempDir();
        string adapter = dir.File("llama-lora.gguf");
        GgufLoraAdapter.Write(adapter, Llama, 16f, GgufLoraParityTests.SeededModules(Llama, 1));
        var e = Assert.Throws<InvalidDataException>(() => GgufLoraAdapter.Read(adapter, Gpt2));
        Assert.Equal($"{adapter}: the adapter is for architecture 'llama' but the model is 'gpt2'.", e.Message);
        // A model GGUF (Lathe's exports write no general.type).
        string model = GgufLoraParityTests.Fixture("llama-base-f32.gguf");
        e = Assert.Throws<InvalidDataException>(() => GgufLoraAdapter.Read(model, Llama));
        Assert.Equal($"{model}: not a LoRA adapter (general.type is missing, expected 'adapter').", e.Message);
        string other = dir.File("other.gguf");
        Header("llama", type: "model").Save(other);
        Assert.Contains("general.type is 'model'", Assert.Throws<InvalidDataException>(() => GgufLoraAdapter.Read(other, Llama)).Message);
        // A smaller model of the same architecture: layer 1 of the adapter has nothing to attach to.
        e = Assert.Throws<InvalidDataException>(() => GgufLoraAdapter.Read(adapter, Llama with { Layers = 1 }));
        Assert.Contains("tensor 'blk.1.attn_q.weight.lora_a' has no base projection", e.Message);
        // A wider MLP: the shapes do not fit.
        e = Assert.Throws<InvalidDataException>(() => GgufLoraAdapter.Read(adapter, Llama with { Intermediate = 128 }));
        Assert.Contains("'blk.0.ffn_gate.weight.lora_a' [64, 8] and 'blk.0.ffn_gate.weight.lora_b' [8, 96] do not fit 'model.layers.0.mlp.gate_proj' (out 128, in 64)", e.Message);
    }

    [Fact]
    public void Writing_refuses_bad_modules_before_creating_the_file()
    {
        using var dir = new TempDir();
        string path = dir.File("a.gguf");
        var good = GgufLoraParityTests.SeededModules(Gpt2, 1);
        var a8 = new float[8 * 64];
        var cases = new (Action Write, string Message)[]
        {
            (() => GgufLoraAdapter.Write(path, Gpt2, 16f, [new GgufLoraModule("transformer.h.0.attn.q_proj", 8, 64, 64, a8, new float[64 * 8])]),
                "module 'transformer.h.0.attn.q_proj' has no tensor in a gpt2 GGUF file"),
            (() => GgufLoraAdapter.Write(path, Gpt2, 16f, [new GgufLoraModule("lm_head", 8, 64, 300, a8, new float[300 * 8])]),
                "module 'lm_head' has no tensor in a gpt2 GGUF file"),
            (() => GgufLoraAdapter.Write(path, Gpt2, 16f, [new GgufLoraModule("transformer.h.0.attn.c_attn", 8, 64, 64, a8, new float[64 * 8])]),
                "module 'transformer.h.0.attn.c_attn' has rank 8, (out 64, in 64); the model's projection is (out 192, in 64)"),
            (() => GgufLoraAdapter.Write(path, Gpt2, 16f, [new GgufLoraModule("transformer.h.0.attn.c_attn", 8, 64, 192, a8, new float[10])]),
                "module 'transformer.h.0.attn.c_attn': A holds 512 values and B 10, expected 8×64 and 192×8"),
            (() => GgufLoraAdapter.Write(path, Gpt2, 16f, [good[0], good[0]]), $"module '{good[0].Name}' is given twice"),
            (() => GgufLoraAdapter.Write(path, Gpt2, 0f, good), "alpha 0 must be positive"),
            (() => GgufLoraAdapter.Write(path, Gpt2, 16f, good, GgmlType.Q8_0), "tensor type Q8_0 is not supported"),
            (() => GgufLoraAdapter.Write(path, Gpt2 with { ModelType = "bert" }, 16f, good), "model_type 'bert' has no llama.cpp architecture"),
        };
        foreach (var (write, message) in cases)
        {
            var e = Assert.Throws<ArgumentException>(write);
            Assert.Contains(message, e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.False(File.Exists(path));
        }
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}

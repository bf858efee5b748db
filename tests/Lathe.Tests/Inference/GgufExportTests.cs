using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Data;
using Lathe.Tokenizers;

namespace Lathe.Tests.Inference;

/// <summary>Export of Lathe checkpoints to GGUF and re-encoding of GGUF files: what is written reads back as the same
/// model (exactly for F32, exactly the rounded weights for the block types), tokenizers survive, and the numpy-written
/// Q8_0/Q4_0 fixtures equal Lathe's re-encoding of the F32 fixture byte for byte (two quantizers, one rounding rule).</summary>
public class GgufExportTests
{
    static readonly ModelConfig Llama = new()
    {
        ModelType = "llama", VocabSize = 300, MaxPositions = 64, Embd = 64, Layers = 2, Heads = 4, KvHeads = 2,
        Intermediate = 96, TieEmbeddings = false, NormEps = 1e-5f, RopeTheta = 10000,
    };

    static Tokenizer SmallTokenizer() =>
        new BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train(["the whale and the ship, the sea and the sky; 12 whales!"]);

    static float[] Logits(CausalLM model, int[] ids)
    {
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
            return model.Logits(ids, 1, ids.Length).ToArray();
    }

    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    public void A_llama_model_exported_and_loaded_gives_the_logits_of_its_rounded_weights(GgmlType type)
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "m.gguf");
        using var model = CausalLM.Create(Llama, seed: 3);
        GgufExport.Save(model, SmallTokenizer(), path, type);
        using var loaded = GgufModelLoader.Load(path);
        Assert.Equal(Llama with { MaxPositions = 64 }, loaded.Config with { InitStd = Llama.InitStd });
        // The reference: the same model with every exported weight rounded through the type in place.
        GgufExport.RoundTripWeights(model, type);
        int[] ids = [1, 5, 9, 200, 17, 3, 299, 42];
        Assert.Equal(Logits(model, ids), Logits(loaded, ids));
        using var file = GgufFile.Open(path);
        Assert.Equal(type, file.Get("blk.0.attn_q.weight").Type);
        Assert.Equal(GgufExport.StoredType(type, 96), file.Get("blk.1.ffn_down.weight").Type);   // 96 = 3 blocks of 32
        Assert.Equal(GgmlType.F32, file.Get("blk.0.attn_norm.weight").Type);
    }

    [Fact]
    public void The_weight_callback_receives_raw_quantized_rows_in_lathe_order()
    {
        using var model = GgufModelLoader.Load(GgufParityTests.Fixture("gpt2vocab-q8_0.gguf"));
        var taken = new Dictionary<string, GgufWeight>();
        using var kept = GgufModelLoader.Load(GgufParityTests.Fixture("gpt2vocab-q8_0.gguf"),
            new GgufLoadOptions { TakeWeight = w => { taken[w.ParameterName] = w; return w.ParameterName.Contains("q_proj"); } });
        var q = taken["model.layers.1.self_attn.q_proj.weight"];
        Assert.Equal((GgmlType.Q8_0, 64, 64, 64 / 32 * 34), (q.Type, q.Rows, q.Cols, q.RowBytes));
        // Dequantizing the handed-over bytes gives the F32 parameter the plain load built.
        var values = new float[q.Rows * q.Cols];
        Lathe.Tensors.Quantized.Q8_0.Dequantize(q.Data, values);
        var expected = model.Parameters.First(p => p.Name == q.ParameterName).Value.AsSpan().ToArray();
        Assert.Equal(expected, values);
        Assert.All(kept.Parameters.First(p => p.Name == q.ParameterName).Value.AsSpan().ToArray(), v => Assert.Equal(0f, v));
        Assert.True(taken.ContainsKey("lm_head.weight") && !taken.ContainsKey("model.embed_tokens.weight"));
    }

    [Fact]
    public void Requantizing_the_f32_fixture_reproduces_the_numpy_written_block_files_byte_for_byte()
    {
        using var dir = new TempDir();
        using var source = GgufFile.Open(GgufParityTests.Fixture("gpt2vocab-f32.gguf"));
        foreach (var (type, fixture) in new[] { (GgmlType.Q8_0, "gpt2vocab-q8_0.gguf"), (GgmlType.Q4_0, "gpt2vocab-q4_0.gguf") })
        {
            string path = Path.Combine(dir.Path, fixture);
            GgufExport.Requantize(source, path, type);
            using var mine = GgufFile.Open(path);
            using var theirs = GgufFile.Open(GgufParityTests.Fixture(fixture));
            Assert.Equal(theirs.Tensors.Count, mine.Tensors.Count);
            foreach (var t in theirs.Tensors)
            {
                var m = mine.Get(t.Name);
                Assert.Equal(t.Type, m.Type);
                Assert.Equal(t.Dims, m.Dims);
                Assert.True(theirs.Bytes(t).SequenceEqual(mine.Bytes(m)), $"{fixture}: tensor {t.Name} differs");
            }
            Assert.Equal(GgufTokenizer.Read(theirs).Encode("Call me Ishmael."), GgufTokenizer.Read(mine).Encode("Call me Ishmael."));
        }
    }

    [Fact]
    public void A_gpt2_export_has_llama_cpp_tensor_names_and_its_tokenizer_reads_back_the_same()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "g.gguf");
        var config = new ModelConfig { ModelType = "gpt2", VocabSize = 320, MaxPositions = 32, Embd = 64, Layers = 1, Heads = 4, KvHeads = 4, Intermediate = 256 };
        using var model = CausalLM.Create(config, seed: 5);
        var tokenizer = SmallTokenizer();
        GgufExport.Save(model, tokenizer, path, GgmlType.Q8_0);
        using var file = GgufFile.Open(path);
        Assert.Equal("gpt2", file.Meta<string>("general.architecture"));
        Assert.Equal(new long[] { 64, 192 }, file.Get("blk.0.attn_qkv.weight").Dims);
        Assert.Equal(new long[] { 192 }, file.Get("blk.0.attn_qkv.bias").Dims);
        Assert.Equal(new long[] { 64, 32 }, file.Get("position_embd.weight").Dims);
        Assert.Equal(GgmlType.F32, file.Get("position_embd.weight").Type);
        // c_fc (out 256, in 64): stored Q8_0 rows of 64; the dequantized file equals the in-place rounding.
        var fc = model.Parameters.First(p => p.Name == "transformer.h.0.mlp.c_fc.weight").Value.AsSpan().ToArray();
        GgufExport.RoundTrip(fc, GgmlType.Q8_0);
        Assert.Equal(fc, file.ReadFloats("blk.0.ffn_up.weight"));
        var read = GgufTokenizer.Read(file);
        Assert.Equal(320, read.VocabSize);
        string text = "the whale and the sky, 12 whales! ünïcode";
        Assert.Equal(tokenizer.Encode(text, allowSpecial: false), read.Encode(text));
        Assert.Equal(text, read.Decode(read.Encode(text)));
        Assert.Equal(tokenizer.EndOfTextId, read.EosId);
        // Read back as a model: the logits of the weights rounded in place.
        using var loaded = GgufModelLoader.Load(path);
        Assert.Equal(config, loaded.Config);
        GgufExport.RoundTripWeights(model, GgmlType.Q8_0);
        int[] ids = [3, 1, 4, 1, 5, 9, 2, 6, 300, 319];
        Assert.Equal(Logits(model, ids), Logits(loaded, ids));
    }
}

/// <summary>llama.cpp runs what Lathe writes: seeded Lathe models (a llama and a gpt2) exported to F32 GGUF are committed
/// as fixtures (lathe-export-*.gguf); the exporter must still write them byte for byte, and llama.cpp's greedy
/// continuation of them (recorded by make_llama_cpp_reference.mjs) must equal Lathe's own. Regenerate the files with
/// LATHE_REGENERATE_GGUF_EXPORTS=1 dotnet test … --filter GgufExportParityTests, then make_llama_cpp_reference.mjs.</summary>
public class GgufExportParityTests
{
    internal static readonly (string Name, ModelConfig Config)[] Models =
    [
        ("lathe-export-llama-f32", new ModelConfig { ModelType = "llama", VocabSize = 300, MaxPositions = 128, Embd = 64, Layers = 1, Heads = 4,
            KvHeads = 2, Intermediate = 64, TieEmbeddings = false, InitStd = 0.5f }),
        ("lathe-export-gpt2-f32", new ModelConfig { ModelType = "gpt2", VocabSize = 300, MaxPositions = 128, Embd = 64, Layers = 1, Heads = 4,
            KvHeads = 4, Intermediate = 128, InitStd = 0.2f }),
    ];

    static Lathe.Tokenizers.Tokenizer Tokenizer() =>
        new Lathe.Tokenizers.BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train(["the whale and the ship, the sea and the sky; 12 whales!"]);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Llama_cpp_continues_lathe_exports_as_lathe_does(int which)
    {
        var (name, config) = Models[which];
        using var model = CausalLM.Create(config, seed: 21);
        using var dir = new TempDir();
        string written = Path.Combine(dir.Path, name + ".gguf");
        GgufExport.Save(model, Tokenizer(), written, GgmlType.F32, name);
        if (Environment.GetEnvironmentVariable("LATHE_REGENERATE_GGUF_EXPORTS") == "1")
            File.Copy(written, Path.Combine(Peers.RepoRoot, "tests", "Lathe.Tests", "Inference", "fixtures", "gguf", name + ".gguf"), overwrite: true);
        Assert.True(File.ReadAllBytes(written).AsSpan().SequenceEqual(File.ReadAllBytes(GgufParityTests.Fixture(name + ".gguf"))),
            $"{name}: the exporter no longer writes the committed fixture");
        var reference = GgufParityTests.Reference(name);
        int[] prompt = reference.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] expected = reference.GetProperty("greedy").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var greedy = new Lathe.Inference.SamplingOptions { Temperature = 0, TopK = 0, TopP = 1, MinP = 0 };
        using (var generator = new Lathe.Inference.Generator(model))
            Assert.Equal(expected, generator.Generate(prompt, expected.Length, greedy).ToArray());
        // And Lathe reading the file back continues it the same way.
        using var loaded = GgufModelLoader.Load(written, new GgufLoadOptions { ContextLength = config.MaxPositions });
        using (var generator = new Lathe.Inference.Generator(loaded))
            Assert.Equal(expected, generator.Generate(prompt, expected.Length, greedy).ToArray());
    }
}

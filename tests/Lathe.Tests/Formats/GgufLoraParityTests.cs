using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Data;

namespace Lathe.Tests.Formats;

/// <summary>Lathe's GGUF LoRA adapters against llama.cpp (node-llama-cpp 3.22.1): seeded random-weight llama and gpt2
/// models exported to F32 GGUF, seeded random LoRA pairs (nonzero B) on every projection written with
/// <see cref="GgufLoraAdapter.Write"/>, all committed in fixtures/gguf-lora/ with llama.cpp's greedy continuation and
/// next-token logits of base + adapter (make_gguf_lora_reference.mjs; regenerate everything with
/// make_gguf_lora_fixtures.sh). Lathe applies the adapter by routes that do not use the adapter reader: the pairs the
/// test generated merged into the weights as W + (alpha/r)·B·A in double, and the same pairs unmerged in the
/// projections' adapter slot.</summary>
public class GgufLoraParityTests
{
    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Formats", "fixtures", "gguf-lora", name);

    /// <summary>One comparison: base model, its seeded adapter, and the user scale llama.cpp applied it with.</summary>
    internal sealed record Case(string Name, string Base, string? Adapter, float UserScale);

    internal static readonly Case[] Cases =
    [
        new("llama", "llama-base-f32", "llama-lora-f32", 1f),
        new("llama-scale0.5", "llama-base-f32", "llama-lora-f32", 0.5f),
        new("gpt2", "gpt2-base-f32", "gpt2-lora-f32", 1f),
        // The bases alone, to tell the engines' own distance from what the adapter adds.
        new("llama-base", "llama-base-f32", null, 0f),
        new("gpt2-base", "gpt2-base-f32", null, 0f),
    ];

    static List<GgufLoraModule> Modules(Case c) => c.Adapter is null ? [] : SeededModules(Models[c.Base], 41);

    internal static readonly Dictionary<string, ModelConfig> Models = new()
    {
        // Untied head, so lm_head ("output.weight") carries a pair too; 2 layers so blk.1 names are exercised.
        ["llama-base-f32"] = new ModelConfig { ModelType = "llama", VocabSize = 300, MaxPositions = 128, Embd = 64, Layers = 2, Heads = 4,
            KvHeads = 2, Intermediate = 96, TieEmbeddings = false, InitStd = 0.5f },
        ["gpt2-base-f32"] = new ModelConfig { ModelType = "gpt2", VocabSize = 300, MaxPositions = 128, Embd = 64, Layers = 2, Heads = 4,
            KvHeads = 4, Intermediate = 128, InitStd = 0.2f },
    };

    internal const float Alpha = 16f;

    /// <summary>The seeded adapter of a base: a pair on every projection GGUF can carry, rank 8 except one rank-4 pair
    /// (llama.cpp scales each pair by alpha over its own rank), A ~ N(0, 0.3), B ~ N(0, 0.3·InitStd) — large enough
    /// that the adapter changes the greedy continuation.</summary>
    internal static List<GgufLoraModule> SeededModules(ModelConfig config, ulong seed)
    {
        var rng = new Philox(seed);
        var modules = new List<GgufLoraModule>();
        foreach (var t in GgufLoraTargets.For(config))
        {
            int rank = t.Module == "model.layers.1.mlp.down_proj" ? 4 : 8;
            var a = new float[rank * t.InFeatures];
            var b = new float[t.OutFeatures * rank];
            rng.FillNormal(a, 0, 0.3f);
            rng.FillNormal(b, 0, 0.3f * config.InitStd);
            modules.Add(new GgufLoraModule(t.Module, rank, t.InFeatures, t.OutFeatures, a, b));
        }
        return modules;
    }

    static Lathe.Tokenizers.Tokenizer Tokenizer() =>
        new Lathe.Tokenizers.BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train(["the whale and the ship, the sea and the sky; 12 whales!"]);

    static bool Regenerating => Environment.GetEnvironmentVariable("LATHE_REGENERATE_GGUF_LORA") == "1";

    /// <summary>The base GGUFs and adapters are what the exporter and <see cref="GgufLoraAdapter.Write"/> write today,
    /// byte for byte (so llama.cpp's recorded outputs are of the files these writers make). With
    /// LATHE_REGENERATE_GGUF_LORA=1 this writes the fixtures into the source tree instead.</summary>
    [Fact]
    public void The_committed_fixtures_are_what_Lathe_writes()
    {
        using var dir = new TempDir();
        foreach (var (baseName, config) in Models)
        {
            string arch = config.ModelType;
            using var model = CausalLM.Create(config, seed: 31);
            string basePath = dir.File(baseName + ".gguf"), adapterPath = dir.File(arch + "-lora-f32.gguf");
            GgufExport.Save(model, Tokenizer(), basePath, GgmlType.F32, baseName);
            GgufLoraAdapter.Write(adapterPath, config, Alpha, SeededModules(config, 41));
            foreach (string written in new[] { basePath, adapterPath })
            {
                string committed = Path.Combine(Peers.RepoRoot, "tests", "Lathe.Tests", "Formats", "fixtures", "gguf-lora", Path.GetFileName(written));
                if (Regenerating) { Directory.CreateDirectory(Path.GetDirectoryName(committed)!); File.Copy(written, committed, overwrite: true); continue; }
                Assert.True(File.ReadAllBytes(written).AsSpan().SequenceEqual(File.ReadAllBytes(Fixture(Path.GetFileName(written)))),
                    $"{Path.GetFileName(written)}: Lathe no longer writes the committed fixture (regenerate with make_gguf_lora_fixtures.sh)");
            }
        }
    }

    static JsonElement Reference(string name) =>
        JsonDocument.Parse(File.ReadAllText(Fixture("llama_cpp_lora_reference.json"))).RootElement.GetProperty("models").GetProperty(name);

    static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>The base fixture loaded by Lathe with the test's own pairs merged: W += s·B·A, s = userScale·alpha/r,
    /// the product accumulated in double.</summary>
    static CausalLM MergedModel(Case c)
    {
        var config = Models[c.Base];
        var model = GgufModelLoader.Load(Fixture(c.Base + ".gguf"), new GgufLoadOptions { ContextLength = config.MaxPositions });
        foreach (var m in Modules(c))
        {
            var w = model.Parameters.First(p => p.Name == m.Name + ".weight").Value.AsSpan();
            double s = c.UserScale * (double)Alpha / m.Rank;
            for (int o = 0; o < m.OutFeatures; o++)
                for (int i = 0; i < m.InFeatures; i++)
                {
                    double sum = 0;
                    for (int k = 0; k < m.Rank; k++) sum += (double)m.B[o * m.Rank + k] * m.A[k * m.InFeatures + i];
                    w[o * m.InFeatures + i] = (float)(w[o * m.InFeatures + i] + s * sum);
                }
        }
        return model;
    }

    /// <summary>y + s·(x·Aᵀ)·Bᵀ in the projection's adapter slot: llama.cpp's own unmerged form.</summary>
    sealed class SlotLora(GgufLoraModule m, float scale) : ILinearAdapter, IDisposable
    {
        readonly Tensor _a = Tensor.FromArray(m.A, m.Rank, m.InFeatures), _b = Tensor.FromArray(m.B, m.OutFeatures, m.Rank);
        public Tensor Forward(Tensor x, Tensor y) => Ops.Add(y, Ops.Scale(Ops.Linear(Ops.Linear(x, _a, null), _b, null), scale));
        public void Dispose() { _a.Dispose(); _b.Dispose(); }
    }

    static CausalLM SlotModel(Case c, List<SlotLora> attached)
    {
        var config = Models[c.Base];
        var model = GgufModelLoader.Load(Fixture(c.Base + ".gguf"), new GgufLoadOptions { ContextLength = config.MaxPositions });
        foreach (var m in Modules(c))
        {
            var adapter = new SlotLora(m, c.UserScale * Alpha / m.Rank);
            model.Linears.First(l => l.Name == m.Name).Adapter = adapter;
            attached.Add(adapter);
        }
        return model;
    }

    static readonly SamplingOptions Greedy = new() { Temperature = 0, TopK = 0, TopP = 1, MinP = 0 };

    /// <summary>Same greedy 32 tokens as llama.cpp running base + adapter, through the generator's KV-cache path, for
    /// the merged and the slot routes; and the adapter matters (the base alone continues differently).</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Greedy_continuation_with_the_adapter_equals_llama_cpp(int which)
    {
        var c = Cases[which];
        var reference = Reference(c.Name);
        int[] prompt = Ints(reference.GetProperty("prompt")), expected = Ints(reference.GetProperty("greedy"));
        Assert.Equal(32, expected.Length);
        using (var merged = MergedModel(c))
        using (var generator = new Generator(merged))
            Assert.Equal(expected, generator.Generate(prompt, expected.Length, Greedy).ToArray());
        var attached = new List<SlotLora>();
        using (var slot = SlotModel(c, attached))
        using (var generator = new Generator(slot))
            Assert.Equal(expected, generator.Generate(prompt, expected.Length, Greedy).ToArray());
        attached.ForEach(a => a.Dispose());
        using var plain = GgufModelLoader.Load(Fixture(c.Base + ".gguf"), new GgufLoadOptions { ContextLength = 128 });
        using var plainGenerator = new Generator(plain);
        Assert.NotEqual(expected, plainGenerator.Generate(prompt, expected.Length, Greedy).ToArray());
    }

    /// <summary>Next-token logits at five steps (llama.cpp's prompt + greedy tokens teacher-forced through Lathe in
    /// one pass), merged and slot routes. Both engines compute in float32; llama.cpp adds s·B·(A·x) unmerged per token.
    /// llama: measured max |Δlogit| 3.7e-5 merged / 3.2e-5 slot (logits up to 15; the base alone 4.0e-5; scale 0.5:
    /// 5.0e-5) and max KL(llama.cpp ‖ Lathe) 8.4e-11 / 5.5e-12 (base 8.9e-11, scale 0.5: 2.3e-10); bounds 2e-4 and 2e-9.
    /// gpt2: llama.cpp's CPU GELU looks its result up in an F16 table (input and output rounded to F16, ggml's
    /// GGML_GELU_FP16), so the base alone is already 2.3e-3 / 2.1e-7 apart; with the adapter 3.0e-3 / 2.7e-7 for both
    /// routes; bounds 1e-2 and 1e-6. (A wrong q/k row order or scale changes the greedy tokens, far beyond these.)</summary>
    [Theory]
    [InlineData(0, false, 2e-4, 2e-9)]
    [InlineData(0, true, 2e-4, 2e-9)]
    [InlineData(1, false, 2e-4, 2e-9)]
    [InlineData(2, false, 1e-2, 1e-6)]
    [InlineData(2, true, 1e-2, 1e-6)]
    [InlineData(3, false, 2e-4, 2e-9)]
    [InlineData(4, false, 1e-2, 1e-6)]
    public void Next_token_logits_with_the_adapter_match_llama_cpp(int which, bool slot, double maxLogitDiff, double maxKlBound)
    {
        var c = Cases[which];
        var reference = Reference(c.Name);
        int[] prompt = Ints(reference.GetProperty("prompt")), greedy = Ints(reference.GetProperty("greedy"));
        int[] ids = [.. prompt, .. greedy];
        var attached = new List<SlotLora>();
        using var model = slot ? SlotModel(c, attached) : MergedModel(c);
        int V = model.Config.VocabSize;
        float[] logits;
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
            logits = model.Logits(ids, 1, ids.Length).ToArray();
        attached.ForEach(a => a.Dispose());
        double maxDiff = 0, maxKl = 0, maxAbs = 0;
        foreach (var record in reference.GetProperty("logits").EnumerateArray())
        {
            int step = record.GetProperty("step").GetInt32();
            double[] expected = record.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(V, expected.Length);
            var actual = logits.AsSpan((prompt.Length - 1 + step) * V, V);
            for (int v = 0; v < V; v++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(expected[v] - actual[v]));
                maxAbs = Math.Max(maxAbs, Math.Abs(expected[v]));
            }
            maxKl = Math.Max(maxKl, Lathe.Tests.Inference.GgufParityTests.KlDivergence(expected, actual));
        }
        Console.WriteLine($"GGUF LoRA parity {c.Name} ({(slot ? "slot" : "merged")}): max |Δlogit| {maxDiff:E2} (max |logit| {maxAbs:F2}), max KL {maxKl:E2}");
        Assert.True(maxDiff < maxLogitDiff, $"{c.Name}: max |Δlogit| {maxDiff} ≥ {maxLogitDiff}");
        Assert.True(maxKl < maxKlBound, $"{c.Name}: max KL(llama.cpp ‖ Lathe) {maxKl} ≥ {maxKlBound}");
    }
}

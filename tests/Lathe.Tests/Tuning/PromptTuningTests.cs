using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tests.Models;
using Lathe.Tokenizers;
using Lathe.Tuning;
using static Lathe.Tests.Tuning.TuningTestSupport;

namespace Lathe.Tests.Tuning;

/// <summary>Prompt tuning: PyTorch parity of the rows' gradient, text initialisation, PEFT's folder, decoding with the
/// rows in the generator's cache, a frozen base and exact resume.</summary>
public class PromptTuningTests
{
    static readonly PromptTuningConfig Three = new() { VirtualTokens = 3 };

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Matches_PyTorch_logits_and_the_gradient_of_the_rows(string arch)
    {
        using var model = BaseModel("prompt_" + arch, arch);
        using var method = PromptTuning.Attach(model, Three, 1);
        Assert.Equal(3, method.VirtualTokens);
        CheckParity("prompt_" + arch, model, method);
    }

    [Fact]
    public void The_rows_gradient_matches_finite_differences()
    {
        using var model = BaseModel("prompt_gpt2", "gpt2");
        using var method = PromptTuning.Attach(model, Three, 1);
        CheckFiniteDifferences("prompt_gpt2", method);
    }

    /// <summary>Each character is its code point mod 64 — enough to check which rows TEXT init copies.</summary>
    sealed class CharTokenizer : ITokenizer
    {
        public int VocabSize => 64;
        public int EndOfTextId => 0;
        public void Encode(string text, List<int> ids) { foreach (char ch in text) ids.Add(ch % 64); }
        public List<int> Encode(string text, bool allowSpecial = true) { var ids = new List<int>(); Encode(text, ids); return ids; }
        public List<Token> EncodeWithOffsets(string text, bool allowSpecial = true) => throw new NotSupportedException();
        public string Decode(IEnumerable<int> ids) => throw new NotSupportedException();
        public byte[] DecodeBytes(IEnumerable<int> ids) => throw new NotSupportedException();
        public IReadOnlyList<(string Text, int Id)> SpecialTokens => [];
        public void Save(string path) => throw new NotSupportedException();
    }

    [Fact]
    public void Text_init_repeats_the_texts_token_embeddings_to_fill_the_rows_and_random_init_is_seeded()
    {
        using var model = CausalLM.Create(Gpt2, 2);
        var config = new PromptTuningConfig { VirtualTokens = 5, Init = PromptTuningInit.Text, InitText = "ab" };
        using var method = PromptTuning.Attach(model, config, 1, new CharTokenizer());
        float[] wte = model.Parameters.First(p => p.Name == "transformer.wte.weight").Value.ToArray();
        float[] rows = method.Rows.ToArray();
        int[] expected = ['a' % 64, 'b' % 64, 'a' % 64, 'b' % 64, 'a' % 64];   // "ab" repeated, cut at P = 5
        for (int i = 0; i < 5; i++)
            Assert.True(rows.AsSpan(i * 32, 32).SequenceEqual(wte.AsSpan(expected[i] * 32, 32)), $"row {i}");
        Assert.Throws<ArgumentException>(() => PromptTuning.Attach(model, config, 1, null));
        using var a = PromptTuning.Attach(model, Three, 9);
        using var b = PromptTuning.Attach(model, Three, 9);
        Assert.True(a.Rows.ToArray().AsSpan().SequenceEqual(b.Rows.ToArray()));
        double sumSquares = a.Rows.ToArray().Sum(x => (double)x * x);
        Assert.InRange(sumSquares / 96, 0.5, 1.6);   // N(0, 1), PEFT's RANDOM
    }

    [Fact]
    public void Saves_and_loads_PEFTs_folder()
    {
        string dir = CheckpointTests.TempDir();
        using var model = CausalLM.Create(Llama, 2);
        int[] ids = Corpus(10, 4);
        using var method = PromptTuning.Attach(model, new PromptTuningConfig { VirtualTokens = 4, Init = PromptTuningInit.Text, InitText = "hello" }, 1, new CharTokenizer());
        method.Save(dir);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json"))))
        {
            var root = doc.RootElement;
            Assert.Equal("PROMPT_TUNING", root.GetProperty("peft_type").GetString());
            Assert.Equal(4, root.GetProperty("num_virtual_tokens").GetInt32());
            Assert.Equal(32, root.GetProperty("token_dim").GetInt32());
            Assert.Equal("TEXT", root.GetProperty("prompt_tuning_init").GetString());
            Assert.Equal("hello", root.GetProperty("prompt_tuning_init_text").GetString());
        }
        using (var file = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
            Assert.Equal([4L, 32], file.Entries["prompt_embeddings"].Shape);
        using var loaded = PromptTuning.Load(model, dir);
        Assert.True(Logits(method, ids, 2, 5).AsSpan().SequenceEqual(Logits(loaded, ids, 2, 5)));
        using var gpt2 = CausalLM.Create(Gpt2 with { Embd = 16, Heads = 2, KvHeads = 2 }, 1);
        var e = Assert.Throws<InvalidDataException>(() => PromptTuning.Load(gpt2, dir));
        Assert.Contains("token_dim", e.Message);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void The_generator_puts_the_rows_before_the_prompt_as_the_full_forward_does(string arch)
    {
        using var model = CausalLM.Create(For(arch) with { InitStd = 0.2f }, 3);
        using var method = PromptTuning.Attach(model, Three, 4);
        int[] prompt = Corpus(4, 5);
        var tokens = new List<int>(prompt);
        using var generator = new Generator(model, method.Rows);
        for (int round = 0; round < 2; round++)   // the second prompt reuses the cached rows and tokens
        {
            var generated = generator.Generate([.. tokens], 3, new SamplingOptions { Temperature = 0 }).ToArray();
            Assert.Equal(3, generated.Length);
            // Round 0 runs the rows and 4 tokens; round 1 finds the rows, the 4 tokens and the 2 fed-back ones cached.
            Assert.Equal(round == 0 ? 4 : 1, generator.PromptTokensProcessed);
            foreach (int next in generated)
            {
                float[] logits = Logits(method, [.. tokens], 1, tokens.Count);   // (P+T, V)
                var last = logits.AsSpan((3 + tokens.Count - 1) * 64, 64);
                int argmax = 0;
                for (int v = 1; v < 64; v++) if (last[v] > last[argmax]) argmax = v;
                Assert.Equal(argmax, next);
                tokens.Add(next);
            }
        }
        Assert.Equal(10, tokens.Count);   // with the 3 rows, 13 of the 16 positions
        // The rows count against the context: 14 tokens + 3 rows exceed 16.
        var e = Assert.Throws<ArgumentException>(() => generator.Generate(Corpus(14, 6), 1, new SamplingOptions { Temperature = 0 }).ToArray());
        Assert.Contains("prompt-tuning rows", e.Message);
    }

    [Fact]
    public void Training_resumes_bit_for_bit_and_leaves_the_base_unchanged()
    {
        using (var model = CausalLM.Create(Llama, 5))
        using (var method = PromptTuning.Attach(model, Three, 6))
            CheckFrozenBase(model, method);
        CheckExactResume(() => CausalLM.Create(Gpt2, 5), (model, seed) => PromptTuning.Attach(model, Three, seed), n: 2);
    }
}

using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Tuning;
using static Lathe.Tests.Tuning.TuningTestSupport;

namespace Lathe.Tests.Tuning;

/// <summary>Prefix tuning: PyTorch parity through the reparameterisation MLP (gpt2 and grouped-query llama), the
/// folded PEFT file, cached decoding, a frozen base, exact resume and bad adapter folders.</summary>
public class PrefixTuningTests
{
    static readonly PrefixTuningConfig Projected = new() { VirtualTokens = 3, PrefixProjection = true, EncoderHiddenSize = 24 };

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Matches_PyTorch_logits_and_the_gradient_of_every_MLP_tensor(string arch)
    {
        using var model = BaseModel("prefix_" + arch, arch);
        using var method = PrefixTuning.Attach(model, Projected, 1);
        Assert.Equal(5, method.Trainable.Count);   // the embedding and the MLP's two Linear layers
        CheckParity("prefix_" + arch, model, method);
    }

    [Fact]
    public void The_MLP_gradient_matches_finite_differences()
    {
        using var model = BaseModel("prefix_llama", "llama");
        using var method = PrefixTuning.Attach(model, Projected, 1);
        CheckFiniteDifferences("prefix_llama", method);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Saving_folds_the_MLP_into_PEFTs_prompt_embeddings_which_load_to_the_same_logits(string arch)
    {
        string name = "prefix_" + arch, dir = CheckpointTests.TempDir();
        int[] ids = Corpus(12, 3);
        float[] trained;
        using (var model = BaseModel(name, arch))
        using (var method = PrefixTuning.Attach(model, Projected, 1))
        {
            SetMethodTensors(method, name);
            using (var expected = SafetensorsFile.Open(Fixture(name + ".expected.safetensors")))
                ModelParityTests.AssertClose("prompt_embeddings", expected.ReadFloats("prompt_embeddings"), method.PromptEmbeddings(), ForwardTolerance);
            trained = Logits(method, ids, 2, 6);
            method.Save(dir);
        }
        var c = For(arch);
        int width = c.Layers * 2 * c.KvHeads * c.HeadDim;
        using (var file = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
        {
            Assert.Equal(["prompt_embeddings"], file.Entries.Keys);
            Assert.Equal([3L, width], file.Entries["prompt_embeddings"].Shape);
        }
        Assert.True(File.Exists(Path.Combine(dir, PrefixTuning.EncoderStateFile)));
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json"))))
        {
            var root = doc.RootElement;
            Assert.Equal("PREFIX_TUNING", root.GetProperty("peft_type").GetString());
            Assert.Equal("CAUSAL_LM", root.GetProperty("task_type").GetString());
            Assert.Equal(3, root.GetProperty("num_virtual_tokens").GetInt32());
            Assert.Equal(c.KvHeads * c.HeadDim, root.GetProperty("token_dim").GetInt32());   // PEFT's GQA rule: kv heads only
            Assert.Equal(c.KvHeads, root.GetProperty("num_attention_heads").GetInt32());
            Assert.Equal(2, root.GetProperty("num_layers").GetInt32());
            Assert.Equal(24, root.GetProperty("encoder_hidden_size").GetInt32());
            Assert.True(root.GetProperty("prefix_projection").GetBoolean());
        }
        using (var model = BaseModel(name, arch))
        using (var loaded = PrefixTuning.Load(model, dir))
        {
            Assert.Single(loaded.Trainable);   // an inference table
            // The table holds exactly the floats the MLP produced, through the same kernels: the same logits, bit for bit.
            Assert.True(trained.AsSpan().SequenceEqual(Logits(loaded, ids, 2, 6)));
            loaded.Detach();
            loaded.Detach();   // idempotent
            float[] plain = Logits(new NoMethod(model), ids, 2, 6);
            using var bare = BaseModel(name, arch);
            Assert.True(plain.AsSpan().SequenceEqual(Logits(new NoMethod(bare), ids, 2, 6)));
        }
    }

    /// <summary>The model with no method: for comparing logits after Detach.</summary>
    sealed class NoMethod(CausalLM model) : ITuningMethod
    {
        public string Name => "none";
        public LanguageModel Model => model;
        public IReadOnlyList<ModelParameter> Trainable => [];
        public int VirtualTokens => 0;
        public Tensor Embed(ReadOnlySpan<int> ids, int B, int T) => model.Embed(ids, B, T);
        public void Save(string dir) { }
        public void Load(string dir) { }
        public void Detach() { }
        public void Attach() { }
        public void Dispose() { }
    }

    [Fact]
    public void Greedy_decoding_through_the_cache_matches_argmax_of_full_forwards_after_training()
    {
        using var model = BaseModel("prefix_llama", "llama");
        using var method = PrefixTuning.Attach(model, Projected, 4);
        CheckFrozenBase(model, method);   // trains 3 steps: the last prefix set was the tape's
        method.Materialize();
        int[] prompt = Corpus(5, 8);
        var tokens = new List<int>(prompt);
        using (var generator = new Generator(model))
        {
            var generated = generator.Generate(prompt, 6, new SamplingOptions { Temperature = 0 }).ToArray();
            foreach (int next in generated)
            {
                float[] logits = Logits(method, [.. tokens], 1, tokens.Count);
                var last = logits.AsSpan((tokens.Count - 1) * 64, 64);
                int argmax = 0;
                for (int v = 1; v < 64; v++) if (last[v] > last[argmax]) argmax = v;
                Assert.Equal(argmax, next);
                tokens.Add(next);
            }
            Assert.Equal(6, generated.Length);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Training_resumes_bit_for_bit_and_leaves_the_base_unchanged(bool projection)
    {
        var config = new PrefixTuningConfig { VirtualTokens = 2, PrefixProjection = projection };
        using (var model = CausalLM.Create(Gpt2, 5))
        using (var method = PrefixTuning.Attach(model, config, 6))
            CheckFrozenBase(model, method);
        CheckExactResume(() => CausalLM.Create(Llama, 5), (model, seed) => PrefixTuning.Attach(model, config, seed), n: 2);
    }

    [Fact]
    public void Bad_folders_are_one_line_errors_naming_the_field_or_file()
    {
        string dir = CheckpointTests.TempDir();
        using (var model = CausalLM.Create(Gpt2, 5))
        using (var method = PrefixTuning.Attach(model, Projected, 6))
            method.Save(dir);
        using var llama = CausalLM.Create(Llama, 5);
        var e = Assert.Throws<InvalidDataException>(() => PrefixTuning.Load(llama, dir));
        Assert.Contains("token_dim: 32, but the model needs 16", e.Message);   // gpt2: 2 heads of 16; llama: 2 kv heads of 8
        File.Delete(Path.Combine(dir, PrefixTuning.EncoderStateFile));
        using var gpt2 = CausalLM.Create(Gpt2, 5);
        using var projected = PrefixTuning.Attach(gpt2, Projected, 6);
        e = Assert.Throws<InvalidDataException>(() => projected.Load(dir));
        Assert.Contains(PrefixTuning.EncoderStateFile, e.Message);
        e = Assert.Throws<InvalidDataException>(() => PromptTuning.Load(gpt2, dir));
        Assert.Contains("peft_type", e.Message);
        Assert.Throws<ArgumentException>(() => PrefixTuning.Attach(gpt2, new PrefixTuningConfig { VirtualTokens = 0 }, 1));
    }
}

using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;

namespace Lathe.Tests.Inference;

/// <summary>Embeddings (pooled final hidden states, L2-normalised) against an independent PyTorch GPT-2, Llama and BERT
/// run on each input alone in float64 (fixtures/make_embedding_fixtures.py), for every pooling; batching of inputs of
/// different lengths; the errors; and the pooling a model's files state.</summary>
public sealed class EmbedderTests : IDisposable
{
    readonly List<string> _dirs = [];

    public void Dispose()
    {
        foreach (var dir in _dirs) if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    // Unit vectors from float32 forwards through 2 layers vs a float64 reference: a few ulps per op, compounded, stay
    // well below 1e-5 absolute per component (the brief's bar).
    const float Tolerance = 1e-5f;

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Inference", "fixtures", name);

    static ModelConfig Gpt2 => new() { ModelType = "gpt2", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 128 };
    static ModelConfig Llama => new()
    {
        ModelType = "llama", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 48,
        NormEps = 1e-5f, TieEmbeddings = false,
    };

    internal static LanguageModel Load(string type)
    {
        var model = LanguageModel.Create(type switch { "gpt2" => Gpt2, "llama" => Llama, _ => BertParityTests.FixtureConfig }, seed: 1);
        Checkpoint.LoadWeights(Fixture($"embed_{type}.model.safetensors"), model);
        return model;
    }

    // The fixture's inputs, split by their lengths.
    internal static int[][] Inputs(SafetensorsFile expected)
    {
        int[] all = expected.ReadInts("inputs"), lengths = expected.ReadInts("lengths");
        var inputs = new int[lengths.Length][];
        for (int i = 0, at = 0; i < lengths.Length; at += lengths[i], i++) inputs[i] = all[at..(at + lengths[i])];
        return inputs;
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    [InlineData("bert")]
    public void Every_pooling_matches_PyTorch_per_input(string type)
    {
        using var model = Load(type);
        using var expected = SafetensorsFile.Open(Fixture($"embed_{type}.expected.safetensors"));
        var inputs = Inputs(expected);
        Assert.Contains(inputs, x => x.Length == 1);
        Assert.Contains(inputs, x => x.Length == model.Config.MaxPositions);   // a full context and a single token in one batch
        foreach (var (name, pooling) in new[] { ("mean", EmbeddingPooling.Mean), ("cls", EmbeddingPooling.Cls), ("last", EmbeddingPooling.LastToken),
                     ("max", EmbeddingPooling.Max), ("weightedmean", EmbeddingPooling.WeightedMean) })
        {
            var vectors = Embedder.Embed(model, inputs, pooling);
            Assert.Equal(inputs.Length, vectors.Length);
            float[] want = expected.ReadFloats(name), got = vectors.SelectMany(v => v).ToArray();
            Assert.Equal(want.Length, got.Length);
            double worst = 0;
            for (int i = 0; i < want.Length; i++) worst = Math.Max(worst, Math.Abs(want[i] - got[i]));
            Assert.True(worst <= Tolerance, $"{type} {name}: max abs error {worst:G3} exceeds {Tolerance:G3}");
            foreach (var v in vectors) Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 5);
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("bert")]
    public void A_batch_gives_each_input_what_it_gives_alone_in_the_callers_order(string type)
    {
        using var model = Load(type);
        // 300 inputs of 1…16 tokens (≈ 2,500 tokens): several batches under the token budget, lengths shuffled.
        var rng = new Philox(7);
        var inputs = new int[300][];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = new int[1 + rng.NextInt(16)];
            for (int t = 0; t < inputs[i].Length; t++) inputs[i][t] = rng.NextInt(93);
        }
        var batched = Embedder.Embed(model, inputs, EmbeddingPooling.Mean);
        double worst = 0;
        for (int i = 0; i < inputs.Length; i += 13)
        {
            var alone = Embedder.Embed(model, [inputs[i]], EmbeddingPooling.Mean)[0];
            for (int c = 0; c < alone.Length; c++) worst = Math.Max(worst, Math.Abs(alone[c] - batched[i][c]));
        }
        // Padding changes only which rows the GEMMs see, not what a real row computes; float32 rounding at most.
        Assert.True(worst <= 1e-6, $"batched vectors differ from the inputs' alone by {worst:G3}");
        Assert.Empty(Embedder.Embed(model, [], EmbeddingPooling.Mean));
    }

    [Fact]
    public void The_same_inputs_give_the_same_vectors_bit_for_bit()
    {
        using var model = Load("llama");
        int[][] inputs = [[1, 2, 3], [4, 5, 6, 7, 8], [9]];
        var a = Embedder.Embed(model, inputs);
        var b = Embedder.Embed(model, inputs);
        for (int i = 0; i < inputs.Length; i++) Assert.True(a[i].AsSpan().SequenceEqual(b[i]));
    }

    [Fact]
    public void Embedding_records_nothing_on_the_callers_tape()
    {
        using var model = Load("gpt2");
        using var tape = new Tape();
        using (tape.Activate())
        {
            int before = tape.Count;
            var v = Embedder.Embed(model, [[1, 2, 3, 4]]);
            Assert.Equal(before, tape.Count);
            Assert.Equal(Tape.Current, tape);   // the caller's tape is current again
            Assert.Equal(32, v[0].Length);
        }
    }

    [Fact]
    public void A_bert_classifier_embeds_with_its_encoder_as_the_pretraining_model_does()
    {
        using var bert = Load("bert");
        using var classifier = BertClassifier.FromPretrained(SaveBert(bert), ClassLabels.Default(2), seed: 3).Model;
        int[][] inputs = [[5, 6, 7], [8, 9, 10, 11, 12, 13]];
        var want = Embedder.Embed(bert, inputs, EmbeddingPooling.Cls);
        var got = Embedder.Embed(classifier, inputs, EmbeddingPooling.Cls);
        for (int i = 0; i < inputs.Length; i++) Assert.True(want[i].AsSpan().SequenceEqual(got[i]));
    }

    string SaveBert(LanguageModel bert)
    {
        string dir = TempDir();
        Checkpoint.SaveModel(dir, bert, null);
        return dir;
    }

    [Fact]
    public void Bad_inputs_are_one_line_errors_naming_the_input()
    {
        using var model = Load("llama");
        void Refused(int[] second, string message)
        {
            var e = Assert.Throws<ArgumentException>(() => Embedder.Embed(model, [[1, 2], second]));
            Assert.StartsWith(message, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        Refused([], "input 1: empty");
        Refused(Enumerable.Range(0, 17).ToArray(), "input 1: 17 tokens exceed the model's context of 16");
        Refused([4, 97], "input 1: token id 97 is outside the vocabulary of 97");
        Refused([4, -1], "input 1: token id -1 is outside the vocabulary of 97");
    }

    [Fact]
    public void An_encoder_decoder_is_refused_in_one_line()
    {
        using var t5 = LanguageModel.Create(new ModelConfig
        {
            ModelType = "t5", VocabSize = 61, Embd = 24, DKv = 8, Heads = 4, KvHeads = 4, Intermediate = 40, Layers = 1, DecoderLayers = 1,
            NormEps = 1e-6f, MaxPositions = 64,
        }, seed: 1);
        Assert.False(Embedder.Supports(t5));
        var e = Assert.Throws<NotSupportedException>(() => Embedder.Embed(t5, [[1, 2]]));
        Assert.Contains("t5", e.Message);
    }

    // ── The model's stated pooling ─────────────────────────────────────────────────────────────────────────────────

    string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lathe-embed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        _dirs.Add(dir);
        return dir;
    }

    static EmbeddingPooling PoolingOf(string source, string format = "hf")
    {
        using var loaded = new LoadedModel(Load("gpt2"), new ToyTokenizer(97, _ => [], _ => []), source, format);
        return Embedder.PoolingFor(loaded);
    }

    [Fact]
    public void A_folder_without_a_pooling_module_pools_by_the_mean()
    {
        Assert.Equal(EmbeddingPooling.Mean, PoolingOf(TempDir()));
        Assert.Equal(EmbeddingPooling.Mean, PoolingOf("(memory)", "checkpoint"));
    }

    [Theory]
    [InlineData("pooling_mode_cls_token", EmbeddingPooling.Cls)]
    [InlineData("pooling_mode_mean_tokens", EmbeddingPooling.Mean)]
    [InlineData("pooling_mode_lasttoken", EmbeddingPooling.LastToken)]
    [InlineData("pooling_mode_max_tokens", EmbeddingPooling.Max)]
    [InlineData("pooling_mode_weightedmean_tokens", EmbeddingPooling.WeightedMean)]
    [InlineData("pooling_mode_mean_sqrt_len_tokens", EmbeddingPooling.Mean)]
    public void A_sentence_transformers_pooling_config_names_the_pooling(string flag, EmbeddingPooling want)
    {
        string dir = TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "1_Pooling"));
        var flags = new[] { "pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
            "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken" };
        string json = "{\"word_embedding_dimension\": 32, " + string.Join(", ", flags.Select(f => $"\"{f}\": {(f == flag ? "true" : "false")}")) + ", \"include_prompt\": true}";
        File.WriteAllText(Path.Combine(dir, "1_Pooling", "config.json"), json);
        Assert.Equal(want, PoolingOf(dir));
    }

    [Fact]
    public void Modules_json_names_the_pooling_folder()
    {
        string dir = TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "pool"));
        File.WriteAllText(Path.Combine(dir, "modules.json"), """
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "pool", "type": "sentence_transformers.models.Pooling"},
             {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
            """);
        File.WriteAllText(Path.Combine(dir, "pool", "config.json"), """{"pooling_mode_lasttoken": true}""");
        Assert.Equal(EmbeddingPooling.LastToken, PoolingOf(dir));
        File.WriteAllText(Path.Combine(dir, "pool", "config.json"), """{"pooling_mode": "cls"}""");
        Assert.Equal(EmbeddingPooling.Cls, PoolingOf(dir));
    }

    [Theory]
    [InlineData("""{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}""", "are both true")]
    [InlineData("""{"pooling_mode_mean_tokens": false}""", "no pooling_mode_* is true")]
    [InlineData("""{"pooling_mode_mean_tokens": "yes"}""", "pooling_mode_mean_tokens: expected true or false")]
    [InlineData("""{"pooling_mode_mean_tokens": tru""", "not valid JSON")]
    public void A_malformed_pooling_config_is_a_one_line_error_naming_the_file(string json, string message)
    {
        string dir = TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "1_Pooling"));
        string path = Path.Combine(dir, "1_Pooling", "config.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<InvalidDataException>(() => PoolingOf(dir));
        Assert.StartsWith(path, e.Message);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData(1u, EmbeddingPooling.Mean)]
    [InlineData(2u, EmbeddingPooling.Cls)]
    [InlineData(3u, EmbeddingPooling.LastToken)]
    [InlineData(0u, EmbeddingPooling.Mean)]   // none: no convention stated, the default
    public void A_gguf_pooling_type_names_the_pooling(uint type, EmbeddingPooling want)
    {
        string path = Path.Combine(TempDir(), "m.gguf");
        new GgufWriter().Add("general.architecture", "llama").Add("llama.pooling_type", type).Save(path);
        Assert.Equal(want, PoolingOf(path, "gguf"));
    }

    [Fact]
    public void A_gguf_reranker_pooling_is_refused_in_one_line()
    {
        string path = Path.Combine(TempDir(), "m.gguf");
        new GgufWriter().Add("general.architecture", "llama").Add("llama.pooling_type", 4u).Save(path);
        var e = Assert.Throws<InvalidDataException>(() => PoolingOf(path, "gguf"));
        Assert.Contains("llama.pooling_type: 4", e.Message);
    }
}

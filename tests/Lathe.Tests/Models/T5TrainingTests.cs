using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Training;
using Lathe.Training;

namespace Lathe.Tests.Models;

/// <summary>T5 through the shared Trainer: span corruption learns, resume is bit-exact, config.json round-trips,
/// checkpoints reload, and bad configs name their field.</summary>
public class T5TrainingTests
{
    internal static ModelConfig Tiny => new()
    {
        ModelType = "t5", VocabSize = 72, MaxPositions = 64, Embd = 32, DKv = 8, Heads = 4, KvHeads = 4, Intermediate = 64,
        Layers = 2, DecoderLayers = 2, RelativeBuckets = 16, RelativeMaxDistance = 32, NormEps = 1e-6f, InitStd = 1f, EosTokenId = 1,
    };

    // Tokens 2..65, a repeating pattern with some noise: the hidden spans are predictable from their context.
    static int[] Corpus(int n, ulong seed)
    {
        var rng = new Lathe.Tensors.Philox(seed);
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 2 + (rng.NextInt(10) == 0 ? rng.NextInt(64) : (i * 7 + i / 5) % 23);
        return t;
    }

    static TrainingOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 4, BlockSize = 32, GradAccum = 1, LearningRate = 3e-3f, WarmupSteps = 5, EvalEvery = 0,
        CheckpointEvery = 0, Seed = 5,
    };

    [Fact]
    public void Span_corruption_training_reduces_validation_loss()
    {
        int[] corpus = Corpus(8000, 2), validation = Corpus(1200, 3);
        using var model = LanguageModel.Create(Tiny, 4);
        using var trainer = new Trainer(model, Options(150), new TokenStreamSource(corpus, 32), validation, null, null);
        double before = trainer.Evaluate();
        trainer.Run(CancellationToken.None);
        double after = trainer.Evaluate();
        Assert.True(before > 3.0, $"initial loss {before} should be high");
        Assert.True(after < 0.5 * before, $"validation loss went {before:F3} → {after:F3}");
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    public void Interrupted_and_resumed_run_matches_the_uninterrupted_run_bit_for_bit(float dropout)
    {
        int[] corpus = Corpus(3000, 1);
        Lathe.Tests.Training.ExactResume.Check(seed => LanguageModel.Create(Tiny with { Dropout = dropout }, seed),
            () => new TokenStreamSource(corpus, 32), (model, source, run) => new Trainer(model, Options(8), source, null, run, null), n: 4);
    }

    [Fact]
    public void A_steady_state_step_allocates_no_managed_memory()
    {
        using var model = LanguageModel.Create(Tiny with { Dropout = 0.1f }, 3);
        using var trainer = new Trainer(model, Options(20), new TokenStreamSource(Corpus(3000, 1), 32), null, null, null);
        for (int i = 0; i < 3; i++) trainer.TrainStep();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++) trainer.TrainStep();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Config_json_round_trips_and_checkpoints_reload()
    {
        var config = Tiny with { FeedForwardProj = "gated-gelu", TieEmbeddings = false, DecoderLayers = 1, Dropout = 0.1f };
        Assert.Equal(config, ModelConfig.Parse(config.ToJson()));
        Assert.Contains("\"d_kv\": 8", config.ToJson());
        Assert.Contains("\"relative_attention_num_buckets\": 16", config.ToJson());
        string dir = CheckpointTests.TempDir();
        using var model = LanguageModel.Create(config, 11);
        Checkpoint.SaveModel(dir, model, null);
        using var loaded = Checkpoint.LoadAny(dir);
        Assert.IsType<T5Model>(loaded);
        Assert.Equal(model.Parameters.Select(p => p.Name), loaded.Parameters.Select(p => p.Name));
        for (int i = 0; i < model.Parameters.Count; i++) Assert.Equal(model.Parameters[i].Value.ToArray(), loaded.Parameters[i].Value.ToArray());
        Assert.Contains(model.Parameters, p => p.Name == "decoder.block.0.layer.2.DenseReluDense.wi_1.weight");
        Assert.Contains(model.Parameters, p => p.Name == "lm_head.weight");
        Assert.Single(model.Parameters, p => p.Name.EndsWith("relative_attention_bias.weight", StringComparison.Ordinal) && p.Name.StartsWith("encoder.block.0.", StringComparison.Ordinal));
        Assert.DoesNotContain(model.Parameters, p => p.Name.StartsWith("encoder.block.1.layer.0.SelfAttention.relative", StringComparison.Ordinal));
        var e = Assert.Throws<InvalidDataException>(() => CausalLM.Decoder(Checkpoint.LoadAny(dir)));
        Assert.Equal("config: model_type: 't5' is not a decoder (causal LM); this command needs one", e.Message);
    }

    [Fact]
    public void Preset_and_overrides()
    {
        var c = ModelConfig.FromPresetOrFile("t5-tiny");
        Assert.Equal("t5", c.ModelType);
        c = c.With("n_layer", "2").With("d_kv", "16").With("n_head", "2").With("dropout", "0.05");
        Assert.Equal((2, 2, 16, 2, 0.05f), (c.Layers, c.DecoderLayers, c.DKv, c.Heads, c.Dropout));
        Assert.Equal(2, c.With("num_decoder_layers", "2").With("num_layers", "4").DecoderLayers);
    }

    [Theory]
    [InlineData("\"d_model\": 0", "config: d_model: 0 must be positive")]
    [InlineData("\"feed_forward_proj\": \"swish\"", "config: feed_forward_proj: 'swish' is not one of relu, gated-gelu")]
    [InlineData("\"relative_attention_max_distance\": 4", "config: relative_attention_max_distance: 4 must exceed the exact range of 16 buckets")]
    [InlineData("\"eos_token_id\": 500", "config: eos_token_id: 500 is outside the vocabulary of 100")]
    [InlineData("\"num_decoder_layers\": -1", "config: num_decoder_layers: -1 must be positive")]
    public void Bad_configs_name_the_field(string field, string message)
    {
        string json = "{ \"model_type\": \"t5\", \"vocab_size\": 100, " + field + " }";
        Assert.Equal(message, Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json)).Message);
    }

    [Fact]
    public void A_checkpoint_tensor_of_the_wrong_shape_is_named()
    {
        string dir = CheckpointTests.TempDir();
        using (var model = LanguageModel.Create(Tiny, 1)) Checkpoint.SaveModel(dir, model, null);
        File.WriteAllText(Path.Combine(dir, "config.json"), (Tiny with { RelativeBuckets = 12 }).ToJson());
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadAny(dir));
        Assert.EndsWith("tensor 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight' has shape [16, 4], expected [12, 4]", e.Message);
    }
}

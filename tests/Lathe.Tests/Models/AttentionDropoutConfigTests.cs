using Lathe.Models;
using Lathe.Training;

namespace Lathe.Tests.Models;

/// <summary>Attention-probability dropout in configs (each architecture's field, round trip, bad values) and in
/// training (applies only with a dropout generator; a gpt2 with it learns).</summary>
public class AttentionDropoutConfigTests
{
    [Theory]
    [InlineData("gpt2-tiny", "attn_pdrop")]
    [InlineData("llama-tiny", "attention_dropout")]
    [InlineData("bert-tiny", "attention_probs_dropout_prob")]
    public void Each_architecture_reads_and_writes_its_field(string preset, string field)
    {
        var c = ModelConfig.FromPresetOrFile(preset) with { AttentionDropout = 0.25f };
        string json = c.ToJson();
        Assert.Contains($"\"{field}\": 0.25", json);
        var back = ModelConfig.Parse(json);
        Assert.Equal(c, back);
        Assert.Equal(0.25f, ModelConfig.FromPresetOrFile(preset).With(field, "0.25").AttentionDropout);
    }

    [Fact]
    public void Llama_attention_dropout_is_not_residual_dropout()
    {
        var c = ModelConfig.Parse("""{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"attention_dropout":0.1}""");
        Assert.Equal((0f, 0.1f), (c.Dropout, c.AttentionDropout));
        // Lathe's own residual rate round-trips through its own field, which HF ignores.
        var d = c with { Dropout = 0.2f };
        Assert.Equal(d, ModelConfig.Parse(d.ToJson()));
    }

    [Theory]
    [InlineData("""{"model_type":"gpt2","attn_pdrop":1.0}""", "config: attn_pdrop: 1 must be in [0, 1)")]
    [InlineData("""{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"attention_dropout":-0.5}""", "config: attention_dropout: -0.5 must be in [0, 1)")]
    [InlineData("""{"model_type":"bert","attention_probs_dropout_prob":2}""", "config: attention_probs_dropout_prob: 2 must be in [0, 1)")]
    public void Bad_rates_fail_naming_the_field(string json, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json));
        Assert.Equal(message, e.Message);
    }

    static ModelConfig Tiny => new() { ModelType = "gpt2", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 128, AttentionDropout = 0.2f };

    static int[] Corpus(int n, ulong seed)
    {
        var rng = new Lathe.Tensors.Philox(seed);
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rng.NextInt(8) == 0 ? rng.NextInt(64) : (i * 7 + i / 5) % 23;
        return t;
    }

    // Training-only application is TrainerTests.Dropout_applies_only_while_training (gpt2 and llama, attention dropout).

    [Fact]
    public void A_gpt2_with_attention_dropout_learns()
    {
        int[] corpus = Corpus(6000, 2), validation = Corpus(1000, 3);
        using var model = CausalLM.Create(Tiny, 4);
        var options = new TrainingOptions
        {
            Steps = 150, BatchSize = 4, BlockSize = 16, GradAccum = 1, LearningRate = 3e-3f, WarmupSteps = 5, EvalEvery = 0, CheckpointEvery = 0, Seed = 5,
        };
        using var trainer = new Trainer(model, options, new TokenStreamSource(corpus, 16), validation, null, null);
        double before = trainer.Evaluate();
        trainer.Run(CancellationToken.None);
        double after = trainer.Evaluate();
        Assert.True(after < 0.7 * before, $"validation loss went {before:F3} → {after:F3}");
    }
}

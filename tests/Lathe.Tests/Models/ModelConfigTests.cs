using Lathe.Models;

namespace Lathe.Tests.Models;

public class ModelConfigTests
{
    [Fact]
    public void Presets_load_and_validate()
    {
        var names = ModelConfig.PresetNames();
        Assert.Contains("gpt2-tiny", names);
        Assert.Contains("S", names);
        Assert.Contains("M", names);
        foreach (var n in names) ModelConfig.FromPresetOrFile(n).Validate();
        var s = ModelConfig.FromPresetOrFile("S");
        Assert.Equal((256, 4, 4, 1024), (s.Embd, s.Layers, s.Heads, s.Intermediate));
    }

    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("llama-tiny")]
    public void Config_json_round_trips_with_HF_field_names(string preset)
    {
        var c = ModelConfig.FromPresetOrFile(preset);
        string json = c.ToJson();
        Assert.Contains(c.ModelType == "gpt2" ? "\"n_embd\"" : "\"hidden_size\"", json);
        Assert.Equal(c, ModelConfig.Parse(json));
    }

    [Fact]
    public void Reads_a_Hugging_Face_gpt2_config()
    {
        var c = ModelConfig.Parse("""{"model_type":"gpt2","vocab_size":50257,"n_positions":1024,"n_ctx":1024,"n_embd":768,"n_layer":12,"n_head":12,"layer_norm_epsilon":1e-05,"activation_function":"gelu_new"}""");
        Assert.Equal((50257, 1024, 768, 12, 12, 3072), (c.VocabSize, c.MaxPositions, c.Embd, c.Layers, c.Heads, c.Intermediate));
    }

    [Theory]
    [InlineData("""{"model_type":"gpt2","n_embd":100,"n_head":3}""", "config: n_head: 3 heads do not divide d_model 100")]
    [InlineData("""{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"num_key_value_heads":3}""", "config: num_key_value_heads: 3 kv heads do not divide 4 heads")]
    [InlineData("""{"model_type":"gpt2","n_layer":0}""", "config: n_layer: 0 must be positive")]
    [InlineData("""{"model_type":"bloom"}""", "config: model_type: 'bloom' is not one of gpt2, llama, bert, t5, gemma, gemma2")]
    [InlineData("""{"model_type":"gpt2","n_embd":"wide"}""", "config: n_embd: '\"wide\"' is not an integer")]
    public void Inconsistent_configs_fail_with_one_line_naming_the_field(string json, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Context_over_the_position_table_is_rejected()
    {
        var c = ModelConfig.FromPresetOrFile("gpt2-tiny");
        var e = Assert.Throws<InvalidDataException>(() => c.ValidateContext(c.MaxPositions + 1));
        Assert.Equal($"config: n_positions: context {c.MaxPositions + 1} exceeds the position table {c.MaxPositions}", e.Message);
        c.ValidateContext(c.MaxPositions);
    }

    [Fact]
    public void Overrides_by_field_name()
    {
        var c = ModelConfig.FromPresetOrFile("gpt2-tiny").With("n_layer", "2").With("n_embd", "64");
        Assert.Equal((2, 64, 256), (c.Layers, c.Embd, c.Intermediate));
        Assert.Throws<InvalidDataException>(() => c.With("n_wings", "2"));
    }

    /// <summary>Attention-probability dropout travels under each family's Hugging Face name, apart from the residual
    /// rate, and round-trips; a rate outside [0, 1) names its field.</summary>
    [Theory]
    [InlineData("gpt2", "attn_pdrop", "resid_pdrop")]
    [InlineData("llama", "attention_dropout", "resid_pdrop")]
    [InlineData("bert", "attention_probs_dropout_prob", "hidden_dropout_prob")]
    public void Attention_dropout_has_its_own_field(string type, string attentionField, string residualField)
    {
        var c = ModelConfig.Parse($$"""{"model_type":"{{type}}","{{attentionField}}":0.25,"{{residualField}}":0.125}""");
        Assert.Equal((0.25f, 0.125f), (c.AttentionDropout, c.Dropout));
        var again = ModelConfig.Parse(c.ToJson());
        Assert.Equal((0.25f, 0.125f), (again.AttentionDropout, again.Dropout));
        Assert.Equal(0.5f, c.With(attentionField, "0.5").AttentionDropout);
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Parse($$"""{"model_type":"{{type}}","{{attentionField}}":1.5}"""));
        Assert.Contains(attentionField, e.Message);
    }
}

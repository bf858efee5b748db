using Lathe.Models;

namespace Lathe.Tests.Models;

/// <summary>BERT's config.json: Hugging Face BertConfig field names, the special ids, overrides, and one-line errors
/// naming the field.</summary>
public class BertConfigTests
{
    [Fact]
    public void Preset_and_config_json_round_trip_with_BertConfig_field_names()
    {
        var c = ModelConfig.FromPresetOrFile("bert-tiny");
        Assert.Equal(("bert", 1028, 1024, 1025, 1026, 1027), (c.ModelType, c.VocabSize, c.ClsId, c.SepId, c.MaskId, c.PadId));
        string json = c.ToJson();
        foreach (var field in new[] { "\"hidden_size\"", "\"num_hidden_layers\"", "\"type_vocab_size\"", "\"layer_norm_eps\"", "\"hidden_dropout_prob\"", "\"cls_token_id\": 1024", "\"BertForPreTraining\"" })
            Assert.Contains(field, json);
        Assert.Equal(c, ModelConfig.Parse(json));
        // Special ids follow a vocab_size override unless set explicitly.
        var wider = c.With("vocab_size", "2052");
        Assert.Equal((2048, 2051), (wider.ClsId, wider.PadId));
    }

    [Fact]
    public void Reads_a_Hugging_Face_bert_base_config_with_its_own_special_ids()
    {
        var c = ModelConfig.Parse("""
            {"architectures":["BertForMaskedLM"],"attention_probs_dropout_prob":0.1,"hidden_act":"gelu","hidden_dropout_prob":0.1,
             "hidden_size":768,"initializer_range":0.02,"intermediate_size":3072,"layer_norm_eps":1e-12,"max_position_embeddings":512,
             "model_type":"bert","num_attention_heads":12,"num_hidden_layers":12,"pad_token_id":0,"type_vocab_size":2,"vocab_size":30522,
             "cls_token_id":101,"sep_token_id":102,"mask_token_id":103}
            """);
        Assert.Equal((30522, 512, 768, 12, 12, 3072, 2), (c.VocabSize, c.MaxPositions, c.Embd, c.Layers, c.Heads, c.Intermediate, c.TypeVocabSize));
        Assert.Equal((101, 102, 103, 0), (c.ClsId, c.SepId, c.MaskId, c.PadId));
        Assert.Equal(1e-12f, c.NormEps);
        Assert.Equal(c, ModelConfig.Parse(c.ToJson()));
    }

    [Theory]
    [InlineData("""{"model_type":"bert","hidden_size":100,"num_attention_heads":3}""", "config: num_attention_heads: 3 heads do not divide hidden_size 100")]
    [InlineData("""{"model_type":"bert","vocab_size":100,"cls_token_id":100}""", "config: cls_token_id: 100 is outside the vocabulary of 100")]
    [InlineData("""{"model_type":"bert","vocab_size":100,"sep_token_id":96}""", "config: sep_token_id: 96 is also cls_token_id")]
    [InlineData("""{"model_type":"bert","hidden_act":"relu"}""", "config: hidden_act: 'relu' is not supported (bert here uses erf GELU, 'gelu')")]
    [InlineData("""{"model_type":"bert","layer_norm_eps":0}""", "config: layer_norm_eps: 0 must be > 0")]
    [InlineData("""{"model_type":"bert","max_position_embeddings":4}""", "config: max_position_embeddings: 4 is too short for [CLS] A [SEP] B [SEP] (need ≥ 5)")]
    [InlineData("""{"model_type":"bert","type_vocab_size":0}""", "config: type_vocab_size: 0 must be positive")]
    [InlineData("""{"model_type":"bert","tie_word_embeddings":false}""", "config: tie_word_embeddings: bert's MLM decoder is always tied to the word embeddings here")]
    public void Inconsistent_bert_configs_fail_with_one_line_naming_the_field(string json, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Bert_fields_can_be_overridden_by_name()
    {
        var c = ModelConfig.FromPresetOrFile("bert-tiny").With("type_vocab_size", "3").With("mask_token_id", "5").With("hidden_dropout_prob", "0.2")
            .With("num_hidden_layers", "2").With("hidden_size", "64").With("n_head", "2");
        Assert.Equal((3, 5, 0.2f, 2, 64, 2, 2), (c.TypeVocabSize, c.MaskId, c.Dropout, c.Layers, c.Embd, c.Heads, c.KvHeads));
        c.Validate();
        var e = Assert.Throws<InvalidDataException>(() => c.With("cls_token_id", "5").Validate());
        Assert.Equal("config: mask_token_id: 5 is also cls_token_id", e.Message);
        Assert.Throws<InvalidDataException>(() => c.With("n_wings", "2"));
    }
}

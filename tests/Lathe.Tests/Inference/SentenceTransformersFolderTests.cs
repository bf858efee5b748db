using Lathe.Extensions.AI;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Microsoft.Extensions.AI;

namespace Lathe.Tests.Inference;

/// <summary>A sentence-transformers BERT folder as it is saved: config.json with architectures ["BertModel"], the
/// headless encoder's weights without the "bert." prefix (and here without a pooler, as add_pooling_layer=False saves
/// it), a WordPiece tokenizer.json, modules.json and 1_Pooling/config.json. It loads through ModelLoader, embeds with the
/// pooling it states, and matches the PyTorch BERT of the embedding fixtures.</summary>
public sealed class SentenceTransformersFolderTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "lathe-st-folder-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Inference", "fixtures", name);

    // The embedding fixture's BERT, written as Hugging Face's BertModel saves it.
    void WriteFolder(string pooling, Func<string, bool>? keep = null)
    {
        Directory.CreateDirectory(Path.Combine(_dir, "1_Pooling"));
        File.WriteAllText(Path.Combine(_dir, "config.json"), """
            {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": 97, "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 16, "layer_norm_eps": 1e-12,
             "type_vocab_size": 2, "hidden_act": "gelu", "pad_token_id": 0}
            """);
        using (var source = SafetensorsFile.Open(Fixture("embed_bert.model.safetensors")))
        {
            var items = new List<SafetensorsWriter.Item>();
            foreach (var (name, entry) in source.Entries)
            {
                if (!name.StartsWith("bert.", StringComparison.Ordinal) || name.StartsWith("bert.pooler.", StringComparison.Ordinal)) continue;   // no heads, no pooler
                string hf = name["bert.".Length..];
                if (keep is null || keep(hf)) items.Add(SafetensorsWriter.F32(hf, entry.Shape, source.ReadFloats(name)));
            }
            SafetensorsWriter.Write(Path.Combine(_dir, "model.safetensors"), items, new Dictionary<string, string> { ["format"] = "pt" });
        }
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), TokenizerJson);
        File.WriteAllText(Path.Combine(_dir, "modules.json"), """
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
             {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
             {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
            """);
        File.WriteAllText(Path.Combine(_dir, "1_Pooling", "config.json"),
            $$"""{"word_embedding_dimension": 32, "pooling_mode_cls_token": {{(pooling == "cls" ? "true" : "false")}}, "pooling_mode_mean_tokens": {{(pooling == "mean" ? "true" : "false")}}}""");
    }

    // A WordPiece tokenizer as bert-base-uncased's tokenizer.json lays it out, over a vocabulary of 12 pieces.
    const string TokenizerJson = """
        {"version": "1.0", "truncation": null, "padding": null,
         "added_tokens": [
          {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
          {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
          {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
          {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
          {"id": 4, "content": "[MASK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
         "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
         "pre_tokenizer": {"type": "BertPreTokenizer"},
         "post_processor": {"type": "TemplateProcessing",
          "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
          "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                   {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
          "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
         "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
         "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
          "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "the": 5, "cat": 6, "sat": 7, "on": 8, "mat": 9, "##s": 10, ".": 11}}}
        """;

    [Fact]
    public void The_folder_loads_headless_and_embeds_with_its_stated_pooling_as_PyTorch_does()
    {
        WriteFolder("cls");
        using var loaded = ModelLoader.Load(_dir);
        Assert.IsType<BertEncoderModel>(loaded.Model);
        Assert.True(loaded.Model.Config.EncoderOnly);
        Assert.DoesNotContain(loaded.Model.Parameters, p => p.Name.StartsWith("bert.", StringComparison.Ordinal) || p.Name.StartsWith("cls.", StringComparison.Ordinal));
        Assert.Equal(EmbeddingPooling.Cls, Embedder.PoolingFor(loaded));

        using var expected = SafetensorsFile.Open(Fixture("embed_bert.expected.safetensors"));
        var vectors = Embedder.Embed(loaded.Model, EmbedderTests.Inputs(expected), Embedder.PoolingFor(loaded));
        float[] want = expected.ReadFloats("cls"), got = vectors.SelectMany(v => v).ToArray();
        double worst = 0;
        for (int i = 0; i < want.Length; i++) worst = Math.Max(worst, Math.Abs(want[i] - got[i]));
        Assert.True(worst <= 1e-5, $"max abs error {worst:G3} against PyTorch");

        // The config round-trips as a headless BERT.
        Assert.True(ModelConfig.Parse(loaded.Model.Config.ToJson()).EncoderOnly);
    }

    [Fact]
    public async Task Text_is_tokenized_with_cls_and_sep_and_embedded_through_the_generator()
    {
        WriteFolder("mean");
        using var loaded = ModelLoader.Load(_dir);
        Assert.Equal([2, 5, 6, 7, 8, 5, 9, 10, 11, 3], loaded.Encode("The cat sat on the mats.", parseSpecial: false));
        using var engine = new InferenceEngine(loaded);
        IEmbeddingGenerator<string, Embedding<float>> generator = new LatheEmbeddingGenerator(engine);
        var embedding = await generator.GenerateAsync(["The cat sat on the mats.", "the cat"]);
        var want = Embedder.Embed(loaded.Model, [loaded.Encode("The cat sat on the mats.", false), loaded.Encode("the cat", false)], EmbeddingPooling.Mean);
        Assert.True(want[0].AsSpan().SequenceEqual(embedding[0].Vector.Span));
        Assert.True(want[1].AsSpan().SequenceEqual(embedding[1].Vector.Span));
        Assert.Equal(14, embedding.Usage!.InputTokenCount);
    }

    [Fact]
    public void A_missing_encoder_tensor_is_a_one_line_error_naming_it()
    {
        WriteFolder("mean", keep: name => name != "encoder.layer.1.output.dense.bias");
        var e = Assert.Throws<InvalidDataException>(() => ModelLoader.Load(_dir));
        Assert.Contains("tensor 'encoder.layer.1.output.dense.bias' is missing", e.Message);
    }
}

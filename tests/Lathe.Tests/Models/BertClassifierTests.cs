using System.Text.Json.Nodes;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Models;

/// <summary>The classifier's config (HF id2label / label2id / num_labels), checkpoint names, loading a pre-trained BERT
/// under a fresh head, the padding mask, and the projections BERT lists for adapters.</summary>
public class BertClassifierTests
{
    static ModelConfig Config => BertClassifierParityTests.FixtureConfig;

    [Fact]
    public void Config_json_carries_the_labels_as_Hugging_Face_writes_them_and_round_trips()
    {
        var config = BertParityTests.FixtureConfig with { Labels = new ClassLabels(["ham", "spam"]) };
        string json = config.ToJson();
        var o = JsonNode.Parse(json)!.AsObject();
        Assert.Equal("BertForSequenceClassification", o["architectures"]![0]!.GetValue<string>());
        Assert.Equal(2, o["num_labels"]!.GetValue<int>());
        Assert.Equal("spam", o["id2label"]!["1"]!.GetValue<string>());
        Assert.Equal(0, o["label2id"]!["ham"]!.GetValue<int>());
        Assert.Equal(config, ModelConfig.Parse(json));

        // Hugging Face omits id2label when the names are its defaults: "architectures" alone makes a 2-class classifier.
        o.Remove("id2label"); o.Remove("label2id"); o.Remove("num_labels");
        Assert.Equal(ClassLabels.Default(2), ModelConfig.Parse(o.ToJsonString()).Labels);
        // A pre-training config stays one even if it carries an id2label.
        o["architectures"] = new JsonArray("BertForMaskedLM");
        o["id2label"] = new JsonObject { ["0"] = "x", ["1"] = "y" };
        Assert.Null(ModelConfig.Parse(o.ToJsonString()).Labels);
        Assert.Equal(3, BertParityTests.FixtureConfig.With("num_labels", "3").NumLabels);
    }

    [Theory]
    [InlineData("{\"model_type\":\"bert\",\"id2label\":{\"0\":\"a\"}}", "config: id2label: 1 label(s); classification needs at least 2 (one label would be regression, not supported)")]
    [InlineData("{\"model_type\":\"bert\",\"id2label\":{\"0\":\"a\",\"2\":\"b\"}}", "config: id2label: key '2' is not an id in 0..1")]
    [InlineData("{\"model_type\":\"bert\",\"id2label\":{\"0\":\"a\",\"1\":\"a\"}}", "config: id2label: 'a' is both label 0 and label 1")]
    [InlineData("{\"model_type\":\"bert\",\"num_labels\":3,\"id2label\":{\"0\":\"a\",\"1\":\"b\"}}", "config: num_labels: 3 but id2label has 2 labels")]
    [InlineData("{\"model_type\":\"bert\",\"num_labels\":2,\"classifier_dropout\":0.3}", "config: classifier_dropout: a rate other than hidden_dropout_prob is not supported")]
    public void Bad_label_fields_are_one_line_errors_naming_the_field(string json, string message)
        => Assert.Equal(message, Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json)).Message);

    [Fact]
    public void Checkpoint_holds_exactly_HF_BertForSequenceClassification_names_and_loads_back_as_a_classifier()
    {
        string dir = CheckpointTests.TempDir();
        using var a = LanguageModel.Create(Config, seed: 4);
        Assert.IsType<BertClassifier>(a);
        Checkpoint.SaveModel(dir, a, null);
        using (var f = SafetensorsFile.Open(Path.Combine(dir, "model.safetensors")))
        {
            Assert.Equal(new long[] { 3, 32 }, f.Get("classifier.weight").Shape);
            Assert.Equal(new long[] { 3 }, f.Get("classifier.bias").Shape);
            Assert.Equal(new long[] { 32, 32 }, f.Get("bert.pooler.dense.weight").Shape);
            Assert.DoesNotContain(f.Entries.Keys, k => k.StartsWith("cls.", StringComparison.Ordinal));
        }
        using var b = Checkpoint.LoadAny(dir);
        Assert.IsType<BertClassifier>(b);
        Assert.Equal(a.Config, b.Config);
        for (int i = 0; i < a.Parameters.Count; i++) Assert.Equal(a.Parameters[i].Value.ToArray(), b.Parameters[i].Value.ToArray());
    }

    [Fact]
    public void A_pretrained_BERT_loads_under_a_fresh_head_and_only_the_head_is_new()
    {
        string dir = CheckpointTests.TempDir();
        using (var pretrained = LanguageModel.Create(BertParityTests.FixtureConfig, seed: 11)) Checkpoint.SaveModel(dir, pretrained, null);
        using var source = (BertModel)Checkpoint.LoadAny(dir);
        var labels = new ClassLabels(["ham", "spam"]);
        var loaded = BertClassifier.FromPretrained(dir, labels, seed: 5);
        using var model = loaded.Model;
        Assert.Equal(["classifier.weight", "classifier.bias"], loaded.Fresh);
        Assert.Equal("initialised fresh (not in the checkpoint): classifier.weight, classifier.bias", loaded.Note);
        Assert.Equal(labels, model.Labels);
        var byName = source.Parameters.ToDictionary(p => p.Name);
        foreach (var p in model.Parameters.Where(p => !loaded.Fresh.Contains(p.Name)))
            Assert.Equal(byName[p.Name].Value.ToArray(), p.Value.ToArray());
        // The head: N(0, initializer_range) weights, zero bias (HF _init_weights), as a fresh classifier of that seed has.
        using var fresh = (BertClassifier)LanguageModel.Create(BertParityTests.FixtureConfig with { Labels = labels }, seed: 5);
        Assert.Equal(fresh.HeadParameters[0].Value.ToArray(), model.HeadParameters[0].Value.ToArray());
        Assert.All(model.HeadParameters[1].Value.ToArray(), v => Assert.Equal(0f, v));
        float[] w = model.HeadParameters[0].Value.ToArray();
        double std = Math.Sqrt(w.Select(v => (double)v * v).Average());
        Assert.InRange(std, 0.01, 0.03);   // 64 draws of N(0, 0.02)

        // A checkpoint missing an encoder tensor is an error naming it, not a silently fresh encoder.
        using (var shallower = LanguageModel.Create(BertParityTests.FixtureConfig with { Layers = 1 }, seed: 1))
            Checkpoint.SaveWeights(Path.Combine(dir, "model.safetensors"), shallower);
        var e = Assert.Throws<InvalidDataException>(() => BertClassifier.FromPretrained(dir, labels, 5));
        Assert.EndsWith("tensor 'bert.encoder.layer.1.attention.self.query.weight' is missing", e.Message);
    }

    [Fact]
    public void A_classifier_checkpoint_reloads_whole_and_a_different_label_count_names_the_tensor()
    {
        string dir = CheckpointTests.TempDir();
        using (var trained = LanguageModel.Create(Config, seed: 2)) Checkpoint.SaveModel(dir, trained, null);
        var again = BertClassifier.FromPretrained(dir, Config.Labels!, seed: 9);
        using (again.Model) Assert.Empty(again.Fresh);
        var e = Assert.Throws<InvalidDataException>(() => BertClassifier.FromPretrained(dir, new ClassLabels(["x", "y"]), 9));
        Assert.EndsWith("tensor 'classifier.weight' has shape [3, 32], expected [2, 32]", e.Message);
    }

    [Fact]
    public void Padding_content_does_not_change_the_class_scores()
    {
        using var model = (BertClassifier)LanguageModel.Create(Config, seed: 3);
        const int B = 2, T = 8;
        int[] lengths = [5, 8];
        int[] ids = [93, 10, 11, 12, 94, 96, 96, 96, 93, 1, 2, 3, 4, 5, 6, 94];
        int[] other = (int[])ids.Clone();
        other[5] = 40; other[6] = 41; other[7] = 42;
        using var tape = new Tape();
        float[] Scores(int[] x)
        {
            tape.Reset();
            using (tape.Activate()) using (Tape.NoGrad()) return model.Logits(x, lengths, B, T).ToArray();
        }
        Assert.Equal(Scores(ids), Scores(other));
        // …and a row padded to T scores as the same row alone at its own length.
        float[] alone;
        tape.Reset();
        using (tape.Activate()) using (Tape.NoGrad()) alone = model.Logits(ids.AsSpan(0, 5), [5], 1, 5).ToArray();
        ModelParityTests.AssertClose("padded vs alone", alone, Scores(ids)[..3], 1e-6f);
    }

    [Fact]
    public void BERT_lists_its_projections_with_HF_module_names_for_adapters()
    {
        using var classifier = LanguageModel.Create(Config, seed: 1);
        var names = classifier.Linears.Select(l => l.Name).ToArray();
        Assert.Equal(["bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.0.attention.self.key", "bert.encoder.layer.0.attention.self.value",
            "bert.encoder.layer.0.attention.output.dense", "bert.encoder.layer.0.intermediate.dense", "bert.encoder.layer.0.output.dense"], names[..6]);
        Assert.Equal(["bert.encoder.layer.1.output.dense", "bert.pooler.dense", "classifier"], names[^3..]);
        Assert.Equal(2 * 6 + 2, names.Length);
        using var pretraining = LanguageModel.Create(BertParityTests.FixtureConfig, seed: 1);
        Assert.Equal(["bert.pooler.dense", "cls.predictions.transform.dense", "cls.seq_relationship"], pretraining.Linears.Select(l => l.Name).ToArray()[^3..]);
        var intermediate = classifier.Linears.First(l => l.Name == "bert.encoder.layer.1.intermediate.dense");
        Assert.Equal((32, 64), (intermediate.InFeatures, intermediate.OutFeatures));
    }
}

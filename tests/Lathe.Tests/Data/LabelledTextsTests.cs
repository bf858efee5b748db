using Lathe.Data;
using Lathe.Evaluation;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Tests.Data;

/// <summary>Labelled texts for classification: JSONL with class names or ids (errors naming file and line), the
/// SpamAssassin folders as ham vs spam, a seeded held-out split, tokenization with truncation counted, and the metrics.</summary>
public class LabelledTextsTests
{
    static string Write(TempDir dir, string name, string text)
    {
        string path = Path.Combine(dir.Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Jsonl_with_class_names_orders_them_and_with_ids_uses_them()
    {
        using var dir = new TempDir();
        var named = LabelledTexts.FromJsonl(Write(dir, "a.jsonl", "{\"text\":\"buy now\",\"label\":\"spam\"}\n\n{\"text\":\"hi Bob\",\"label\":\"ham\"}\n"));
        Assert.Equal(["ham", "spam"], named.Labels.Names);
        Assert.Equal([1, 0], named.Items.Select(i => i.Label));
        Assert.EndsWith("a.jsonl:3", named.Items[1].Origin);
        var ids = LabelledTexts.FromJsonl(Write(dir, "b.jsonl", "{\"text\":\"x\",\"label\":2}\n{\"text\":\"y\",\"label\":0}\n"));
        Assert.Equal(["LABEL_0", "LABEL_1", "LABEL_2"], ids.Labels.Names);
        var given = LabelledTexts.FromJsonl(Path.Combine(dir.Path, "a.jsonl"), new ClassLabels(["spam", "ham"]));
        Assert.Equal([0, 1], given.Items.Select(i => i.Label));
    }

    [Theory]
    [InlineData("{\"text\":\"x\",\"label\":\"a\"}\n{\"text\":\"x\"", ":2: invalid JSON")]
    [InlineData("{\"text\":\"x\",\"label\":\"a\"}\n[1]", ":2: expected a JSON object")]
    [InlineData("{\"label\":\"a\"}", ":1: no string field \"text\"")]
    [InlineData("{\"text\":\"x\",\"label\":true}", ":1: no field \"label\" (a class name or a class id)")]
    [InlineData("{\"text\":\"x\",\"label\":\"a\"}\n{\"text\":\"y\",\"label\":1}", ":2: \"label\" mixes class names and ids in one file set")]
    [InlineData("{\"text\":\"x\",\"label\":-1}", ":1: \"label\" -1 is not a class id ≥ 0")]
    public void Bad_jsonl_is_a_one_line_error_naming_file_and_line(string content, string tail)
    {
        using var dir = new TempDir();
        string path = Write(dir, "bad.jsonl", content);
        var e = Assert.Throws<InvalidDataException>(() => LabelledTexts.FromJsonl(path));
        Assert.StartsWith($"data: {path}{tail}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        e = Assert.Throws<InvalidDataException>(() => LabelledTexts.FromJsonl(Write(dir, "c.jsonl", "{\"text\":\"x\",\"label\":\"maybe\"}"), new ClassLabels(["no", "yes"])));
        Assert.EndsWith("c.jsonl:1: label 'maybe' is not one of the classes (no, yes)", e.Message);
    }

    [Fact]
    public void The_split_is_seeded_disjoint_and_complete()
    {
        var items = Enumerable.Range(0, 50).Select(i => new LabelledText($"t{i}", i % 2, $"#{i}")).ToList();
        var all = new LabelledTexts(new ClassLabels(["a", "b"]), items);
        var (train, held) = all.Split(0.2, seed: 3);
        Assert.Equal(10, held.Items.Count);
        Assert.Equal(40, train.Items.Count);
        Assert.Empty(train.Items.Select(i => i.Origin).Intersect(held.Items.Select(i => i.Origin)));
        Assert.Equal(held.Items, all.Split(0.2, 3).HeldOut.Items);
        Assert.NotEqual(held.Items, all.Split(0.2, 4).HeldOut.Items);
        Assert.Equal("--held-out: 1.5 must be in (0, 1)", Assert.Throws<ArgumentException>(() => all.Split(1.5, 1)).Message);
    }

    [Fact]
    public void SpamAssassin_groups_read_as_ham_and_spam_mails()
    {
        // Two real mails from each of a ham and a spam group, in the corpus's layout (a .json copy beside each .txt).
        string corpus = Path.Combine(Peers.Datasets, "spam-assassin", "data");
        using var dir = new TempDir();
        foreach (var group in new[] { "easy-ham-1", "spam-2" })
        {
            Directory.CreateDirectory(Path.Combine(dir.Path, group));
            foreach (var f in Directory.GetFiles(Path.Combine(corpus, group), "*.txt").Order(StringComparer.Ordinal).Take(2))
            {
                File.Copy(f, Path.Combine(dir.Path, group, Path.GetFileName(f)));
                File.WriteAllText(Path.Combine(dir.Path, group, Path.ChangeExtension(Path.GetFileName(f), ".json")), "{}");
            }
        }
        var texts = LabelledTexts.FromSpamAssassin(dir.Path);
        Assert.Equal(LabelledTexts.SpamLabels, texts.Labels);
        Assert.Equal([0, 0, 1, 1], texts.Items.Select(i => i.Label));
        Assert.All(texts.Items, i => Assert.False(string.IsNullOrWhiteSpace(i.Text)));
        Assert.All(texts.Items, i => Assert.EndsWith(".txt", i.Origin));
    }

    [Fact]
    public void Tokenizing_frames_each_text_and_counts_what_it_truncates()
    {
        var config = new ModelConfig { ModelType = "bert", VocabSize = 260, MaxPositions = 16, Embd = 8, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 16 };
        var texts = new LabelledTexts(new ClassLabels(["a", "b"]), [new("hi", 0, "x"), new("a longer text than fits", 1, "y")]);
        var examples = ClassificationExamples.Tokenize(texts, new ByteEncoder(), config, maxLength: 8);
        Assert.Equal([config.ClsId, 'h', 'i', config.SepId], examples.Items[0].Ids);
        Assert.Equal(8, examples.Items[1].Ids.Length);
        Assert.Equal([config.ClsId, 'a', ' ', 'l', 'o', 'n', 'g', config.SepId], examples.Items[1].Ids);
        Assert.Equal(1, examples.Truncated);
        Assert.Equal("2 examples (a 1, b 1), 1 truncated to 8 tokens", examples.Summary());
    }

    [Fact]
    public void Metrics_follow_the_confusion_matrix()
    {
        var labels = new ClassLabels(["ham", "spam"]);
        // truth:     ham ham ham ham spam spam spam
        // predicted: ham ham spam ham spam spam ham   → TP 2, FP 1, FN 1 for spam
        var m = ClassificationMetrics.From(labels, [0, 0, 0, 0, 1, 1, 1], [0, 0, 1, 0, 1, 1, 0]);
        Assert.Equal(5.0 / 7, m.Accuracy, 12);
        Assert.Equal(2.0 / 3, m.Precision(1), 12);
        Assert.Equal(2.0 / 3, m.Recall(1), 12);
        Assert.Equal(2.0 / 3, m.F1, 12);
        Assert.Equal((0.75 + 2.0 / 3) / 2, m.MacroF1, 12);
        var baseline = ClassificationMetrics.MajorityBaseline(labels, [0, 0, 1], [0, 1, 1, 1]);
        Assert.Equal(0.25, baseline.Accuracy, 12);
        Assert.Equal(0, baseline.F1);   // never predicts spam
    }
}

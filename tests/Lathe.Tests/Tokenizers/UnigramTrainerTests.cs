using System.Text.Json;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>The Unigram trainer: requested size, determinism (also across thread counts), SentencePiece's piece rules,
/// clear errors, and quality against spm_train on the same text (the spm model in fixtures/unigram-fixtures.json).</summary>
public class UnigramTrainerTests
{
    static string Chapter(int n) => File.ReadAllText(Path.Combine(NodeModules.Find(), "@stdlib", "datasets", "moby-dick", "data", $"chapter_{n}.txt"));

    /// <summary>The text make_unigram_fixtures.py trains spm on: chapters 1–30, read line by line.</summary>
    static readonly Lazy<string[]> TrainLines = new(() => string.Concat(Enumerable.Range(1, 30).Select(Chapter)).Split('\n'));
    static readonly Lazy<UnigramModel> Trained1200 = new(() => new UnigramTrainer(1200).Train(TrainLines.Value));

    static byte[] Json(UnigramModel model)
    {
        var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream)) model.WriteJson(w);
        return stream.ToArray();
    }

    [Fact]
    public void Trains_to_the_requested_size_with_valid_pieces()
    {
        var model = Trained1200.Value;
        Assert.Equal(1200, model.VocabSize);
        Assert.Equal(["<unk>", "<s>", "</s>"], model.Pieces.Take(3));
        Assert.Equal(0, model.UnknownId);
        var pieces = model.Pieces.Skip(3).ToList();
        Assert.Equal(pieces.Count, pieces.Distinct().Count());
        // Scores descend; ▁ only leads; no piece longer than 16 characters; every character of the text is covered.
        for (int i = 4; i < model.VocabSize; i++) Assert.True(model.Scores[i] <= model.Scores[i - 1]);
        foreach (var p in pieces)
        {
            Assert.True(p.IndexOf('\u2581', 1) < 0, $"'{p}' has ▁ inside");
            Assert.True(p.EnumerateRunes().Count() <= 16);
            Assert.True(model.Scores[model.Pieces.ToList().IndexOf(p)] < 0);
        }
        // One script per piece: letters, digits and punctuation never mix (SentencePiece's split_by_unicode_script/number).
        foreach (var p in pieces)
        {
            string body = p.TrimStart('\u2581');
            int kinds = (body.Any(char.IsLetter) ? 1 : 0) + (body.Any(char.IsDigit) ? 1 : 0) + (body.Any(c => !char.IsLetterOrDigit(c)) ? 1 : 0);
            Assert.True(kinds <= 1, $"'{p}' mixes scripts");
        }
        Assert.Contains("\u2581the", pieces);
        Assert.Contains("\u2581", pieces);
        foreach (char c in "abcdefghijklmnopqrstuvwxyz.,;") Assert.Contains(c.ToString(), pieces);
    }

    [Fact]
    public void Same_words_give_the_same_model_bit_for_bit_on_1_and_2_threads()
    {
        var lines = string.Concat(Enumerable.Range(1, 12).Select(Chapter)).Split('\n');
        byte[] a = Json(new UnigramTrainer(700, threads: 1).Train(lines));
        byte[] b = Json(new UnigramTrainer(700, threads: 1).Train(lines));
        byte[] c = Json(new UnigramTrainer(700, threads: 2).Train(lines));
        Assert.Equal(a, b);
        Assert.Equal(a, c);
    }

    [Fact]
    public void Compresses_held_out_text_as_well_as_spm_train()
    {
        // spm_train's ids for held-out paragraphs (chapters 100–101) at the same vocabulary, from the fixture.
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", "unigram-fixtures.json")));
        var plain = doc.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "plain");
        long spmTokens = 0, latheTokens = 0;
        var model = Trained1200.Value;
        var ids = new List<int>();
        foreach (var t in plain.GetProperty("tests").EnumerateArray().Take(64))
        {
            string text = t.GetProperty("text").GetString()!;
            if (text.Contains("  ") || text.Contains('\t')) continue;   // spm kept extra spaces; our words drop them
            spmTokens += t.GetProperty("ids").GetArrayLength();
            ids.Clear();
            UnigramMetaspace.Encode(model, text, ids);
            latheTokens += ids.Count;
        }
        double ratio = latheTokens / (double)spmTokens;
        Assert.True(ratio < 1.01, $"Lathe {latheTokens} tokens vs spm {spmTokens} (ratio {ratio:F4}) on held-out text");
    }

    [Fact]
    public void Vocab_smaller_than_the_alphabet_is_a_clear_error()
    {
        var e = Assert.Throws<ArgumentException>(() => new UnigramTrainer(40).Train(["the quick brown fox jumps over the lazy dog", "ÆØÅ 0123456789"]));
        Assert.Contains("alphabet", e.Message);
        Assert.Throws<ArgumentException>(() => new UnigramTrainer(100, byteFallback: true));
        var tooBig = Assert.Throws<ArgumentException>(() => new UnigramTrainer(5000).Train(["the whale", "the white whale"]));
        Assert.Contains("more than this text supports", tooBig.Message);
    }

    [Fact]
    public void Byte_fallback_and_special_tokens_take_the_first_ids()
    {
        var model = new UnigramTrainer(400, specialTokens: ["<pad>", "<unk>", "<s>", "</s>", "<mask>"], byteFallback: true).Train(TrainLines.Value.Take(300));
        Assert.Equal(400, model.VocabSize);
        Assert.Equal(["<pad>", "<unk>", "<s>", "</s>", "<mask>", "<0x00>"], model.Pieces.Take(6));
        Assert.Equal(1, model.UnknownId);
        Assert.Equal("<0xFF>", model.IdToToken(4 + 256));
        var ids = new List<int>();
        UnigramMetaspace.Encode(model, "whale 鯨", ids);
        Assert.DoesNotContain(1, ids);
        Assert.Equal("whale 鯨", UnigramMetaspace.Decode(model, ids));

        // Saved for HF: byte pieces decode through ByteFallback before Metaspace.
        string path = Path.Combine(Path.GetTempPath(), $"unigram-{Guid.NewGuid():N}.json");
        try
        {
            UnigramTokenizerJson.Save(model, ["<pad>", "<unk>", "<s>", "</s>", "<mask>"], path);
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var decoder = doc.RootElement.GetProperty("decoder");
            Assert.Equal("Sequence", decoder.GetProperty("type").GetString());
            Assert.Equal(["ByteFallback", "Metaspace"], decoder.GetProperty("decoders").EnumerateArray().Select(d => d.GetProperty("type").GetString()));
            Assert.True(doc.RootElement.GetProperty("model").GetProperty("byte_fallback").GetBoolean());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Lone_surrogates_train_as_the_replacement_character()
    {
        var lines = TrainLines.Value.Take(200).Append("broken \uD800 text \uDC00x and 🐋 whale").ToArray();
        var model = new UnigramTrainer(300, characterCoverage: 1.0).Train(lines);
        Assert.Contains("\uFFFD", model.Pieces);
        Assert.Contains("🐋", model.Pieces);
        Assert.DoesNotContain(model.Pieces, p => p.Any(char.IsSurrogate) && !p.EnumerateRunes().All(r => r.Value > 0xFFFF));
    }

    [Fact]
    public void Digamma_matches_known_values()
    {
        const double euler = 0.57721566490153286;
        Assert.Equal(-euler, UnigramTrainer.Digamma(1), 12);
        Assert.Equal(-euler - 2 * Math.Log(2), UnigramTrainer.Digamma(0.5), 12);
        Assert.Equal(1 - euler, UnigramTrainer.Digamma(2), 12);
        Assert.Equal(Math.Log(1000) - 1 / 2000.0 - 1 / (12.0 * 1e6), UnigramTrainer.Digamma(1000), 12);
    }

    [Fact]
    public void Saved_tokenizer_json_holds_a_metaspace_pipeline_and_the_model()
    {
        var model = Trained1200.Value;
        string path = Path.Combine(Path.GetTempPath(), $"unigram-{Guid.NewGuid():N}.json");
        try
        {
            UnigramTokenizerJson.Save(model, ["<unk>", "<s>", "</s>"], path);
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            Assert.Equal("Metaspace", doc.RootElement.GetProperty("pre_tokenizer").GetProperty("type").GetString());
            Assert.Equal("Metaspace", doc.RootElement.GetProperty("decoder").GetProperty("type").GetString());
            Assert.Equal(3, doc.RootElement.GetProperty("added_tokens").GetArrayLength());
            var back = UnigramModel.FromJson(doc.RootElement.GetProperty("model"), path);
            Assert.Equal(Json(model), Json(back));
        }
        finally { File.Delete(path); }
    }
}

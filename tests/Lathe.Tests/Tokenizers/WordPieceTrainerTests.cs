using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

public class WordPieceTrainerTests
{
    static readonly Dictionary<string, long> Words = new() { ["hug"] = 10, ["pug"] = 5, ["pun"] = 12, ["bun"] = 4, ["hugs"] = 5 };

    [Fact]
    public void Starts_from_specials_alphabet_and_continuation_characters_then_merges_the_most_frequent_pair()
    {
        var model = new WordPieceTrainer(16).TrainModel(Words);
        // The specials, the sorted alphabet, then the continuation characters as the words (in ordinal order: bun,
        // hug, hugs, pug, pun) first use them — and no room for a merge.
        var vocab = Enumerable.Range(0, model.VocabSize).Select(model.IdToToken).ToList();
        Assert.Equal(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "b", "g", "h", "n", "p", "s", "u", "##u", "##n", "##g", "##s"], vocab);
        // ##u ##g occurs in hug (10) + pug (5) + hugs (5) = 20 times, more than any other pair.
        var next = new WordPieceTrainer(17).TrainModel(Words);
        Assert.Equal("##ug", next.IdToToken(16));
    }

    [Fact]
    public void Trains_to_the_requested_size_deterministically_and_covers_every_training_word()
    {
        var text = File.ReadAllText(Path.Combine(Lathe.IO.NodeModules.Find(), "@stdlib", "datasets", "moby-dick", "data", "chapter_1.txt"));
        var counts = new Dictionary<string, long>();
        var pre = new BertPreTokenizer();
        var norm = new BertNormalizer().Normalize(NormalizedText.Identity(text)).Text;
        var pieces = new List<PreToken>();
        pre.Split(norm, pieces);
        foreach (var p in pieces) { string w = norm.Substring(p.Start, p.Length); counts[w] = counts.GetValueOrDefault(w) + 1; }
        var a = new WordPieceTrainer(600).TrainModel(counts);
        var b = new WordPieceTrainer(600).TrainModel(counts);
        Assert.Equal(600, a.VocabSize);
        Assert.Equal(Enumerable.Range(0, 600).Select(a.IdToToken), Enumerable.Range(0, 600).Select(b.IdToToken));
        foreach (string word in counts.Keys)
        {
            var ids = new List<int>();
            a.TokenizeWord(word, ids);
            Assert.DoesNotContain(a.UnknownId, ids);
            Assert.Equal(word, string.Concat(ids.Select((id, i) => i == 0 ? a.IdToToken(id) : a.IdToToken(id)[2..])));
        }
    }

    [Fact]
    public void A_vocabulary_smaller_than_the_alphabet_is_refused_with_the_sizes()
    {
        var e = Assert.Throws<ArgumentException>(() => new WordPieceTrainer(8).TrainModel(Words));
        Assert.Contains("--vocab 8", e.Message);
        Assert.Contains("7 characters", e.Message);
    }
}

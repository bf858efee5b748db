using System.Text;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

public class BpeTrainerTests
{
    static string Token(BpeModel m, int id) => Encoding.UTF8.GetString(m.TokenBytes(id));

    [Fact]
    public void Merges_follow_pair_counts_worked_out_by_hand()
    {
        // Pre-tokens: "ab" ×1, " ab" ×2, " cd" ×1. Pair counts: (a,b) 3, (' ',a) 2, (' ',c) 1, (c,d) 1.
        // 1st merge (a,b) → "ab"; then (' ', ab) 2 → " ab"; then the tie (' ',c) / (c,d) at 1 goes to the smaller ids: " c".
        var tok = new BpeTrainer(256 + 3 + 1, ["<|endoftext|>"], minFrequency: 1).Train(["ab ab ab cd"]);
        var m = tok.Model;
        Assert.Equal(3, m.MergeCount);
        Assert.Equal(["ab", " ab", " c"], Enumerable.Range(256, 3).Select(i => Token(m, i)).ToArray());
        Assert.Equal(259, tok.EndOfTextId);
        Assert.Equal(260, tok.VocabSize);
        Assert.Equal([256, 257, 257, 258, (int)'d'], tok.Encode("ab ab ab cd").ToArray());
    }

    [Fact]
    public void Min_frequency_stops_training()
    {
        var tok = new BpeTrainer(1000, ["<|endoftext|>"], minFrequency: 2).Train(["ab ab ab cd"]);
        Assert.Equal(2, tok.Model.MergeCount);
    }

    [Fact]
    public void Training_is_deterministic_and_round_trips_text()
    {
        string corpus = string.Concat(Enumerable.Range(0, 200).Select(i => $"The whale {i} swam; the whaler's boat, {i * 7} fathoms — é ü 🐋.\n"));
        var a = new BpeTrainer(400).Train([corpus]);
        var b = new BpeTrainer(400).Train([corpus]);
        Assert.Equal(a.Model.Merges, b.Model.Merges);
        var ids = a.Encode(corpus);
        Assert.True(ids.Count < Encoding.UTF8.GetByteCount(corpus) / 2, "the merges should compress the training text");
        Assert.Equal(corpus, a.Decode(ids));
    }

    [Fact]
    public void A_vocab_smaller_than_the_alphabet_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new BpeTrainer(200));
        Assert.Contains("smaller than the byte alphabet", e.Message);
    }
}

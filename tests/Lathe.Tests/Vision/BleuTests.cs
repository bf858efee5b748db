using System.Text.Json;
using Lathe.Vision.Metrics;
using static Lathe.Tests.Vision.CaptionerTestSupport;

namespace Lathe.Tests.Vision;

/// <summary>Corpus BLEU-4 against make_bleu_fixtures.py, which computes Papineni et al.'s formula on its own (its first
/// case, the paper's Example 1, gives 0.50457, the value NLTK's documentation shows for it).</summary>
public class BleuTests
{
    [Fact]
    public void Matches_the_Python_formula_on_fixed_sentences()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixture("bleu_cases.json")));
        int cases = 0;
        foreach (var c in doc.RootElement.EnumerateArray())
        {
            var bleu = new Bleu();
            var cands = c.GetProperty("candidates").EnumerateArray().Select(e => e.GetString()!).ToArray();
            var refs = c.GetProperty("references").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetString()!).ToArray()).ToArray();
            for (int i = 0; i < cands.Length; i++) bleu.Add(cands[i], refs[i]);
            var p = c.GetProperty("precisions").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (int n = 1; n <= 4; n++) Assert.Equal(p[n - 1], bleu.Precision(n), 12);
            Assert.Equal(c.GetProperty("bp").GetDouble(), bleu.BrevityPenalty, 12);
            Assert.Equal(c.GetProperty("bleu").GetDouble(), bleu.Score, 12);
            cases++;
        }
        Assert.Equal(5, cases);
    }

    [Fact]
    public void Words_are_lower_cased_runs_and_lists_must_pair()
    {
        Assert.Equal(["a", "large", "light-coloured", "coat", "mid-tone"], Bleu.Tokenize("A large light-coloured coat, Mid-tone."));
        Assert.Equal(1.0, Bleu.Corpus(["A small, dark bag."], ["a small dark bag"]), 12);
        Assert.Throws<ArgumentException>(() => Bleu.Corpus(["a"], []));
        Assert.Throws<ArgumentException>(() => new Bleu().Add("a", []));
    }
}

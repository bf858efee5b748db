using System.Text.Json;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>Lathe's Unigram model loaded with SentencePiece's pieces and exact scores gives the ids spm_encode gives
/// (fixtures/make_unigram_fixtures.py: spm_train on Moby-Dick chapters 1–30 with identity normalization, so spm's
/// normalizer only turns ' ' into ▁ and prepends one ▁; the comparison is about the model, including unknown-run
/// fusion and byte fallback).</summary>
public class UnigramFixtureTests
{
    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", name);

    [Theory]
    [InlineData("plain")]
    [InlineData("byte_fallback")]
    [InlineData("ties")]
    public void Same_ids_as_spm_encode(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixture("unigram-fixtures.json")));
        var m = doc.RootElement.GetProperty("models").EnumerateArray().Single(x => x.GetProperty("name").GetString() == name);
        var vocab = new List<(string, double)>();
        int? unk = null;
        foreach (var p in m.GetProperty("pieces").EnumerateArray())
        {
            if (p[2].GetString() == "unknown") unk = vocab.Count;
            vocab.Add((p[0].GetString()!, p[1].GetDouble()));
        }
        var model = new UnigramModel(vocab, unk, m.GetProperty("byte_fallback").GetBoolean());
        var trie = new UnigramTrie(vocab.Select(v => v.Item1).ToList());
        float[] scores = vocab.Select(v => (float)v.Item2).ToArray();
        var lattice = new UnigramLattice();
        var path = new List<int>();
        int cases = 0;
        foreach (var t in m.GetProperty("tests").EnumerateArray())
        {
            string text = t.GetProperty("text").GetString()!;
            var expected = t.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToList();
            var ids = new List<int>();
            model.Encode("\u2581" + text.Replace(' ', '\u2581'), ids);
            Assert.True(expected.SequenceEqual(ids), $"{name}: '{text}'\n spm:   {string.Join(' ', expected)}\n lathe: {string.Join(' ', ids)}");
            if (!model.ByteFallback)
            {
                // The trainer's lattice Viterbi breaks ties the same way.
                lattice.Build(trie, scores, (float)vocab.Min(v => v.Item2) - UnigramModel.UnknownPenalty, "\u2581" + text.Replace(' ', '\u2581'));
                lattice.Viterbi(path);
                var latticeIds = new List<int>();
                bool previousUnknown = false;
                foreach (int node in path)
                {
                    int id = lattice.Id[node];
                    if (id >= 0) latticeIds.Add(id);
                    else if (!previousUnknown) latticeIds.Add(unk!.Value);   // a run of unknown characters is one token
                    previousUnknown = id < 0;
                }
                Assert.Equal(expected, latticeIds);
            }
            cases++;
        }
        Assert.True(cases > 60);
    }
}

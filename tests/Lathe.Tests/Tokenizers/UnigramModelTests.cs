using System.Text;
using System.Text.Json;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>The Unigram model against slow, obvious twins: every segmentation of short strings enumerated by brute
/// force (best path, n best, exact sampling probabilities).</summary>
public class UnigramModelTests
{
    /// <summary>A random vocabulary over {a, b, c, d}: all strings of 1–3 letters kept with probability 0.6, except
    /// that "d" alone is never a piece (so 'd' is unknown where no longer piece covers it); random scores.</summary>
    static UnigramModel RandomModel(int seed, bool withUnknown = true)
    {
        var rng = new Random(seed);
        var vocab = new List<(string, double)>();
        if (withUnknown) vocab.Add(("<unk>", 0.0));
        var strings = new List<string> { "" };
        for (int len = 1; len <= 3; len++)
            foreach (var s in strings.Where(s => s.Length == len - 1).ToList())
                foreach (char c in "abcd") strings.Add(s + c);
        foreach (var s in strings)
        {
            if (s.Length == 0 || s == "d") continue;
            if (s.Length == 1 || rng.NextDouble() < 0.6) vocab.Add((s, -1 - 7 * rng.NextDouble()));
        }
        return new UnigramModel(vocab, withUnknown ? 0 : null, byteFallback: false);
    }

    /// <summary>Every segmentation of <paramref name="text"/> under SentencePiece's lattice rules (a piece at any
    /// position; an unknown character only where no one-character piece starts), with its score summed left to right
    /// in double.</summary>
    static List<(List<int> Ids, double Score)> AllSegmentations(UnigramModel model, string text)
    {
        double min = model.Scores.Min();
        double unknownScore = (float)min - UnigramModel.UnknownPenalty;
        var result = new List<(List<int>, double)>();
        void Walk(int at, List<int> ids, double score)
        {
            if (at == text.Length) { result.Add((Fuse(model, ids), score)); return; }
            bool single = false;
            for (int end = at + 1; end <= text.Length; end++)
                if (model.TryTokenToId(text[at..end], out int id))
                {
                    if (end - at == 1) single = true;
                    ids.Add(id); Walk(end, ids, score + (float)model.Scores[id]); ids.RemoveAt(ids.Count - 1);
                }
            if (!single) { ids.Add(-1); Walk(at + 1, ids, score + unknownScore); ids.RemoveAt(ids.Count - 1); }
        }
        Walk(0, new List<int>(), 0);
        return result;
    }

    /// <summary>Unknown characters (-1) become the unknown id, runs of them one token.</summary>
    static List<int> Fuse(UnigramModel model, List<int> ids)
    {
        var fused = new List<int>();
        for (int i = 0; i < ids.Count; i++)
        {
            if (ids[i] >= 0) { fused.Add(ids[i]); continue; }
            if (i > 0 && ids[i - 1] < 0) continue;
            fused.Add(model.UnknownId!.Value);
        }
        return fused;
    }

    static string RandomText(Random rng, int length)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < length; i++) sb.Append("abcd"[rng.Next(4)]);
        return sb.ToString();
    }

    [Fact]
    public void Viterbi_equals_the_best_of_all_segmentations()
    {
        var rng = new Random(7);
        int compared = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var model = RandomModel(trial);
            string text = RandomText(rng, 1 + rng.Next(9));
            var all = AllSegmentations(model, text).OrderByDescending(s => s.Score).ToList();
            var ids = new List<int>();
            model.Encode(text, ids);
            // The chosen path scores the maximum; where the maximum is clear of the runner-up, it is the same path.
            double chosen = all.First(s => s.Ids.SequenceEqual(ids)).Score;
            Assert.True(Math.Abs(chosen - all[0].Score) < 1e-4, $"'{text}': Viterbi path scores {chosen}, best is {all[0].Score}");
            if (all.Count == 1 || all[0].Score - all[1].Score > 1e-4)
            {
                Assert.Equal(all[0].Ids, ids);
                compared++;
            }
        }
        Assert.True(compared > 250, $"only {compared} strings had a clear best path");
    }

    [Fact]
    public void NBest_equals_the_k_best_of_all_segmentations()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 100; trial++)
        {
            var model = RandomModel(1000 + trial);
            string text = RandomText(rng, 1 + rng.Next(8));
            var all = AllSegmentations(model, text).OrderByDescending(s => s.Score).ToList();
            var best = model.NBest(text, 5);
            Assert.Equal(Math.Min(5, all.Count), best.Count);
            for (int i = 0; i < best.Count; i++) Assert.Equal(all[i].Score, best[i].Score, 4);
            // Distinct segmentations, each a real one with the score it claims.
            Assert.Equal(best.Count, best.Select(b => string.Join(' ', b.Ids)).Distinct().Count());
            foreach (var (ids, score) in best)
                Assert.Contains(all, s => s.Ids.SequenceEqual(ids) && Math.Abs(s.Score - score) < 1e-4);
        }
    }

    [Fact]
    public void Unknown_characters_fuse_and_keep_offsets()
    {
        var model = new UnigramModel([("<unk>", 0), ("a", -1), ("b", -2), ("ab", -2.5)], 0, byteFallback: false);
        var tokens = new List<Token>();
        string text = "xxabé🐋b";
        model.Tokenize(text, new PreToken(0, text.Length), tokens);
        Assert.Equal([new Token(0, 0, 2), new Token(3, 2, 4), new Token(0, 4, 7), new Token(2, 7, 8)], tokens);
    }

    [Fact]
    public void Byte_fallback_spells_unknown_characters_in_utf8_bytes()
    {
        var vocab = new List<(string, double)> { ("<unk>", 0) };
        for (int b = 0; b < 256; b++) vocab.Add((UnigramModel.ByteToken(b), 0));
        vocab.Add(("a", -1)); vocab.Add(("é", -3));
        var model = new UnigramModel(vocab, 0, byteFallback: true);
        var ids = new List<int>();
        model.Encode("aé🐋€a", ids);
        int B(int b) => 1 + b;
        Assert.Equal([257, 258, B(0xF0), B(0x9F), B(0x90), B(0x8B), B(0xE2), B(0x82), B(0xAC), 257], ids);
        Assert.Equal("aé🐋€a", UnigramMetaspace.Decode(model, ids));
    }

    [Fact]
    public void Missing_unknown_id_is_a_clear_error()
    {
        var model = new UnigramModel([("a", -1)], null, byteFallback: false);
        var e = Assert.Throws<ArgumentException>(() => model.Encode("ab", new List<int>()));
        Assert.Contains("U+0062", e.Message);
    }

    [Fact]
    public void Sampling_with_alpha_1_matches_the_exact_lattice_probabilities()
    {
        var model = RandomModel(3);
        const string text = "abcabdcab";
        var all = AllSegmentations(model, text);
        // P(segmentation) = exp(score) / Σ exp(score); unknown runs fuse, so sum over segmentations with equal ids.
        double max = all.Max(s => s.Score);
        var exact = new Dictionary<string, double>();
        double z = all.Sum(s => Math.Exp(s.Score - max));
        foreach (var (ids, score) in all)
        {
            string key = string.Join(' ', ids);
            exact[key] = exact.GetValueOrDefault(key) + Math.Exp(score - max) / z;
        }
        const int samples = 40_000;
        var seen = new Dictionary<string, int>();
        ulong state = 12345;
        var sample = new List<int>();
        for (int i = 0; i < samples; i++)
        {
            sample.Clear();
            model.Sample(text, sample, alpha: 1.0, nbest: -1, ref state);
            string key = string.Join(' ', sample);
            Assert.True(exact.ContainsKey(key), $"sampled a segmentation that does not exist: {key}");
            seen[key] = seen.GetValueOrDefault(key) + 1;
        }
        // Binomial standard error ≤ 0.5/√40000 = 0.0025; the bound is 4 of them.
        double worst = exact.Max(kv => Math.Abs(seen.GetValueOrDefault(kv.Key) / (double)samples - kv.Value));
        Assert.True(worst < 0.01, $"max |frequency − probability| = {worst}");
        Assert.True(exact.Count > 20, "the example should have many segmentations");
    }

    [Fact]
    public void NBest_sampling_matches_the_softmax_over_the_n_best()
    {
        var model = RandomModel(5);
        const string text = "abcabca";
        var best = model.NBest(text, 4);
        const double alpha = 0.5;
        double top = best[0].Score;
        double z = best.Sum(b => Math.Exp(alpha * (b.Score - top)));
        const int samples = 20_000;
        var seen = new int[best.Count];
        ulong state = 99;
        var sample = new List<int>();
        for (int i = 0; i < samples; i++)
        {
            sample.Clear();
            model.Sample(text, sample, alpha, nbest: 4, ref state);
            int which = best.FindIndex(b => b.Ids.SequenceEqual(sample));
            Assert.True(which >= 0);
            seen[which]++;
        }
        for (int i = 0; i < best.Count; i++)
            Assert.True(Math.Abs(seen[i] / (double)samples - Math.Exp(alpha * (best[i].Score - top)) / z) < 0.015);
    }

    [Fact]
    public void Sampling_is_reproducible_from_a_seed()
    {
        var model = RandomModel(8);
        var first = new List<int>(); var second = new List<int>();
        string text = "abcdabcdabcdabcd";
        var distinct = new HashSet<string>();
        for (ulong seed = 0; seed < 50; seed++)
        {
            first.Clear(); second.Clear();
            model.Sample(text, first, 0.2, -1, seed);
            model.Sample(text, second, 0.2, -1, seed);
            Assert.Equal(first, second);
            distinct.Add(string.Join(' ', first));
        }
        Assert.True(distinct.Count > 5, "different seeds should give different segmentations");
    }

    [Fact]
    public void Json_round_trip_is_exact()
    {
        var vocab = new List<(string, double)> { ("<unk>", 0), ("▁the", -0.1), ("\"q\\", -12.345678901234567), ("é", -1e-300), ("🐋", -3.0000000000000004) };
        var model = new UnigramModel(vocab, 0, byteFallback: true);
        byte[] first = Write(model);
        using var doc = JsonDocument.Parse(first);
        var back = UnigramModel.FromJson(doc.RootElement, "t.json");
        Assert.Equal(first, Write(back));
        for (int i = 0; i < vocab.Count; i++)
        {
            Assert.Equal(vocab[i].Item1, back.IdToToken(i));
            Assert.Equal(BitConverter.DoubleToInt64Bits(vocab[i].Item2), BitConverter.DoubleToInt64Bits(back.Scores[i]));
        }
        Assert.True(back.ByteFallback);
        Assert.Equal(0, back.UnknownId);
        Assert.Contains("\"type\":\"Unigram\"", Encoding.UTF8.GetString(first));
    }

    static byte[] Write(UnigramModel model)
    {
        var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream)) model.WriteJson(w);
        return stream.ToArray();
    }

    [Theory]
    [InlineData("""{"type":"Unigram"}""", "model.vocab")]
    [InlineData("""{"type":"Unigram","vocab":[["a"]]}""", "model.vocab[0]")]
    [InlineData("""{"type":"Unigram","vocab":[["a",-1],["b","x"]]}""", "model.vocab[1]")]
    [InlineData("""{"type":"Unigram","vocab":[["a",-1]],"unk_id":3}""", "unk_id")]
    [InlineData("""{"type":"Unigram","vocab":[["a",-1]],"unk_id":"0"}""", "model.unk_id")]
    [InlineData("""{"type":"Unigram","vocab":[["a",-1]],"byte_fallback":1}""", "model.byte_fallback")]
    [InlineData("""{"type":"BPE","vocab":[["a",-1]]}""", "model.type")]
    [InlineData("""{"type":"Unigram","vocab":[]}""", "empty")]
    public void Malformed_json_names_the_file_and_field(string json, string field)
    {
        using var doc = JsonDocument.Parse(json);
        var e = Assert.Throws<InvalidDataException>(() => UnigramModel.FromJson(doc.RootElement, "bad.json"));
        Assert.StartsWith("bad.json", e.Message);
        Assert.Contains(field, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }
}

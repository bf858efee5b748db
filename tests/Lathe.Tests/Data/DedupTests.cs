using Lathe.Data;

namespace Lathe.Tests.Data;

public class DedupTests
{
    static string RandomText(Random rng, int words)
    {
        var w = new string[words];
        for (int i = 0; i < words; i++) w[i] = "w" + rng.Next(5000);
        return string.Join(' ', w);
    }

    static double Jaccard(HashSet<ulong> a, HashSet<ulong> b)
    {
        int inter = 0;
        foreach (var x in a) if (b.Contains(x)) inter++;
        return (double)inter / (a.Count + b.Count - inter);
    }

    [Fact]
    public void BandsForDefaultThreshold()
    {
        var bands = LshBands.ForThreshold(0.8, 128);
        Assert.True(bands.Bands * bands.Rows <= 128);
        // The S-curve's steepest point (1/b)^(1/r) sits near the threshold, pairs at 0.9 are almost always
        // caught and pairs at 0.5 almost never.
        double knee = Math.Pow(1.0 / bands.Bands, 1.0 / bands.Rows);
        Assert.InRange(knee, 0.7, 0.9);
        Assert.True(bands.CandidateProbability(0.9) > 0.9);
        Assert.True(bands.CandidateProbability(0.5) < 0.01);
        Assert.Equal(new LshBands(9, 13), bands); // lsh_bands.py (Python, same minimisation) prints b=9, r=13
    }

    [Fact]
    public void MinHashEstimatesJaccard()
    {
        // Slow twin: exact Jaccard of the shingle sets. With 128 hashes the estimate's standard deviation is
        // at most 0.5/sqrt(128) = 0.044; 0.2 is over 4.5 sigma.
        var hasher = new MinHasher(128, 5, seed: 7);
        var rng = new Random(3);
        var sa = new uint[128];
        var sb = new uint[128];
        for (int trial = 0; trial < 40; trial++)
        {
            string a = RandomText(rng, 300);
            var words = a.Split(' ');
            int edits = rng.Next(0, 60);
            for (int e = 0; e < edits; e++) words[rng.Next(words.Length)] = "x" + rng.Next(100000);
            string b = string.Join(' ', words);
            hasher.Signature(a, sa);
            hasher.Signature(b, sb);
            int equal = 0;
            for (int i = 0; i < 128; i++) if (sa[i] == sb[i]) equal++;
            double exact = Jaccard(hasher.Shingles(a), hasher.Shingles(b));
            Assert.InRange(equal / 128.0 - exact, -0.2, 0.2);
        }
    }

    [Fact]
    public void ExactAndNearDuplicatesDroppedKeepingFirst()
    {
        var rng = new Random(11);
        string a = RandomText(rng, 400), c = RandomText(rng, 400);
        var words = a.Split(' ');
        words[100] = "changed";                        // one word of 400: Jaccard ≈ 0.976
        string nearA = string.Join(' ', words);
        string exactA = "  " + a.ToUpperInvariant() + "\n"; // same normalised text
        var docs = new[] { c, nearA, a, exactA, RandomText(rng, 400) };
        var hasher = new MinHasher();
        var dedup = new Deduplicator();
        var sig = new uint[128];
        foreach (var d in docs) { hasher.Signature(d, sig); dedup.Add(Hash64.OfNormalized(d), sig); }
        Assert.Equal([true, true, false, false, true], Enumerable.Range(0, docs.Length).Select(dedup.Keep).ToArray());
        Assert.Equal(1, dedup.ExactDuplicates);
        Assert.Equal(1, dedup.CountNearDuplicates());
    }

    [Fact]
    public void ClustersAreTransitiveAndKeepTheirFirstMember()
    {
        // d0 ~ d1 only through d2 (added last): union-find must still drop d1, keep d0.
        var dedup = new Deduplicator(0.8, 16);
        uint[] s0 = new uint[16], s1 = new uint[16], s2 = new uint[16];
        for (int i = 0; i < 16; i++) { s0[i] = (uint)i; s1[i] = (uint)(100 + i); s2[i] = i < 8 ? (uint)i : (uint)(100 + i); }
        dedup.Add(1, s0);
        dedup.Add(2, s1);
        dedup.Add(3, s2);
        int r = dedup.Bands.Rows;
        Assert.True(8 % r == 0, $"rows {r}"); // bands of s2 align with s0's first half and s1's second half
        Assert.True(dedup.Keep(0));
        Assert.False(dedup.Keep(1));
        Assert.False(dedup.Keep(2));
    }

    [Fact]
    public void SpamAssassinNearDuplicatesArePrecise()
    {
        // Real mail with real near duplicates (spam campaigns). Every flagged pair is checked against the exact
        // Jaccard similarity of its shingle sets; precision = share of flagged pairs at or above the threshold.
        var report = new SourceReport();
        var source = CorpusSource.Open(Path.Combine(Peers.Datasets, "spam-assassin", "data", "spam-2"), report, SourceFormat.Mail, "*.txt");
        var cleaner = new TextCleaner(CleaningOptions.Default with { QualityFilter = false });
        var texts = new List<string>();
        var stats = new CleaningStats();
        foreach (var d in source) if (cleaner.Clean(d.Text, stats) is { } t) texts.Add(t);
        Assert.True(texts.Count > 1000);

        var hasher = new MinHasher(128, 5, seed: 1);
        var dedup = new Deduplicator(0.8, 128, collectPairs: true);
        var sig = new uint[128];
        int used = dedup.Bands.Bands * dedup.Bands.Rows;
        var indexOf = new List<int>();
        for (int i = 0; i < texts.Count; i++)
        {
            hasher.Signature(texts[i], sig);
            if (dedup.Add(Hash64.OfNormalized(texts[i]), sig.AsSpan(0, used))) indexOf.Add(i);
            else indexOf.Add(-1);
        }
        var pairs = dedup.CandidatePairs.Distinct().ToList();
        Assert.True(pairs.Count >= 50, $"{pairs.Count} flagged pairs");
        var rng = new Random(1);
        var sample = pairs.OrderBy(_ => rng.Next()).Take(400).ToList();
        int good = 0;
        foreach (var (later, earlier) in sample)
            if (Jaccard(hasher.Shingles(texts[later]), hasher.Shingles(texts[earlier])) >= 0.8) good++;
        double precision = (double)good / sample.Count;
        // LSH flags some pairs just under the threshold (its S-curve is not a step); measured 0.95+ here.
        Assert.True(precision >= 0.9, $"precision {precision:F3} over {sample.Count} of {pairs.Count} flagged pairs");
        Console.WriteLine($"spam-2: {texts.Count} docs, {dedup.ExactDuplicates} exact, {dedup.CountNearDuplicates()} near duplicates; precision {precision:F3} over {sample.Count} pairs");
    }

    [Fact]
    public void SameSeedSameSignatureDifferentSeedDifferent()
    {
        string text = RandomText(new Random(5), 200);
        uint[] a = new uint[128], b = new uint[128], c = new uint[128];
        new MinHasher(128, 5, 42).Signature(text, a);
        new MinHasher(128, 5, 42).Signature(text, b);
        new MinHasher(128, 5, 43).Signature(text, c);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }
}

public class MinHashSimdTests
{
    [Theory]
    [InlineData(128)]
    [InlineData(117)]
    [InlineData(5)]
    [InlineData(1)]
    public void VectorizedSignatureEqualsScalar(int hashes)
    {
        var rng = new Random(hashes);
        var hasher = new MinHasher(hashes, 5, seed: 99);
        uint[] fast = new uint[hashes], slow = new uint[hashes];
        foreach (int words in new[] { 0, 1, 4, 5, 6, 300 })
        {
            string text = string.Join(' ', Enumerable.Range(0, words).Select(_ => "t" + rng.Next(1000)));
            Assert.Equal(hasher.Signature(text, slow, vectorized: false), hasher.Signature(text, fast, vectorized: true));
            Assert.Equal(slow, fast);
        }
    }
}

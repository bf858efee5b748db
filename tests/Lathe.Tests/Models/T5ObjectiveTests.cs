using Lathe.Training.Objectives;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tests.Models;

/// <summary>T5's relative position buckets and span corruption.</summary>
public class T5ObjectiveTests
{
    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Models", "fixtures", name);

    [Theory]
    // Hand-computed, 32 buckets, max distance 128. Bidirectional: 16 per side, 8 exact; keys after the query
    // use 16..31. Large n: 8 + ⌊log(n/8)/log(16)·8⌋, capped at 15. Unidirectional: 32 for the past, 16 exact.
    [InlineData(0, true, 0)]
    [InlineData(-1, true, 1)]
    [InlineData(1, true, 17)]
    [InlineData(-7, true, 7)]
    [InlineData(-8, true, 8)]       // log(1)·… = 0
    [InlineData(-12, true, 9)]      // log(1.5)/log(16)·8 = 1.17
    [InlineData(-16, true, 10)]     // exactly 2
    [InlineData(-32, true, 12)]     // exactly 4
    [InlineData(-127, true, 15)]    // 7.98
    [InlineData(-128, true, 15)]    // 8 → capped at 15
    [InlineData(500, true, 31)]
    [InlineData(5, false, 0)]       // future keys share bucket 0 in the decoder
    [InlineData(-5, false, 5)]
    [InlineData(-15, false, 15)]
    [InlineData(-16, false, 16)]    // log(1) = 0
    [InlineData(-32, false, 21)]    // 16 + log(2)/log(8)·16 = 21.33
    [InlineData(-64, false, 26)]    // 16 + 10.67
    [InlineData(-1000, false, 31)]
    public void Bucket_matches_hand_computed_values(int relative, bool bidirectional, int bucket) =>
        Assert.Equal(bucket, RelativePositionBias.Bucket(relative, bidirectional, 32, 128));

    [Fact]
    public void Bucket_matches_PyTorch_over_minus_300_to_300()
    {
        using var f = SafetensorsFile.Open(Fixture("t5.expected.safetensors"));
        int[] bi = f.ReadInts("buckets.bidirectional"), uni = f.ReadInts("buckets.unidirectional");
        for (int r = -300; r <= 300; r++)
        {
            Assert.Equal(bi[r + 300], RelativePositionBias.Bucket(r, true, 32, 128));
            Assert.Equal(uni[r + 300], RelativePositionBias.Bucket(r, false, 32, 128));
        }
    }

    [Fact]
    public void Span_corruption_reconstructs_the_row_and_has_T5s_statistics()
    {
        const int L = 129, V = 1124, Eos = 1, Start = 0, Draws = 2000;
        var sc = new SpanCorruption(L, V, Eos, Start);
        Assert.Equal(19, sc.NoiseTokens);   // round(129·0.15) = round(19.35)
        Assert.Equal(6, sc.Spans);          // round(19/3)
        var rng = new Philox(7);
        var draws = new SeededDraws(7);
        int[] row = new int[L], enc = new int[sc.EncoderLength], decIn = new int[sc.DecoderLength], tgt = new int[sc.DecoderLength];
        long spanLengthSum = 0, spanCount = 0;
        var noiseAt = new int[L];
        for (int d = 0; d < Draws; d++)
        {
            for (int i = 0; i < L; i++) row[i] = 2 + rng.NextInt(1000);
            sc.Apply(row, ref draws, enc, decIn, tgt);
            // Reconstruct: walk the encoder input, replacing sentinel k by the tokens after sentinel k in the targets.
            var rebuilt = new List<int>();
            for (int i = 0; i < enc.Length - 1; i++)
            {
                int k = V - 1 - enc[i];
                if (k < 0 || k >= sc.Spans) { rebuilt.Add(enc[i]); continue; }
                int at = Array.IndexOf(tgt, enc[i]);
                Assert.True(at >= 0, "sentinel of the input missing from the targets");
                for (int j = at + 1; j < tgt.Length - 1 && V - 1 - tgt[j] is < 0 or >= 6; j++) { rebuilt.Add(tgt[j]); spanLengthSum++; }
                spanCount++;
            }
            Assert.Equal(row, rebuilt);
            Assert.Equal(Eos, enc[^1]);
            Assert.Equal(Eos, tgt[^1]);
            Assert.Equal(Start, decIn[0]);
            Assert.Equal(tgt.AsSpan(0, tgt.Length - 1).ToArray(), decIn.AsSpan(1).ToArray());
            var seeded = new SeededDraws((ulong)d);
            var mask = sc.DrawMask(ref seeded);
            for (int i = 0; i < L; i++) if (mask[i]) noiseAt[i]++;
            Assert.False(mask[0]);   // T5 interleaves starting with non-noise
        }
        Assert.Equal(Draws * 6L, spanCount);
        Assert.Equal(Draws * 19L, spanLengthSum);      // noise fraction 19/129 = 0.147 exactly, every row
        // Positions: the runs alternate non-noise first and noise last (T5's interleaving), so the first token is
        // never noise and the last always; every other position sometimes and never always; the middle near 15%.
        Assert.Equal(Draws, noiseAt[L - 1]);
        for (int i = 1; i < L - 1; i++) Assert.InRange(noiseAt[i], 1, Draws - 1);
        double middle = 0;
        for (int i = 40; i < 90; i++) middle += noiseAt[i];
        Assert.InRange(middle / (50.0 * Draws), 0.12, 0.18);
    }

    [Fact]
    public void Span_lengths_average_three_and_vary()
    {
        var sc = new SpanCorruption(1001, 5000, 1, 0);   // 150 noise tokens in 50 spans
        var histogram = new int[200];
        for (int d = 0; d < 200; d++)
        {
            var seeded = new SeededDraws((ulong)d + 100);
            var mask = sc.DrawMask(ref seeded);
            int run = 0, spans = 0;
            for (int i = 0; i <= mask.Length; i++)
            {
                if (i < mask.Length && mask[i]) { run++; continue; }
                if (run > 0) { histogram[run]++; spans++; run = 0; }
            }
            Assert.Equal(50, spans);   // runs never touch: non-noise runs are non-empty
        }
        long total = 0, count = 0;
        for (int k = 0; k < histogram.Length; k++) { total += (long)k * histogram[k]; count += histogram[k]; }
        Assert.Equal(3.0, (double)total / count, 6);
        // A uniform random composition of 150 into 50 parts: P(length 1) = C(148,48)/C(149,49) = 49/149 ≈ 0.33.
        Assert.InRange(histogram[1] / (double)count, 0.29, 0.37);
        Assert.True(histogram[7] > 0, "long spans occur");
    }

    [Fact]
    public void Seeded_draws_are_Philox_bits()
    {
        var philox = new Philox(0xDEADBEEF12345678);
        var draws = new SeededDraws(0xDEADBEEF12345678);
        for (int i = 0; i < 1000; i++) Assert.Equal(philox.NextInt(1 + i % 97), draws.NextInt(1 + i % 97));
    }

    [Fact]
    public void Same_seed_same_corruption_different_seed_different()
    {
        var sc = new SpanCorruption(65, 300, 1, 0);
        int[] row = Enumerable.Range(2, 65).ToArray();
        int[] Run(ulong seed)
        {
            int[] enc = new int[sc.EncoderLength], d = new int[sc.DecoderLength], t = new int[sc.DecoderLength];
            var draws = new SeededDraws(seed);
            sc.Apply(row, ref draws, enc, d, t);
            return [.. enc, .. t];
        }
        Assert.Equal(Run(3), Run(3));
        Assert.NotEqual(Run(3), Run(4));
    }

    [Fact]
    public void Token_ids_in_the_sentinel_range_are_a_one_line_error()
    {
        var sc = new SpanCorruption(65, 300, 1, 0);   // 3 spans: sentinels 297..299
        int[] row = new int[65];
        row[10] = 297;
        var e = Assert.Throws<InvalidDataException>(() => { var draws = new SeededDraws(1); sc.Apply(row, ref draws, new int[sc.EncoderLength], new int[sc.DecoderLength], new int[sc.DecoderLength]); });
        Assert.StartsWith("t5: token id 297 collides with the sentinel ids 297..299", e.Message);
    }
}

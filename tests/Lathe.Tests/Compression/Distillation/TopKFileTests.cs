using Lathe.Compression.Distillation;
using Lathe.Tests.Models;

namespace Lathe.Tests.Compression.Distillation;

/// <summary>The teacher's top-k selection against a full sort, and the top-k file: records read back as written (both
/// id widths), and files that are cut short or made for another run refused by field.</summary>
public class TopKFileTests
{
    [Theory]
    [InlineData(50, 1, 1f)]
    [InlineData(50, 7, 2f)]
    [InlineData(300, 32, 0.7f)]
    [InlineData(40, 40, 1.5f)]
    public void Selection_is_the_top_of_a_full_sort_with_the_rest_mass(int V, int K, float T)
    {
        var rng = new Random(V * 31 + K);
        var logits = Enumerable.Range(0, V).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
        logits[3] = logits[9] = logits.Max();   // a tie at the top: the lower id comes first
        var selection = new TopKSelection(V, K);
        var ids = new int[K];
        var logProbs = new float[K];
        float rest = selection.Select(logits, T, ids, logProbs);
        double max = logits.Max() / (double)T, sum = logits.Sum(x => Math.Exp(x / T - max));
        var exact = Enumerable.Range(0, V).Select(j => (Id: j, LogProb: logits[j] / T - max - Math.Log(sum)))
            .OrderByDescending(e => e.LogProb).ThenBy(e => e.Id).ToArray();
        for (int k = 0; k < K; k++)
        {
            Assert.Equal(exact[k].Id, ids[k]);
            Assert.True(Math.Abs(exact[k].LogProb - logProbs[k]) < 1e-5, $"log-prob {k}: {logProbs[k]} vs {exact[k].LogProb}");
        }
        double expectedRest = exact.Skip(K).Sum(e => Math.Exp(e.LogProb));
        Assert.True(Math.Abs(expectedRest - rest) < 1e-6, $"rest {rest} vs {expectedRest}");
        if (K == V) Assert.Equal(0f, rest);
    }

    static TopKHeader Header(int vocab, int k) => new()
    {
        K = k, Temperature = 2f, VocabSize = vocab, IdBytes = TopKFile.IdBytesFor(vocab), BatchSize = 2, BlockSize = 3, Seed = 5, MicroBatches = 3,
        Tokenizer = "abc", Data = "def", Teacher = "t",
    };

    [Theory]
    [InlineData(1000, 4)]
    [InlineData(70000, 3)]   // ids wider than uint16
    public void Records_read_back_as_written(int vocab, int k)
    {
        string dir = CheckpointTests.TempDir(), path = Path.Combine(dir, "t.topk");
        var header = Header(vocab, k);
        int n = header.Positions;
        TopKFile.Write(path, header, (m, ids, logProbs, rest) =>
        {
            for (int i = 0; i < n * k; i++) { ids[i] = (int)((m * 7919 + i * 104729) % vocab); logProbs[i] = -0.1f * i - m; }
            for (int r = 0; r < n; r++) rest[r] = 0.01f * r + m;
            return 1000UL + (ulong)m;
        });
        using var reader = new TopKReader(path);
        Assert.Equal(header, reader.Header);
        var readIds = new int[n * k];
        var readLogProbs = new float[n * k];
        var readRest = new float[n];
        for (long m = 2; m >= 0; m--)   // any order: records have fixed size
        {
            Assert.Equal(1000UL + (ulong)m, reader.Read(m, readIds, readLogProbs, readRest));
            for (int i = 0; i < n * k; i++)
            {
                Assert.Equal((int)((m * 7919 + i * 104729) % vocab), readIds[i]);
                Assert.Equal(-0.1f * i - m, readLogProbs[i]);
            }
            for (int r = 0; r < n; r++) Assert.Equal(0.01f * r + m, readRest[r]);
        }
        reader.RequireMatch("abc", "def", 2, 3, 5, 3);
        Assert.StartsWith($"{path}: block_size:", Assert.Throws<InvalidDataException>(() => reader.RequireMatch("abc", "def", 2, 4, 5, 3)).Message);
        Assert.StartsWith($"{path}: data:", Assert.Throws<InvalidDataException>(() => reader.RequireMatch("abc", "xyz", 2, 3, 5, 3)).Message);
        Assert.StartsWith($"{path}: micro_batches:", Assert.Throws<InvalidDataException>(() => reader.RequireMatch("abc", "def", 2, 3, 5, 4)).Message);
    }

    [Fact]
    public void A_cut_file_or_another_file_is_refused()
    {
        string dir = CheckpointTests.TempDir(), path = Path.Combine(dir, "t.topk");
        TopKFile.Write(path, Header(100, 2), (_, _, _, _) => 0);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length - 1).ToArray());
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => new TopKReader(path)).Message);
        File.WriteAllText(path, "not a top-k file at all");
        Assert.Contains("not a top-k logits file", Assert.Throws<InvalidDataException>(() => new TopKReader(path)).Message);
    }
}

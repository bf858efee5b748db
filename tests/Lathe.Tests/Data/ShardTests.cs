using System.Buffers.Binary;
using Lathe.Data;

namespace Lathe.Tests.Data;

public class ShardTests
{
    [Theory]
    [InlineData(257, 2)]
    [InlineData(100_000, 4)]
    public void WriterAndReaderRoundTripInLlmcLayout(int vocab, int width)
    {
        using var tmp = new TempDir();
        var rng = new Random(vocab);
        var tokens = Enumerable.Range(0, 2500).Select(_ => rng.Next(vocab)).ToArray();
        var writer = new ShardWriter(tmp.File("x_train"), vocab, tokensPerShard: 1000);
        writer.Append(tokens.AsSpan(0, 700));
        writer.Append(tokens.AsSpan(700));
        writer.Finish();
        Assert.Equal(["x_train_000000.bin", "x_train_000001.bin", "x_train_000002.bin"], writer.Paths.Select(p => Path.GetFileName(p)!).ToArray());
        // Header checked byte by byte (independent of the reader): magic, version, count, zero padding.
        byte[] raw = File.ReadAllBytes(writer.Paths[2]);
        Assert.Equal(1024 + 500 * width, raw.Length);
        Assert.Equal(20240520, BinaryPrimitives.ReadInt32LittleEndian(raw));
        Assert.Equal(width == 2 ? 1 : 2, BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(4)));
        Assert.Equal(500, BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(8)));
        Assert.All(raw[12..1024], b => Assert.Equal(0, b));
        Assert.Equal(tokens[2000], width == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(1024)) : (int)BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(1024)));
        var back = writer.Paths.SelectMany(p => { using var s = TokenShard.Open(p); return s.ReadAll(); }).ToArray();
        Assert.Equal(tokens, back);
        Assert.Empty(Directory.GetFiles(tmp.Path, "*.tmp"));
    }

    static string WriteShard(TempDir tmp, string name, int magic, int version, int count, int payloadBytes)
    {
        var bytes = new byte[1024 + payloadBytes];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, magic);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), version);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), count);
        File.WriteAllBytes(tmp.File(name), bytes);
        return tmp.File(name);
    }

    [Fact]
    public void LyingHeaderNamesFileAndOffset()
    {
        using var tmp = new TempDir();
        string lying = WriteShard(tmp, "lie.bin", 20240520, 1, 1000, 200); // says 1000 tokens, holds 100
        var e = Assert.Throws<InvalidDataException>(() => TokenShard.Open(lying));
        Assert.Contains("lie.bin", e.Message);
        Assert.Contains("byte offset 8", e.Message);
        Assert.Contains("1000 tokens", e.Message);

        var magic = Assert.Throws<InvalidDataException>(() => TokenShard.Open(WriteShard(tmp, "magic.bin", 1234, 1, 0, 0)));
        Assert.Contains("magic.bin", magic.Message);
        Assert.Contains("byte offset 0", magic.Message);
        var version = Assert.Throws<InvalidDataException>(() => TokenShard.Open(WriteShard(tmp, "ver.bin", 20240520, 3, 0, 0)));
        Assert.Contains("byte offset 4", version.Message);
        File.WriteAllBytes(tmp.File("short.bin"), new byte[100]);
        Assert.Contains("short.bin", Assert.Throws<InvalidDataException>(() => TokenShard.Open(tmp.File("short.bin"))).Message);
        var negative = Assert.Throws<InvalidDataException>(() => TokenShard.Open(WriteShard(tmp, "neg.bin", 20240520, 2, -5, 0)));
        Assert.Contains("byte offset 8", negative.Message);
    }

    [Fact]
    public void LoaderServesEveryWindowOncePerEpochAndResumesExactly()
    {
        using var tmp = new TempDir();
        var writer = new ShardWriter(tmp.File("c_train"), 60_000, tokensPerShard: 1000);
        var all = Enumerable.Range(0, 2345).Select(i => i * 7 % 60_000).ToArray();
        writer.Append(all);
        writer.Finish();
        const int B = 3, T = 16;
        // Slow twin: windows [kT, kT+T+1) of each shard, read directly from the token array.
        var expected = new List<int[]>();
        int offset = 0;
        foreach (int count in new[] { 1000, 1000, 345 })
        {
            for (int k = 0; k * T + T + 1 <= count; k++) expected.Add(all.AsSpan(offset + k * T, T + 1).ToArray());
            offset += count;
        }
        using var loader = new TokenWindowLoader(writer.Paths, B, T, seed: 9);
        Assert.Equal(expected.Count, loader.WindowCount);
        var batch = new int[B * (T + 1)];
        var served = new List<string>();
        int batches = (int)(loader.WindowCount / B);
        for (int i = 0; i < batches; i++)
        {
            loader.NextBatch(batch);
            for (int b = 0; b < B; b++) served.Add(string.Join(',', batch.AsSpan(b * (T + 1), T + 1).ToArray()));
        }
        var expectedSet = expected.Select(w => string.Join(',', w)).ToList();
        Assert.Equal(served.Count, served.Distinct().Count());               // no window twice in an epoch
        Assert.All(served, s => Assert.Contains(s, expectedSet));
        Assert.NotEqual(expectedSet.Take(served.Count), served);             // shuffled, not in file order

        // Resume: a loader built from a saved state continues exactly like the original (across an epoch edge).
        var state = loader.State;
        var nextA = new List<int>();
        for (int i = 0; i < 40; i++) { loader.NextBatch(batch); nextA.AddRange(batch); }
        using var resumed = new TokenWindowLoader(writer.Paths, B, T, state);
        var nextB = new List<int>();
        for (int i = 0; i < 40; i++) { resumed.NextBatch(batch); nextB.AddRange(batch); }
        Assert.Equal(nextA, nextB);
        Assert.True(loader.State.Epoch >= 1);

        using var same = new TokenWindowLoader(writer.Paths, B, T, seed: 9);
        same.NextBatch(batch);
        using var other = new TokenWindowLoader(writer.Paths, B, T, seed: 10);
        var batch2 = new int[batch.Length];
        other.NextBatch(batch2);
        Assert.NotEqual(batch, batch2);
    }
}

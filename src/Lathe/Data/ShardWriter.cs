using System.Buffers.Binary;
using Lathe.IO;

namespace Lathe.Data;

/// <summary>Writes a stream of tokens as numbered shards `{prefix}_000000.bin`, `{prefix}_000001.bin`, …
/// of at most <see cref="TokensPerShard"/> tokens, each written atomically when full (and the last one on
/// <see cref="Finish"/>). Tokens are stored as uint16 when the vocabulary fits (version 1), else uint32.</summary>
public sealed class ShardWriter
{
    readonly string prefix;
    readonly int tokenBytes;
    readonly byte[] buffer;
    long count;

    /// <summary>Shard paths written so far.</summary>
    public List<string> Paths { get; } = [];
    /// <summary>Maximum tokens per shard.</summary>
    public int TokensPerShard { get; }
    /// <summary>Tokens written in all shards.</summary>
    public long TotalTokens { get; private set; }

    /// <param name="prefix">Path prefix, e.g. "out/corpus_train".</param>
    /// <param name="vocabSize">Vocabulary size: ≤ 65536 stores uint16.</param>
    /// <param name="tokensPerShard">Shard size in tokens (default 10 M: 20 MB of uint16, a bounded buffer).</param>
    public ShardWriter(string prefix, int vocabSize, int tokensPerShard = 10_000_000)
    {
        if (tokensPerShard < 1) throw new ArgumentOutOfRangeException(nameof(tokensPerShard));
        this.prefix = prefix;
        tokenBytes = vocabSize <= 65536 ? 2 : 4;
        TokensPerShard = tokensPerShard;
        buffer = new byte[TokenShard.HeaderBytes + (long)tokensPerShard * tokenBytes];
    }

    /// <summary>Appends tokens, writing shards as they fill.</summary>
    public void Append(ReadOnlySpan<int> tokens)
    {
        while (!tokens.IsEmpty)
        {
            int room = (int)(TokensPerShard - count);
            int n = Math.Min(room, tokens.Length);
            var dest = buffer.AsSpan(TokenShard.HeaderBytes + (int)(count * tokenBytes));
            if (tokenBytes == 2)
                for (int i = 0; i < n; i++) BinaryPrimitives.WriteUInt16LittleEndian(dest[(2 * i)..], checked((ushort)tokens[i]));
            else
                for (int i = 0; i < n; i++) BinaryPrimitives.WriteUInt32LittleEndian(dest[(4 * i)..], checked((uint)tokens[i]));
            count += n;
            TotalTokens += n;
            tokens = tokens[n..];
            if (count == TokensPerShard) Flush();
        }
    }

    /// <summary>Writes the last, partly filled shard (if any).</summary>
    public void Finish()
    {
        if (count > 0) Flush();
    }

    void Flush()
    {
        TokenShard.WriteHeader(buffer, count, tokenBytes);
        string path = $"{prefix}_{Paths.Count:D6}.bin";
        AtomicFile.Write(path, s => s.Write(buffer, 0, TokenShard.HeaderBytes + (int)(count * tokenBytes)));
        Paths.Add(path);
        count = 0;
    }
}

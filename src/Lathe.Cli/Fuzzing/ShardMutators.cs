using System.Buffers.Binary;
using Lathe.Data;

namespace Lathe.Cli.Fuzzing;

/// <summary>Structure-aware damage to an llm.c token shard (<see cref="TokenShard"/>: 256 int32 of header — magic,
/// version, token count — then uint16 or uint32 tokens): a lying count, version or magic, and token ids beyond any
/// vocabulary.</summary>
internal static class ShardMutators
{
    static Mutator HeaderField(string name, int offset) => new(name, (b, r) =>
    {
        if (b.Length < offset + 4) return b;
        var o = (byte[])b.Clone();
        int old = BinaryPrimitives.ReadInt32LittleEndian(o.AsSpan(offset));
        int lie = r.NextInt(4) switch { 0 => old + 1, 1 => old - 1, 2 => old * 2, _ => (int)r.Pick(FuzzRandom.Interesting32) };
        if (lie == old) lie = ~old;
        BinaryPrimitives.WriteInt32LittleEndian(o.AsSpan(offset), lie);
        return o;
    });

    public static readonly Mutator Magic = HeaderField("shard-magic", 0);
    public static readonly Mutator Version = HeaderField("shard-version", 4);
    public static readonly Mutator Count = HeaderField("shard-count", 8);

    /// <summary>A token id at or past the vocabulary, or the largest the width holds.</summary>
    public static readonly Mutator TokenId = new("shard-token-id", (b, r) =>
    {
        if (b.Length <= TokenShard.HeaderBytes + 4) return b;
        var o = (byte[])b.Clone();
        int version = BinaryPrimitives.ReadInt32LittleEndian(o.AsSpan(4));
        int width = version == 2 ? 4 : 2, tokens = (o.Length - TokenShard.HeaderBytes) / width;
        int at = TokenShard.HeaderBytes + r.NextInt(tokens) * width;
        uint id = r.Pick(new uint[] { 320, 5000, 65535, 0x7FFF_FFFF, 0xFFFF_FFFF });
        if (width == 2) BinaryPrimitives.WriteUInt16LittleEndian(o.AsSpan(at), (ushort)id);
        else BinaryPrimitives.WriteUInt32LittleEndian(o.AsSpan(at), id);
        return o;
    });

    public static readonly IReadOnlyList<Mutator> All = [Magic, Version, Count, TokenId];
}

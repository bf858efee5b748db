using System.Buffers.Binary;
using Lathe.Tensors;

namespace Lathe.Cli.Fuzzing;

/// <summary>Format-blind damage: bit flips, interesting bytes and integers, truncation, junk at the end, chunks
/// duplicated or deleted. What a bad disk, a broken download or a careless editor does.</summary>
internal static class ByteMutators
{
    public static readonly Mutator BitFlip = new("bit-flip", (b, r) =>
    {
        if (b.Length == 0) return b;
        var o = (byte[])b.Clone();
        int flips = 1 + r.NextInt(8);
        for (int i = 0; i < flips; i++) o[r.NextInt(o.Length)] ^= (byte)(1 << r.NextInt(8));
        return o;
    });

    public static readonly Mutator InterestingByte = new("byte", (b, r) =>
    {
        if (b.Length == 0) return b;
        var o = (byte[])b.Clone();
        o[r.NextInt(o.Length)] = r.Pick(FuzzRandom.InterestingBytes);
        return o;
    });

    /// <summary>A 4- or 8-byte little-endian integer written over any position: INT32/INT64 limits, −1, −2, 2^40.</summary>
    public static readonly Mutator InterestingInteger = new("integer", (b, r) =>
    {
        if (b.Length < 8) return b;
        var o = (byte[])b.Clone();
        int at = r.NextInt(o.Length - 7);
        if (r.Chance(50)) BinaryPrimitives.WriteUInt32LittleEndian(o.AsSpan(at), r.Pick(FuzzRandom.Interesting32));
        else BinaryPrimitives.WriteUInt64LittleEndian(o.AsSpan(at), r.Pick(FuzzRandom.Interesting64));
        return o;
    });

    public static readonly Mutator Truncate = new("truncate", (b, r) => b.Length == 0 ? b : b[..r.NextInt(b.Length)]);

    public static readonly Mutator ExtendWithJunk = new("extend", (b, r) =>
    {
        var junk = new byte[1 + r.NextInt(4096)];
        for (int i = 0; i < junk.Length; i++) junk[i] = (byte)r.NextUInt();
        return [.. b, .. junk];
    });

    public static readonly Mutator DuplicateChunk = new("dup-chunk", (b, r) =>
    {
        if (b.Length < 2) return b;
        int start = r.NextInt(b.Length), length = 1 + r.NextInt(Math.Min(b.Length - start, 4096)), at = r.NextInt(b.Length + 1);
        return [.. b.AsSpan(0, at), .. b.AsSpan(start, length), .. b.AsSpan(at)];
    });

    public static readonly Mutator DeleteChunk = new("del-chunk", (b, r) =>
    {
        if (b.Length < 2) return b;
        int start = r.NextInt(b.Length), length = 1 + r.NextInt(Math.Min(b.Length - start, 4096));
        return [.. b.AsSpan(0, start), .. b.AsSpan(start + length)];
    });

    public static readonly IReadOnlyList<Mutator> All = [BitFlip, InterestingByte, InterestingInteger, Truncate, ExtendWithJunk, DuplicateChunk, DeleteChunk];
}

using System.Buffers.Binary;
using Lathe.Tensors;

namespace Lathe.Cli.Fuzzing;

/// <summary>Structure-aware damage to a GGUF file (v2/v3 layout: magic, version, tensor count, KV count, KV pairs,
/// tensor infos, aligned data; ggml's docs/gguf.md). A walk of the seed's header records where each length, count,
/// dimension, type and offset lives, and each mutator lies in one of them.</summary>
internal static class GgufMutators
{
    /// <summary>Byte positions of the header's fields, as far as the walk got through the bytes.</summary>
    internal sealed class Layout
    {
        public int TensorCount = -1, KvCount = -1;   // u64 each
        public readonly List<int> StringLengths = [];   // u64 length before each string's bytes
        public readonly List<(int At, int Length)> StringBytes = [];
        public readonly List<int> ArrayCounts = [];   // u64 element count of each array
        public readonly List<int> ValueTypes = [];    // u32 type of each KV value (and of each array's elements)
        public readonly List<int> DimCounts = [];     // u32 n_dims of each tensor
        public readonly List<int> Dims = [];          // u64 each dimension
        public readonly List<int> TensorTypes = [];   // u32 ggml type of each tensor
        public readonly List<int> TensorOffsets = []; // u64 offset of each tensor's data (relative to the data section)
    }

    /// <summary>Walks a GGUF header; stops quietly where the bytes stop making sense (the mutators use what it found).</summary>
    internal static Layout Walk(ReadOnlySpan<byte> b)
    {
        var layout = new Layout();
        if (b.Length < 24 || !b[..4].SequenceEqual("GGUF"u8)) return layout;
        layout.TensorCount = 8; layout.KvCount = 16;
        ulong tensors = BinaryPrimitives.ReadUInt64LittleEndian(b[8..]), kvs = BinaryPrimitives.ReadUInt64LittleEndian(b[16..]);
        int p = 24, length = b.Length;
        bool Need(int n) => p >= 0 && (long)p + n <= length;
        bool String(ReadOnlySpan<byte> bytes)
        {
            if (!Need(8)) return false;
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes[p..]);
            layout.StringLengths.Add(p);
            p += 8;
            if (n > (ulong)(bytes.Length - p)) return false;
            layout.StringBytes.Add((p, (int)n));
            p += (int)n;
            return true;
        }
        bool Value(ReadOnlySpan<byte> bytes, uint type)
        {
            int size = type switch { 0 or 1 or 7 => 1, 2 or 3 => 2, 4 or 5 or 6 => 4, 10 or 11 or 12 => 8, _ => 0 };
            if (size > 0) { if (!Need(size)) return false; p += size; return true; }
            if (type == 8) return String(bytes);
            if (type != 9 || !Need(12)) return false;
            uint elementType = BinaryPrimitives.ReadUInt32LittleEndian(bytes[p..]);
            layout.ValueTypes.Add(p);
            ulong count = BinaryPrimitives.ReadUInt64LittleEndian(bytes[(p + 4)..]);
            layout.ArrayCounts.Add(p + 4);
            p += 12;
            if (count > (ulong)bytes.Length) return false;
            for (ulong i = 0; i < count; i++) if (!Value(bytes, elementType)) return false;
            return true;
        }
        for (ulong k = 0; k < kvs && k < 1 << 16; k++)
        {
            if (!String(b) || !Need(4)) return layout;
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(b[p..]);
            layout.ValueTypes.Add(p);
            p += 4;
            if (!Value(b, type)) return layout;
        }
        for (ulong t = 0; t < tensors && t < 1 << 16; t++)
        {
            if (!String(b) || !Need(4)) return layout;
            uint dims = BinaryPrimitives.ReadUInt32LittleEndian(b[p..]);
            layout.DimCounts.Add(p);
            p += 4;
            if (dims > 8) return layout;
            for (uint d = 0; d < dims; d++) { if (!Need(8)) return layout; layout.Dims.Add(p); p += 8; }
            if (!Need(12)) return layout;
            layout.TensorTypes.Add(p);
            layout.TensorOffsets.Add(p + 4);
            p += 12;
        }
        return layout;
    }

    /// <summary>Byte sequences no UTF-8 decoder accepts: a lone continuation, an overlong form, a surrogate, 0xFF, a cut sequence.</summary>
    internal static readonly byte[][] Utf8Breakers = [[0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0xE2, 0x82], [0xF8, 0x88, 0x80, 0x80]];

    static byte[] Write64(byte[] b, IReadOnlyList<int> positions, Philox r, Func<ulong, Philox, ulong> value)
    {
        if (positions.Count == 0) return b;
        var o = (byte[])b.Clone();
        int at = r.Pick(positions);
        ulong old = BinaryPrimitives.ReadUInt64LittleEndian(o.AsSpan(at));
        BinaryPrimitives.WriteUInt64LittleEndian(o.AsSpan(at), value(old, r));
        return o;
    }

    static byte[] Write32(byte[] b, IReadOnlyList<int> positions, Philox r, Func<uint, Philox, uint> value)
    {
        if (positions.Count == 0) return b;
        var o = (byte[])b.Clone();
        int at = r.Pick(positions);
        uint old = BinaryPrimitives.ReadUInt32LittleEndian(o.AsSpan(at));
        BinaryPrimitives.WriteUInt32LittleEndian(o.AsSpan(at), value(old, r));
        return o;
    }

    // A lie about a length or count: off by one either way, doubled, or one of the interesting limits.
    static ulong Lie(ulong old, Philox r) => r.NextInt(5) switch
    {
        0 => old + 1,
        1 => old - 1,
        2 => old * 2 + 1,
        3 => old + (ulong)r.NextInt(1 << 20),
        _ => r.Pick(FuzzRandom.Interesting64) is var v && v != old ? v : old ^ 0x8000_0000_0000_0000,
    };

    public static readonly Mutator StringLength = new("gguf-string-length", (b, r) => Write64(b, Walk(b).StringLengths, r, Lie));
    public static readonly Mutator ArrayCount = new("gguf-array-count", (b, r) => Write64(b, Walk(b).ArrayCounts, r, Lie));
    public static readonly Mutator TensorCount = new("gguf-tensor-count", (b, r) => Walk(b).TensorCount < 0 ? b : Write64(b, [8], r, Lie));
    public static readonly Mutator KvCount = new("gguf-kv-count", (b, r) => Walk(b).KvCount < 0 ? b : Write64(b, [16], r, Lie));
    public static readonly Mutator Dim = new("gguf-dim", (b, r) => Write64(b, Walk(b).Dims, r, Lie));
    public static readonly Mutator DimCount = new("gguf-n-dims", (b, r) => Write32(b, Walk(b).DimCounts, r, (old, q) => q.Chance(50) ? old + 1 + (uint)q.NextInt(8) : q.Pick(FuzzRandom.Interesting32)));
    public static readonly Mutator TensorType = new("gguf-tensor-type", (b, r) => Write32(b, Walk(b).TensorTypes, r, (_, q) => q.Chance(70) ? (uint)q.NextInt(40) : q.Pick(FuzzRandom.Interesting32)));
    public static readonly Mutator ValueType = new("gguf-value-type", (b, r) => Write32(b, Walk(b).ValueTypes, r, (_, q) => q.Chance(80) ? (uint)q.NextInt(14) : q.Pick(FuzzRandom.Interesting32)));

    /// <summary>A tensor's data offset: past the end, misaligned, or another tensor's (two tensors over one range).</summary>
    public static readonly Mutator TensorOffset = new("gguf-tensor-offset", (b, r) =>
    {
        var offsets = Walk(b).TensorOffsets;
        if (offsets.Count == 0) return b;
        ulong other = BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(r.Pick(offsets)));
        return Write64(b, offsets, r, (old, q) => q.NextInt(4) switch
        {
            0 => other,                                   // overlapping another tensor
            1 => old + 1 + (ulong)q.NextInt(31),          // misaligned
            2 => (ulong)b.Length + (ulong)q.NextInt(1 << 16),   // past the end of the file
            _ => Lie(old, q),
        });
    });

    /// <summary>Invalid UTF-8 inside a key, a string value or a tensor name.</summary>
    public static readonly Mutator InvalidUtf8 = new("gguf-invalid-utf8", (b, r) =>
    {
        var strings = Walk(b).StringBytes.Where(s => s.Length > 0).ToList();
        if (strings.Count == 0) return b;
        var o = (byte[])b.Clone();
        var (at, length) = r.Pick(strings);
        var bad = r.Pick(Utf8Breakers);
        int start = at + r.NextInt(length);
        for (int i = 0; i < bad.Length && start + i < at + length; i++) o[start + i] = bad[i];
        return o;
    });

    public static readonly IReadOnlyList<Mutator> All =
        [StringLength, ArrayCount, TensorCount, KvCount, Dim, DimCount, TensorType, ValueType, TensorOffset, InvalidUtf8];
}

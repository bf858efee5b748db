using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Lathe.Tensors;

namespace Lathe.Cli.Fuzzing;

/// <summary>Structure-aware damage to a safetensors file (8-byte little-endian header length, a JSON header of
/// {name: {dtype, shape, data_offsets}}, then the data): a lying header length, lying or overlapping data_offsets,
/// huge or negative shapes, unknown dtypes, and any <see cref="JsonMutators"/> damage inside the header.</summary>
internal static class SafetensorsMutators
{
    /// <summary>The header's JSON bytes and the data after it; null when the length does not fit the file.</summary>
    internal static (byte[] Header, byte[] Data)? Split(byte[] b)
    {
        if (b.Length < 8) return null;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(b);
        if (n > (ulong)(b.Length - 8)) return null;
        return (b[8..(8 + (int)n)], b[(8 + (int)n)..]);
    }

    internal static byte[] Join(byte[] header, byte[] data)
    {
        var o = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(o, (ulong)header.Length);
        header.CopyTo(o, 8);
        data.CopyTo(o, 8 + header.Length);
        return o;
    }

    // Parses the header, lets change() edit one tensor's entry, writes it back with a true length.
    static Func<byte[], Philox, byte[]> OnTensor(Action<JsonObject, JsonObject, Philox> change) => (b, r) =>
    {
        if (Split(b) is not { } parts) return b;
        var (header, data) = parts;
        JsonObject? root;
        try { root = JsonNode.Parse(header) as JsonObject; } catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException) { return b; }
        if (root is null) return b;
        try
        {
            var tensors = root.Where(p => p.Key != "__metadata__" && p.Value is JsonObject).Select(p => (JsonObject)p.Value!).ToList();
            if (tensors.Count == 0) return b;
            change(root, r.Pick(tensors), r);
            return Join(Encoding.UTF8.GetBytes(root.ToJsonString()), data);
        }
        // A duplicate key (JsonNode throws when it first reads one) or a field of the wrong type: nothing to act on.
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException) { return b; }
    };

    public static readonly Mutator HeaderLength = new("st-header-length", (b, r) =>
    {
        if (b.Length < 8) return b;
        var o = (byte[])b.Clone();
        ulong old = BinaryPrimitives.ReadUInt64LittleEndian(o);
        ulong lie = r.NextInt(5) switch
        {
            0 => old + 1, 1 => old - 1, 2 => (ulong)b.Length, 3 => old + (ulong)r.NextInt(1 << 20), _ => r.Pick(FuzzRandom.Interesting64),
        };
        BinaryPrimitives.WriteUInt64LittleEndian(o, lie);
        return o;
    });

    /// <summary>data_offsets: begin after end, past the data, another tensor's range (overlap), or off by a few bytes.</summary>
    public static readonly Mutator DataOffsets = new("st-data-offsets", OnTensor((root, t, r) =>
    {
        if (t["data_offsets"] is not JsonArray { Count: 2 } a) return;
        long begin = a[0]!.GetValue<long>(), end = a[1]!.GetValue<long>();
        var others = root.Where(p => p.Value is JsonObject o && o != t && o["data_offsets"] is JsonArray { Count: 2 }).Select(p => (JsonArray)p.Value!["data_offsets"]!).ToList();
        (long, long) lie = r.NextInt(6) switch
        {
            0 => (end, begin),
            1 => (begin, end + 1 + r.NextInt(1 << 16)),
            2 => others.Count > 0 ? (others[r.NextInt(others.Count)][0]!.GetValue<long>(), others[r.NextInt(others.Count)][0]!.GetValue<long>() + (end - begin)) : (begin + 4, end + 4),
            3 => (begin + 1 + r.NextInt(3), end + 1 + r.NextInt(3)),
            4 => (-1 - r.NextInt(8), end),
            _ => ((long)r.NextULong() >> r.NextInt(64), (long)r.NextULong() >> r.NextInt(64)),
        };
        t["data_offsets"] = new JsonArray(lie.Item1, lie.Item2);
    }));

    public static readonly Mutator Shape = new("st-shape", OnTensor((_, t, r) =>
    {
        if (t["shape"] is not JsonArray s) return;
        var shape = s.Select(d => d!.GetValue<long>()).ToList();
        switch (r.NextInt(5))
        {
            case 0: if (shape.Count > 0) shape[r.NextInt(shape.Count)] = r.Pick(new long[] { 0, -1, int.MaxValue, long.MaxValue, 1L << 33 }); break;
            case 1: shape.Add(1 + r.NextInt(4)); break;
            case 2: if (shape.Count > 0) shape.RemoveAt(r.NextInt(shape.Count)); break;
            case 3: shape.Reverse(); break;
            default: for (int i = 0; i < shape.Count; i++) shape[i] *= 1 + r.NextInt(3); break;
        }
        t["shape"] = new JsonArray(shape.Select(d => (JsonNode)d).ToArray());
    }));

    public static readonly Mutator DType = new("st-dtype", OnTensor((_, t, r) =>
        t["dtype"] = r.Pick(new[] { "F16", "BF16", "F64", "I8", "U8", "I64", "BOOL", "F8_E4M3", "Q4", "", "f32" })));

    /// <summary>A JSON mutator on the header, written back with the header's true length.</summary>
    public static Mutator OnHeader(Mutator json) => new("st-header-" + json.Name, (b, r) =>
    {
        if (Split(b) is not { } parts) return b;
        var (header, data) = parts;
        var changed = json.Apply(header, r);
        return ReferenceEquals(changed, header) ? b : Join(changed, data);
    });

    public static readonly IReadOnlyList<Mutator> All = [HeaderLength, DataOffsets, Shape, DType, .. JsonMutators.All.Select(OnHeader)];
}

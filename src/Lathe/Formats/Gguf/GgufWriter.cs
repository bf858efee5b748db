using System.Buffers.Binary;
using System.Text;
using Lathe.IO;

namespace Lathe.Formats;

/// <summary>Writes GGUF v3 files atomically: metadata (uint8…float64, bool, string and arrays of them, typed by their
/// .NET type), then tensors with 32-byte aligned data. Tensor bytes are given already in their ggml type's layout.</summary>
public sealed class GgufWriter
{
    const int Alignment = 32;
    readonly List<(string Key, object Value)> _metadata = [];
    readonly List<(string Name, long[] Dims, GgmlType Type, byte[] Data)> _tensors = [];

    public GgufWriter Add(string key, object value) { _metadata.Add((key, value)); return this; }

    /// <summary>Adds a tensor; <paramref name="dims"/> in ggml order (fastest-varying first).</summary>
    public GgufWriter AddTensor(string name, long[] dims, GgmlType type, byte[] data) { _tensors.Add((name, dims, type, data)); return this; }

    public void Save(string path) => AtomicFile.Write(path, stream =>
    {
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(0x46554747u);
        w.Write(3u);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            WriteTyped(w, value, key);
        }
        long offset = 0;
        foreach (var (name, dims, type, data) in _tensors)
        {
            WriteString(w, name);
            w.Write((uint)dims.Length);
            foreach (long d in dims) w.Write((ulong)d);
            w.Write((uint)type);
            w.Write((ulong)offset);
            offset = Align(offset + data.Length);
        }
        w.Flush();
        Pad(stream);
        foreach (var t in _tensors)
        {
            stream.Write(t.Data);
            Pad(stream);
        }
    });

    static long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;

    static void Pad(Stream s)
    {
        long pad = Align(s.Position) - s.Position;
        for (long i = 0; i < pad; i++) s.WriteByte(0);
    }

    static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static uint TypeOf(object v, string key) => v switch
    {
        byte => 0, sbyte => 1, ushort => 2, short => 3, uint => 4, int => 5, float => 6, bool => 7, string => 8,
        Array => 9, ulong => 10, long => 11, double => 12,
        _ => throw new ArgumentException($"GGUF: metadata '{key}' has unsupported type {v.GetType().Name}."),
    };

    static void WriteTyped(BinaryWriter w, object v, string key)
    {
        uint type = TypeOf(v, key);
        w.Write(type);
        WriteValue(w, v, key);
    }

    static void WriteValue(BinaryWriter w, object v, string key)
    {
        switch (v)
        {
            case byte b: w.Write(b); break;
            case sbyte sb: w.Write(sb); break;
            case ushort us: w.Write(us); break;
            case short s: w.Write(s); break;
            case uint u: w.Write(u); break;
            case int i: w.Write(i); break;
            case float f: w.Write(f); break;
            case bool b: w.Write((byte)(b ? 1 : 0)); break;
            case string s: WriteString(w, s); break;
            case ulong ul: w.Write(ul); break;
            case long l: w.Write(l); break;
            case double d: w.Write(d); break;
            case Array a:
                uint elementType = a.Length == 0 ? 4u : TypeOf(a.GetValue(0)!, key);
                w.Write(elementType);
                w.Write((ulong)a.Length);
                foreach (var item in a)
                {
                    if (TypeOf(item!, key) != elementType) throw new ArgumentException($"GGUF: metadata array '{key}' mixes element types.");
                    WriteValue(w, item!, key);
                }
                break;
        }
    }
}

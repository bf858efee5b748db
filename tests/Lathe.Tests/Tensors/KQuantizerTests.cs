using System.Text.Json;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Tests.Tensors;

/// <summary><see cref="KQuantizer"/> (through <see cref="BlockCodec"/>) against ggml's own bytes: the fixtures in
/// fixtures/kquant/ were written by scripts/fixtures/make_kquant_fixtures.py calling libggml-base.so's
/// quantize_row_qX_K_ref and quantize_qX_K with quant_weights on Gaussian rows, outliers, zero and constant
/// super-blocks, tiny and huge values, values on rounding midpoints and zero importance weights. Bytes are the
/// contract, so every case must match exactly.</summary>
public sealed class KQuantizerTests
{
    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Tensors", "fixtures", "kquant", name);

    public sealed record Case(string Name, int Rows, int Columns, float[] X, float[] Importance);

    static readonly Lazy<Case[]> s_cases = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixture("inputs.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("name").GetString()!, c.GetProperty("rows").GetInt32(), c.GetProperty("columns").GetInt32(),
            Floats(c.GetProperty("x").GetString()!), Floats(c.GetProperty("importance").GetString()!))).ToArray();
    });

    static float[] Floats(string base64) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(base64)).ToArray();

    static byte[] Expected(QuantType type, string caseName, string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixture($"{QuantTypes.Name(type)}.json")));
        return Convert.FromBase64String(doc.RootElement.GetProperty(caseName).GetProperty(path).GetString()!);
    }

    public static IEnumerable<object[]> TypesAndCases()
    {
        foreach (var type in new[] { QuantType.Q2_K, QuantType.Q3_K, QuantType.Q4_K, QuantType.Q5_K, QuantType.Q6_K })
            foreach (var c in s_cases.Value)
                yield return [type, c.Name];
    }

    static Case Get(string name) => s_cases.Value.Single(c => c.Name == name);

    // Row by row, as the GGUF writer and QuantizedMatrix call it; with importance, the same column weights for every row.
    internal static byte[] Quantize(QuantType type, Case c, bool weighted)
    {
        long rowBytes = QuantTypes.RowBytes(type, c.Columns);
        var bytes = new byte[rowBytes * c.Rows];
        for (int r = 0; r < c.Rows; r++)
            BlockCodec.Quantize(type, c.X.AsSpan(r * c.Columns, c.Columns), bytes.AsSpan((int)(r * rowBytes), (int)rowBytes),
                                weighted ? c.Importance : default);
        return bytes;
    }

    [Theory]
    [MemberData(nameof(TypesAndCases))]
    public void Reference_path_is_ggmls_bytes(QuantType type, string caseName)
        => AssertBytes(Expected(type, caseName, "ref"), Quantize(type, Get(caseName), weighted: false), type, caseName);

    [Theory]
    [MemberData(nameof(TypesAndCases))]
    public void Importance_path_is_ggmls_bytes(QuantType type, string caseName)
        => AssertBytes(Expected(type, caseName, "imatrix"), Quantize(type, Get(caseName), weighted: true), type, caseName);

    [Fact]
    public void The_reference_path_does_not_depend_on_how_rows_are_cut()
    {
        // ggml's reference quantizer sees the whole tensor as one row; super-blocks are independent, so one call over
        // all rows must give what the row-by-row calls give.
        var c = Get("gaussian");
        foreach (var type in new[] { QuantType.Q2_K, QuantType.Q3_K, QuantType.Q4_K, QuantType.Q5_K, QuantType.Q6_K })
        {
            var whole = new byte[QuantTypes.RowBytes(type, c.X.Length)];
            KQuantizer.Quantize(type, c.X, whole, default);
            Assert.Equal(Expected(type, c.Name, "ref"), whole);
        }
    }

    [Theory]
    [InlineData(QuantType.Q2_K, 255)]
    [InlineData(QuantType.Q4_K, 300)]
    [InlineData(QuantType.Q6_K, 32)]
    public void A_row_that_is_not_whole_super_blocks_is_refused_naming_type_and_length(QuantType type, int length)
    {
        var e = Assert.Throws<ArgumentException>(() => BlockCodec.Quantize(type, new float[length], new byte[1024]));
        Assert.Contains(QuantTypes.Name(type), e.Message);
        Assert.Contains(length.ToString(), e.Message);
    }

    [Fact]
    public void Wrong_output_size_and_importance_length_are_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => KQuantizer.Quantize(QuantType.Q5_K, new float[512], new byte[175 * 2], default));
        Assert.Contains("q5_k", e.Message);
        Assert.Contains("352", e.Message);
        e = Assert.Throws<ArgumentException>(() => KQuantizer.Quantize(QuantType.Q3_K, new float[256], new byte[110], new float[255]));
        Assert.Contains("255 importance weights", e.Message);
    }

    // On a mismatch, name the first differing byte and its super-block so a failure says where ggml and Lathe part.
    static void AssertBytes(byte[] expected, byte[] actual, QuantType type, string caseName)
    {
        Assert.Equal(expected.Length, actual.Length);
        int block = QuantTypes.BlockBytes(type);
        for (int i = 0; i < expected.Length; i++)
            if (expected[i] != actual[i])
                Assert.Fail($"{QuantTypes.Name(type)} {caseName}: byte {i} (super-block {i / block}, offset {i % block}) is {actual[i]}, ggml wrote {expected[i]}.");
    }
}

/// <summary>Runs alone: these tests swap the process-wide compute pool.</summary>
[CollectionDefinition(nameof(PoolThreads), DisableParallelization = true)]
public sealed class PoolThreads
{
    /// <summary>Runs <paramref name="action"/> on a shared pool of <paramref name="threads"/> threads, then restores the
    /// pool's previous size.</summary>
    internal static void With(int threads, Action action)
    {
        int before = ComputePool.Shared.Threads;
        ComputePool.SetSharedThreads(threads);
        try { action(); }
        finally { ComputePool.SetSharedThreads(before); }
    }
}

[Collection(nameof(PoolThreads))]
public sealed class KQuantizerThreadTests
{
    [Fact]
    public void Bytes_do_not_depend_on_the_thread_count()
    {
        // 64 super-blocks: several chunks on a many-thread pool, one inline loop on a single thread.
        var x = new float[64 * 256];
        var importance = new float[x.Length];
        var rng = new Random(7);
        for (int i = 0; i < x.Length; i++) { x[i] = (float)(rng.NextDouble() * 2 - 1); importance[i] = (float)rng.NextDouble(); }
        foreach (var type in new[] { QuantType.Q2_K, QuantType.Q3_K, QuantType.Q4_K, QuantType.Q5_K, QuantType.Q6_K })
        {
            var results = new List<byte[]>();
            foreach (int threads in new[] { 1, 3, 8 })
                PoolThreads.With(threads, () =>
                {
                    foreach (bool weighted in new[] { false, true })
                    {
                        var y = new byte[QuantTypes.RowBytes(type, x.Length)];
                        KQuantizer.Quantize(type, x, y, weighted ? importance : default);
                        results.Add(y);
                    }
                });
            for (int i = 2; i < results.Count; i++) Assert.Equal(results[i % 2], results[i]);
            Assert.NotEqual(results[0], results[1]);   // the importance path is a different quantizer
        }
    }
}

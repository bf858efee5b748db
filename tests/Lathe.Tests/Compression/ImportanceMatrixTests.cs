using System.Text.Json;
using Lathe.Compression;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Data;

namespace Lathe.Tests.Compression;

/// <summary>Importance matrices: Σ x² per input column of every block projection equals an independent PyTorch forward
/// in float64 (fixtures/make_imatrix_fixtures.py, on the Models/fixtures llama model); llama.cpp's legacy .dat and GGUF
/// layouts, written from numpy by their documented layouts, read back to those sums; Lathe's writers round-trip; and
/// the hook costs nothing once detached.</summary>
public class ImportanceMatrixTests
{
    static readonly ModelConfig Llama = new()
    {
        ModelType = "llama", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 48,
        NormEps = 1e-5f, TieEmbeddings = false,
    };

    static string Fixture(string name) => Path.Combine(Peers.RepoRoot, "tests", "Lathe.Tests", "Compression", "fixtures", name);

    static (int[] Ids, int Window, long Count, Dictionary<string, double[]> Sums) Reference()
    {
        var root = JsonDocument.Parse(File.ReadAllText(Fixture("imatrix_reference.json"))).RootElement;
        var sums = root.GetProperty("sums").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray());
        return (root.GetProperty("ids").EnumerateArray().Select(v => v.GetInt32()).ToArray(), root.GetProperty("window").GetInt32(),
            root.GetProperty("count").GetInt64(), sums);
    }

    static CausalLM FixtureModel()
    {
        var model = CausalLM.Create(Llama, seed: 1);
        Checkpoint.LoadWeights(Path.Combine(Peers.RepoRoot, "tests", "Lathe.Tests", "Models", "fixtures", "llama.model.safetensors"), model);
        return model;
    }

    // Float32 activations through two layers against float64: relative 1e-4 on sums of squares (each a sum of 24 rows).
    static void AssertSums(Dictionary<string, double[]> expected, ImportanceMatrix actual, long count, float tolerance)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Entries.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, sums) in expected)
        {
            var e = actual.Entries[name];
            Assert.Equal(count, e.Count);
            Assert.Equal(sums.Length, e.Sums.Length);
            for (int j = 0; j < sums.Length; j++)
                Assert.True(Math.Abs(sums[j] - e.Sums[j]) <= tolerance * Math.Abs(sums[j]) + 1e-7, $"{name}[{j}]: expected {sums[j]}, got {e.Sums[j]}");
        }
    }

    [Fact]
    public void Computed_sums_of_squares_equal_the_PyTorch_reference()
    {
        var (ids, window, count, sums) = Reference();
        using var model = FixtureModel();
        var m = ImportanceMatrixCollector.Compute(model, ids, window, "calibration.txt");
        Assert.Equal(14, sums.Count);                 // 7 projections × 2 layers; the untied head is not collected by default
        AssertSums(sums, m, count, 1e-4f);
        Assert.Equal(ids.Length / window, m.ChunkCount);
        Assert.Equal(window, m.ChunkSize);
        Assert.Equal(["calibration.txt"], m.Datasets);
        // the mean the quantizer weights with
        string any = sums.Keys.First();
        Assert.Equal(m.Entries[any].Sums[3] / count, m.Values(any)![3], 6);
        // detached: no layer keeps the observer
        Assert.All(model.Linears, l => Assert.Null(l.InputObserver));
    }

    [Fact]
    public void The_output_head_is_collected_only_when_asked()
    {
        var (ids, window, _, _) = Reference();
        using var model = FixtureModel();
        var m = ImportanceMatrixCollector.Compute(model, ids, window, "t", includeOutput: true);
        Assert.True(m.Entries.ContainsKey("output.weight"));
        Assert.Equal(Llama.Embd, m.Entries["output.weight"].Sums.Length);
    }

    [Fact]
    public void llama_cpp_legacy_dat_file_reads_to_the_reference_means()
    {
        var (_, window, count, sums) = Reference();
        var m = ImportanceMatrix.Read(Fixture("imatrix_legacy.dat"));
        Assert.Equal(["moby-dick.txt"], m.Datasets);
        Assert.Equal((int)(count / window), m.ChunkCount);
        foreach (var (name, s) in sums)
        {
            float[] values = m.Values(name)!;
            for (int j = 0; j < s.Length; j++) Assert.True(Math.Abs(s[j] / count - values[j]) <= 1e-5 * (s[j] / count) + 1e-9, $"{name}[{j}]");
        }
    }

    [Fact]
    public void llama_cpp_gguf_imatrix_file_reads_to_the_reference_sums()
    {
        var (_, window, count, sums) = Reference();
        var m = ImportanceMatrix.Read(Fixture("imatrix_gguf.gguf"));
        Assert.Equal(["moby-dick.txt"], m.Datasets);
        Assert.Equal(window, m.ChunkSize);
        AssertSums(sums, m, count, 1e-6f);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Written_files_read_back_to_the_same_means(bool legacy)
    {
        using var dir = new TempDir();
        var source = ImportanceMatrix.Read(Fixture("imatrix_gguf.gguf"));
        string path = dir.File(legacy ? "m.dat" : "m.gguf");
        source.Write(path, legacy);
        var back = ImportanceMatrix.Read(path);
        Assert.Equal(source.Entries.Keys, back.Entries.Keys);
        Assert.Equal(source.ChunkCount, back.ChunkCount);
        Assert.Equal(source.Datasets, back.Datasets);
        foreach (string name in source.Entries.Keys)
            Assert.Equal(source.Values(name)!, back.Values(name)!, (a, b) => Math.Abs(a - b) <= 1e-6f * Math.Abs(a));
        if (!legacy)
        {
            // the GGUF layout is llama.cpp's: F32 in_sum2 and counts, sorted, with the three imatrix keys
            using var file = GgufFile.Open(path);
            Assert.Equal("imatrix", file.Meta<string>("general.type"));
            Assert.Equal(source.Entries.Count * 2, file.Tensors.Count);
            Assert.Equal("blk.0.attn_k.weight.in_sum2", file.Tensors[0].Name);
            Assert.Equal("blk.0.attn_k.weight.counts", file.Tensors[1].Name);
            Assert.Equal(File.ReadAllBytes(Fixture("imatrix_gguf.gguf")), File.ReadAllBytes(path));   // byte for byte the numpy writer's
        }
    }

    [Fact]
    public void Truncated_or_foreign_files_are_one_line_errors_naming_the_file()
    {
        using var dir = new TempDir();
        string cut = dir.File("cut.dat");
        File.WriteAllBytes(cut, File.ReadAllBytes(Fixture("imatrix_legacy.dat"))[..40]);
        var e = Assert.Throws<InvalidDataException>(() => ImportanceMatrix.Read(cut));
        Assert.Contains("cut.dat", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        string text = dir.File("text.dat");
        File.WriteAllText(text, "not an imatrix at all, just words");
        Assert.Contains("text.dat", Assert.Throws<InvalidDataException>(() => ImportanceMatrix.Read(text)).Message);
        Assert.Throws<FileNotFoundException>(() => ImportanceMatrix.Read(dir.File("missing.gguf")));
    }
}

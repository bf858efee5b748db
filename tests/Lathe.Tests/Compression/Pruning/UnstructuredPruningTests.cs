using System.Text.Json;
using Lathe.Compression.Pruning;
using Lathe.Models;
using static Lathe.Tests.Compression.Pruning.PruningTestModels;

namespace Lathe.Tests.Compression.Pruning;

/// <summary>Magnitude, Wanda and 2:4 against a PyTorch script on fixed data (fixtures/make_wanda_fixture.py), the
/// patterns on a whole model, and the sparse kernels against their dense twin.</summary>
public class UnstructuredPruningTests
{
    static JsonElement Fixture() => JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Compression", "Pruning", "fixtures", "wanda.json"))).RootElement;

    static float[] Floats(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetSingle()).ToArray();

    [Fact]
    public void Wanda_magnitude_and_two_four_zero_the_weights_pytorch_zeroes()
    {
        var f = Fixture();
        int rows = f.GetProperty("rows").GetInt32(), cols = f.GetProperty("cols").GetInt32(), tokens = f.GetProperty("tokens").GetInt32();
        double sparsity = f.GetProperty("sparsity").GetDouble();
        float[] w = Floats(f, "w"), x = Floats(f, "x");
        var sumSquares = new double[cols];
        for (int n = 0; n < tokens; n++) for (int j = 0; j < cols; j++) sumSquares[j] += (double)x[n * cols + j] * x[n * cols + j];
        float[] Pruned(int[] drop) { var p = (float[])w.Clone(); foreach (int i in drop) p[i] = 0; return p; }

        var wanda = UnstructuredPruner.Scores(w, rows, cols, sumSquares);
        Assert.Equal(Floats(f, "wanda"), Pruned(UnstructuredPruner.LowestPerRow(wanda, rows, cols, sparsity)));
        Assert.Equal(Floats(f, "magnitude"), Pruned(UnstructuredPruner.LowestOfMatrix(UnstructuredPruner.Scores(w, rows, cols, null), sparsity)));
        Assert.Equal(Floats(f, "two_four_wanda"), Pruned(UnstructuredPruner.TwoOfFour(wanda, rows, cols)));
        // Wanda's choice is not magnitude's on these inputs (their scales differ per feature), so the test tells them apart.
        Assert.NotEqual(Floats(f, "wanda"), Pruned(UnstructuredPruner.LowestPerRow(UnstructuredPruner.Scores(w, rows, cols, null), rows, cols, sparsity)));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Two_four_leaves_exactly_two_of_every_four_weights_of_each_block_linear_and_no_other(string arch)
    {
        var c = arch == "gpt2" ? Gpt2 : LlamaGqa;
        using var model = Random(c, 31);
        var head = model.Linears.Last().Weight.ToArray();
        var calibration = new CalibrationSet(Ids(60, c.VocabSize, 2), c.MaxPositions);
        var mask = UnstructuredPruner.Prune(model, PruneMethod.TwoFour, 0.5, ActivationStatistics.Collect(model, calibration));
        Assert.Equal(0.5, mask.Sparsity);
        foreach (var layer in model.Linears.Where(l => l.Name != "lm_head"))
        {
            var v = layer.Weight.AsSpan();
            for (int g = 0; g < v.Length; g += 4)
            {
                int nonzero = 0;
                for (int k = 0; k < 4; k++) if (v[g + k] != 0) nonzero++;
                Assert.Equal(2, nonzero);
            }
        }
        Assert.Equal(head, model.Linears.Last().Weight.ToArray());
    }

    [Fact]
    public void Magnitude_zeroes_the_smallest_weights_of_each_matrix_and_wanda_the_same_count_in_every_row()
    {
        var c = Llama;
        using (var model = Random(c, 32))
        {
            UnstructuredPruner.Prune(model, PruneMethod.Magnitude, 0.3, null);
            foreach (var layer in model.Linears.Where(l => l.Name != "lm_head"))
            {
                var v = layer.Weight.ToArray();
                var zero = v.Where(a => a == 0).Count();
                Assert.Equal((int)Math.Floor(0.3 * v.Length), zero);
            }
        }
        using (var model = Random(c, 33))
        {
            var original = model.Linears.Select(l => l.Weight.ToArray()).ToArray();
            UnstructuredPruner.Prune(model, PruneMethod.Magnitude, 0.3, null);
            var layers = model.Linears.ToArray();
            for (int i = 0; i < layers.Length - 1; i++)
            {
                var now = layers[i].Weight.ToArray();
                double maxDropped = original[i].Where((a, k) => now[k] == 0).Max(a => Math.Abs(a));
                double minKept = original[i].Where((a, k) => now[k] != 0).Min(a => Math.Abs(a));
                Assert.True(maxDropped <= minKept, $"{layers[i].Name}: dropped {maxDropped} > kept {minKept}");
            }
        }
        using (var model = Random(c, 34))
        {
            var mask = UnstructuredPruner.Prune(model, PruneMethod.Wanda, 0.5, ActivationStatistics.Collect(model, new CalibrationSet(Ids(50, c.VocabSize, 3), c.MaxPositions)));
            foreach (var layer in model.Linears.Where(l => l.Name != "lm_head"))
            {
                var v = layer.Weight.AsSpan();
                int cols = layer.InFeatures;
                for (int r = 0; r < layer.OutFeatures; r++)
                {
                    int zero = 0;
                    foreach (float a in v.Slice(r * cols, cols)) if (a == 0) zero++;
                    Assert.Equal(cols / 2, zero);
                }
            }
            // The mask re-zeroes what an update brought back.
            var first = model.Linears.First().Weight.AsSpan();
            first.Fill(1);
            mask.Apply();
            Assert.Equal(first.Length / 2, first.ToArray().Count(a => a == 0));
        }
    }

    [Theory]
    [InlineData(1, 4, 1)]
    [InlineData(5, 8, 3)]
    [InlineData(7, 20, 17)]
    [InlineData(33, 64, 2)]
    public void Sparse_kernels_match_the_dense_twin(int rows, int cols, int N)
    {
        var rng = new Random(rows * 100 + cols);
        var w = Enumerable.Range(0, rows * cols).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var xT = Enumerable.Range(0, cols * N).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        foreach (int i in UnstructuredPruner.TwoOfFour(UnstructuredPruner.Scores(w, rows, cols, null), rows, cols)) w[i] = 0;
        // A group with a single nonzero at position 1, and one with none: the compressed layout must not double count.
        w[1] = 0.75f; w[0] = w[2] = w[3] = 0;
        if (cols >= 8) w[4] = w[5] = w[6] = w[7] = 0;
        var expected = new float[rows * N];
        CsrMatrix.MultiplyReference(w, rows, cols, xT, N, expected);
        var csr = new CsrMatrix(w, rows, cols);
        var tf = new TwoFourMatrix(w, rows, cols);
        var y = new float[rows * N];
        csr.MatMul(xT, N, y);
        AssertClose(expected, y);
        tf.MatMul(xT, N, y);
        AssertClose(expected, y);
        if (N == 1)
        {
            csr.MatVec(xT, y);
            AssertClose(expected, y);
            tf.MatVec(xT, y);
            AssertClose(expected, y);
        }
        Assert.Throws<ArgumentException>(() => new TwoFourMatrix(Enumerable.Repeat(1f, 8).ToArray(), 1, 8));
    }

    // Float sums of ≤ 64 products against a double reference: a few ulps of the terms' magnitude (~0.25 each).
    static void AssertClose(float[] expected, float[] actual)
    {
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5f, $"[{i}] {actual[i]} vs {expected[i]}");
    }
}

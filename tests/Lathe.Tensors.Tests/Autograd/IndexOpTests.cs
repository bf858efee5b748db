using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>Row gather / weighted scatter-add (finite differences and a direct loop) and top-k (against a sort).</summary>
public class IndexOpTests
{
    [Fact]
    public void GatherRows_routes_gradients_to_the_rows_it_read_including_repeats()
    {
        int[] rows = [3, 0, 3, 4, 1, 3];
        GradCheck.Check(x => Ops.GatherRows(x[0], rows), [GradCheck.Random(1, 5, 7)]);
        using var x = GradCheck.Random(2, 5, 7);
        using var y = Ops.GatherRows(x, rows);
        for (int m = 0; m < rows.Length; m++)
            for (int c = 0; c < 7; c++) Assert.Equal(x.ToArray()[rows[m] * 7 + c], y.ToArray()[m * 7 + c]);
    }

    [Fact]
    public void ScatterAddRows_with_and_without_weights()
    {
        int[] rows = [2, 0, 2, 5, 2];
        GradCheck.Check(x => Ops.ScatterAddRows(x[0], rows, 6), [GradCheck.Random(3, 5, 9)]);
        GradCheck.Check(x => Ops.ScatterAddRows(x[0], rows, 6, x[1]), [GradCheck.Random(4, 5, 9), GradCheck.Random(5, 5, 1)]);
        GradCheck.Check(x => Ops.ScatterAddRows(x[0], rows, 6, x[1]), [GradCheck.Random(6, 5, 9), GradCheck.Random(7, 5)]);
    }

    [Fact]
    public void ScatterAddRows_equals_a_direct_loop_and_leaves_unwritten_rows_zero()
    {
        int[] rows = [2, 0, 2, 5, 2];
        using var src = GradCheck.Random(8, 5, 9);
        using var w = GradCheck.Random(9, 5);
        using var y = Ops.ScatterAddRows(src, rows, 7, w);
        var expected = new float[7 * 9];
        float[] s = src.ToArray(), ws = w.ToArray();
        for (int m = 0; m < rows.Length; m++)
            for (int c = 0; c < 9; c++) expected[rows[m] * 9 + c] += ws[m] * s[m * 9 + c];
        Assert.Equal(expected, y.ToArray());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public void TopK_matches_a_stable_descending_sort(int k)
    {
        var rng = new Random(k);
        const int n = 50, e = 8;
        var data = new float[n * e];
        // Few distinct values so ties are common: the lower index must win them.
        for (int i = 0; i < data.Length; i++) data[i] = rng.Next(5) - 2;
        using var x = Tensor.FromArray(data, n, e);
        var got = new int[n * k];
        Ops.TopK(x, k, got);
        for (int r = 0; r < n; r++)
        {
            var order = Enumerable.Range(0, e).OrderByDescending(j => data[r * e + j]).ThenBy(j => j).Take(k).ToArray();
            Assert.Equal(order, got.AsSpan(r * k, k).ToArray());
        }
    }

    [Fact]
    public void Bad_indices_and_k_are_rejected_naming_the_op()
    {
        using var x = Tensor.Zeros(4, 3);
        Assert.Contains("GatherRows: row index 4", Assert.Throws<ArgumentException>(() => Ops.GatherRows(x, [0, 4])).Message);
        Assert.Contains("ScatterAddRows: row index -1", Assert.Throws<ArgumentException>(() => Ops.ScatterAddRows(x, [0, 1, 2, -1], 5)).Message);
        Assert.Contains("TopK: k = 4", Assert.Throws<ArgumentException>(() => Ops.TopK(x, 4, new int[16])).Message);
    }
}

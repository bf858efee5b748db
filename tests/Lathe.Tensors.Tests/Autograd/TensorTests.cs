using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

public class TensorTests
{
    static float[] Iota(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = i; return a; }

    [Fact]
    public void Memory_is_64_byte_aligned()
    {
        foreach (int n in new[] { 1, 3, 17, 100_000 })
        {
            using var t = Tensor.Zeros(n);
            unsafe { Assert.Equal(0, (long)t.Data % 64); }
        }
    }

    [Fact]
    public void Views_share_memory_and_index_like_numpy()
    {
        using var x = Tensor.FromArray(Iota(24), 2, 3, 4);
        var t = Ops.Transpose(x, 0, 2);                 // (4, 3, 2): t[i,j,k] = x[k,j,i]
        Assert.Equal([4, 3, 2], t.Shape.ToArray());
        Assert.False(t.IsContiguous);
        var v = t.ToArray();
        Assert.Equal(x.ToArray()[1 * 12 + 2 * 4 + 3], v[3 * 6 + 2 * 2 + 1]);
        var n = Ops.Narrow(x, 2, 1, 2);                 // x[:, :, 1:3]
        Assert.Equal(new float[] { 1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22 }, n.ToArray());
        unsafe { Assert.True(n.Data == x.Data + 1); }
        var c = Ops.Contiguous(n);
        Assert.True(c.IsContiguous);
        Assert.Equal(n.ToArray(), c.ToArray());
        var r = Ops.Reshape(x, 6, -1);
        Assert.Equal([6, 4], r.Shape.ToArray());
        unsafe { Assert.True(r.Data == x.Data); }
    }

    [Fact]
    public void Forward_values_match_hand_computed_results()
    {
        using var a = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        using var b = Tensor.FromArray([10, 20, 30], 3);
        Assert.Equal(new float[] { 11, 22, 33, 14, 25, 36 }, Ops.Add(a, b).ToArray());
        Assert.Equal(new float[] { 5, 7, 9 }, Ops.Sum(a, 0).ToArray());
        Assert.Equal(new float[] { 2, 5 }, Ops.Mean(a, 1).ToArray());
        Assert.Equal(new float[] { 3, 6 }, Ops.Max(a, 1).ToArray());
        using var w = Tensor.FromArray([1, 0, -1, 2, 1, 0], 2, 3);  // (out=2, in=3)
        Assert.Equal(new float[] { -2, 4, -2, 13 }, Ops.Linear(a, w).ToArray());
        Assert.Equal(new float[] { 14, 32, 32, 77 }, Ops.MatMul(a, a, transB: true).ToArray());
    }

    [Fact]
    public void Gradients_accumulate_into_leaves_across_backward_passes()
    {
        using var x = Tensor.Parameter([1, 2, 3], 3);
        using var tape = new Tape();
        for (int pass = 1; pass <= 2; pass++)
        {
            tape.Reset();
            using (tape.Activate()) tape.Backward(Ops.SumAll(Ops.Mul(x, x)));
            Assert.Equal(new float[] { 2 * pass, 4 * pass, 6 * pass }, x.Grad!.ToArray());
        }
        x.ZeroGrad();
        Assert.Equal(new float[] { 0, 0, 0 }, x.Grad!.ToArray());
    }

    [Fact]
    public void NoGrad_and_Detach_cut_the_graph()
    {
        using var x = Tensor.Parameter([1, 2, 3], 3);
        using var tape = new Tape();
        using (tape.Activate())
        {
            using (Tape.NoGrad()) Assert.False(Ops.Mul(x, x).NeedsGrad);
            var y = Ops.Mul(x.Detach(), x);
            tape.Backward(Ops.SumAll(y));
        }
        Assert.Equal(new float[] { 1, 2, 3 }, x.Grad!.ToArray());
    }

    [Fact]
    public void A_repeated_step_allocates_nothing()
    {
        using var x = GradCheck.Random(1, 8, 17);
        using var w = GradCheck.Random(2, 5, 17);
        using var b = GradCheck.Random(3, 5);
        w.RequiresGrad = b.RequiresGrad = true;
        using var tape = new Tape();
        void Step()
        {
            tape.Reset();
            using (tape.Activate())
            {
                var h = Ops.Linear(x, w, b);
                var y = Ops.Mul(Ops.Transpose(h, 0, 1), Ops.Reshape(Ops.Narrow(h, 0, 0, 8), 5, 8));
                tape.Backward(Ops.MeanAll(Ops.Add(y, Ops.Max(y, 1, keepDim: true))));
            }
        }
        Step(); Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Same_inputs_give_bit_identical_results()
    {
        float[] Run()
        {
            using var x = GradCheck.Random(4, 7, 63);
            using var w = GradCheck.Random(5, 9, 63);
            w.RequiresGrad = true;
            using var tape = new Tape();
            using (tape.Activate()) tape.Backward(Ops.SumAll(Ops.Mul(Ops.Linear(x, w), Ops.Linear(x, w))));
            return w.Grad!.ToArray();
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Bad_shapes_name_the_op_and_both_shapes()
    {
        using var a = Tensor.Zeros(2, 3);
        using var b = Tensor.Zeros(4, 5);
        var e = Assert.Throws<ArgumentException>(() => Ops.MatMul(a, b));
        Assert.Contains("MatMul", e.Message);
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(4, 5)", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Add(a, b));
        Assert.Contains("Add", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Reshape(a, 4, 2));
        Assert.Contains("Reshape", e.Message);
        e = Assert.Throws<ArgumentException>(() => Ops.Narrow(a, 1, 2, 2));
        Assert.Contains("Narrow", e.Message);
        Assert.Throws<InvalidOperationException>(() => Ops.Transpose(a, 0, 1).AsSpan());
    }
}

using Lathe.Tensors;

namespace Lathe.Tensors.Tests.Autograd;

public class OpGradientTests
{
    [Theory]
    [InlineData(new[] { 3, 17 }, new[] { 17 })]
    [InlineData(new[] { 3, 17 }, new[] { 3, 17 })]
    [InlineData(new[] { 4, 1, 5 }, new[] { 3, 1 })]
    [InlineData(new[] { 1 }, new[] { 2, 3 })]
    [InlineData(new[] { 2, 3, 4 }, new[] { 2, 1, 4 })]
    public void Binary_ops_route_gradients_through_broadcasting(int[] shapeA, int[] shapeB)
    {
        foreach (var op in new Func<Tensor, Tensor, Tensor>[] { Ops.Add, Ops.Sub, Ops.Mul })
            GradCheck.Check(x => op(x[0], x[1]), [GradCheck.Random(1, shapeA), GradCheck.Random(2, shapeB)]);
        // Keep the divisor away from zero so the quotient is smooth over ±eps.
        GradCheck.Check(x => Ops.Div(x[0], x[1]), [GradCheck.Random(1, shapeA), GradCheck.Random(2, 1f, 2f, shapeB)]);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(-1, true)]
    public void Reductions_over_an_axis(int axis, bool keepDim)
    {
        GradCheck.Check(x => Ops.Sum(x[0], axis, keepDim), [GradCheck.Random(3, 3, 17, 5)]);
        GradCheck.Check(x => Ops.Mean(x[0], axis, keepDim), [GradCheck.Random(4, 3, 17, 5)]);
        // Max needs values further apart than eps, or the nudge changes which element wins.
        GradCheck.Check(x => Ops.Max(x[0], axis, keepDim), [Distinct(5, 3, 17, 5)]);
    }

    static Tensor Distinct(int seed, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var s = t.AsSpan();
        var order = new float[s.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i * 0.1f - order.Length * 0.05f;
        new Random(seed).Shuffle(order);
        order.CopyTo(s);
        return t;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void MatMul_all_transpose_combinations(bool transA, bool transB)
    {
        int m = 3, k = 17, n = 5;
        int[] sa = transA ? [k, m] : [m, k], sb = transB ? [n, k] : [k, n];
        GradCheck.Check(x => Ops.MatMul(x[0], x[1], transA, transB), [GradCheck.Random(6, sa), GradCheck.Random(7, sb)]);
        // Batched, with a batch of 2×2.
        GradCheck.Check(x => Ops.MatMul(x[0], x[1], transA, transB),
            [GradCheck.Random(8, [2, 2, .. sa]), GradCheck.Random(9, [2, 2, .. sb])]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MatMul_with_a_shared_right_operand(bool transB)
    {
        int[] sb = transB ? [5, 17] : [17, 5];
        GradCheck.Check(x => Ops.MatMul(x[0], x[1], false, transB), [GradCheck.Random(10, 2, 3, 17), GradCheck.Random(11, sb)]);
    }

    [Fact]
    public void Linear_with_and_without_bias()
    {
        GradCheck.Check(x => Ops.Linear(x[0], x[1], x[2]), [GradCheck.Random(12, 2, 3, 17), GradCheck.Random(13, 5, 17), GradCheck.Random(14, 5)]);
        GradCheck.Check(x => Ops.Linear(x[0], x[1]), [GradCheck.Random(15, 1, 63), GradCheck.Random(16, 3, 63)]);
    }

    [Fact]
    public void Views_route_gradients_to_the_elements_they_read()
    {
        GradCheck.Check(x => Ops.Mul(Ops.Transpose(x[0], 0, 2), x[1]), [GradCheck.Random(17, 3, 4, 5), GradCheck.Random(18, 5, 4, 3)]);
        GradCheck.Check(x => Ops.Contiguous(Ops.Permute(x[0], 1, 2, 0)), [GradCheck.Random(19, 3, 4, 5)]);
        GradCheck.Check(x => Ops.Reshape(Ops.Narrow(x[0], 1, 1, 2), -1), [GradCheck.Random(20, 3, 4, 5)]);
        GradCheck.Check(x => Ops.MatMul(Ops.Narrow(x[0], 0, 2, 3), x[1]), [GradCheck.Random(21, 7, 4), GradCheck.Random(22, 4, 2)]);
    }
}

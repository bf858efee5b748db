namespace Lathe.Tensors;

// ReLU, the activation of the original T5 feed-forward (DenseReluDense). Kept out of the elementwise kernel
// table: it is a compare-and-select that TensorPrimitives already vectorises, and its backward needs only x.
public static unsafe partial class Ops
{
    /// <summary>ReLU: max(x, 0). The gradient is passed where x &gt; 0 and is 0 elsewhere (0 at x = 0, as PyTorch).</summary>
    public static Tensor Relu(Tensor x)
    {
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult(x.Shape);
        System.Numerics.Tensors.TensorPrimitives.Max(new ReadOnlySpan<float>(src.Data, src.Length), 0f, new Span<float>(y.Data, y.Length));
        Record(y, &ReluBackward, src);
        return y;
    }

    static void ReluBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        float* x = y.In0!.Data, g = y.Grad!.Data, d = dx.Data;
        long n = y.Length;
        for (long i = 0; i < n; i++)
            if (x[i] > 0f) d[i] += g[i];
    }
}

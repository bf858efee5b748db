using System.Numerics.Tensors;

namespace Lathe.Tensors;

// Sum, mean and max over one axis. The input is seen as (outer, n, inner) around the reduced axis;
// the result is (outer, inner), with the axis kept as size 1 when keepDim is set.
public static unsafe partial class Ops
{
    public static Tensor Sum(Tensor x, int axis, bool keepDim = false) => Reduce("Sum", x, axis, keepDim, 0);
    public static Tensor Mean(Tensor x, int axis, bool keepDim = false) => Reduce("Mean", x, axis, keepDim, 1);
    public static Tensor Max(Tensor x, int axis, bool keepDim = false) => Reduce("Max", x, axis, keepDim, 2);

    /// <summary>Sum of all elements (a one-element tensor of shape ()).</summary>
    public static Tensor SumAll(Tensor x) => Sum(Reshape(x, x.Length), 0);

    /// <summary>Mean of all elements (shape ()).</summary>
    public static Tensor MeanAll(Tensor x) => Mean(Reshape(x, x.Length), 0);

    static Tensor Reduce(string op, Tensor x, int axis, bool keepDim, int kind)
    {
        int a = Tensor.NormalizeAxis(axis, x.Rank, op);
        int n = x.Shape[a];
        if (n == 0 && kind != 0) throw new ArgumentException($"{op}: axis {a} of shape {Tensor.ShapeString(x.Shape)} is empty.");
        var src = Contiguous(x);
        int outer = 1, inner = 1;
        for (int i = 0; i < a; i++) outer *= x.Shape[i];
        for (int i = a + 1; i < x.Rank; i++) inner *= x.Shape[i];
        Span<int> shape = stackalloc int[x.Rank];
        int r = 0;
        for (int i = 0; i < x.Rank; i++)
            if (i != a) shape[r++] = x.Shape[i];
            else if (keepDim) shape[r++] = 1;
        var y = Autograd.Tape.NewResult(shape[..r]);
        float* px = src.Data, py = y.Data;
        Tensor? argmax = null;
        if (kind == 2 && Autograd.Tape.IsRecording && x.NeedsGrad) argmax = Autograd.Tape.NewResult([outer * inner]);
        for (int o = 0; o < outer; o++)
        {
            float* yo = py + (long)o * inner;
            float* xo = px + (long)o * n * inner;
            if (kind == 2)
            {
                new Span<float>(yo, inner).Fill(float.NegativeInfinity);
                float* am = argmax is null ? null : argmax.Data + (long)o * inner;
                for (int j = 0; j < n; j++)
                {
                    float* row = xo + (long)j * inner;
                    for (int i = 0; i < inner; i++)
                        if (row[i] > yo[i] || (j == 0)) { yo[i] = row[i]; if (am != null) am[i] = j; }
                }
            }
            else if (inner == 1)
            {
                // Reducing the last axis: one vectorized sum per row.
                *yo = TensorPrimitives.Sum(new ReadOnlySpan<float>(xo, n));
                if (kind == 1) *yo /= n;
            }
            else
            {
                new Span<float>(yo, inner).Clear();
                for (int j = 0; j < n; j++)
                    TensorPrimitives.Add(new ReadOnlySpan<float>(yo, inner), new ReadOnlySpan<float>(xo + (long)j * inner, inner), new Span<float>(yo, inner));
                if (kind == 1) TensorPrimitives.Multiply(new ReadOnlySpan<float>(yo, inner), 1f / n, new Span<float>(yo, inner));
            }
        }
        if (Record(y, &ReduceBackward, src))
        {
            y.I0 = outer; y.I1 = n; y.I2 = inner;
            y.B0 = kind == 1;
            y.Saved0 = argmax;
        }
        return y;
    }

    static void ReduceBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        int outer = y.I0, n = y.I1, inner = y.I2;
        float* g = y.Grad!.Data, d = dx.Data;
        float scale = y.B0 ? 1f / n : 1f;
        for (int o = 0; o < outer; o++)
        {
            float* go = g + (long)o * inner;
            float* dxo = d + (long)o * n * inner;
            if (y.Saved0 is { } argmax)
            {
                float* am = argmax.Data + (long)o * inner;
                for (int i = 0; i < inner; i++) dxo[(long)(int)am[i] * inner + i] += go[i];
            }
            else if (inner == 1)
            {
                var row = new Span<float>(dxo, n);
                TensorPrimitives.Add(row, *go * scale, row);
            }
            else
            {
                for (int j = 0; j < n; j++)
                {
                    var row = new Span<float>(dxo + (long)j * inner, inner);
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(go, inner), scale, row, row);
                }
            }
        }
    }
}

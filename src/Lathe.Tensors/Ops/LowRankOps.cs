using Lathe.Tensors.Kernels;

namespace Lathe.Tensors;

// LoRA's update as one op, so an adapted projection keeps one output-sized tensor on the tape instead of three.
public static unsafe partial class Ops
{
    /// <summary>y + s·(x·Aᵀ)·Bᵀ for y (…, N), x (…, K) with the same leading shape, A (r, K), B (N, r): a low-rank
    /// update added to a base output (LoRA, Hu et al. 2021). Differentiable in all four tensors; keeps only the
    /// (…, r) intermediate s·x·Aᵀ for the backward. Composed twin: <c>Add(y, Linear(Scale(Linear(x, A), s), B))</c>.</summary>
    /// <param name="overwriteY">The caller guarantees nothing else reads <paramref name="y"/>'s values (a projection's
    /// fresh base output, which no backward needs): when the active tape owns <paramref name="y"/>'s memory, the update
    /// is added into it and the result is a view of it — one out-sized tensor per adapted projection fewer on the tape.</param>
    public static Tensor AddLowRank(Tensor y, Tensor x, Tensor a, Tensor b, float scale, bool overwriteY = false)
    {
        if (a.Rank != 2 || b.Rank != 2 || x.Rank < 1 || y.Rank != x.Rank || a.Shape[1] != x.Shape[x.Rank - 1]
            || b.Shape[1] != a.Shape[0] || b.Shape[0] != y.Shape[y.Rank - 1] || !x.Shape[..^1].SequenceEqual(y.Shape[..^1]))
            throw new ArgumentException($"AddLowRank: y {Tensor.ShapeString(y.Shape)}, x {Tensor.ShapeString(x.Shape)}, A {Tensor.ShapeString(a.Shape)}, B {Tensor.ShapeString(b.Shape)} do not fit (expected y (…, N), x (…, K), A (r, K), B (N, r)).");
        int n = b.Shape[0], k = a.Shape[1], r = a.Shape[0];
        var cx = Contiguous(x); var cy = Contiguous(y); var ca = Contiguous(a); var cb = Contiguous(b);
        int rows = k == 0 ? 0 : x.Length / k;
        var low = Autograd.Tape.NewResult([rows, r]);                           // s·x·Aᵀ (rows, r)
        Gemm.Multiply(false, true, rows, r, k, cx.Data, k, ca.Data, k, low.Data, r);
        ParallelSpans.Scale(low.Data, scale, low.Data, low.Length);
        Tensor result;                                                          // (…, N)
        if (overwriteY && Autograd.Tape.Current is { } tape && ReferenceEquals(y.Owner, tape) && y.OwnsContiguousMemory)
            result = Autograd.Tape.NewView(y, y.Shape, y.Strides, 0);           // y's values are not needed again
        else
        {
            result = Autograd.Tape.NewResult(y.Shape);
            ParallelSpans.Copy(cy.Data, result.Data, result.Length);
        }
        Gemm.Multiply(false, true, rows, n, r, low.Data, r, cb.Data, r, result.Data, n, accumulate: true);
        if (Record(result, &AddLowRankBackward, cy, cx, ca, cb))
        {
            result.Saved0 = low;
            result.F0 = scale;
            result.I0 = rows;
        }
        else if (Autograd.Tape.Current is null) low.Dispose();                  // no tape owns it
        return result;
    }

    static void AddLowRankBackward(Tensor result)
    {
        Tensor y = result.In0!, x = result.In1!, a = result.In2!, b = result.In3!, low = result.Saved0!;
        int rows = result.I0, n = b.Shape[0], k = a.Shape[1], r = a.Shape[0];
        float scale = result.F0;
        float* g = result.Grad!.Data;                                           // (rows, N)
        if (GradOfForWrite(y, out bool freshY) is { } dy) WriteOrAccumulate(g, dy.Data, result.Length, freshY);
        if (GradOfForWrite(b, out bool freshB) is { } db)                      // dB (N, r) = gᵀ·low
            Gemm.Multiply(true, false, n, r, rows, g, n, low.Data, r, db.Data, r, accumulate: !freshB);
        if (!a.NeedsGrad && !x.NeedsGrad) return;
        float* dLow = Scratch.GetForCall((long)rows * r);                       // d(x·Aᵀ) (rows, r) = s·g·B
        Gemm.Multiply(false, false, rows, r, n, g, n, b.Data, r, dLow, r);
        ParallelSpans.Scale(dLow, scale, dLow, (long)rows * r);
        if (GradOfForWrite(a, out bool freshA) is { } da)                      // dA (r, K) = dLowᵀ·x
            Gemm.Multiply(true, false, r, k, rows, dLow, r, x.Data, k, da.Data, k, accumulate: !freshA);
        if (GradOfForWrite(x, out bool freshX) is { } dx)                      // dx (rows, K) = dLow·A
            Gemm.Multiply(false, false, rows, k, r, dLow, r, a.Data, k, dx.Data, k, accumulate: !freshX);
    }
}

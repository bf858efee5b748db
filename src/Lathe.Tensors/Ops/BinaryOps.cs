using Lathe.Tensors.Kernels;
using System.Numerics.Tensors;

namespace Lathe.Tensors;

// Elementwise add, sub, mul, div with NumPy broadcasting. Same-shape contiguous operands take a
// vectorized path; everything else walks rows of the broadcast output (the innermost axis is a tight
// loop). Backward reduces the output gradient over each operand's broadcast axes, in row-major order,
// so it is deterministic.
public static unsafe partial class Ops
{
    const int KindAdd = 0, KindSub = 1, KindMul = 2, KindDiv = 3;

    public static Tensor Add(Tensor a, Tensor b) => Binary("Add", a, b, KindAdd);
    public static Tensor Sub(Tensor a, Tensor b) => Binary("Sub", a, b, KindSub);
    public static Tensor Mul(Tensor a, Tensor b) => Binary("Mul", a, b, KindMul);
    public static Tensor Div(Tensor a, Tensor b) => Binary("Div", a, b, KindDiv);

    static Tensor Binary(string op, Tensor a, Tensor b, int kind)
    {
        Span<int> shape = stackalloc int[BroadcastWalker.MaxRank];
        int rank = BroadcastWalker.BroadcastShape(op, a, b, shape);
        var y = Autograd.Tape.NewResult(shape[..rank]);
        if (a.Shape.SequenceEqual(b.Shape) && a.IsContiguous && b.IsContiguous)
        {
            switch (kind)
            {
                case KindAdd: ParallelSpans.Add(a.Data, b.Data, y.Data, y.Length); break;
                case KindSub: ParallelSpans.Subtract(a.Data, b.Data, y.Data, y.Length); break;
                case KindMul: ParallelSpans.Multiply(a.Data, b.Data, y.Data, y.Length); break;
                default: ParallelSpans.Divide(a.Data, b.Data, y.Data, y.Length); break;
            }
        }
        else if (y.Length > 0)
        {
            var walk = new BroadcastWalker(shape[..rank], a, b);
            int inner = rank == 0 ? 1 : walk.Dim(rank - 1);
            int sa = rank == 0 ? 0 : walk.AStride(rank - 1), sb = rank == 0 ? 0 : walk.BStride(rank - 1);
            Span<int> index = stackalloc int[Math.Max(rank, 1)];
            long aOff = 0, bOff = 0, ag = 0, bg = 0;
            float* pa = a.Data, pb = b.Data, py = y.Data;
            for (int row = 0, rows = y.Length / inner; row < rows; row++)
            {
                float* ra = pa + aOff, rb = pb + bOff, ry = py + (long)row * inner;
                switch (kind)
                {
                    case KindAdd: for (int i = 0; i < inner; i++) ry[i] = ra[(long)i * sa] + rb[(long)i * sb]; break;
                    case KindSub: for (int i = 0; i < inner; i++) ry[i] = ra[(long)i * sa] - rb[(long)i * sb]; break;
                    case KindMul: for (int i = 0; i < inner; i++) ry[i] = ra[(long)i * sa] * rb[(long)i * sb]; break;
                    default: for (int i = 0; i < inner; i++) ry[i] = ra[(long)i * sa] / rb[(long)i * sb]; break;
                }
                walk.NextRow(index, ref aOff, ref bOff, ref ag, ref bg);
            }
        }
        if (Record(y, &BinaryBackward, a, b)) y.I0 = kind;
        return y;
    }

    static void BinaryBackward(Tensor y)
    {
        Tensor a = y.In0!, b = y.In1!;
        // The common case (residual streams): same shapes, contiguous, add or subtract — whole-tensor passes.
        if (y.I0 is KindAdd or KindSub && a.Shape.SequenceEqual(y.Shape) && b.Shape.SequenceEqual(y.Shape))
        {
            float* gy = y.Grad!.Data;
            if (GradOfForWrite(a, out bool overwriteA) is { } ga) WriteOrAccumulate(gy, ga.Data, y.Length, overwriteA);
            if (GradOfForWrite(b, out bool overwriteB) is { } gb)
            {
                if (y.I0 == KindAdd) WriteOrAccumulate(gy, gb.Data, y.Length, overwriteB);
                else
                {
                    if (overwriteB) ParallelSpans.Clear(gb.Data, y.Length);
                    ParallelSpans.AccumulateScaled(gy, -1f, gb.Data, y.Length);
                }
            }
            return;
        }
        var da = GradOf(a);
        var db = GradOf(b);
        int kind = y.I0;
        float* g = y.Grad!.Data;
        if (y.Length == 0) return;
        int rank = y.Rank;
        var walk = new BroadcastWalker(y.Shape, a, b);
        int inner = rank == 0 ? 1 : walk.Dim(rank - 1);
        int sa = rank == 0 ? 0 : walk.AStride(rank - 1), sb = rank == 0 ? 0 : walk.BStride(rank - 1);
        int gsa = rank == 0 ? 0 : walk.AGradStride(rank - 1), gsb = rank == 0 ? 0 : walk.BGradStride(rank - 1);
        Span<int> index = stackalloc int[Math.Max(rank, 1)];
        long aOff = 0, bOff = 0, agOff = 0, bgOff = 0;
        float* pa = a.Data, pb = b.Data;
        float* pda = da is null ? null : da.Data, pdb = db is null ? null : db.Data;
        for (int row = 0, rows = y.Length / inner; row < rows; row++)
        {
            float* gr = g + (long)row * inner;
            float* ra = pa + aOff, rb = pb + bOff;
            if (pda != null)
            {
                float* d = pda + agOff;
                switch (kind)
                {
                    case KindAdd or KindSub:
                        if (gsa == 1) TensorPrimitives.Add(new ReadOnlySpan<float>(d, inner), new ReadOnlySpan<float>(gr, inner), new Span<float>(d, inner));
                        else for (int i = 0; i < inner; i++) d[(long)i * gsa] += gr[i];
                        break;
                    case KindMul: for (int i = 0; i < inner; i++) d[(long)i * gsa] += gr[i] * rb[(long)i * sb]; break;
                    default: for (int i = 0; i < inner; i++) d[(long)i * gsa] += gr[i] / rb[(long)i * sb]; break;
                }
            }
            if (pdb != null)
            {
                float* d = pdb + bgOff;
                switch (kind)
                {
                    case KindAdd:
                        if (gsb == 1) TensorPrimitives.Add(new ReadOnlySpan<float>(d, inner), new ReadOnlySpan<float>(gr, inner), new Span<float>(d, inner));
                        else for (int i = 0; i < inner; i++) d[(long)i * gsb] += gr[i];
                        break;
                    case KindSub: for (int i = 0; i < inner; i++) d[(long)i * gsb] -= gr[i]; break;
                    case KindMul: for (int i = 0; i < inner; i++) d[(long)i * gsb] += gr[i] * ra[(long)i * sa]; break;
                    default:
                        for (int i = 0; i < inner; i++)
                        {
                            float bv = rb[(long)i * sb];
                            d[(long)i * gsb] -= gr[i] * ra[(long)i * sa] / (bv * bv);
                        }
                        break;
                }
            }
            walk.NextRow(index, ref aOff, ref bOff, ref agOff, ref bgOff);
        }
    }

    /// <summary>x · s + t, elementwise with scalars.</summary>
    public static Tensor Affine(Tensor x, float scale, float shift = 0f)
    {
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult(x.Shape);
        var sy = y.AsSpan();
        ParallelSpans.Scale(src.Data, scale, y.Data, y.Length);
        if (shift != 0f) TensorPrimitives.Add(sy, shift, sy);
        if (Record(y, &AffineBackward, src)) y.F0 = scale;
        return y;
    }

    public static Tensor Scale(Tensor x, float scale) => Affine(x, scale);

    static void AffineBackward(Tensor y)
    {
        var dx = GradOfForWrite(y.In0, out bool overwrite);
        if (dx is null) return;
        if (overwrite) ParallelSpans.Scale(y.Grad!.Data, y.F0, dx.Data, dx.Length);
        else ParallelSpans.AccumulateScaled(y.Grad!.Data, y.F0, dx.Data, dx.Length);
    }
}

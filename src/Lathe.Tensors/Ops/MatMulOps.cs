using System.Numerics.Tensors;
using Lathe.Tensors.Kernels;

namespace Lathe.Tensors;

// Matrix products. MatMul covers (M,K)·(K,N), batched (…,M,K)·(…,K,N) with equal batch shapes, and a
// batched left operand against a shared 2-D right operand (flattened into one GEMM). Linear is the
// layer form y = x·Wᵀ + b with W stored (out, in), as Hugging Face checkpoints store it.
public static unsafe partial class Ops
{
    /// <summary>op(a)·op(b) over the last two axes; <paramref name="transA"/>/<paramref name="transB"/>
    /// transpose the stored matrices.</summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"MatMul: operands {Tensor.ShapeString(a.Shape)} and {Tensor.ShapeString(b.Shape)} need rank ≥ 2.");
        var ca = Contiguous(a);
        var cb = Contiguous(b);
        int ar = a.Rank, br = b.Rank;
        int m = transA ? a.Shape[ar - 1] : a.Shape[ar - 2];
        int ka = transA ? a.Shape[ar - 2] : a.Shape[ar - 1];
        int kb = transB ? b.Shape[br - 1] : b.Shape[br - 2];
        int n = transB ? b.Shape[br - 2] : b.Shape[br - 1];
        if (ka != kb)
            throw new ArgumentException($"MatMul: inner dimensions differ: {Tensor.ShapeString(a.Shape)}{(transA ? "ᵀ" : "")} · {Tensor.ShapeString(b.Shape)}{(transB ? "ᵀ" : "")} ({ka} vs {kb}).");
        int batch = 1;
        for (int i = 0; i < ar - 2; i++) batch *= a.Shape[i];
        bool shared = br == 2;
        if (!shared)
        {
            if (br != ar || !a.Shape[..(ar - 2)].SequenceEqual(b.Shape[..(br - 2)]))
                throw new ArgumentException($"MatMul: batch shapes of {Tensor.ShapeString(a.Shape)} and {Tensor.ShapeString(b.Shape)} differ.");
        }
        if (shared && transA && batch > 1)
            throw new ArgumentException($"MatMul: a transposed batched left operand {Tensor.ShapeString(a.Shape)} needs a batched right operand.");
        Span<int> shape = stackalloc int[ar];
        a.Shape[..(ar - 2)].CopyTo(shape);
        shape[ar - 2] = m; shape[ar - 1] = n;
        var y = Autograd.Tape.NewResult(shape);
        Forward(ca, cb, y, transA, transB, batch, m, n, ka, shared);
        if (Record(y, &MatMulBackward, ca, cb))
        {
            y.B0 = transA; y.B1 = transB;
            y.I0 = batch; y.I1 = ka;
        }
        return y;
    }

    static void Forward(Tensor a, Tensor b, Tensor y, bool transA, bool transB, int batch, int m, int n, int k, bool shared)
    {
        int lda = transA ? m : k, ldb = transB ? k : n;
        if (shared && !transA)
            Gemm.Multiply(false, transB, batch * m, n, k, a.Data, lda, b.Data, ldb, y.Data, n);
        else
            Gemm.MultiplyBatched(transA, transB, m, n, k, a.Data, lda, (long)m * k, b.Data, ldb, shared ? 0 : (long)k * n,
                y.Data, n, (long)m * n, batch);
    }

    static void MatMulBackward(Tensor y)
    {
        Tensor a = y.In0!, b = y.In1!;
        var da = GradOf(a);
        var db = GradOf(b);
        bool transA = y.B0, transB = y.B1;
        int batch = y.I0, k = y.I1;
        int m = y.Shape[y.Rank - 2], n = y.Shape[y.Rank - 1];
        // A shared right operand is flattened into one GEMM only when A is not transposed (MatMul rejects
        // a transposed batched A against a shared B, so otherwise batch is 1 and the batched path serves).
        bool shared = b.Rank == 2 && !transA;
        float* g = y.Grad!.Data;
        int lda = transA ? m : k, ldb = transB ? k : n;
        long sA = (long)m * k, sB = shared ? 0 : (long)k * n, sC = (long)m * n;
        if (da is not null)
        {
            if (!transA) // dA (M×K) = dC · op(B)ᵀ
            {
                if (shared) Gemm.Multiply(false, !transB, batch * m, k, n, g, n, b.Data, ldb, da.Data, k, accumulate: true);
                else Gemm.MultiplyBatched(false, !transB, m, k, n, g, n, sC, b.Data, ldb, sB, da.Data, k, sA, batch, accumulate: true);
            }
            else // stored Aᵀ (K×M) = op(B) · dCᵀ
                Gemm.MultiplyBatched(transB, true, k, m, n, b.Data, ldb, sB, g, n, sC, da.Data, m, sA, batch, accumulate: true);
        }
        if (db is not null)
        {
            if (shared)
            {
                // Sum over the batch: flatten (batch·M) into the contraction.
                if (!transB) Gemm.Multiply(true, false, k, n, batch * m, a.Data, k, g, n, db.Data, n, accumulate: true);
                else Gemm.Multiply(true, false, n, k, batch * m, g, n, a.Data, k, db.Data, k, accumulate: true);
            }
            else if (!transB) // dB (K×N) = op(A)ᵀ · dC
                Gemm.MultiplyBatched(!transA, false, k, n, m, a.Data, lda, sA, g, n, sC, db.Data, n, sB, batch, accumulate: true);
            else // stored Bᵀ (N×K) = dCᵀ · op(A)
                Gemm.MultiplyBatched(true, transA, n, k, m, g, n, sC, a.Data, lda, sA, db.Data, k, sB, batch, accumulate: true);
        }
    }

    /// <summary>y = x·Wᵀ + b for x (…, in), W (out, in), b (out) or null.</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2 || x.Rank < 1 || x.Shape[x.Rank - 1] != weight.Shape[1])
            throw new ArgumentException($"Linear: input {Tensor.ShapeString(x.Shape)} does not match weight {Tensor.ShapeString(weight.Shape)} (expected (…, {(weight.Rank == 2 ? weight.Shape[1] : -1)})).");
        int outF = weight.Shape[0], inF = weight.Shape[1];
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outF))
            throw new ArgumentException($"Linear: bias {Tensor.ShapeString(bias.Shape)} does not match weight {Tensor.ShapeString(weight.Shape)}.");
        var cx = Contiguous(x);
        var cw = Contiguous(weight);
        int rows = x.Length / Math.Max(inF, 1);
        if (inF == 0) rows = x.Length == 0 ? 0 : rows;
        Span<int> shape = stackalloc int[x.Rank];
        x.Shape.CopyTo(shape);
        shape[^1] = outF;
        var y = Autograd.Tape.NewResult(shape);
        rows = y.Length / Math.Max(outF, 1);
        Gemm.Multiply(false, true, rows, outF, inF, cx.Data, inF, cw.Data, inF, y.Data, outF, columnBias: bias is null ? null : Contiguous(bias).Data);
        if (Record(y, &LinearBackward, cx, cw, bias)) y.I0 = rows;
        return y;
    }

    static void LinearBackward(Tensor y)
    {
        Tensor x = y.In0!, w = y.In1!;
        int rows = y.I0, outF = w.Shape[0], inF = w.Shape[1];
        float* g = y.Grad!.Data;
        // A gradient this pass has not touched yet is overwritten rather than cleared and added into.
        if (GradOfForWrite(x, out bool freshX) is { } dx) Gemm.Multiply(false, false, rows, inF, outF, g, outF, w.Data, inF, dx.Data, inF, accumulate: !freshX);
        if (GradOfForWrite(w, out bool freshW) is { } dw) Gemm.Multiply(true, false, outF, inF, rows, g, outF, x.Data, inF, dw.Data, inF, accumulate: !freshW);
        if (GradOfForWrite(y.In2, out bool freshB) is { } db) BiasKernels.SumRows(g, db.Data, rows, outF, freshB);
    }
}

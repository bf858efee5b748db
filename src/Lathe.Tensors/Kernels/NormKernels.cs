using System.Numerics.Tensors;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>LayerNorm and RMSNorm over rows, vectorized per row and parallel over row chunks. The weight and bias
/// gradients are summed per chunk into partial buffers, then the partials are added in chunk order, so the
/// result does not depend on the thread count. Twins: the LayerNorm*/RmsNorm* methods of <see cref="ReferenceKernels"/>.</summary>
internal static unsafe class NormKernels
{
    struct Body : IParallelBody
    {
        public float* X, W, B, Y, Mean, Rstd, DY, DX, DWPartial, DBPartial;
        public int Rows, Cols, Chunks;
        public float Eps;
        public bool Rms, Backward;

        public void Execute(int chunk)
        {
            int r0 = RowPartition.Start(chunk, Chunks, Rows), r1 = RowPartition.Start(chunk + 1, Chunks, Rows);
            int C = Cols;
            Span<float> dwp = DWPartial == null ? default : new(DWPartial + (long)chunk * C, C);
            Span<float> dbp = DBPartial == null ? default : new(DBPartial + (long)chunk * C, C);
            dwp.Clear(); dbp.Clear();
            var w = new ReadOnlySpan<float>(W, C);
            float* scratch = Scratch.Get(2L * C);
            var t1 = new Span<float>(scratch, C);
            var t2 = new Span<float>(scratch + C, C);
            for (int r = r0; r < r1; r++)
            {
                long o = (long)r * C;
                var x = new ReadOnlySpan<float>(X + o, C);
                if (!Backward)
                {
                    var y = new Span<float>(Y + o, C);
                    float rs;
                    if (Rms)
                    {
                        rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / C + Eps);
                        TensorPrimitives.Multiply(x, rs, y);
                        TensorPrimitives.Multiply(y, w, y);
                    }
                    else
                    {
                        float mean = TensorPrimitives.Sum(x) / C;
                        TensorPrimitives.Subtract(x, mean, y);
                        rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(y) / C + Eps);
                        TensorPrimitives.Multiply(y, rs, y);
                        if (B != null) TensorPrimitives.MultiplyAdd(y, w, new ReadOnlySpan<float>(B, C), y);
                        else TensorPrimitives.Multiply(y, w, y);
                        if (Mean != null) Mean[r] = mean;
                    }
                    if (Rstd != null) Rstd[r] = rs;
                    continue;
                }
                var dy = new ReadOnlySpan<float>(DY + o, C);
                float rstd = Rstd[r];
                // t1 = x̂ (normalised input), t2 = dy ⊙ w
                if (Rms) TensorPrimitives.Multiply(x, rstd, t1);
                else { TensorPrimitives.Subtract(x, Mean[r], t1); TensorPrimitives.Multiply(t1, rstd, t1); }
                TensorPrimitives.Multiply(dy, w, t2);
                if (!dwp.IsEmpty) TensorPrimitives.MultiplyAdd(dy, t1, dwp, dwp);
                if (!dbp.IsEmpty) TensorPrimitives.Add(dbp, dy, dbp);
                if (DX == null) continue;
                var dx = new Span<float>(DX + o, C);
                // LayerNorm: dx += rstd·(g − mean(g) − x̂·mean(g⊙x̂));  RMSNorm: dx += rstd·(g − x̂·mean(g⊙x̂)).
                float mgx = TensorPrimitives.Dot(t2, t1) / C;
                if (!Rms) TensorPrimitives.Subtract(t2, TensorPrimitives.Sum(t2) / C, t2);
                TensorPrimitives.MultiplyAdd(t1, -mgx, t2, t2);
                TensorPrimitives.MultiplyAdd(t2, rstd, dx, dx);
            }
        }
    }

    public static void Forward(bool rms, float* x, float* w, float* b, float* y, float* mean, float* rstd, int rows, int cols, float eps)
    {
        var body = new Body { Rms = rms, X = x, W = w, B = b, Y = y, Mean = mean, Rstd = rstd, Rows = rows, Cols = cols, Eps = eps, Chunks = RowPartition.Chunks(rows, cols) };
        ComputePool.Shared.For(body.Chunks, ref body);
    }

    public static void Backward(bool rms, float* x, float* w, float* mean, float* rstd, float* dy, float* dx, float* dw, float* db, int rows, int cols)
    {
        int chunks = RowPartition.Chunks(rows, cols);
        float* partials = (dw != null || db != null) ? Scratch.GetForCall(2L * chunks * cols) : null;
        var body = new Body
        {
            Rms = rms, X = x, W = w, Mean = mean, Rstd = rstd, DY = dy, DX = dx, Rows = rows, Cols = cols, Chunks = chunks, Backward = true,
            DWPartial = dw == null ? null : partials, DBPartial = db == null ? null : partials + (long)chunks * cols,
        };
        ComputePool.Shared.For(chunks, ref body);
        for (int c = 0; c < chunks; c++)
        {
            if (dw != null) TensorPrimitives.Add(new ReadOnlySpan<float>(dw, cols), new ReadOnlySpan<float>(body.DWPartial + (long)c * cols, cols), new Span<float>(dw, cols));
            if (db != null) TensorPrimitives.Add(new ReadOnlySpan<float>(db, cols), new ReadOnlySpan<float>(body.DBPartial + (long)c * cols, cols), new Span<float>(db, cols));
        }
    }
}

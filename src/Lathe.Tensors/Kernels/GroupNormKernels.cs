using System.Numerics.Tensors;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>GroupNorm and adaLN, vectorized (TensorPrimitives over spans) and parallel: GroupNorm over its N·G
/// (image, group) blocks, adaLN over its B items. GroupNorm's weight and bias gradients are summed per (image,
/// channel) into a partial buffer and the partials added over images in order; adaLN's shift and scale gradients
/// belong to one item, whose task sums its T rows in order. So the bits do not depend on the thread count. Backward
/// of a normalisation with multiplier m over K elements (m = w[c] or 1 + scale[b,c]): with d = dy·m,
/// dx = rstd·(d − mean(d) − x̂·mean(d·x̂)). Scalar twin: <see cref="GroupNormReference"/>.</summary>
internal static unsafe class GroupNormKernels
{
    /// <summary>Below this many elements a call runs on the calling thread.</summary>
    const long MinParallel = 16 * 1024;

    // ── GroupNorm ───────────────────────────────────────────────────────────────────────────────

    struct GroupNormBody : IParallelBody
    {
        public float* X, W, B, Y, Mean, Rstd, DY, DX, DWPartial, DBPartial;
        public int C, S, Groups;
        public float Eps;
        public bool Backward;

        public void Execute(int block)
        {
            int img = block / Groups, g = block % Groups, cg = C / Groups;
            long count = (long)cg * S, offset = (long)block * count;
            if (!Backward) { Forward(img, g, cg, count, offset); return; }
            float m = Mean[block], rs = Rstd[block];
            var t = new Span<float>(Scratch.Get(S), S);
            // Pass 1: per channel Σ dy and Σ dy·(x − μ); the group's mean(d) and mean(d·x̂).
            double sumD = 0, sumDX = 0;
            for (int ch = 0; ch < cg; ch++)
            {
                int c = g * cg + ch;
                long o = offset + (long)ch * S;
                var dy = new ReadOnlySpan<float>(DY + o, S);
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(X + o, S), m, t);
                float sdy = TensorPrimitives.Sum(dy), sdyx = TensorPrimitives.Dot(dy, t) * rs;   // Σ dy, Σ dy·x̂
                if (DWPartial != null) DWPartial[(long)img * C + c] = sdyx;
                if (DBPartial != null) DBPartial[(long)img * C + c] = sdy;
                float wc = W == null ? 1f : W[c];
                sumD += (double)wc * sdy;
                sumDX += (double)wc * sdyx;
            }
            if (DX == null) return;
            float meanD = (float)(sumD / count), meanDX = (float)(sumDX / count);
            // Pass 2: dx += rstd·(dy·w − mean(d) − x̂·mean(d·x̂)) = dy·(rstd·w) + (x − μ)·(−rstd²·mean(d·x̂)) − rstd·mean(d).
            float beta = -rs * rs * meanDX, gamma = -rs * meanD;
            for (int ch = 0; ch < cg; ch++)
            {
                int c = g * cg + ch;
                long o = offset + (long)ch * S;
                float alpha = rs * (W == null ? 1f : W[c]);
                var dx = new Span<float>(DX + o, S);
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(X + o, S), m, t);
                TensorPrimitives.Multiply(t, beta, t);
                TensorPrimitives.Add(t, gamma, t);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(DY + o, S), alpha, t, t);
                TensorPrimitives.Add(dx, t, dx);
            }
        }

        void Forward(int img, int g, int cg, long count, long offset)
        {
            var x = new ReadOnlySpan<float>(X + offset, (int)count);
            var y = new Span<float>(Y + offset, (int)count);
            float m = TensorPrimitives.Sum(x) / count;
            TensorPrimitives.Subtract(x, m, y);
            float rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(y) / count + Eps);
            for (int ch = 0; ch < cg; ch++)
            {
                int c = g * cg + ch;
                var yc = y.Slice(ch * S, S);
                TensorPrimitives.Multiply(yc, W == null ? rs : rs * W[c], yc);
                if (B != null) TensorPrimitives.Add(yc, B[c], yc);
            }
            if (Mean != null) Mean[img * Groups + g] = m;
            if (Rstd != null) Rstd[img * Groups + g] = rs;
        }
    }

    public static void GroupNormForward(float* x, float* w, float* b, float* y, float* mean, float* rstd, int n, int c, int s, int groups, float eps, ComputePool? pool = null)
    {
        var body = new GroupNormBody { X = x, W = w, B = b, Y = y, Mean = mean, Rstd = rstd, C = c, S = s, Groups = groups, Eps = eps };
        Run(n * groups, (long)n * c * s, ref body, pool);
    }

    /// <summary>dx, dw, db (each may be null) += the gradients of GroupNorm given the forward's mean and rstd.</summary>
    public static void GroupNormBackward(float* x, float* w, float* mean, float* rstd, float* dy, float* dx, float* dw, float* db, int n, int c, int s, int groups, ComputePool? pool = null)
    {
        if (n == 0 || c == 0) return;
        float* partials = dw == null && db == null ? null : Scratch.GetForCall(2L * n * c);   // (N, C) Σ dy·x̂, then (N, C) Σ dy
        var body = new GroupNormBody
        {
            X = x, W = w, Mean = mean, Rstd = rstd, DY = dy, DX = dx, C = c, S = s, Groups = groups, Backward = true,
            DWPartial = dw == null ? null : partials, DBPartial = db == null ? null : partials + (long)n * c,
        };
        Run(n * groups, (long)n * c * s, ref body, pool);
        for (int ch = 0; ch < c; ch++)
        {
            double sw = 0, sb = 0;
            for (int img = 0; img < n; img++)
            {
                if (dw != null) sw += partials[(long)img * c + ch];
                if (db != null) sb += partials[(long)n * c + (long)img * c + ch];
            }
            if (dw != null) dw[ch] += (float)sw;
            if (db != null) db[ch] += (float)sb;
        }
    }

    // ── adaLN ───────────────────────────────────────────────────────────────────────────────────

    struct AdaBody : IParallelBody
    {
        public float* X, Shift, Scale, Y, Mean, Rstd, DY, DX, DShift, DScale;
        public int T, C;
        public float Eps;
        public bool Backward;

        public void Execute(int b)
        {
            int C = this.C;
            float* scratch = Scratch.Get(3L * C);
            var mult = new Span<float>(scratch, C);            // 1 + scale[b]
            var t1 = new Span<float>(scratch + C, C);
            var t2 = new Span<float>(scratch + 2L * C, C);
            TensorPrimitives.Add(new ReadOnlySpan<float>(Scale + (long)b * C, C), 1f, mult);
            var shift = new ReadOnlySpan<float>(Shift + (long)b * C, C);
            for (int r = 0; r < T; r++)
            {
                long row = (long)b * T + r, o = row * C;
                var x = new ReadOnlySpan<float>(X + o, C);
                if (!Backward)
                {
                    var y = new Span<float>(Y + o, C);
                    float mean = TensorPrimitives.Sum(x) / C;
                    TensorPrimitives.Subtract(x, mean, y);
                    float rs = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(y) / C + Eps);
                    TensorPrimitives.Multiply(y, rs, y);
                    TensorPrimitives.MultiplyAdd(y, mult, shift, y);
                    if (Mean != null) Mean[row] = mean;
                    if (Rstd != null) Rstd[row] = rs;
                    continue;
                }
                var dy = new ReadOnlySpan<float>(DY + o, C);
                float rstd = Rstd[row];
                TensorPrimitives.Subtract(x, Mean[row], t1);
                TensorPrimitives.Multiply(t1, rstd, t1);                         // t1 = x̂
                if (DShift != null) { var ds = new Span<float>(DShift + (long)b * C, C); TensorPrimitives.Add(ds, dy, ds); }
                if (DScale != null) { var dc = new Span<float>(DScale + (long)b * C, C); TensorPrimitives.MultiplyAdd(dy, t1, dc, dc); }
                if (DX == null) continue;
                TensorPrimitives.Multiply(dy, mult, t2);                         // t2 = d = dy·(1 + scale)
                float meanD = TensorPrimitives.Sum(t2) / C, meanDX = TensorPrimitives.Dot(t2, t1) / C;
                TensorPrimitives.MultiplyAdd(t1, -meanDX, t2, t1);              // d − x̂·mean(d·x̂)
                TensorPrimitives.Subtract(t1, meanD, t1);
                var dx = new Span<float>(DX + o, C);
                TensorPrimitives.MultiplyAdd(t1, rstd, dx, dx);
            }
        }
    }

    public static void AdaLayerNormForward(float* x, float* shift, float* scale, float* y, float* mean, float* rstd, int batch, int t, int c, float eps, ComputePool? pool = null)
    {
        var body = new AdaBody { X = x, Shift = shift, Scale = scale, Y = y, Mean = mean, Rstd = rstd, T = t, C = c, Eps = eps };
        Run(batch, (long)batch * t * c, ref body, pool);
    }

    /// <summary>dx, dshift, dscale (each may be null) += the gradients of adaLN given the forward's mean and rstd.</summary>
    public static void AdaLayerNormBackward(float* x, float* scale, float* mean, float* rstd, float* dy, float* dx, float* dshift, float* dscale, int batch, int t, int c, ComputePool? pool = null)
    {
        var body = new AdaBody { X = x, Scale = scale, Mean = mean, Rstd = rstd, DY = dy, DX = dx, DShift = dshift, DScale = dscale, T = t, C = c, Backward = true };
        Run(batch, (long)batch * t * c, ref body, pool);
    }

    static void Run<TBody>(int tasks, long elements, ref TBody body, ComputePool? pool) where TBody : unmanaged, IParallelBody
    {
        if (elements >= MinParallel) (pool ?? ComputePool.Shared).For(tasks, ref body);
        else for (int i = 0; i < tasks; i++) body.Execute(i);
    }
}

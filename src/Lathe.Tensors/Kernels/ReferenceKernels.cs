namespace Lathe.Tensors.Kernels;

// Scalar reference twins of the row kernels (softmax, norms, cross-entropy, dropout): obvious loops with
// double accumulators. The vectorized, threaded kernels are tested against them at every length 0..256.

internal static unsafe class ReferenceKernels
{
    public static void SoftmaxForward(float* x, float* y, int rows, int cols, bool log)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * cols, yr = y + (long)r * cols;
            float max = float.NegativeInfinity;
            for (int i = 0; i < cols; i++) max = MathF.Max(max, xr[i]);
            double sum = 0;
            for (int i = 0; i < cols; i++) sum += Math.Exp(xr[i] - max);
            if (log)
            {
                float lse = max + (float)Math.Log(sum);
                for (int i = 0; i < cols; i++) yr[i] = xr[i] - lse;
            }
            else
            {
                float inv = (float)(1 / sum);
                for (int i = 0; i < cols; i++) yr[i] = MathF.Exp(xr[i] - max) * inv;
            }
        }
    }

    public static void SoftmaxBackward(float* y, float* dy, float* dx, int rows, int cols, bool log)
    {
        for (int r = 0; r < rows; r++)
        {
            float* yr = y + (long)r * cols, gr = dy + (long)r * cols, dr = dx + (long)r * cols;
            double s = 0;
            if (log)
            {
                for (int i = 0; i < cols; i++) s += gr[i];
                for (int i = 0; i < cols; i++) dr[i] += gr[i] - MathF.Exp(yr[i]) * (float)s;
            }
            else
            {
                for (int i = 0; i < cols; i++) s += (double)gr[i] * yr[i];
                for (int i = 0; i < cols; i++) dr[i] += yr[i] * (gr[i] - (float)s);
            }
        }
    }

    public static void LayerNormForward(float* x, float* w, float* b, float* y, float* mean, float* rstd, int rows, int cols, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * cols, yr = y + (long)r * cols;
            double m = 0;
            for (int i = 0; i < cols; i++) m += xr[i];
            m /= cols;
            double v = 0;
            for (int i = 0; i < cols; i++) { double d = xr[i] - m; v += d * d; }
            v /= cols;
            float rs = (float)(1 / Math.Sqrt(v + eps)), mf = (float)m;
            for (int i = 0; i < cols; i++) yr[i] = (xr[i] - mf) * rs * w[i] + (b == null ? 0f : b[i]);
            if (mean != null) { mean[r] = mf; rstd[r] = rs; }
        }
    }

    public static void LayerNormBackward(float* x, float* w, float* mean, float* rstd, float* dy, float* dx, float* dw, float* db, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * cols, gr = dy + (long)r * cols;
            float m = mean[r], rs = rstd[r];
            double sumG = 0, sumGx = 0;
            for (int i = 0; i < cols; i++)
            {
                float xhat = (xr[i] - m) * rs;
                float g = gr[i] * w[i];
                sumG += g; sumGx += g * xhat;
                if (dw != null) dw[i] += gr[i] * xhat;
                if (db != null) db[i] += gr[i];
            }
            if (dx == null) continue;
            float* dr = dx + (long)r * cols;
            float mg = (float)(sumG / cols), mgx = (float)(sumGx / cols);
            for (int i = 0; i < cols; i++)
            {
                float xhat = (xr[i] - m) * rs;
                dr[i] += rs * (gr[i] * w[i] - mg - xhat * mgx);
            }
        }
    }

    public static void RmsNormForward(float* x, float* w, float* y, float* rstd, int rows, int cols, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * cols, yr = y + (long)r * cols;
            double ss = 0;
            for (int i = 0; i < cols; i++) ss += (double)xr[i] * xr[i];
            float rs = (float)(1 / Math.Sqrt(ss / cols + eps));
            for (int i = 0; i < cols; i++) yr[i] = xr[i] * rs * w[i];
            if (rstd != null) rstd[r] = rs;
        }
    }

    public static void RmsNormBackward(float* x, float* w, float* rstd, float* dy, float* dx, float* dw, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            float* xr = x + (long)r * cols, gr = dy + (long)r * cols;
            float rs = rstd[r];
            double dot = 0;
            for (int i = 0; i < cols; i++)
            {
                dot += (double)gr[i] * w[i] * xr[i];
                if (dw != null) dw[i] += gr[i] * xr[i] * rs;
            }
            if (dx == null) continue;
            float* dr = dx + (long)r * cols;
            float c = (float)(dot / cols) * rs * rs * rs;
            for (int i = 0; i < cols; i++) dr[i] += gr[i] * w[i] * rs - xr[i] * c;
        }
    }

    public static double CrossEntropyForward(float* x, ReadOnlySpan<int> targets, int ignore, int n, int vocab, ref int count)
    {
        double total = 0;
        for (int r = 0; r < n; r++)
        {
            if (targets[r] == ignore) continue;
            float* xr = x + (long)r * vocab;
            float max = float.NegativeInfinity;
            for (int i = 0; i < vocab; i++) max = MathF.Max(max, xr[i]);
            double sum = 0;
            for (int i = 0; i < vocab; i++) sum += Math.Exp(xr[i] - max);
            total += max + Math.Log(sum) - xr[targets[r]];
            count++;
        }
        return total;
    }

    public static void CrossEntropyBackward(float* x, int[] targets, int ignore, float* dx, int n, int vocab, float scale)
    {
        for (int r = 0; r < n; r++)
        {
            if (targets[r] == ignore) continue;
            float* xr = x + (long)r * vocab, dr = dx + (long)r * vocab;
            float max = float.NegativeInfinity;
            for (int i = 0; i < vocab; i++) max = MathF.Max(max, xr[i]);
            double sum = 0;
            for (int i = 0; i < vocab; i++) sum += Math.Exp(xr[i] - max);
            float inv = (float)(1 / sum);
            for (int i = 0; i < vocab; i++) dr[i] += scale * MathF.Exp(xr[i] - max) * inv;
            dr[targets[r]] -= scale;
        }
    }

    /// <summary>y = x·mask/(1−p) (or y += … when accumulating), mask from a hash of (seed, index).</summary>
    public static void Dropout(float* x, float* y, int n, float p, ulong seed, bool accumulate)
    {
        float scale = 1f / (1f - p);
        for (int i = 0; i < n; i++)
        {
            float keep = Uniform(seed, (ulong)i) >= p ? scale : 0f;
            y[i] = accumulate ? y[i] + x[i] * keep : x[i] * keep;
        }
    }

    /// <summary>A uniform float in [0, 1) from (seed, index): SplitMix64's finaliser over their mix.</summary>
    public static float Uniform(ulong seed, ulong index)
    {
        ulong z = seed + (index + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 40) * (1f / (1 << 24));
    }
}

namespace Lathe.Tensors.Kernels;

/// <summary>Scalar reference twins of <see cref="GroupNormKernels"/>: GroupNorm and adaLN written as the formulas,
/// with double accumulators. GroupNorm (Wu &amp; He 2018): per image n and group g, μ and σ² (biased) over the C/G
/// channels and S spatial positions of the group, x̂ = (x − μ)/√(σ² + ε), y = x̂·w[c] + b[c]. adaLN (DiT, Peebles &amp;
/// Xie 2023): per row (b, t), x̂ = LayerNorm without affine over C, y = x̂·(1 + scale[b,c]) + shift[b,c].
/// Backward of a normalisation with per-element multiplier m (w[c] or 1 + scale[b,c]) over a set of K elements:
/// d = dy·m, dx = rstd·(d − mean(d) − x̂·mean(d·x̂)). Backwards add into their outputs.</summary>
internal static unsafe class GroupNormReference
{
    public static void GroupNormForward(float* x, float* w, float* b, float* y, float* mean, float* rstd, int n, int c, int s, int groups, float eps)
    {
        int cg = c / groups;
        long count = (long)cg * s;
        for (int img = 0; img < n; img++)
            for (int g = 0; g < groups; g++)
            {
                float* xg = x + ((long)img * c + g * cg) * s, yg = y + ((long)img * c + g * cg) * s;
                double m = 0;
                for (long k = 0; k < count; k++) m += xg[k];
                m /= count;
                double v = 0;
                for (long k = 0; k < count; k++) { double d = xg[k] - m; v += d * d; }
                v /= count;
                double rs = 1 / Math.Sqrt(v + eps);
                for (int ch = 0; ch < cg; ch++)
                {
                    int cc = g * cg + ch;
                    double wc = w is null ? 1 : w[cc], bc = b is null ? 0 : b[cc];
                    for (int p = 0; p < s; p++)
                    {
                        long k = (long)ch * s + p;
                        yg[k] = (float)((xg[k] - m) * rs * wc + bc);
                    }
                }
                if (mean is not null) mean[img * groups + g] = (float)m;
                if (rstd is not null) rstd[img * groups + g] = (float)rs;
            }
    }

    public static void GroupNormBackward(float* x, float* w, float* mean, float* rstd, float* dy, float* dx, float* dw, float* db, int n, int c, int s, int groups)
    {
        int cg = c / groups;
        long count = (long)cg * s;
        for (int img = 0; img < n; img++)
            for (int g = 0; g < groups; g++)
            {
                long base0 = ((long)img * c + g * cg) * s;
                double m = mean[img * groups + g], rs = rstd[img * groups + g];
                double sumD = 0, sumDX = 0;
                for (int ch = 0; ch < cg; ch++)
                {
                    double wc = w is null ? 1 : w[g * cg + ch];
                    for (int p = 0; p < s; p++)
                    {
                        long k = base0 + (long)ch * s + p;
                        double d = dy[k] * wc, xh = (x[k] - m) * rs;
                        sumD += d; sumDX += d * xh;
                    }
                }
                double meanD = sumD / count, meanDX = sumDX / count;
                if (dx is not null)
                    for (int ch = 0; ch < cg; ch++)
                    {
                        double wc = w is null ? 1 : w[g * cg + ch];
                        for (int p = 0; p < s; p++)
                        {
                            long k = base0 + (long)ch * s + p;
                            double xh = (x[k] - m) * rs;
                            dx[k] += (float)(rs * (dy[k] * wc - meanD - xh * meanDX));
                        }
                    }
            }
        for (int cc = 0; cc < c; cc++)
        {
            int g = cc / cg;
            double sw = 0, sb = 0;
            for (int img = 0; img < n; img++)
            {
                double m = mean[img * groups + g], rs = rstd[img * groups + g];
                for (int p = 0; p < s; p++)
                {
                    long k = ((long)img * c + cc) * s + p;
                    sw += dy[k] * (x[k] - m) * rs;
                    sb += dy[k];
                }
            }
            if (dw is not null) dw[cc] += (float)sw;
            if (db is not null) db[cc] += (float)sb;
        }
    }

    public static void AdaLayerNormForward(float* x, float* shift, float* scale, float* y, float* mean, float* rstd, int batch, int t, int c, float eps)
    {
        for (int b = 0; b < batch; b++)
            for (int r = 0; r < t; r++)
            {
                long row = (long)b * t + r;
                float* xr = x + row * c, yr = y + row * c, sh = shift + (long)b * c, sc = scale + (long)b * c;
                double m = 0;
                for (int k = 0; k < c; k++) m += xr[k];
                m /= c;
                double v = 0;
                for (int k = 0; k < c; k++) { double d = xr[k] - m; v += d * d; }
                v /= c;
                double rs = 1 / Math.Sqrt(v + eps);
                for (int k = 0; k < c; k++) yr[k] = (float)((xr[k] - m) * rs * (1.0 + sc[k]) + sh[k]);
                if (mean is not null) mean[row] = (float)m;
                if (rstd is not null) rstd[row] = (float)rs;
            }
    }

    public static void AdaLayerNormBackward(float* x, float* scale, float* mean, float* rstd, float* dy, float* dx, float* dshift, float* dscale, int batch, int t, int c)
    {
        for (int b = 0; b < batch; b++)
        {
            float* sc = scale + (long)b * c;
            for (int r = 0; r < t; r++)
            {
                long row = (long)b * t + r;
                float* xr = x + row * c, gr = dy + row * c;
                double m = mean[row], rs = rstd[row];
                double sumD = 0, sumDX = 0;
                for (int k = 0; k < c; k++)
                {
                    double d = gr[k] * (1.0 + sc[k]), xh = (xr[k] - m) * rs;
                    sumD += d; sumDX += d * xh;
                }
                double meanD = sumD / c, meanDX = sumDX / c;
                if (dx is not null)
                    for (int k = 0; k < c; k++)
                    {
                        double xh = (xr[k] - m) * rs;
                        dx[row * c + k] += (float)(rs * (gr[k] * (1.0 + sc[k]) - meanD - xh * meanDX));
                    }
            }
            for (int k = 0; k < c; k++)
            {
                double ssh = 0, ssc = 0;
                for (int r = 0; r < t; r++)
                {
                    long row = (long)b * t + r;
                    double g = dy[row * c + k];
                    ssh += g;
                    ssc += g * (x[row * c + k] - mean[row]) * rstd[row];
                }
                if (dshift is not null) dshift[(long)b * c + k] += (float)ssh;
                if (dscale is not null) dscale[(long)b * c + k] += (float)ssc;
            }
        }
    }
}

namespace Lathe.Tensors.Kernels;

/// <summary>The shape of one 2-D convolution over NCHW tensors: input (N, C, H, W), weight (O, C/G, KH, KW), output
/// (N, O, Ho, Wo), square stride and zero padding, G groups. A transposed convolution is the same geometry read
/// backwards (its input is this geometry's output), so one set of kernels serves both ops.</summary>
internal readonly record struct ConvGeometry(int N, int C, int H, int W, int O, int KH, int KW, int Ho, int Wo, int Stride, int Padding, int Groups)
{
    /// <summary>Input channels per group.</summary>
    public int Cg => C / Groups;
    /// <summary>Output channels per group.</summary>
    public int Og => O / Groups;
    public int InputImage => C * H * W;
    public int OutputImage => O * Ho * Wo;
    /// <summary>Rows of one group's im2col matrix: (C/G)·KH·KW.</summary>
    public int PatchRows => Cg * KH * KW;
    public int OutputPixels => Ho * Wo;
}

/// <summary>Scalar reference twins of the convolution kernels (<see cref="ConvKernels"/>): the definitions written as
/// direct loops with double accumulators, each output element a gather (no scatter), so the order of summation is
/// obvious. Forward: y[n,o,i,j] = b[o] + Σ_{c,kh,kw} x[n, g·C/G + c, i·s − p + kh, j·s − p + kw] · w[o,c,kh,kw]
/// (cross-correlation, PyTorch's conv2d), with zero outside the image. With <c>accumulate</c> a kernel adds
/// into its output, else it overwrites it.</summary>
internal static unsafe class ConvReference
{
    public static void Forward(in ConvGeometry g, float* x, float* w, float* bias, float* y, bool accumulate)
    {
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < g.O; o++)
            {
                int c0 = o / g.Og * g.Cg;
                for (int i = 0; i < g.Ho; i++)
                    for (int j = 0; j < g.Wo; j++)
                    {
                        double acc = bias is null ? 0 : bias[o];
                        for (int c = 0; c < g.Cg; c++)
                            for (int kh = 0; kh < g.KH; kh++)
                            {
                                int ih = i * g.Stride - g.Padding + kh;
                                if ((uint)ih >= (uint)g.H) continue;
                                for (int kw = 0; kw < g.KW; kw++)
                                {
                                    int iw = j * g.Stride - g.Padding + kw;
                                    if ((uint)iw >= (uint)g.W) continue;
                                    acc += (double)x[(((long)n * g.C + c0 + c) * g.H + ih) * g.W + iw] * w[(((long)o * g.Cg + c) * g.KH + kh) * g.KW + kw];
                                }
                            }
                        float* dst = y + (((long)n * g.O + o) * g.Ho + i) * g.Wo + j;
                        *dst = accumulate ? *dst + (float)acc : (float)acc;
                    }
            }
    }

    /// <summary>dx += ∂/∂x: dx[n,ci,ih,iw] = Σ over the (o, kh, kw) whose window covers (ih, iw) of dy[n,o,i,j]·w[o,c,kh,kw],
    /// where ih = i·s − p + kh.</summary>
    public static void BackwardInput(in ConvGeometry g, float* dy, float* w, float* dx, bool accumulate)
    {
        for (int n = 0; n < g.N; n++)
            for (int ci = 0; ci < g.C; ci++)
            {
                int group = ci / g.Cg, c = ci % g.Cg;
                for (int ih = 0; ih < g.H; ih++)
                    for (int iw = 0; iw < g.W; iw++)
                    {
                        double acc = 0;
                        for (int o = group * g.Og; o < (group + 1) * g.Og; o++)
                            for (int kh = 0; kh < g.KH; kh++)
                            {
                                int ti = ih + g.Padding - kh;
                                if (ti < 0 || ti % g.Stride != 0 || ti / g.Stride >= g.Ho) continue;
                                int i = ti / g.Stride;
                                for (int kw = 0; kw < g.KW; kw++)
                                {
                                    int tj = iw + g.Padding - kw;
                                    if (tj < 0 || tj % g.Stride != 0 || tj / g.Stride >= g.Wo) continue;
                                    int j = tj / g.Stride;
                                    acc += (double)dy[(((long)n * g.O + o) * g.Ho + i) * g.Wo + j] * w[(((long)o * g.Cg + c) * g.KH + kh) * g.KW + kw];
                                }
                            }
                        float* dst = dx + (((long)n * g.C + ci) * g.H + ih) * g.W + iw;
                        *dst = accumulate ? *dst + (float)acc : (float)acc;
                    }
            }
    }

    /// <summary>dw += ∂/∂w: dw[o,c,kh,kw] = Σ_{n,i,j} dy[n,o,i,j] · x[n, g·C/G + c, i·s − p + kh, j·s − p + kw].</summary>
    public static void BackwardWeight(in ConvGeometry g, float* x, float* dy, float* dw, bool accumulate)
    {
        for (int o = 0; o < g.O; o++)
        {
            int c0 = o / g.Og * g.Cg;
            for (int c = 0; c < g.Cg; c++)
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        double acc = 0;
                        for (int n = 0; n < g.N; n++)
                            for (int i = 0; i < g.Ho; i++)
                            {
                                int ih = i * g.Stride - g.Padding + kh;
                                if ((uint)ih >= (uint)g.H) continue;
                                for (int j = 0; j < g.Wo; j++)
                                {
                                    int iw = j * g.Stride - g.Padding + kw;
                                    if ((uint)iw >= (uint)g.W) continue;
                                    acc += (double)dy[(((long)n * g.O + o) * g.Ho + i) * g.Wo + j] * x[(((long)n * g.C + c0 + c) * g.H + ih) * g.W + iw];
                                }
                            }
                        float* dst = dw + (((long)o * g.Cg + c) * g.KH + kh) * g.KW + kw;
                        *dst = accumulate ? *dst + (float)acc : (float)acc;
                    }
        }
    }

    /// <summary>db[o] += Σ_{n,i,j} dy[n,o,i,j] over a (N, O, S) gradient.</summary>
    public static void BackwardBias(float* dy, float* db, int n, int channels, int pixels, bool accumulate)
    {
        for (int o = 0; o < channels; o++)
        {
            double acc = 0;
            for (int b = 0; b < n; b++)
            {
                float* row = dy + ((long)b * channels + o) * pixels;
                for (int k = 0; k < pixels; k++) acc += row[k];
            }
            db[o] = accumulate ? db[o] + (float)acc : (float)acc;
        }
    }
}

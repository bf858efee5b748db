namespace Lathe.Tensors.Kernels;

/// <summary>GroupNorm and adaLN kernels. Scalar twin: <see cref="GroupNormReference"/>.</summary>
internal static unsafe class GroupNormKernels
{
    public static void GroupNormForward(float* x, float* w, float* b, float* y, float* mean, float* rstd, int n, int c, int s, int groups, float eps)
        => GroupNormReference.GroupNormForward(x, w, b, y, mean, rstd, n, c, s, groups, eps);

    public static void GroupNormBackward(float* x, float* w, float* mean, float* rstd, float* dy, float* dx, float* dw, float* db, int n, int c, int s, int groups)
        => GroupNormReference.GroupNormBackward(x, w, mean, rstd, dy, dx, dw, db, n, c, s, groups);

    public static void AdaLayerNormForward(float* x, float* shift, float* scale, float* y, float* mean, float* rstd, int batch, int t, int c, float eps)
        => GroupNormReference.AdaLayerNormForward(x, shift, scale, y, mean, rstd, batch, t, c, eps);

    public static void AdaLayerNormBackward(float* x, float* scale, float* mean, float* rstd, float* dy, float* dx, float* dshift, float* dscale, int batch, int t, int c)
        => GroupNormReference.AdaLayerNormBackward(x, scale, mean, rstd, dy, dx, dshift, dscale, batch, t, c);
}

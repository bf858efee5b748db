namespace Lathe.Tensors.Kernels;

/// <summary>Convolution kernels (forward, input gradient, weight gradient, bias gradient) over a
/// <see cref="ConvGeometry"/>. Scalar twin: <see cref="ConvReference"/>.</summary>
internal static unsafe class ConvKernels
{
    public static void Forward(in ConvGeometry g, float* x, float* w, float* bias, float* y, bool accumulate)
        => ConvReference.Forward(g, x, w, bias, y, accumulate);

    public static void BackwardInput(in ConvGeometry g, float* dy, float* w, float* dx, bool accumulate)
        => ConvReference.BackwardInput(g, dy, w, dx, accumulate);

    public static void BackwardWeight(in ConvGeometry g, float* x, float* dy, float* dw, bool accumulate)
        => ConvReference.BackwardWeight(g, x, dy, dw, accumulate);

    public static void BackwardBias(float* dy, float* db, int n, int channels, int pixels, bool accumulate)
        => ConvReference.BackwardBias(dy, db, n, channels, pixels, accumulate);

    /// <summary>y[n,c,:] += b[c] over a (N, C, S) tensor.</summary>
    public static void AddChannelBias(float* y, float* b, int n, int channels, int pixels)
    {
        for (int img = 0; img < n; img++)
            for (int c = 0; c < channels; c++)
            {
                float* row = y + ((long)img * channels + c) * pixels;
                float v = b[c];
                for (int k = 0; k < pixels; k++) row[k] += v;
            }
    }
}

namespace Lathe.Tensors.Kernels;

/// <summary>y = x·Wᵀ for BF16 weights. SKELETON: filled in by the k-quant formats work (issue #19).</summary>
public static unsafe class Bf16MatMul
{
    public static long ScratchBytes(int m, int k) => 0;

    public static void Forward(float* x, int m, int k, byte* w, int n, float* y, byte* scratch)
        => throw new NotSupportedException("bf16: matrix products are not implemented yet.");
}

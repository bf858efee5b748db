using Lathe.Tensors.Quantized;

namespace Lathe.Tensors.Kernels;

/// <summary>y = x·Wᵀ for k-quant weights. SKELETON: filled in by the k-quant kernels work (issue #19).</summary>
public static unsafe class KQuantMatMul
{
    public static long ScratchBytes(QuantType type, int m, int k) => 0;

    public static void Forward(float* x, int m, int k, byte* w, QuantType type, int n, float* y, byte* scratch)
        => throw new NotSupportedException($"{QuantTypes.Name(type)}: matrix products are not implemented yet.");
}

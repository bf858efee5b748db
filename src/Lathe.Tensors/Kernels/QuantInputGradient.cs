using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>The input gradient through a frozen quantized weight, what QLoRA's backward needs (Dettmers et al. 2023,
/// §3: the base weight gets no gradient, only the activations do): dX (M, K) = dY (M, N) · W (N, K) with W stored
/// as Q8_0, Q4_0 or F16. W is decoded one panel of rows at a time into a float scratch and multiplied by the F32 GEMM,
/// never as a whole matrix. The decoded values are exactly the reference dequantizer's, so the result equals the F32
/// product over the dequantized matrix up to the GEMM's summation order (its twin: a Linear backward over
/// <see cref="QuantizedMatrix.DequantizeRow"/> rows, compared in the tests).</summary>
internal static unsafe class QuantInputGradient
{
    /// <summary>Rows of W decoded per panel: about 1 MB of floats, a multiple of 16, at least 16.</summary>
    public static int PanelRows(int k) => Math.Max(16, 256 * 1024 / k / 16 * 16);

    /// <summary>Floats of scratch <see cref="Backward"/> needs for a weight with <paramref name="n"/> rows of
    /// <paramref name="k"/> values.</summary>
    public static long ScratchFloats(int n, int k) => (long)Math.Min(PanelRows(k), n) * k;

    /// <summary>dX (<paramref name="m"/>, K) = dY (<paramref name="m"/>, N) · W, overwriting dX unless
    /// <paramref name="accumulate"/>. <paramref name="panel"/> holds <see cref="ScratchFloats"/> floats.</summary>
    public static void Backward(float* dy, int m, QuantizedMatrix w, float* dx, bool accumulate, float* panel)
    {
        int n = w.Rows, k = w.Columns;
        if (m == 0) return;
        int rows = PanelRows(k);
        for (int n0 = 0; n0 < n; n0 += rows)
        {
            int p = Math.Min(rows, n - n0);
            var decode = new DecodeBody { W = w.Data + n0 * w.RowBytes, RowBytes = w.RowBytes, Type = w.Type, Panel = panel, K = k };
            ComputePool.Shared.For(p, ref decode);
            // dX += dY[:, n0:n0+p] · panel (p, K); the first panel overwrites a fresh gradient.
            Gemm.Multiply(false, false, m, k, p, dy + n0, n, panel, k, dx, k, accumulate: accumulate || n0 > 0);
        }
        GC.KeepAlive(w);
    }

    struct DecodeBody : IParallelBody
    {
        public byte* W;
        public float* Panel;
        public long RowBytes;
        public int K;
        public QuantType Type;

        public void Execute(int row)
        {
            var src = new ReadOnlySpan<byte>(W + row * RowBytes, (int)RowBytes);
            var dst = new Span<float>(Panel + (long)row * K, K);
            BlockCodec.Dequantize(Type, src, dst);
        }
    }
}

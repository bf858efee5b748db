using Lathe.Tensors.Quantized;

namespace Lathe.Tensors.Kernels;

/// <summary>The scalar twin of <see cref="QuantMatMul"/>: obvious loops over the same byte layouts, integer block
/// sums, double accumulation.</summary>
internal static unsafe class QuantMatMulReference
{
    /// <summary>y = x·Wᵀ the slow way (same activation quantization as the fast kernel).</summary>
    public static void Scalar(float* x, int m, int k, byte* w, QuantType type, int n, float* y)
    {
        long rowBytes = QuantTypes.RowBytes(type, k);
        if (type == QuantType.F16)
        {
            for (int r = 0; r < m; r++)
                for (int j = 0; j < n; j++)
                {
                    ushort* wr = (ushort*)(w + j * rowBytes);
                    double sum = 0;
                    for (int i = 0; i < k; i++) sum += (double)HalfBits.ToSingle(wr[i]) * x[(long)r * k + i];
                    y[(long)r * n + j] = (float)sum;
                }
            return;
        }
        int nb = k / 32;
        var q = new sbyte[(long)m * k];
        var d = new float[(long)m * nb];
        fixed (sbyte* pq = q)
        fixed (float* pd = d)
        {
            QuantMatMul.QuantizeActivations(x, m, k, pq, pd);
            for (int r = 0; r < m; r++)
                for (int j = 0; j < n; j++)
                    y[(long)r * n + j] = RowDot(type, w + j * rowBytes, pq + (long)r * k, pd + (long)r * nb, nb);
        }
    }

    /// <summary>Σ over blocks of d_w·d_x·Σ_i w_i·x_i, in double.</summary>
    public static float RowDot(QuantType type, byte* w, sbyte* q, float* d, int nb)
    {
        double sum = 0;
        int blockBytes = type == QuantType.Q8_0 ? Q8_0.BlockBytes : Q4_0.BlockBytes;
        for (int b = 0; b < nb; b++, w += blockBytes)
        {
            int isum = 0;
            sbyte* xb = q + b * 32;
            if (type == QuantType.Q8_0)
                for (int i = 0; i < 32; i++) isum += (sbyte)w[2 + i] * xb[i];
            else
                for (int i = 0; i < 16; i++)
                    isum += ((w[2 + i] & 0x0F) - 8) * xb[i] + ((w[2 + i] >> 4) - 8) * xb[i + 16];
            sum += (double)HalfBits.ToSingle(*(ushort*)w) * d[b] * isum;
        }
        return (float)sum;
    }
}

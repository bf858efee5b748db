using Lathe.Tensors.Quantized;

namespace Lathe.Tensors.Kernels;

/// <summary>The scalar twin of <see cref="KQuantDot"/>: one k-quant weight row against one Q8_K activation row, value
/// by value from the layouts' definitions (<see cref="KBlocks"/>' code and scale readers). Per super-block two exact
/// integers, A = Σ scale·(code − offset)·q and B = Σ min·q, enter the float sum as
/// <see cref="Combine"/>(d_x, d, dmin, A, B) in super-block order — the SIMD kernel reaches the same A and B by other
/// integer routes (group sums for the offsets and mins), so both give the same bits.</summary>
internal static unsafe class KQuantDotReference
{
    const int QK = QuantTypes.SuperBlockValues;

    /// <summary>The float epilogue every k-quant path shares: super-block contribution (d_x·d)·A − (d_x·dmin)·B.</summary>
    public static float Combine(float dx, float d, float dmin, int a, int b) => dx * d * a - dx * dmin * b;

    /// <summary>Σ_v W[v]·x[v] over <paramref name="nb"/> super-blocks, x as Q8_K quants <paramref name="q"/> and
    /// scales <paramref name="dx"/>.</summary>
    public static float Row(QuantType type, byte* w, sbyte* q, float* dx, int nb)
    {
        int bb = QuantTypes.BlockBytes(type);
        float sum = 0;
        for (int b = 0; b < nb; b++, w += bb, q += QK)
        {
            int a = 0, m = 0;
            float d, dmin = 0;
            switch (type)
            {
                case QuantType.Q2_K:
                    d = HalfBits.ToSingle(*(ushort*)(w + KBlocks.Q2D)); dmin = HalfBits.ToSingle(*(ushort*)(w + KBlocks.Q2DMin));
                    for (int v = 0; v < QK; v++)
                    {
                        int sc = w[KBlocks.Q2Scales + v / 16];
                        a += (sc & 0xF) * KBlocks.Q2Code(w, v) * q[v];
                        m += (sc >> 4) * q[v];
                    }
                    break;
                case QuantType.Q3_K:
                    d = HalfBits.ToSingle(*(ushort*)(w + KBlocks.Q3D));
                    for (int v = 0; v < QK; v++) a += KBlocks.Q3Scale(w + KBlocks.Q3Scales, v / 16) * (KBlocks.Q3Code(w, v) - 4) * q[v];
                    break;
                case QuantType.Q4_K:
                case QuantType.Q5_K:
                    bool five = type == QuantType.Q5_K;
                    d = HalfBits.ToSingle(*(ushort*)(w + KBlocks.Q4D)); dmin = HalfBits.ToSingle(*(ushort*)(w + KBlocks.Q4DMin));
                    for (int v = 0; v < QK; v++)
                    {
                        KBlocks.ScaleMin(w + KBlocks.Q4Scales, v / 32, out int sc, out int mn);
                        a += sc * (five ? KBlocks.Q5Code(w, v) : KBlocks.Q4Code(w, v)) * q[v];
                        m += mn * q[v];
                    }
                    break;
                default:
                    d = HalfBits.ToSingle(*(ushort*)(w + KBlocks.Q6D));
                    for (int v = 0; v < QK; v++) a += (sbyte)w[KBlocks.Q6Scales + v / 16] * (KBlocks.Q6Code(w, v) - 32) * q[v];
                    break;
            }
            sum += Combine(dx[b], d, dmin, a, m);
        }
        return sum;
    }

    /// <summary>y = x·Wᵀ the slow way: every row of x quantized to Q8_K, then <see cref="Row"/> for every output.</summary>
    public static void Scalar(float* x, int m, int k, byte* w, QuantType type, int n, float* y)
    {
        long rowBytes = QuantTypes.RowBytes(type, k);
        int nb = k / QK;
        var q = new sbyte[(long)m * k];
        var d = new float[(long)m * nb];
        var sums = new short[(long)m * k / 16];
        fixed (sbyte* pq = q)
        fixed (float* pd = d)
        fixed (short* ps = sums)
        {
            for (int r = 0; r < m; r++) Q8_K.QuantizeRow(x + (long)r * k, k, pq + (long)r * k, pd + (long)r * nb, ps + (long)r * k / 16);
            for (int r = 0; r < m; r++)
                for (int j = 0; j < n; j++)
                    y[(long)r * n + j] = Row(type, w + j * rowBytes, pq + (long)r * k, pd + (long)r * nb, nb);
        }
    }
}

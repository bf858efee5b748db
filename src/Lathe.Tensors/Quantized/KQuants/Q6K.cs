using System.Runtime.CompilerServices;
using static Lathe.Tensors.Quantized.KQuants.KQuantSearch;

namespace Lathe.Tensors.Quantized.KQuants;

/// <summary>Q6_K super-blocks as ggml writes them (block_q6_K, 210 bytes): ql[128] (low nibbles: in each half of 128
/// values, byte l holds values l and l+64, byte 32+l values l+32 and l+96), qh[64] (the top two bits of values l, l+32,
/// l+64, l+96 of each half in byte l of its 32), scales[16] (int8), fp16 d. Value = d·scale·(q − 32) over 16
/// sub-blocks of 16.</summary>
internal static unsafe class Q6K
{
    const int QlAt = 0, QhAt = 128, ScalesAt = 192, DAt = 208;

    /// <summary>One super-block as ggml's quantize_row_q6_K_ref (<paramref name="qw"/> null: make_qx_quants weighted by
    /// x²) or quantize_row_q6_K_impl with quant_weights (weighted by the raw importance — ggml's σ² weighting is
    /// commented out for this type); the scales then go to int8 against the one of largest magnitude.</summary>
    public static void Quantize(float* x, float* qw, byte* y)
    {
        sbyte* L = stackalloc sbyte[256];
        float* scales = stackalloc float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int b = 0; b < 16; b++)
        {
            float scale = MakeQx(16, 32, x + 16 * b, L + 16 * b, qw != null ? qw + 16 * b : null);
            scales[b] = scale;
            float abs = MathF.Abs(scale);
            if (abs > maxAbsScale) { maxAbsScale = abs; maxScale = scale; }
        }
        if (maxAbsScale < GroupMaxEps)
        {
            new Span<byte>(y, 210).Clear();
            Unsafe.WriteUnaligned(y + DAt, ToHalf(0f));
            return;
        }
        float iscale = -128f / maxScale;
        ushort d = ToHalf(1 / iscale);
        Unsafe.WriteUnaligned(y + DAt, d);
        sbyte* sc = (sbyte*)(y + ScalesAt);
        for (int b = 0; b < 16; b++)
        {
            int l = NearestInt(iscale * scales[b]);
            sc[b] = (sbyte)(l < 127 ? l : 127);
        }
        for (int j = 0; j < 16; j++)
        {
            float dl = FromHalf(d) * sc[j];
            if (dl == 0) continue;
            for (int i = 0; i < 16; i++)
            {
                int l = NearestInt(x[16 * j + i] / dl);
                L[16 * j + i] = (sbyte)((l > 31 ? 31 : l < -32 ? -32 : l) + 32);
            }
        }
        byte* ql = y + QlAt;
        byte* qh = y + QhAt;
        for (int j = 0; j < 256; j += 128)
        {
            for (int l = 0; l < 32; l++)
            {
                int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = (byte)((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = (byte)((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = (byte)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
            ql += 64;
            qh += 32;
        }
    }
}

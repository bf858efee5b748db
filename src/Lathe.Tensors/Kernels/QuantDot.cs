using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Quantized;

namespace Lathe.Tensors.Kernels;

/// <summary>Block dot products of <see cref="QuantMatMul"/>: one quantized weight row against one or four Q8_0
/// activation rows, and F16 rows against float rows. x86: 32 bytes per block in one 256-bit register; the products
/// are AVX-VNNI vpdpbusd (unsigned × signed bytes into int32) when present, else AVX2's vpmaddubsw + vpmaddwd.
/// Both need an unsigned left operand, so the weights' signs move onto the activations (ggml's |w|·sign(x, w) trick).
/// Per-block int32 sums become float and accumulate as d_w·d_x·sum in 8 float lanes, summed at the end.</summary>
internal static unsafe class QuantDot
{
    static bool Simd => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Σ_k W[k]·x[k] over <paramref name="nb"/> blocks, x given as Q8_0 quants, fp16-valued scales
    /// <paramref name="d"/> and per-block corrections <paramref name="c"/> = 8·d·Σq (used for Q4_0).</summary>
    /// <remarks>Eight blocks at a time: their eight weight scales are widened in one vector and multiplied by the
    /// activation scales, and each block's product is picked out with a lane permute — the scalar fp16 conversion per
    /// block would cost as much as the block's integer work. Q4_0 nibbles enter the dot product unsigned (0..15); the
    /// −8 offset is subtracted once per block through c (Σ(u−8)·x = Σu·x − 8·Σx).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Row(QuantType type, byte* w, sbyte* q, float* d, float* c, int nb)
    {
        if (!Simd) return QuantMatMulReference.RowDot(type, w, q, d, nb);
        bool q8 = type == QuantType.Q8_0;
        int blockBytes = q8 ? Q8_0.BlockBytes : Q4_0.BlockBytes;
        Vector256<float> a0 = default, a1 = default, correction = default;
        int b = 0;
        for (; b + 8 <= nb; b += 8, w += 8 * blockBytes, q += 256)
        {
            var dw = Widen(Vector256.WidenLower(Vector256.Create(Vector128.Create(
                *(ushort*)w, *(ushort*)(w + blockBytes), *(ushort*)(w + 2 * blockBytes), *(ushort*)(w + 3 * blockBytes),
                *(ushort*)(w + 4 * blockBytes), *(ushort*)(w + 5 * blockBytes), *(ushort*)(w + 6 * blockBytes), *(ushort*)(w + 7 * blockBytes)), default(Vector128<ushort>))));
            var scale = dw * Vector256.Load(d + b);
            if (!q8) correction = Fma.MultiplyAdd(dw, Vector256.Load(c + b), correction);
            for (int j = 0; j < 8; j += 2)
            {
                a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockSum(q8, w + j * blockBytes, q + j * 32)), Avx2.PermuteVar8x32(scale, Vector256.Create(j)), a0);
                a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(BlockSum(q8, w + (j + 1) * blockBytes, q + j * 32 + 32)), Avx2.PermuteVar8x32(scale, Vector256.Create(j + 1)), a1);
            }
        }
        float tail = 0;
        for (; b < nb; b++, w += blockBytes, q += 32)
        {
            float dw = HalfBits.ToSingle(*(ushort*)w);
            tail += Vector256.Sum(Avx.ConvertToVector256Single(BlockSum(q8, w, q))) * (dw * d[b]) - (q8 ? 0f : dw * c[b]);
        }
        return Vector256.Sum(a0 + a1) - Vector256.Sum(correction) + tail;
    }

    /// <summary>Eight int32 lanes totalling Σ w·x over one block: Q8_0 as |w|·sign(x, w); Q4_0 as unsigned nibbles·x
    /// (the −8 offset is the caller's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> BlockSum(bool q8, byte* w, sbyte* q)
    {
        var x = Vector256.Load(q);
        if (q8)
        {
            var wv = Vector256.Load((sbyte*)(w + 2));
            return Dot(Avx2.Abs(wv), Avx2.Sign(x, wv));
        }
        var packed = Vector128.Load(w + 2);
        var mask = Vector128.Create((byte)0x0F);
        return Dot(Vector256.Create(packed & mask, Vector128.ShiftRightLogical(packed, 4) & mask), x);
    }

    /// <summary>One weight row against four activation rows (quants <paramref name="q"/> with row stride
    /// <paramref name="qStride"/>, scales <paramref name="d"/> with row stride <paramref name="dStride"/>); writes
    /// y[r·yStride] for r = 0..3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows4(QuantType type, byte* w, sbyte* q, int qStride, float* d, int dStride, float* y, int yStride)
    {
        int nb = dStride;
        if (!Simd)
        {
            for (int r = 0; r < 4; r++) y[(long)r * yStride] = QuantMatMulReference.RowDot(type, w, q + (long)r * qStride, d + (long)r * dStride, nb);
            return;
        }
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int blockBytes = type == QuantType.Q8_0 ? Q8_0.BlockBytes : Q4_0.BlockBytes;
        sbyte* q1 = q + qStride, q2 = q1 + qStride, q3 = q2 + qStride;
        float* d1 = d + dStride, d2 = d1 + dStride, d3 = d2 + dStride;
        for (int b = 0; b < nb; b++, w += blockBytes)
        {
            var wv = type == QuantType.Q8_0 ? Vector256.Load((sbyte*)(w + 2)) : Nibbles(w + 2);
            var u = Avx2.Abs(wv);
            float dw = HalfBits.ToSingle(*(ushort*)w);
            int o = b * 32;
            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(u, Avx2.Sign(Vector256.Load(q + o), wv))), Vector256.Create(dw * d[b]), a0);
            a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(u, Avx2.Sign(Vector256.Load(q1 + o), wv))), Vector256.Create(dw * d1[b]), a1);
            a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(u, Avx2.Sign(Vector256.Load(q2 + o), wv))), Vector256.Create(dw * d2[b]), a2);
            a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(u, Avx2.Sign(Vector256.Load(q3 + o), wv))), Vector256.Create(dw * d3[b]), a3);
        }
        y[0] = Vector256.Sum(a0);
        y[yStride] = Vector256.Sum(a1);
        y[2L * yStride] = Vector256.Sum(a2);
        y[3L * yStride] = Vector256.Sum(a3);
    }

    /// <summary>A Q4_0 block's 16 bytes as 32 signed values q − 8 in ggml's order (low nibbles are values 0..15,
    /// high nibbles 16..31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<sbyte> Nibbles(byte* p)
    {
        var packed = Vector128.Load(p);
        var mask = Vector128.Create((byte)0x0F);
        var both = Vector256.Create(packed & mask, Vector128.ShiftRightLogical(packed, 4) & mask);
        return Vector256.AsSByte(both) - Vector256.Create((sbyte)8);
    }

    /// <summary>Eight int32 lanes whose total is Σ u[i]·s[i] (u unsigned ≤ 128, s signed ≥ −127).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s)
    {
        if (AvxVnni.IsSupported) return AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s);
        // |w| ≤ 128 and |x| ≤ 127: pair sums ≤ 32512 fit int16 without saturating.
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));
    }

    /// <summary>y[r, j] = Σ_k x[r, k]·W[j, k] for weight rows j in [n0, n1) stored as F16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void F16Rows(float* x, int m, int k, byte* w, long rowBytes, int n0, int n1, float* y, int n)
    {
        for (int j = n0; j < n1; j++)
        {
            ushort* wr = (ushort*)(w + j * rowBytes);
            for (int r = 0; r < m; r++) y[(long)r * n + j] = F16Dot(wr, x + (long)r * k, k);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float F16Dot(ushort* w, float* x, int k)
    {
        int i = 0;
        float sum = 0;
        if (Vector256.IsHardwareAccelerated && Fma.IsSupported)
        {
            Vector256<float> a0 = default, a1 = default;
            for (; i + 16 <= k; i += 16)
            {
                var h = Vector256.Load(w + i);
                a0 = Fma.MultiplyAdd(Widen(Vector256.WidenLower(h)), Vector256.Load(x + i), a0);
                a1 = Fma.MultiplyAdd(Widen(Vector256.WidenUpper(h)), Vector256.Load(x + i + 8), a1);
            }
            sum = Vector256.Sum(a0 + a1);
        }
        for (; i < k; i++) sum += HalfBits.ToSingle(w[i]) * x[i];
        return sum;
    }

    /// <summary><see cref="HalfBits.ToSingle"/> on eight halves held in the low 16 bits of each lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Widen(Vector256<uint> h)
    {
        var em = h & Vector256.Create(0x7FFFu);
        var shifted = em << 13;
        var finite = Vector256.AsSingle(shifted) * Vector256.Create(HalfBits.Two112);
        var special = Vector256.AsSingle(shifted | Vector256.Create(0x7F800000u));
        var magnitude = Vector256.ConditionalSelect(Vector256.AsSingle(Vector256.GreaterThanOrEqual(em, Vector256.Create(0x7C00u))), special, finite);
        return Vector256.AsSingle(Vector256.AsUInt32(magnitude) | ((h & Vector256.Create(0x8000u)) << 16));
    }
}

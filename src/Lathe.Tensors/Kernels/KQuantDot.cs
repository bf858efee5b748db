using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Quantized;

namespace Lathe.Tensors.Kernels;

/// <summary>Integer dot products of <see cref="KQuantMatMul"/>: a k-quant weight row against one or four Q8_K
/// activation rows (twin: <see cref="KQuantDotReference"/>). Each super-block is spread by <see cref="KQuantUnpack"/>
/// into unsigned codes and int16 scales; per 32 values vpmaddubsw multiplies codes by activations into int16 pair sums
/// (codes ≤ 63, |q| ≤ 128: no saturation) and vpmaddwd (or AVX-VNNI's vpdpwssd) weighs the pairs by their sub-block
/// scales into int32 lanes. The offsets (Q3_K, Q6_K) and mins (Q2_K, Q4_K, Q5_K) meet the activations' group sums in
/// one more vpmaddwd. The lanes are summed to the super-block's exact integers A and B, which enter the float sum
/// through <see cref="KQuantDotReference.Combine"/> in super-block order — as in the twin, so both give the same bits
/// and a row's result does not depend on how many rows are multiplied with it.</summary>
internal static unsafe class KQuantDot
{
    const int QK = QuantTypes.SuperBlockValues;

    public static bool IsSupported => Avx2.IsSupported;

    /// <summary>Σ_v W[v]·x[v] over <paramref name="nb"/> super-blocks of one weight row; x as Q8_K quants, scales and
    /// group sums. Q4_K, Q5_K and Q6_K take <see cref="KQuantDotFused"/>, the others unpack each super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    public static float Row(QuantType type, byte* w, sbyte* q, float* dx, short* bsums, int nb)
    {
        if (KQuantDotFused.Handles(type)) return KQuantDotFused.Row(type, w, q, dx, bsums, nb);
        int bb = QuantTypes.BlockBytes(type);
        UnpackedSuperBlock u;
        float sum = 0;
        for (int b = 0; b < nb; b++, w += bb)
        {
            KQuantUnpack.Unpack(type, w, &u);
            var (acc, groups) = Dot(&u, q + b * QK, bsums + b * Q8_K.GroupsPerBlock);
            sum += Finish(&u, dx[b], Vector256.Sum(acc), Vector256.Sum(groups));
        }
        return sum;
    }

    /// <summary>One weight row (already unpacked: <paramref name="nb"/> super-blocks at <paramref name="u"/>) against
    /// four activation rows r = 0..3 at strides <paramref name="qStride"/> (quants), nb (scales) and k/16 (group sums);
    /// writes y[r·yStride].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows4(UnpackedSuperBlock* u, int nb, sbyte* q, long qStride, float* dx, short* bsums, long sumStride, float* y, long yStride)
    {
        // Lane r accumulates activation row r; the epilogue is Finish's, lane-wise with the same operations.
        var sum = Vector128<float>.Zero;
        for (int b = 0; b < nb; b++, u++)
        {
            sbyte* qb = q + b * QK;
            short* gb = bsums + b * Q8_K.GroupsPerBlock;
            Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < 8; i++)
            {
                var codes = Vector256.Load(u->Codes + 32 * i);
                var scales = Vector256.Load(u->Scales + 16 * i);
                a0 = Weigh(a0, Avx2.MultiplyAddAdjacent(codes, Vector256.Load(qb + 32 * i)), scales);
                a1 = Weigh(a1, Avx2.MultiplyAddAdjacent(codes, Vector256.Load(qb + qStride + 32 * i)), scales);
                a2 = Weigh(a2, Avx2.MultiplyAddAdjacent(codes, Vector256.Load(qb + 2 * qStride + 32 * i)), scales);
                a3 = Weigh(a3, Avx2.MultiplyAddAdjacent(codes, Vector256.Load(qb + 3 * qStride + 32 * i)), scales);
            }
            var coef = Vector256.Load(u->Groups);
            var g0 = Avx2.MultiplyAddAdjacent(coef, Vector256.Load(gb));
            var g1 = Avx2.MultiplyAddAdjacent(coef, Vector256.Load(gb + sumStride));
            var g2 = Avx2.MultiplyAddAdjacent(coef, Vector256.Load(gb + 2 * sumStride));
            var g3 = Avx2.MultiplyAddAdjacent(coef, Vector256.Load(gb + 3 * sumStride));
            var a = Sum4(a0, a1, a2, a3);
            var g = Sum4(g0, g1, g2, g3);
            var x = Vector128.Create(dx[b], dx[b + nb], dx[b + 2 * nb], dx[b + 3 * nb]);
            var d = Vector128.Create(u->D);
            sum += u->GroupsAreOffsets != 0
                ? x * d * Vector128.ConvertToSingle(a - g) - x * Vector128<float>.Zero * Vector128<float>.Zero
                : x * d * Vector128.ConvertToSingle(a) - x * Vector128.Create(u->DMin) * Vector128.ConvertToSingle(g);
        }
        y[0] = sum.GetElement(0);
        y[yStride] = sum.GetElement(1);
        y[2 * yStride] = sum.GetElement(2);
        y[3 * yStride] = sum.GetElement(3);
    }

    /// <summary>One unpacked weight row against a single activation row (the remainder rows of a prompt).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Row(UnpackedSuperBlock* u, int nb, sbyte* q, float* dx, short* bsums)
    {
        float sum = 0;
        for (int b = 0; b < nb; b++, u++)
        {
            var (acc, groups) = Dot(u, q + b * QK, bsums + b * Q8_K.GroupsPerBlock);
            sum += Finish(u, dx[b], Vector256.Sum(acc), Vector256.Sum(groups));
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<int> Acc, Vector256<int> Groups) Dot(UnpackedSuperBlock* u, sbyte* q, short* bsums)
    {
        Vector256<int> acc0 = default, acc1 = default;
        for (int i = 0; i < 8; i += 2)
        {
            acc0 = Weigh(acc0, Avx2.MultiplyAddAdjacent(Vector256.Load(u->Codes + 32 * i), Vector256.Load(q + 32 * i)), Vector256.Load(u->Scales + 16 * i));
            acc1 = Weigh(acc1, Avx2.MultiplyAddAdjacent(Vector256.Load(u->Codes + 32 * i + 32), Vector256.Load(q + 32 * i + 32)), Vector256.Load(u->Scales + 16 * i + 16));
        }
        return (acc0 + acc1, Avx2.MultiplyAddAdjacent(Vector256.Load(u->Groups), Vector256.Load(bsums)));
    }

    /// <summary>acc + pairwise Σ p·s into int32 lanes (vpdpwssd where AVX-VNNI has it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Weigh(Vector256<int> acc, Vector256<short> p, Vector256<short> s)
        => AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(acc, p, s) : acc + Avx2.MultiplyAddAdjacent(p, s);

    /// <summary>The totals of four int32 vectors as one 4-lane vector (horizontal adds, then the two halves).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Sum4(Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d)
    {
        var s = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a, b), Avx2.HorizontalAdd(c, d));
        return s.GetLower() + s.GetUpper();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Finish(UnpackedSuperBlock* u, float dx, int acc, int groups)
        => u->GroupsAreOffsets != 0
            ? KQuantDotReference.Combine(dx, u->D, 0, acc - groups, 0)
            : KQuantDotReference.Combine(dx, u->D, u->DMin, acc, groups);
}

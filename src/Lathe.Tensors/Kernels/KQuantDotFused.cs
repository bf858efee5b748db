using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Quantized;

namespace Lathe.Tensors.Kernels;

/// <summary>Single-row (decoding) dot products for the k-quants generation reads most — Q4_K, Q5_K (Q4_K_M/Q5_K_M's
/// bulk) and Q6_K (their heads and half their ffn_down) — with each super-block's codes and scales kept in registers
/// instead of spread through an <see cref="UnpackedSuperBlock"/>: the 6-bit scales and mins come out of their 12 bytes
/// with three 32-bit mask-and-shift steps and are broadcast per sub-block by byte shuffles. The integers A and B of each
/// super-block are the same as <see cref="KQuantDot"/>'s and the twin's (<see cref="KQuantDotReference"/>), and so is
/// the float epilogue, so the result is the same bits.</summary>
internal static unsafe class KQuantDotFused
{
    const int QK = QuantTypes.SuperBlockValues;

    public static bool Handles(QuantType type) => type is QuantType.Q4_K or QuantType.Q5_K or QuantType.Q6_K;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Row(QuantType type, byte* w, sbyte* q, float* dx, short* bsums, int nb)
        => type == QuantType.Q6_K ? RowQ6(w, q, dx, bsums, nb) : type == QuantType.Q5_K ? RowQ5(w, q, dx, bsums, nb) : RowQ4(w, q, dx, bsums, nb);

    // One compiled body per layout: with `five` a constant the JIT drops the other layout's code from the loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float RowQ4(byte* w, sbyte* q, float* dx, short* bsums, int nb) => RowQ45(w, q, dx, bsums, nb, false);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float RowQ5(byte* w, sbyte* q, float* dx, short* bsums, int nb) => RowQ45(w, q, dx, bsums, nb, true);

    // pshufb masks that broadcast 16-bit word i of each 128-bit lane to all eight words of that lane.
    static Vector256<byte> Broadcast(int i) => Vector256.Create((ushort)(2 * i | (2 * i + 1) << 8)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float RowQ45(byte* w, sbyte* q, float* dx, short* bsums, int nb, bool five)
    {
        int bb = five ? QuantTypes.BlockBytes(QuantType.Q5_K) : QuantTypes.BlockBytes(QuantType.Q4_K);
        var low4 = Vector256.Create((byte)0xF);
        var sixteen = Vector256.Create((byte)16);
        float sum = 0;
        for (int b = 0; b < nb; b++, w += bb, q += QK, bsums += Q8_K.GroupsPerBlock)
        {
            // Scales and mins (get_scale_min_k4 for all eight at once): bytes 0..3 hold scales 0..3 in their low 6 bits
            // and the top 2 bits of scales 4..7; bytes 4..7 the same for mins; bytes 8..11 the low nibbles of scales 4..7
            // (low half) and mins 4..7 (high half).
            uint u0 = *(uint*)(w + KBlocks.Q4Scales), u1 = *(uint*)(w + KBlocks.Q4Scales + 4), u2 = *(uint*)(w + KBlocks.Q4Scales + 8);
            ulong scales = (u0 & 0x3F3F3F3Fu) | (ulong)((u2 & 0x0F0F0F0Fu) | ((u0 >> 6) & 0x03030303u) << 4) << 32;
            ulong mins = (u1 & 0x3F3F3F3Fu) | (ulong)(((u2 >> 4) & 0x0F0F0F0Fu) | ((u1 >> 6) & 0x03030303u) << 4) << 32;
            var sc16 = Vector128.WidenLower(Vector128.CreateScalar(scales).AsByte()).AsInt16();   // 8 scales as int16
            var sc = Vector256.Create(sc16, sc16).AsByte();
            var qh = five ? Vector256.Load(w + KBlocks.Q5Qh) : default;
            byte* qs = w + (five ? KBlocks.Q5Qs : KBlocks.Q4Qs);
            Vector256<int> acc0 = default, acc1 = default;
            for (int j = 0; j < 4; j++)
            {
                var v = Vector256.Load(qs + 32 * j);
                var lo = v & low4;
                var hi = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & low4;
                if (five)
                {
                    var b0 = Vector256.Create((byte)(1 << (2 * j)));
                    var b1 = Vector256.Create((byte)(2 << (2 * j)));
                    lo |= Vector256.Equals(qh & b0, b0) & sixteen;
                    hi |= Vector256.Equals(qh & b1, b1) & sixteen;
                }
                acc0 = Weigh(acc0, Avx2.MultiplyAddAdjacent(lo, Vector256.Load(q + 64 * j)), Avx2.Shuffle(sc, Broadcast(2 * j)).AsInt16());
                acc1 = Weigh(acc1, Avx2.MultiplyAddAdjacent(hi, Vector256.Load(q + 64 * j + 32)), Avx2.Shuffle(sc, Broadcast(2 * j + 1)).AsInt16());
            }
            // B = Σ_s min_s·(bsum_2s + bsum_2s+1): pair sums of the 16 group sums against the 8 mins.
            var pairs = Ssse3.HorizontalAdd(Vector128.Load(bsums), Vector128.Load(bsums + 8));
            var m16 = Vector128.WidenLower(Vector128.CreateScalar(mins).AsByte()).AsInt16();
            int groups = Vector128.Sum(Sse2.MultiplyAddAdjacent(pairs, m16));
            float d = HalfBits.ToSingle(*(ushort*)(w + KBlocks.Q4D)), dmin = HalfBits.ToSingle(*(ushort*)(w + KBlocks.Q4DMin));
            sum += KQuantDotReference.Combine(dx[b], d, dmin, Vector256.Sum(acc0 + acc1), groups);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float RowQ6(byte* w, sbyte* q, float* dx, short* bsums, int nb)
    {
        int bb = QuantTypes.BlockBytes(QuantType.Q6_K);
        var low4 = Vector256.Create((byte)0xF);
        var m2 = Vector256.Create((byte)0x03);
        var m4 = Vector256.Create((byte)0x0C);
        var m6 = Vector256.Create((byte)0x30);
        var m8 = Vector256.Create((byte)0xC0);
        float sum = 0;
        for (int b = 0; b < nb; b++, w += bb, q += QK, bsums += Q8_K.GroupsPerBlock)
        {
            // 16 int8 scales as int16: scales 0..7 in the low lane, 8..15 in the high lane; each half duplicated so a
            // shuffle can put scale 2i in the low lane and 2i+1 in the high lane.
            var sc16 = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(w + KBlocks.Q6Scales)));
            var scLow = Avx2.Permute2x128(sc16, sc16, 0x00).AsByte();
            var scHigh = Avx2.Permute2x128(sc16, sc16, 0x11).AsByte();
            Vector256<int> acc0 = default, acc1 = default;
            for (int n = 0; n < 2; n++)
            {
                var ql0 = Vector256.Load(w + KBlocks.Q6Ql + 64 * n);
                var ql1 = Vector256.Load(w + KBlocks.Q6Ql + 64 * n + 32);
                var h = Vector256.Load(w + KBlocks.Q6Qh + 32 * n);
                var s = n == 0 ? scLow : scHigh;
                sbyte* x = q + 128 * n;
                var c0 = (ql0 & low4) | Vector256.ShiftLeft((h & m2).AsUInt16(), 4).AsByte();
                var c1 = (ql1 & low4) | Vector256.ShiftLeft((h & m4).AsUInt16(), 2).AsByte();
                var c2 = (Vector256.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte() & low4) | (h & m6);
                var c3 = (Vector256.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & low4) | Vector256.ShiftRightLogical((h & m8).AsUInt16(), 2).AsByte();
                // Values 32j..32j+31 of this half are sub-blocks 2j (low lane) and 2j+1 (high lane): scale words 2j, 2j+1
                // of the half's eight, i.e. word 2j of the low-lane copy and 2j+1 of the high-lane copy.
                acc0 = Weigh(acc0, Avx2.MultiplyAddAdjacent(c0, Vector256.Load(x)), Avx2.Shuffle(s, PairMask(0)).AsInt16());
                acc1 = Weigh(acc1, Avx2.MultiplyAddAdjacent(c1, Vector256.Load(x + 32)), Avx2.Shuffle(s, PairMask(1)).AsInt16());
                acc0 = Weigh(acc0, Avx2.MultiplyAddAdjacent(c2, Vector256.Load(x + 64)), Avx2.Shuffle(s, PairMask(2)).AsInt16());
                acc1 = Weigh(acc1, Avx2.MultiplyAddAdjacent(c3, Vector256.Load(x + 96)), Avx2.Shuffle(s, PairMask(3)).AsInt16());
            }
            // The −32 offset: A −= 32·Σ_g scale_g·bsum_g.
            int groups = Vector256.Sum(Avx2.MultiplyAddAdjacent(sc16, Vector256.Load(bsums)));
            float d = HalfBits.ToSingle(*(ushort*)(w + KBlocks.Q6D));
            sum += KQuantDotReference.Combine(dx[b], d, 0, Vector256.Sum(acc0 + acc1) - 32 * groups, 0);
        }
        return sum;
    }

    // Low lane: broadcast word 2j; high lane: broadcast word 2j+1.
    static Vector256<byte> PairMask(int j)
        => Vector256.Create(Vector128.Create((ushort)(4 * j | (4 * j + 1) << 8)).AsByte(), Vector128.Create((ushort)((4 * j + 2) | (4 * j + 3) << 8)).AsByte());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Weigh(Vector256<int> acc, Vector256<short> p, Vector256<short> s)
        => AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(acc, p, s) : acc + Avx2.MultiplyAddAdjacent(p, s);
}

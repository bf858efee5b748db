using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Quantized;

namespace Lathe.Tensors.Kernels;

/// <summary>Four Q4_K, Q5_K or Q6_K weight rows against one Q8_K activation row (decoding): the per-super-block work that
/// <see cref="KQuantDotFused"/> pays once per row — horizontal sums of A and B, the pair sums of the activations'
/// group sums, two software fp16 conversions, the float epilogue — is shared by four rows or done for four at once in
/// 128-bit lanes (lane r = weight row r). Each lane's integers A and B are the twin's (<see cref="KQuantDotReference"/>),
/// and the epilogue is the twin's <see cref="KQuantDotReference.Combine"/> evaluated lane-wise with the same
/// operations in the same order (no fused multiply-add), added in super-block order: the same bits as one row at a
/// time.</summary>
internal static unsafe class KQuantDotFused4
{
    const int QK = QuantTypes.SuperBlockValues;

    public static bool Handles(QuantType type) => type is QuantType.Q4_K or QuantType.Q5_K or QuantType.Q6_K;

    /// <summary>y[i] = Σ_v W_i[v]·x[v] for the four rows W_i at <paramref name="w"/> + i·<paramref name="rowBytes"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rows(QuantType type, byte* w, long rowBytes, sbyte* q, float* dx, short* bsums, int nb, float* y)
    {
        if (type == QuantType.Q6_K) RowsQ6(w, rowBytes, q, dx, bsums, nb, y);
        else if (type == QuantType.Q5_K) RowsQ5(w, rowBytes, q, dx, bsums, nb, y);
        else RowsQ4(w, rowBytes, q, dx, bsums, nb, y);
    }

    // One compiled body per layout: with `five` a constant the JIT drops the other layout's code from the loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowsQ4(byte* w, long rowBytes, sbyte* q, float* dx, short* bsums, int nb, float* y) => Rows45(w, rowBytes, q, dx, bsums, nb, y, false);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowsQ5(byte* w, long rowBytes, sbyte* q, float* dx, short* bsums, int nb, float* y) => Rows45(w, rowBytes, q, dx, bsums, nb, y, true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Rows45(byte* w, long rowBytes, sbyte* q, float* dx, short* bsums, int nb, float* y, bool five)
    {
        int bb = five ? QuantTypes.BlockBytes(QuantType.Q5_K) : QuantTypes.BlockBytes(QuantType.Q4_K);
        byte* w0 = w, w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes;
        var sum = Vector128<float>.Zero;
        for (int b = 0; b < nb; b++, q += QK, bsums += Q8_K.GroupsPerBlock)
        {
            long o = (long)b * bb;
            // The eight sub-block sums of the activations (pairs of group sums), shared by the four rows.
            var pairs = Ssse3.HorizontalAdd(Vector128.Load(bsums), Vector128.Load(bsums + 8));
            var a0 = Block(w0 + o, q, pairs, five, out var g0);
            var a1 = Block(w1 + o, q, pairs, five, out var g1);
            var a2 = Block(w2 + o, q, pairs, five, out var g2);
            var a3 = Block(w3 + o, q, pairs, five, out var g3);
            var a = Sum4(a0, a1, a2, a3);
            var g = Ssse3.HorizontalAdd(Ssse3.HorizontalAdd(g0, g1), Ssse3.HorizontalAdd(g2, g3));
            // d in the low and dmin in the high half of each row's first four bytes.
            var bits = Vector128.Create(*(uint*)(w0 + o + KBlocks.Q4D), *(uint*)(w1 + o + KBlocks.Q4D),
                                        *(uint*)(w2 + o + KBlocks.Q4D), *(uint*)(w3 + o + KBlocks.Q4D));
            var d = HalfToSingle(bits & Vector128.Create(0xFFFFu));
            var dmin = HalfToSingle(Vector128.ShiftRightLogical(bits, 16));
            var x = Vector128.Create(dx[b]);
            sum += x * d * Vector128.ConvertToSingle(a) - x * dmin * Vector128.ConvertToSingle(g);
        }
        sum.Store(y);
    }

    /// <summary>One super-block's A as eight int32 lanes (summed later) and B's eight min·pair products as four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Block(byte* w, sbyte* q, Vector128<short> pairs, bool five, out Vector128<int> groups)
    {
        // Scales and mins as in KQuantDotFused.RowQ45 (get_scale_min_k4 for all eight at once).
        uint u0 = *(uint*)(w + KBlocks.Q4Scales), u1 = *(uint*)(w + KBlocks.Q4Scales + 4), u2 = *(uint*)(w + KBlocks.Q4Scales + 8);
        ulong scales = (u0 & 0x3F3F3F3Fu) | (ulong)((u2 & 0x0F0F0F0Fu) | ((u0 >> 6) & 0x03030303u) << 4) << 32;
        ulong mins = (u1 & 0x3F3F3F3Fu) | (ulong)(((u2 >> 4) & 0x0F0F0F0Fu) | ((u1 >> 6) & 0x03030303u) << 4) << 32;
        var sc16 = Vector128.WidenLower(Vector128.CreateScalar(scales).AsByte()).AsInt16();
        var sc = Vector256.Create(sc16, sc16).AsByte();
        var qh = five ? Vector256.Load(w + KBlocks.Q5Qh) : default;
        byte* qs = w + (five ? KBlocks.Q5Qs : KBlocks.Q4Qs);
        Vector256<int> acc0 = default, acc1 = default;
        // Unrolled by hand so every mask and shuffle pattern is a constant.
        Pair(qs, q, sc, qh, five, 0, ref acc0, ref acc1);
        Pair(qs, q, sc, qh, five, 1, ref acc0, ref acc1);
        Pair(qs, q, sc, qh, five, 2, ref acc0, ref acc1);
        Pair(qs, q, sc, qh, five, 3, ref acc0, ref acc1);
        var m16 = Vector128.WidenLower(Vector128.CreateScalar(mins).AsByte()).AsInt16();
        groups = Sse2.MultiplyAddAdjacent(pairs, m16);
        return acc0 + acc1;
    }

    /// <summary>Q6_K: A − 32·Σ_g scale_g·bsum_g per row, entering <see cref="KQuantDotReference.Combine"/> with dmin = 0,
    /// B = 0 as in the twin.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RowsQ6(byte* w, long rowBytes, sbyte* q, float* dx, short* bsums, int nb, float* y)
    {
        int bb = QuantTypes.BlockBytes(QuantType.Q6_K);
        byte* w0 = w, w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes;
        var sum = Vector128<float>.Zero;
        for (int b = 0; b < nb; b++, q += QK, bsums += Q8_K.GroupsPerBlock)
        {
            long o = (long)b * bb;
            var gs = Vector256.Load(bsums);
            var a0 = BlockQ6(w0 + o, q, gs, out var g0);
            var a1 = BlockQ6(w1 + o, q, gs, out var g1);
            var a2 = BlockQ6(w2 + o, q, gs, out var g2);
            var a3 = BlockQ6(w3 + o, q, gs, out var g3);
            var a = Sum4(a0, a1, a2, a3) - Sum4(g0, g1, g2, g3) * 32;
            var bits = Vector128.Create((uint)*(ushort*)(w0 + o + KBlocks.Q6D), *(ushort*)(w1 + o + KBlocks.Q6D),
                                        *(ushort*)(w2 + o + KBlocks.Q6D), *(ushort*)(w3 + o + KBlocks.Q6D));
            var d = HalfToSingle(bits);
            var x = Vector128.Create(dx[b]);
            sum += x * d * Vector128.ConvertToSingle(a) - x * Vector128<float>.Zero * Vector128<float>.Zero;
        }
        sum.Store(y);
    }

    /// <summary>One Q6_K super-block's Σ scale·code·q in eight lanes, and Σ scale·bsum (the offset term) in eight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> BlockQ6(byte* w, sbyte* q, Vector256<short> gs, out Vector256<int> groups)
    {
        // 16 int8 scales as int16 (0..7 low lane, 8..15 high lane), each half duplicated to both lanes.
        var sc16 = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(w + KBlocks.Q6Scales)));
        var scLow = Avx2.Permute2x128(sc16, sc16, 0x00).AsByte();
        var scHigh = Avx2.Permute2x128(sc16, sc16, 0x11).AsByte();
        Vector256<int> acc0 = default, acc1 = default;
        HalfQ6(w, q, scLow, 0, ref acc0, ref acc1);
        HalfQ6(w, q, scHigh, 1, ref acc0, ref acc1);
        groups = Avx2.MultiplyAddAdjacent(sc16, gs);
        return acc0 + acc1;
    }

    /// <summary>Values 128n..128n+127 of a Q6_K super-block (layout as in KQuantDotFused.RowQ6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void HalfQ6(byte* w, sbyte* q, Vector256<byte> s, int n, ref Vector256<int> acc0, ref Vector256<int> acc1)
    {
        var low4 = Vector256.Create((byte)0xF);
        var ql0 = Vector256.Load(w + KBlocks.Q6Ql + 64 * n);
        var ql1 = Vector256.Load(w + KBlocks.Q6Ql + 64 * n + 32);
        var h = Vector256.Load(w + KBlocks.Q6Qh + 32 * n);
        sbyte* x = q + 128 * n;
        var c0 = (ql0 & low4) | Vector256.ShiftLeft((h & Vector256.Create((byte)0x03)).AsUInt16(), 4).AsByte();
        var c1 = (ql1 & low4) | Vector256.ShiftLeft((h & Vector256.Create((byte)0x0C)).AsUInt16(), 2).AsByte();
        var c2 = (Vector256.ShiftRightLogical(ql0.AsUInt16(), 4).AsByte() & low4) | (h & Vector256.Create((byte)0x30));
        var c3 = (Vector256.ShiftRightLogical(ql1.AsUInt16(), 4).AsByte() & low4)
               | Vector256.ShiftRightLogical((h & Vector256.Create((byte)0xC0)).AsUInt16(), 2).AsByte();
        acc0 = Weigh(acc0, Avx2.MultiplyAddAdjacent(c0, Vector256.Load(x)), Avx2.Shuffle(s, PairMask(0)).AsInt16());
        acc1 = Weigh(acc1, Avx2.MultiplyAddAdjacent(c1, Vector256.Load(x + 32)), Avx2.Shuffle(s, PairMask(1)).AsInt16());
        acc0 = Weigh(acc0, Avx2.MultiplyAddAdjacent(c2, Vector256.Load(x + 64)), Avx2.Shuffle(s, PairMask(2)).AsInt16());
        acc1 = Weigh(acc1, Avx2.MultiplyAddAdjacent(c3, Vector256.Load(x + 96)), Avx2.Shuffle(s, PairMask(3)).AsInt16());
    }

    // Low lane: broadcast word 2j; high lane: broadcast word 2j+1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> PairMask(int j)
        => Vector256.Create(Vector128.Create((ushort)(4 * j | (4 * j + 1) << 8)).AsByte(), Vector128.Create((ushort)((4 * j + 2) | (4 * j + 3) << 8)).AsByte());

    /// <summary>Values 64j..64j+63: sub-blocks 2j (low nibbles) and 2j+1 (high nibbles; Q5_K adds bit 2j, 2j+1 of qh).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Pair(byte* qs, sbyte* q, Vector256<byte> sc, Vector256<byte> qh, bool five, int j, ref Vector256<int> acc0, ref Vector256<int> acc1)
    {
        var low4 = Vector256.Create((byte)0xF);
        var v = Vector256.Load(qs + 32 * j);
        var lo = v & low4;
        var hi = Vector256.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & low4;
        if (five)
        {
            var sixteen = Vector256.Create((byte)16);
            var b0 = Vector256.Create((byte)(1 << (2 * j)));
            var b1 = Vector256.Create((byte)(2 << (2 * j)));
            lo |= Vector256.Equals(qh & b0, b0) & sixteen;
            hi |= Vector256.Equals(qh & b1, b1) & sixteen;
        }
        acc0 = Weigh(acc0, Avx2.MultiplyAddAdjacent(lo, Vector256.Load(q + 64 * j)), Avx2.Shuffle(sc, Broadcast(2 * j)).AsInt16());
        acc1 = Weigh(acc1, Avx2.MultiplyAddAdjacent(hi, Vector256.Load(q + 64 * j + 32)), Avx2.Shuffle(sc, Broadcast(2 * j + 1)).AsInt16());
    }

    /// <summary>IEEE binary16 → binary32 in four lanes, operation for operation <see cref="HalfBits.ToSingle"/>: exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> HalfToSingle(Vector128<uint> bits)
    {
        var em = bits & Vector128.Create(0x7FFFu);
        var shifted = Vector128.ShiftLeft(em, 13);
        var special = Vector128.GreaterThanOrEqual(em, Vector128.Create(0x7C00u));
        var magnitude = Vector128.ConditionalSelect(special.AsSingle(), (shifted | Vector128.Create(0x7F800000u)).AsSingle(),
                                                    shifted.AsSingle() * Vector128.Create(HalfBits.Two112));
        return (magnitude.AsUInt32() | Vector128.ShiftLeft(bits & Vector128.Create(0x8000u), 16)).AsSingle();
    }

    // pshufb masks that broadcast 16-bit word i of each 128-bit lane to all eight words of that lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<byte> Broadcast(int i) => Vector256.Create((ushort)(2 * i | (2 * i + 1) << 8)).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<int> Sum4(Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d)
    {
        var s = Avx2.HorizontalAdd(Avx2.HorizontalAdd(a, b), Avx2.HorizontalAdd(c, d));
        return s.GetLower() + s.GetUpper();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Weigh(Vector256<int> acc, Vector256<short> p, Vector256<short> s)
        => AvxVnni.IsSupported ? AvxVnni.MultiplyWideningAndAdd(acc, p, s) : acc + Avx2.MultiplyAddAdjacent(p, s);
}

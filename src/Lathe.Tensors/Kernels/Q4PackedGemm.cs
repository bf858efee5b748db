using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Prompt processing with Q4_0 weights in integers: y (M, N) = x (M, K) · Wᵀ for W regrouped as
/// <see cref="Q4_0Packed"/>. Each activation row is quantized to Q8_0 exactly as <see cref="QuantMatMul"/> does;
/// then per block of 32 the weights' unsigned nibbles u (0..15) multiply the signed activation bytes with AVX-512BW's
/// vpmaddubsw, 64 byte pairs per instruction. .NET 10 exposes no 512-bit VNNI, and on this class of core
/// vpmaddubsw + vpaddw on 512-bit registers outruns 256-bit vpdpbusd by ~1.7× (measured: 420 vs 242 G multiply-adds/s
/// per core; the F32 FMA path peaks at 121).
/// <para>Exactness: a pair product is at most 2·15·127 = 3810, so vpmaddubsw never saturates. Each int16 lane sums the
/// products of 16 of the block's 32 values; the true value of Σ(u−8)·x over those 16 is at most 16·8·127 = 16256, so
/// starting the lane at −8·Σx (computed with the activations) and adding with wrapping int16 arithmetic ends exactly
/// on it even when partial sums wrap. vpmaddwd then joins the two lanes of a row into the block's int32 sum, which is
/// scaled by d_w·d_x in float (one FMA per block) — the same terms as the matvec path.</para>
/// Work is split over pairs of 16-row groups; an output element's arithmetic does not depend on the split, so any thread
/// count gives the same bits.</summary>
internal static unsafe class Q4PackedGemm
{
    public static bool IsSupported => Avx512BW.IsSupported;

    public static void Forward(float* x, int m, int k, Q4_0Packed w, int n, float* y, byte* scratch, ComputePool? pool = null)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("Q4PackedGemm needs AVX-512BW.");
        if (w.Columns != k || w.Rows != n)
            throw new ArgumentException($"Q4PackedGemm: packed weight ({w.Rows}, {w.Columns}) does not match n={n}, k={k}.");
        int nb = k / 32;
        pool ??= ComputePool.Shared;
        var a = PackedActivations.Quantize(x, m, k, scratch, offsetBinary: false, pool);
        int pairs = w.StoredGroups / 2, perTask = PairsPerTask(m, k, pairs, Q4_0Packed.GroupRows);
        var body = new Body { Q = (sbyte*)a.Q, D = a.D, C = a.C, W = w.Data, GroupBytes = w.GroupBytes, Groups = w.Groups, Y = y, M = m, K = k, N = n, Nb = nb, Pairs = pairs, PairsPerTask = perTask };
        pool.For((pairs + perTask - 1) / perTask, ref body);
    }

    /// <summary>Pairs of groups per pool task: enough for ~64k multiply-adds, so a single token's many small pairs (an
    /// lm_head: 1000–2000) cost a few hundred claims on the pool rather than one each. Results do not depend on it.</summary>
    internal static int PairsPerTask(int m, int k, int pairs, int groupRows) =>
        (int)Math.Clamp(65536 / ((long)m * k * 2 * groupRows), 1, Math.Max(1, pairs));

    struct Body : IParallelBody
    {
        public sbyte* Q;
        public float* D, Y;
        public int* C;
        public byte* W;
        public long GroupBytes;
        public int Groups, M, K, N, Nb, Pairs, PairsPerTask;

        public void Execute(int task)
        {
            for (int pair = task * PairsPerTask, end = Math.Min(Pairs, pair + PairsPerTask); pair < end; pair++) Pair(pair);
        }

        void Pair(int pair)
        {
            int g = 2 * pair;
            byte* group = W + g * GroupBytes;
            bool second = g + 1 < Groups;
            float* y = Y + g * Q4_0Packed.GroupRows;
            // The first pass over this pair fetches the next pair's records (as Q8PackedGemm.Prefetch); later passes
            // read from L1.
            byte* next = g + 2 < Groups ? group + 2 * GroupBytes : null;
            int r = 0;
            for (; r + 4 <= M; r += 4, next = null)
                Rows4(group, GroupBytes, Q + (long)r * K, K, D + (long)r * Nb, C + (long)r * Nb, Nb, y + (long)r * N, N, second, next);
            for (; r < M; r++, next = null)
                Row1(group, GroupBytes, Q + (long)r * K, D + (long)r * Nb, C + (long)r * Nb, Nb, y + (long)r * N, second, next);
        }
    }

    /// <summary>Four activation rows against a pair of groups (32 output columns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows4(byte* g0, long groupBytes, sbyte* q, int k, float* d, int* c, int nb, float* y, int ldy, bool second, byte* next)
    {
        var mask = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        Vector512<float> f00 = default, f01 = default, f10 = default, f11 = default,
                         f20 = default, f21 = default, f30 = default, f31 = default;
        sbyte* q0 = q, q1 = q + k, q2 = q1 + k, q3 = q2 + k;
        byte* p0 = g0 + sizeof(float) * Q4_0Packed.GroupRows, p1 = p0 + groupBytes;
        for (int b = 0; b < nb; b++, p0 += Q4_0Packed.RecordBytes, p1 += Q4_0Packed.RecordBytes, q0 += 32, q1 += 32, q2 += 32, q3 += 32)
        {
            Prefetch(next, groupBytes, b);
            var s00 = Vector512.Create(c[b]).AsInt16(); var s01 = s00;
            var s10 = Vector512.Create(c[nb + b]).AsInt16(); var s11 = s10;
            var s20 = Vector512.Create(c[2 * nb + b]).AsInt16(); var s21 = s20;
            var s30 = Vector512.Create(c[3 * nb + b]).AsInt16(); var s31 = s30;
            for (int j = 0; j < 16; j += 4)
            {
                var v0 = Vector512.Load(p0 + 16 * j);
                var v1 = Vector512.Load(p1 + 16 * j);
                var l0 = v0 & mask;
                var h0 = Vector512.ShiftRightLogical(v0.AsUInt16(), 4).AsByte() & mask;
                var l1 = v1 & mask;
                var h1 = Vector512.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & mask;
                var x = Vector512.Create(*(int*)(q0 + j)).AsSByte();
                var xh = Vector512.Create(*(int*)(q0 + 16 + j)).AsSByte();
                s00 += Avx512BW.MultiplyAddAdjacent(l0, x) + Avx512BW.MultiplyAddAdjacent(h0, xh);
                s01 += Avx512BW.MultiplyAddAdjacent(l1, x) + Avx512BW.MultiplyAddAdjacent(h1, xh);
                x = Vector512.Create(*(int*)(q1 + j)).AsSByte();
                xh = Vector512.Create(*(int*)(q1 + 16 + j)).AsSByte();
                s10 += Avx512BW.MultiplyAddAdjacent(l0, x) + Avx512BW.MultiplyAddAdjacent(h0, xh);
                s11 += Avx512BW.MultiplyAddAdjacent(l1, x) + Avx512BW.MultiplyAddAdjacent(h1, xh);
                x = Vector512.Create(*(int*)(q2 + j)).AsSByte();
                xh = Vector512.Create(*(int*)(q2 + 16 + j)).AsSByte();
                s20 += Avx512BW.MultiplyAddAdjacent(l0, x) + Avx512BW.MultiplyAddAdjacent(h0, xh);
                s21 += Avx512BW.MultiplyAddAdjacent(l1, x) + Avx512BW.MultiplyAddAdjacent(h1, xh);
                x = Vector512.Create(*(int*)(q3 + j)).AsSByte();
                xh = Vector512.Create(*(int*)(q3 + 16 + j)).AsSByte();
                s30 += Avx512BW.MultiplyAddAdjacent(l0, x) + Avx512BW.MultiplyAddAdjacent(h0, xh);
                s31 += Avx512BW.MultiplyAddAdjacent(l1, x) + Avx512BW.MultiplyAddAdjacent(h1, xh);
            }
            var w0 = Vector512.Load((float*)(p0 - sizeof(float) * Q4_0Packed.GroupRows));
            var w1 = Vector512.Load((float*)(p1 - sizeof(float) * Q4_0Packed.GroupRows));
            var e = Vector512.Create(d[b]);
            f00 = Avx512F.FusedMultiplyAdd(Block(s00, ones), w0 * e, f00);
            f01 = Avx512F.FusedMultiplyAdd(Block(s01, ones), w1 * e, f01);
            e = Vector512.Create(d[nb + b]);
            f10 = Avx512F.FusedMultiplyAdd(Block(s10, ones), w0 * e, f10);
            f11 = Avx512F.FusedMultiplyAdd(Block(s11, ones), w1 * e, f11);
            e = Vector512.Create(d[2 * nb + b]);
            f20 = Avx512F.FusedMultiplyAdd(Block(s20, ones), w0 * e, f20);
            f21 = Avx512F.FusedMultiplyAdd(Block(s21, ones), w1 * e, f21);
            e = Vector512.Create(d[3 * nb + b]);
            f30 = Avx512F.FusedMultiplyAdd(Block(s30, ones), w0 * e, f30);
            f31 = Avx512F.FusedMultiplyAdd(Block(s31, ones), w1 * e, f31);
        }
        f00.Store(y); f10.Store(y + ldy); f20.Store(y + 2L * ldy); f30.Store(y + 3L * ldy);
        if (!second) return;
        f01.Store(y + 16); f11.Store(y + ldy + 16); f21.Store(y + 2L * ldy + 16); f31.Store(y + 3L * ldy + 16);
    }

    /// <summary>One activation row against a pair of groups (the rows left over after fours).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row1(byte* g0, long groupBytes, sbyte* q, float* d, int* c, int nb, float* y, bool second, byte* next)
    {
        var mask = Vector512.Create((byte)0x0F);
        var ones = Vector512.Create((short)1);
        Vector512<float> f0 = default, f1 = default;
        byte* p0 = g0 + sizeof(float) * Q4_0Packed.GroupRows, p1 = p0 + groupBytes;
        for (int b = 0; b < nb; b++, p0 += Q4_0Packed.RecordBytes, p1 += Q4_0Packed.RecordBytes, q += 32)
        {
            Prefetch(next, groupBytes, b);
            var s0 = Vector512.Create(c[b]).AsInt16(); var s1 = s0;
            for (int j = 0; j < 16; j += 4)
            {
                var v0 = Vector512.Load(p0 + 16 * j);
                var v1 = Vector512.Load(p1 + 16 * j);
                var x = Vector512.Create(*(int*)(q + j)).AsSByte();
                var xh = Vector512.Create(*(int*)(q + 16 + j)).AsSByte();
                s0 += Avx512BW.MultiplyAddAdjacent(v0 & mask, x) + Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightLogical(v0.AsUInt16(), 4).AsByte() & mask, xh);
                s1 += Avx512BW.MultiplyAddAdjacent(v1 & mask, x) + Avx512BW.MultiplyAddAdjacent(Vector512.ShiftRightLogical(v1.AsUInt16(), 4).AsByte() & mask, xh);
            }
            var e = Vector512.Create(d[b]);
            f0 = Avx512F.FusedMultiplyAdd(Block(s0, ones), Vector512.Load((float*)(p0 - sizeof(float) * Q4_0Packed.GroupRows)) * e, f0);
            f1 = Avx512F.FusedMultiplyAdd(Block(s1, ones), Vector512.Load((float*)(p1 - sizeof(float) * Q4_0Packed.GroupRows)) * e, f1);
        }
        f0.Store(y);
        if (second) f1.Store(y + 16);
    }

    // Record b of both groups of the pair at next (null: nothing); see Q8PackedGemm.Prefetch.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Prefetch(byte* next, long groupBytes, int b)
    {
        if (next == null) return;
        byte* r0 = next + (long)b * Q4_0Packed.RecordBytes, r1 = r0 + groupBytes;
        for (int line = 0; line < Q4_0Packed.RecordBytes; line += 64) { Sse.Prefetch0(r0 + line); Sse.Prefetch0(r1 + line); }
    }

    // A block's int16 lane pairs joined into one int32 per row (vpmaddwd with ones), as float.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Block(Vector512<short> lanes, Vector512<short> ones)
        => Avx512F.ConvertToVector512Single(Avx512BW.MultiplyAddAdjacent(lanes, ones));
}

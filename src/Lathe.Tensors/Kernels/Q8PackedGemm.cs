using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Products with Q8_0 weights in integers (prompts, batched decoding steps, single tokens): y (M, N) = x (M, K) · Wᵀ for W regrouped as
/// <see cref="Q8_0Packed"/>. Activation rows are quantized to Q8_0 as <see cref="QuantMatMul"/> does and stored as
/// q + 128; AVX-VNNI's vpdpbusd multiplies those unsigned bytes by the signed weights, four products per int32 lane,
/// and each lane starts at the weight row's −128·Σw so it ends on the exact block sum Σq·w (at most 32·127·128 in
/// size: no overflow). Signed weights rule out AVX-512BW's saturating vpmaddubsw (255·128·2 exceeds int16), and .NET 10
/// has no 512-bit VNNI, so these are 256-bit products — about twice the F32 FMA rate per core (measured 215 vs 121 G
/// multiply-adds/s). Tiles are 6 (or 4) activation rows × 16 weight rows: twelve int32 accumulators in registers, the float
/// sums d_w·d_x·Σq·w kept in y itself (one FMA per block). Work is split over pairs of groups; an element's arithmetic
/// does not depend on the split, so any thread count gives the same bits.</summary>
internal static unsafe class Q8PackedGemm
{
    public static bool IsSupported => AvxVnni.IsSupported && Avx512F.IsSupported;

    public static void Forward(float* x, int m, int k, Q8_0Packed w, int n, float* y, byte* scratch, ComputePool? pool = null)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("Q8PackedGemm needs AVX-VNNI and AVX-512F.");
        if (w.Columns != k || w.Rows != n)
            throw new ArgumentException($"Q8PackedGemm: packed weight ({w.Rows}, {w.Columns}) does not match n={n}, k={k}.");
        pool ??= ComputePool.Shared;
        var a = PackedActivations.Quantize(x, m, k, scratch, offsetBinary: true, pool);
        int pairs = w.Groups / 2, perTask = Q4PackedGemm.PairsPerTask(m, k, pairs, Q8_0Packed.GroupRows);
        var body = new Body { Q = a.Q, D = a.D, W = w.Data, GroupBytes = w.GroupBytes, Y = y, M = m, K = k, N = n, Nb = k / 32, Pairs = pairs, PairsPerTask = perTask };
        pool.For((pairs + perTask - 1) / perTask, ref body);
    }

    struct Body : IParallelBody
    {
        public byte* Q, W;
        public float* D, Y;
        public long GroupBytes;
        public int M, K, N, Nb, Pairs, PairsPerTask;

        public void Execute(int task)
        {
            for (int pair = task * PairsPerTask, end = Math.Min(Pairs, pair + PairsPerTask); pair < end; pair++) Pair(pair);
        }

        void Pair(int pair)
        {
            int g = 2 * pair;
            byte* group = W + g * GroupBytes;
            float* y = Y + g * Q8_0Packed.GroupRows;
            // The first pass over this pair fetches the next pair's records (see Prefetch); later passes read from L1.
            byte* next = group + 2 * GroupBytes;
            // Sixes, then fours, then lone rows (which run at about half a tile's rate): a remainder of 2 or 3 after the
            // sixes gives one six back to make two fours (16 rows = 6 + 6 + 4, 8 = 4 + 4, 14 = 6 + 4 + 4).
            int r = 0, sixes = M / 6;
            if (M % 6 is 2 or 3 && sixes > 0) sixes--;
            for (; r < 6 * sixes; r += 6, next = null)
                Rows6(group, GroupBytes, Q + (long)r * K, K, D + (long)r * Nb, Nb, y + (long)r * N, N, next);
            for (; r + 4 <= M; r += 4, next = null)
                Rows4(group, GroupBytes, Q + (long)r * K, K, D + (long)r * Nb, Nb, y + (long)r * N, N, next);
            for (; r < M; r++, next = null)
                Row1(group, GroupBytes, Q + (long)r * K, D + (long)r * Nb, Nb, y + (long)r * N, next);
        }
    }

    /// <summary>Fetches record b of both groups of the pair at <paramref name="next"/> (null: nothing). A decoding step
    /// reads each weight once, from L3 or memory, in runs (a pair's records) too short for the hardware prefetcher to
    /// ramp up; fetching the next pair one record per block while this one computes hides that latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Prefetch(byte* next, long groupBytes, int b)
    {
        if (next == null) return;
        byte* r0 = next + (long)b * Q8_0Packed.RecordBytes, r1 = r0 + groupBytes;
        for (int line = 0; line < Q8_0Packed.RecordBytes; line += 64) { Sse.Prefetch0(r0 + line); Sse.Prefetch0(r1 + line); }
    }

    const int ScaleBytes = Q8_0Packed.GroupRows * sizeof(float);
    const int QuadsOffset = Q8_0Packed.GroupRows * (sizeof(float) + sizeof(int));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Dot(Vector256<int> acc, byte* x, Vector256<sbyte> w)
        => AvxVnni.MultiplyWideningAndAdd(acc, Vector256.Create(*(int*)x).AsByte(), w);

    // y[0..16) += (Σq·w as float)·(d_w·d_x) for one row, both groups.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Accumulate(float* y, Vector256<int> s0, Vector256<int> s1, Vector256<float> w0, Vector256<float> w1, float dx)
    {
        var e = Vector256.Create(dx);
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(s0), w0 * e, Vector256.Load(y)).Store(y);
        Fma.MultiplyAdd(Avx.ConvertToVector256Single(s1), w1 * e, Vector256.Load(y + 8)).Store(y + 8);
    }

    /// <summary>Six activation rows against a pair of groups (16 output columns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows6(byte* g0, long groupBytes, byte* q, int k, float* d, int nb, float* y, int ldy, byte* next)
    {
        for (int i = 0; i < 6; i++) { Vector256<float>.Zero.Store(y + (long)i * ldy); Vector256<float>.Zero.Store(y + (long)i * ldy + 8); }
        byte* p0 = g0, p1 = g0 + groupBytes;
        for (int b = 0; b < nb; b++, p0 += Q8_0Packed.RecordBytes, p1 += Q8_0Packed.RecordBytes)
        {
            Prefetch(next, groupBytes, b);
            var c0 = Vector256.Load((int*)(p0 + ScaleBytes));
            var c1 = Vector256.Load((int*)(p1 + ScaleBytes));
            Vector256<int> s00 = c0, s01 = c1, s10 = c0, s11 = c1, s20 = c0, s21 = c1,
                           s30 = c0, s31 = c1, s40 = c0, s41 = c1, s50 = c0, s51 = c1;
            byte* x = q + b * 32;
            for (int t = 0; t < 32; t += 4)
            {
                var w0 = Vector256.Load((sbyte*)(p0 + QuadsOffset + 8 * t));
                var w1 = Vector256.Load((sbyte*)(p1 + QuadsOffset + 8 * t));
                byte* xt = x + t;
                s00 = Dot(s00, xt, w0); s01 = Dot(s01, xt, w1); xt += k;
                s10 = Dot(s10, xt, w0); s11 = Dot(s11, xt, w1); xt += k;
                s20 = Dot(s20, xt, w0); s21 = Dot(s21, xt, w1); xt += k;
                s30 = Dot(s30, xt, w0); s31 = Dot(s31, xt, w1); xt += k;
                s40 = Dot(s40, xt, w0); s41 = Dot(s41, xt, w1); xt += k;
                s50 = Dot(s50, xt, w0); s51 = Dot(s51, xt, w1);
            }
            var sc0 = Vector256.Load((float*)p0);
            var sc1 = Vector256.Load((float*)p1);
            Accumulate(y, s00, s01, sc0, sc1, d[b]);
            Accumulate(y + ldy, s10, s11, sc0, sc1, d[nb + b]);
            Accumulate(y + 2L * ldy, s20, s21, sc0, sc1, d[2 * nb + b]);
            Accumulate(y + 3L * ldy, s30, s31, sc0, sc1, d[3 * nb + b]);
            Accumulate(y + 4L * ldy, s40, s41, sc0, sc1, d[4 * nb + b]);
            Accumulate(y + 5L * ldy, s50, s51, sc0, sc1, d[5 * nb + b]);
        }
    }

    /// <summary>Four activation rows against a pair of groups: <see cref="Rows6"/>'s arithmetic, with each block sum split
    /// over even and odd quads as <see cref="Row1"/> does — eight chains of eight vpdpbusd would wait on the instruction's
    /// latency (measured no faster than four single rows); sixteen chains of four do not. The sums are integers, so the
    /// split changes no bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows4(byte* g0, long groupBytes, byte* q, int k, float* d, int nb, float* y, int ldy, byte* next)
    {
        for (int i = 0; i < 4; i++) { Vector256<float>.Zero.Store(y + (long)i * ldy); Vector256<float>.Zero.Store(y + (long)i * ldy + 8); }
        byte* p0 = g0, p1 = g0 + groupBytes;
        for (int b = 0; b < nb; b++, p0 += Q8_0Packed.RecordBytes, p1 += Q8_0Packed.RecordBytes)
        {
            Prefetch(next, groupBytes, b);
            var c0 = Vector256.Load((int*)(p0 + ScaleBytes));
            var c1 = Vector256.Load((int*)(p1 + ScaleBytes));
            Vector256<int> s00 = c0, s01 = c1, s10 = c0, s11 = c1, s20 = c0, s21 = c1, s30 = c0, s31 = c1;
            Vector256<int> e00 = default, e01 = default, e10 = default, e11 = default, e20 = default, e21 = default, e30 = default, e31 = default;
            byte* x = q + b * 32;
            for (int t = 0; t < 32; t += 8)
            {
                var w0 = Vector256.Load((sbyte*)(p0 + QuadsOffset + 8 * t));
                var w1 = Vector256.Load((sbyte*)(p1 + QuadsOffset + 8 * t));
                var v0 = Vector256.Load((sbyte*)(p0 + QuadsOffset + 8 * t + 32));
                var v1 = Vector256.Load((sbyte*)(p1 + QuadsOffset + 8 * t + 32));
                byte* xt = x + t;
                s00 = Dot(s00, xt, w0); s01 = Dot(s01, xt, w1); e00 = Dot(e00, xt + 4, v0); e01 = Dot(e01, xt + 4, v1); xt += k;
                s10 = Dot(s10, xt, w0); s11 = Dot(s11, xt, w1); e10 = Dot(e10, xt + 4, v0); e11 = Dot(e11, xt + 4, v1); xt += k;
                s20 = Dot(s20, xt, w0); s21 = Dot(s21, xt, w1); e20 = Dot(e20, xt + 4, v0); e21 = Dot(e21, xt + 4, v1); xt += k;
                s30 = Dot(s30, xt, w0); s31 = Dot(s31, xt, w1); e30 = Dot(e30, xt + 4, v0); e31 = Dot(e31, xt + 4, v1);
            }
            var sc0 = Vector256.Load((float*)p0);
            var sc1 = Vector256.Load((float*)p1);
            Accumulate(y, s00 + e00, s01 + e01, sc0, sc1, d[b]);
            Accumulate(y + ldy, s10 + e10, s11 + e11, sc0, sc1, d[nb + b]);
            Accumulate(y + 2L * ldy, s20 + e20, s21 + e21, sc0, sc1, d[2 * nb + b]);
            Accumulate(y + 3L * ldy, s30 + e30, s31 + e31, sc0, sc1, d[3 * nb + b]);
        }
    }

    /// <summary>One activation row against a pair of groups (a single token, and the rows left over after sixes). With
    /// one row the dependency chains, not the multiplies, set the pace: each group's block sum is split over even and
    /// odd quads (four chains of four vpdpbusd instead of two of eight; integer sums, so the split changes no bit), and
    /// the float sums stay in registers, accumulated block by block exactly as <see cref="Rows6"/> accumulates them in y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Row1(byte* g0, long groupBytes, byte* q, float* d, int nb, float* y, byte* next)
    {
        Vector256<float> f0 = default, f1 = default;
        byte* p0 = g0, p1 = g0 + groupBytes;
        for (int b = 0; b < nb; b++, p0 += Q8_0Packed.RecordBytes, p1 += Q8_0Packed.RecordBytes, q += 32)
        {
            Prefetch(next, groupBytes, b);
            var s0 = Vector256.Load((int*)(p0 + ScaleBytes));
            var s1 = Vector256.Load((int*)(p1 + ScaleBytes));
            Vector256<int> t0 = default, t1 = default;
            for (int t = 0; t < 32; t += 8)
            {
                var x = Vector256.Create(*(int*)(q + t)).AsByte();
                var x4 = Vector256.Create(*(int*)(q + t + 4)).AsByte();
                s0 = AvxVnni.MultiplyWideningAndAdd(s0, x, Vector256.Load((sbyte*)(p0 + QuadsOffset + 8 * t)));
                s1 = AvxVnni.MultiplyWideningAndAdd(s1, x, Vector256.Load((sbyte*)(p1 + QuadsOffset + 8 * t)));
                t0 = AvxVnni.MultiplyWideningAndAdd(t0, x4, Vector256.Load((sbyte*)(p0 + QuadsOffset + 8 * t + 32)));
                t1 = AvxVnni.MultiplyWideningAndAdd(t1, x4, Vector256.Load((sbyte*)(p1 + QuadsOffset + 8 * t + 32)));
            }
            var e = Vector256.Create(d[b]);
            f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s0 + t0), Vector256.Load((float*)p0) * e, f0);
            f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(s1 + t1), Vector256.Load((float*)p1) * e, f1);
        }
        f0.Store(y);
        f1.Store(y + 8);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>The activations of the packed integer GEMMs (<see cref="Q4PackedGemm"/>, <see cref="Q8PackedGemm"/>):
/// every row quantized to Q8_0 with the bits of <see cref="QuantMatMul.QuantizeActivations"/>, sixteen values per
/// vector, rows spread over the <see cref="ComputePool"/>. Laid out in the caller's scratch as M·K quant bytes, M·K/32
/// block scales and M·K/32 ints of per-block extras.</summary>
internal static unsafe class PackedActivations
{
    /// <summary>Pointers into the scratch: quants (signed, or offset binary q + 128), scales, per-block extras.</summary>
    public readonly struct Rows(byte* q, float* d, int* c)
    {
        public readonly byte* Q = q;
        public readonly float* D = d;
        public readonly int* C = c;
    }

    /// <summary>Scratch bytes for <paramref name="m"/> rows of <paramref name="k"/> values.</summary>
    public static long ScratchBytes(int m, int k) => AlignUp((long)m * k) + 2L * m * (k / 32) * sizeof(float);

    internal static long AlignUp(long bytes) => (bytes + 63) & ~63L;

    /// <summary>Quantizes x (<paramref name="m"/>, <paramref name="k"/>) into <paramref name="scratch"/>. Signed
    /// quants come with the Q4_0 corrections of <see cref="QuantizeRow"/>; offset-binary quants (q + 128, the
    /// unsigned operand of vpdpbusd) come without extras.</summary>
    public static Rows Quantize(float* x, int m, int k, byte* scratch, bool offsetBinary, ComputePool pool)
    {
        var body = new Body
        {
            X = x, K = k, M = m, OffsetBinary = offsetBinary, RowsPerTask = Math.Max(1, 8192 / k),
            Q = scratch, D = (float*)(scratch + AlignUp((long)m * k)),
        };
        body.C = (int*)(body.D + (long)m * (k / 32));
        pool.For((m + body.RowsPerTask - 1) / body.RowsPerTask, ref body);
        return new Rows(body.Q, body.D, body.C);
    }

    struct Body : IParallelBody
    {
        public float* X, D;
        public byte* Q;
        public int* C;
        public int M, K, RowsPerTask;
        public bool OffsetBinary;

        public void Execute(int task)
        {
            int r0 = task * RowsPerTask, r1 = Math.Min(M, r0 + RowsPerTask), nb = K / 32;
            for (int r = r0; r < r1; r++)
                QuantizeRow(X + (long)r * K, nb, Q + (long)r * K, D + (long)r * nb, C + (long)r * nb, OffsetBinary);
        }
    }

    /// <summary>One row to Q8_0 (d = max|x|/127 kept as fp16, q = round-half-away(x·(1/d)) from the unrounded d).
    /// Signed: per block the packed Q4_0 corrections — low int16 −8·Σ q[k] over k mod 4 ∈ {0, 1}, high int16 over
    /// k mod 4 ∈ {2, 3}. Offset binary: the bytes are q + 128 and <paramref name="c"/> is left alone.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void QuantizeRow(float* x, int nb, byte* q, float* d, int* c, bool offsetBinary = false)
    {
        var pairMask = Vector512.Create(-1, -1, 0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1, 0, 0);
        var flip = Vector128.Create((byte)0x80);
        for (int b = 0; b < nb; b++, x += 32, q += 32)
        {
            var v0 = Vector512.Load(x);
            var v1 = Vector512.Load(x + 16);
            float amax = VectorReduce.Max(Vector512.Max(Vector512.Abs(v0), Vector512.Abs(v1)));
            float scale = amax / 127f;
            var inverse = Vector512.Create(scale != 0 ? 1f / scale : 0f);
            d[b] = (float)(Half)scale;
            var i0 = RoundHalfAway(v0 * inverse);
            var i1 = RoundHalfAway(v1 * inverse);
            var q0 = Avx512F.ConvertToVector128SByte(i0).AsByte();
            var q1 = Avx512F.ConvertToVector128SByte(i1).AsByte();
            if (offsetBinary)
            {
                (q0 ^ flip).Store(q);
                (q1 ^ flip).Store(q + 16);
                continue;
            }
            q0.Store(q);
            q1.Store(q + 16);
            var s = i0 + i1;
            int low = Vector512.Sum(s & pairMask), high = Vector512.Sum(s) - low;
            c[b] = (ushort)(short)(-8 * low) | (-8 * high << 16);
        }
    }

    // MathF.Round(v, MidpointRounding.AwayFromZero) lane by lane: truncate, then step away from zero when the dropped
    // fraction is at least one half (the fraction v − trunc(v) is exact in float).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> RoundHalfAway(Vector512<float> v)
    {
        var t = Vector512.Truncate(v);
        var away = Vector512.GreaterThanOrEqual(Vector512.Abs(v - t), Vector512.Create(0.5f));
        var step = (v & Vector512.Create(-0f)) | Vector512.Create(1f);
        return Vector512.ConvertToInt32(t + (step & away));
    }
}

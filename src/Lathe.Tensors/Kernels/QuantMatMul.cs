using System.Runtime.CompilerServices;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>y (M, N) = x (M, K) · Wᵀ for a weight W (N, K) stored as F16, Q8_0 or Q4_0 (ggml layouts), without ever
/// decoding W as a whole. For Q8_0/Q4_0 each row of x is first quantized to Q8_0 (ggml's quantize_row_q8_0:
/// d = amax/127 rounded to fp16, q = round(x/d)), then every block of 32 is an integer dot product scaled by
/// d_w·d_x. F16 weights are widened to float inside the dot product. Work is split over N on the
/// <see cref="ComputePool"/>; every output element depends only on its own row and column, so any thread count gives
/// the same bits.</summary>
public static unsafe class QuantMatMul
{
    /// <summary>Scratch bytes <see cref="Forward"/> needs for <paramref name="m"/> rows of <paramref name="k"/>
    /// activations (0 for F16): the quantized activations, then their block scales.</summary>
    public static long ScratchBytes(QuantType type, int m, int k) =>
        type == QuantType.F16 ? 0 : AlignUp((long)m * k) + (long)m * (k / 32) * sizeof(float);

    static long AlignUp(long bytes) => (bytes + 63) & ~63L;

    /// <summary>Overwrites y (<paramref name="m"/>, <paramref name="n"/>) with x·Wᵀ. <paramref name="w"/> points at
    /// <paramref name="n"/> rows laid out as <paramref name="type"/>; <paramref name="scratch"/> holds at least
    /// <see cref="ScratchBytes"/> bytes (may be null for F16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x, int m, int k, byte* w, QuantType type, int n, float* y, byte* scratch)
    {
        Validate(x, m, k, w, type, n, y, scratch);
        if (m == 0 || n == 0) return;
        var body = new Body { X = x, W = w, Y = y, M = m, K = k, N = n, Type = type, RowBytes = QuantTypes.RowBytes(type, k) };
        if (type != QuantType.F16)
        {
            body.Q = (sbyte*)scratch;
            body.D = (float*)(scratch + AlignUp((long)m * k));
            QuantizeActivations(x, m, k, body.Q, body.D);
        }
        body.RowsPerChunk = RowsPerChunk(m, k, n);
        ComputePool.Shared.For((n + body.RowsPerChunk - 1) / body.RowsPerChunk, ref body);
    }

    internal static void Validate(float* x, int m, int k, byte* w, QuantType type, int n, float* y, byte* scratch)
    {
        if (m < 0 || k <= 0 || n < 0)
            throw new ArgumentException($"QuantMatMul: dims m={m}, k={k}, n={n} must be non-negative (k positive).");
        if (type != QuantType.F16 && k % 32 != 0)
            throw new ArgumentException($"QuantMatMul: {type} needs k a multiple of 32 (k={k}).");
        if (m > 0 && n > 0 && (x == null || w == null || y == null || (type != QuantType.F16 && scratch == null)))
            throw new ArgumentException($"QuantMatMul: null buffer for m={m}, k={k}, n={n} ({type}).");
    }

    // Enough weight rows per task that one task is worth a dispatch (~32k multiply-adds), and for M > 1 at least
    // 16 so a group of activation rows meets several weight rows while both are in L1.
    static int RowsPerChunk(int m, int k, int n)
    {
        long perRow = (long)m * k;
        int rows = (int)Math.Clamp((32 * 1024 + perRow - 1) / perRow, 1, n);
        if (m > 1) rows = Math.Max(rows, Math.Min(16, n));
        return rows;
    }

    /// <summary>ggml's quantize_row_q8_0 reference for each row: per block of 32, d = max|x|/127 (stored and used as
    /// fp16), q = round-half-away(x·(1/d)). Scales go to <paramref name="d"/> (M·K/32 floats, the fp16 value widened).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void QuantizeActivations(float* x, int m, int k, sbyte* q, float* d)
    {
        long blocks = (long)m * (k / 32);
        for (long b = 0; b < blocks; b++)
        {
            float* v = x + b * 32;
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = MathF.Max(amax, MathF.Abs(v[i]));
            float scale = amax / 127f;
            float inverse = scale != 0 ? 1f / scale : 0f;
            d[b] = (float)(Half)scale;
            sbyte* qb = q + b * 32;
            for (int i = 0; i < 32; i++) qb[i] = (sbyte)MathF.Round(v[i] * inverse, MidpointRounding.AwayFromZero);
        }
    }

    struct Body : IParallelBody
    {
        public float* X, Y, D;
        public byte* W;
        public sbyte* Q;
        public long RowBytes;
        public int M, K, N, RowsPerChunk;
        public QuantType Type;

        public void Execute(int chunk)
        {
            int n0 = chunk * RowsPerChunk, n1 = Math.Min(N, n0 + RowsPerChunk);
            if (Type == QuantType.F16) { QuantDot.F16Rows(X, M, K, W, RowBytes, n0, n1, Y, N); return; }
            int nb = K / 32;
            int r = 0;
            // Four activation rows share each weight block while it is in registers.
            for (; r + 4 <= M; r += 4)
                for (int j = n0; j < n1; j++)
                    QuantDot.Rows4(Type, W + j * RowBytes, Q + (long)r * K, K, D + (long)r * nb, nb, Y + (long)r * N + j, N);
            for (; r < M; r++)
                for (int j = n0; j < n1; j++)
                    Y[(long)r * N + j] = QuantDot.Row(Type, W + j * RowBytes, Q + (long)r * K, D + (long)r * nb, nb);
        }
    }
}

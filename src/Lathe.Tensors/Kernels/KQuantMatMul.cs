using System.Runtime.CompilerServices;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>y (M, N) = x (M, K) · Wᵀ for a weight W (N, K) stored as one of ggml's k-quants (Q2_K … Q6_K), never
/// decoding W as a whole. As llama.cpp does, each row of x is first quantized to Q8_K (<see cref="Q8_K"/>), then every
/// super-block of 256 is an integer dot product (<see cref="KQuantDot"/>; twin <see cref="KQuantDotReference"/>) scaled
/// once in float — for any number of rows, so a prompt and a single token see the same rounding. Fewer than four
/// activation rows (decoding) take four weight rows at a time (<see cref="KQuantDotFused4"/>: shared horizontal sums and
/// scale conversions; leftover rows one at a time); for four rows and more a task unpacks its weight rows once into a
/// stack buffer and runs them against tiles of activation rows four at a time. Work is split over N on the
/// <see cref="ComputePool"/>; every output element depends only on its own row and column, so any thread count gives
/// the same bits.</summary>
public static unsafe class KQuantMatMul
{
    const int QK = QuantTypes.SuperBlockValues;
    // Activation rows per tile of a prompt: 64 rows of Q8_K stay in L2 while a task's weight rows pass over them.
    const int RowTile = 64;
    // A task's unpacked weight rows live on its stack: about 64 KB (an L1 and a half), never more than 512 KB.
    const int UnpackedBudget = 64 * 1024, UnpackedLimit = 512 * 1024;

    /// <summary>Scratch bytes for <paramref name="m"/> rows of <paramref name="k"/> activations: Q8_K quants, scales
    /// and group sums.</summary>
    public static long ScratchBytes(QuantType type, int m, int k)
        => PackedActivations.AlignUp((long)m * k) + PackedActivations.AlignUp((long)m * (k / QK) * sizeof(float)) + (long)m * (k / 16) * sizeof(short);

    /// <summary>Overwrites y (<paramref name="m"/>, <paramref name="n"/>) with x·Wᵀ; <paramref name="w"/> points at
    /// <paramref name="n"/> rows of <paramref name="k"/> values (a multiple of 256) as <paramref name="type"/>;
    /// <paramref name="scratch"/> holds <see cref="ScratchBytes"/>; work runs on <paramref name="pool"/> (default the
    /// shared pool).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x, int m, int k, byte* w, QuantType type, int n, float* y, byte* scratch, ComputePool? pool = null)
    {
        pool ??= ComputePool.Shared;
        if (!QuantTypes.IsKQuant(type)) throw new ArgumentException($"KQuantMatMul: {QuantTypes.Name(type)} is not a k-quant.", nameof(type));
        QuantMatMul.Validate(x, m, k, w, type, n, y, scratch);
        if (m == 0 || n == 0) return;
        int nb = k / QK;
        var body = new Body
        {
            X = x, W = w, Y = y, M = m, K = k, N = n, Nb = nb, Type = type,
            RowBytes = QuantTypes.RowBytes(type, k),
            Q = (sbyte*)scratch,
            D = (float*)(scratch + PackedActivations.AlignUp((long)m * k)),
        };
        body.Sums = (short*)((byte*)body.D + PackedActivations.AlignUp((long)m * nb * sizeof(float)));
        var quantize = new QuantizeBody { X = x, K = k, Q = body.Q, D = body.D, Sums = body.Sums };
        pool.For(m, ref quantize);
        body.Simd = KQuantDot.IsSupported;
        body.RowsPerChunk = RowsPerChunk(m, k, n, nb);
        pool.For((n + body.RowsPerChunk - 1) / body.RowsPerChunk, ref body);
    }

    // ~32k multiply-adds per task for a single row (as QuantMatMul); for prompts as many weight rows as fit the
    // unpacked budget, but enough tasks that two threads share the work evenly.
    static int RowsPerChunk(int m, int k, int n, int nb)
    {
        // (a multiple of four weight rows, the step of KQuantDotFused4).
        if (m < 4) return (int)Math.Clamp(((32 * 1024 + (long)m * k - 1) / ((long)m * k) + 3) / 4 * 4, 1, n);
        int fit = Math.Max(1, UnpackedBudget / (nb * UnpackedSuperBlock.Bytes));
        return Math.Clamp(Math.Min(fit, (n + 7) / 8), 1, n);
    }

    struct QuantizeBody : IParallelBody
    {
        public float* X, D;
        public sbyte* Q;
        public short* Sums;
        public int K;

        public void Execute(int r) => Q8_K.QuantizeRow(X + (long)r * K, K, Q + (long)r * K, D + (long)r * (K / QK), Sums + (long)r * (K / 16));
    }

    struct Body : IParallelBody
    {
        public float* X, Y, D;
        public byte* W;
        public sbyte* Q;
        public short* Sums;
        public long RowBytes;
        public int M, K, N, Nb, RowsPerChunk;
        public QuantType Type;
        public bool Simd;

        [SkipLocalsInit]
        public void Execute(int chunk)
        {
            int n0 = chunk * RowsPerChunk, n1 = Math.Min(N, n0 + RowsPerChunk);
            long unpackedBytes = (long)(n1 - n0) * Nb * UnpackedSuperBlock.Bytes;
            if (!Simd || M < 4 || unpackedBytes > UnpackedLimit) { RowByRow(n0, n1); return; }
            byte* buffer = stackalloc byte[(int)unpackedBytes];
            var unpacked = (UnpackedSuperBlock*)buffer;
            for (int j = n0; j < n1; j++)
                for (int b = 0; b < Nb; b++)
                    KQuantUnpack.Unpack(Type, W + j * RowBytes + (long)b * QuantTypes.BlockBytes(Type), unpacked + (long)(j - n0) * Nb + b);
            int groups = K / 16;
            for (int r0 = 0; r0 < M; r0 += RowTile)
            {
                int r1 = Math.Min(M, r0 + RowTile);
                for (int j = n0; j < n1; j++)
                {
                    var u = unpacked + (long)(j - n0) * Nb;
                    int r = r0;
                    for (; r + 4 <= r1; r += 4)
                        KQuantDot.Rows4(u, Nb, Q + (long)r * K, K, D + (long)r * Nb, Sums + (long)r * groups, groups, Y + (long)r * N + j, N);
                    for (; r < r1; r++)
                        Y[(long)r * N + j] = KQuantDot.Row(u, Nb, Q + (long)r * K, D + (long)r * Nb, Sums + (long)r * groups);
                }
            }
        }

        [SkipLocalsInit]
        void RowByRow(int n0, int n1)
        {
            int j4 = n0;
            // Four weight rows at a time share the per-super-block overhead (KQuantDotFused4); same bits as one by one.
            float* y4 = stackalloc float[4];
            if (Simd && KQuantDotFused4.Handles(Type))
                for (; j4 + 4 <= n1; j4 += 4)
                    for (int r = 0; r < M; r++)
                    {
                        KQuantDotFused4.Rows(Type, W + j4 * RowBytes, RowBytes, Q + (long)r * K, D + (long)r * Nb, Sums + (long)r * (K / 16), Nb, y4);
                        for (int i = 0; i < 4; i++) Y[(long)r * N + j4 + i] = y4[i];
                    }
            for (int j = j4; j < n1; j++)
                for (int r = 0; r < M; r++)
                {
                    sbyte* q = Q + (long)r * K;
                    float* d = D + (long)r * Nb;
                    Y[(long)r * N + j] = Simd
                        ? KQuantDot.Row(Type, W + j * RowBytes, q, d, Sums + (long)r * (K / 16), Nb)
                        : KQuantDotReference.Row(Type, W + j * RowBytes, q, d, Nb);
                }
        }
    }
}

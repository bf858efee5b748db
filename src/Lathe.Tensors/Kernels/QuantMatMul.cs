using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>y (M, N) = x (M, K) · Wᵀ for a weight W (N, K) stored as F16, Q8_0 or Q4_0 (ggml layouts), without ever
/// decoding W as a whole. For Q8_0/Q4_0 each row of x is first quantized to Q8_0 (ggml's quantize_row_q8_0:
/// d = amax/127 rounded to fp16, q = round(x/d)), then every block of 32 is an integer dot product scaled by
/// d_w·d_x — for any number of rows, as llama.cpp does, so a prompt and a single token see the same rounding on every
/// CPU. Where the integer GEMMs can run (Q4_0 with AVX-512BW, Q8_0 with AVX-VNNI and AVX-512F; N a multiple of 16)
/// every product multiplies a packed copy of W (<see cref="Q4PackedGemm"/>, <see cref="Q8PackedGemm"/>, through the
/// <see cref="QuantizedMatrix"/> overload); elsewhere the matvec kernels below, four activation rows per weight block. F16 weights are widened to float inside the dot product, or for
/// prompts decoded a panel at a time for the F32 GEMM. Work is split over N on the <see cref="ComputePool"/>; every
/// output element depends only on its own row and column, so any thread count gives the same bits.</summary>
public static unsafe class QuantMatMul
{
    /// <summary>The instruction path the integer dot products take on this machine: "avx-vnni", "avx2" or "scalar".</summary>
    public static string Path => !(System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported) ? "scalar"
        : System.Runtime.Intrinsics.X86.AvxVnni.IsSupported ? "avx-vnni" : "avx2";

    /// <summary>From this many activation rows on (prompt processing), F16 weights are decoded a panel of rows at a
    /// time into F32 for the F32 GEMM, whose micro-kernel outruns the widening dot product once the decoding cost N·K
    /// is shared by enough rows.</summary>
    public const int PanelGemmRows = 32;

    /// <summary>Scratch bytes <see cref="Forward(float*, int, int, QuantizedMatrix, float*, byte*)"/> needs for
    /// <paramref name="m"/> rows of <paramref name="k"/> activations: the quantized activations, their block scales and
    /// per-block extras (Q types), or one decoded weight panel (F16, M ≥ <see cref="PanelGemmRows"/>).</summary>
    public static long ScratchBytes(QuantType type, int m, int k)
    {
        if (type == QuantType.F16) return m >= PanelGemmRows ? (long)PanelRows(k) * k * sizeof(float) : 0;
        if (type == QuantType.BF16) return Bf16MatMul.ScratchBytes(m, k);
        if (QuantTypes.IsKQuant(type)) return KQuantMatMul.ScratchBytes(type, m, k);
        return PackedActivations.ScratchBytes(m, k);
    }

    // Rows of W decoded per GEMM panel: about 1 MB of floats (an L2), a multiple of 16.
    static int PanelRows(int k) => Math.Max(16, 256 * 1024 / k / 16 * 16);

    /// <summary>Overwrites y (<paramref name="m"/>, <paramref name="n"/>) with x·Wᵀ. <paramref name="w"/> points at
    /// <paramref name="n"/> rows laid out as <paramref name="type"/>; <paramref name="scratch"/> holds at least
    /// <see cref="ScratchBytes"/> bytes (may be null when that is 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x, int m, int k, byte* w, QuantType type, int n, float* y, byte* scratch)
    {
        Validate(x, m, k, w, type, n, y, scratch);
        if (m == 0 || n == 0) return;
        if (type == QuantType.BF16) { Bf16MatMul.Forward(x, m, k, w, n, y, scratch); return; }
        if (QuantTypes.IsKQuant(type)) { KQuantMatMul.Forward(x, m, k, w, type, n, y, scratch); return; }
        long rowBytes = QuantTypes.RowBytes(type, k);
        if (type == QuantType.F16 && m >= PanelGemmRows) { PanelGemm(x, m, k, w, rowBytes, n, y, (float*)scratch); return; }
        var body = new Body { X = x, W = w, Y = y, M = m, K = k, N = n, Type = type, RowBytes = rowBytes };
        if (type != QuantType.F16)
        {
            body.Q = (sbyte*)scratch;
            body.D = (float*)(scratch + PackedActivations.AlignUp((long)m * k));
            body.C = body.D + (long)m * (k / 32);
            QuantizeActivations(x, m, k, body.Q, body.D, body.C);
        }
        body.RowsPerChunk = RowsPerChunk(m, k, n);
        ComputePool.Shared.For((n + body.RowsPerChunk - 1) / body.RowsPerChunk, ref body);
    }

    /// <summary><see cref="Forward(float*, int, int, byte*, QuantType, int, float*, byte*)"/> for a whole matrix: a
    /// prompt-sized product with Q4_0 or Q8_0 weights runs in integers on the matrix's packed copy where
    /// <see cref="UsesPacked"/> says so; everything else takes the pointer path.</summary>
    public static void Forward(float* x, int m, int k, QuantizedMatrix w, float* y, byte* scratch)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.Columns != k) throw new ArgumentException($"QuantMatMul: k={k} does not match the {w.Type} weight ({w.Rows}, {w.Columns}).");
        if (UsesPacked(w.Type, m, w.Rows))
        {
            Validate(x, m, k, w.Data, w.Type, w.Rows, y, scratch);
            if (w.Type == QuantType.Q4_0) Q4PackedGemm.Forward(x, m, k, w.PackedQ4, w.Rows, y, scratch);
            else Q8PackedGemm.Forward(x, m, k, w.PackedQ8, w.Rows, y, scratch);
        }
        else Forward(x, m, k, w.Data, w.Type, w.Rows, y, scratch);
        GC.KeepAlive(w);
    }

    /// <summary>Whether <see cref="Forward(float*, int, int, QuantizedMatrix, float*, byte*)"/> takes the packed
    /// integer GEMM for this product: N a multiple of 16 where the CPU has the instructions, for any M — a single token
    /// too, where sixteen (Q4_0) or eight (Q8_0) weight rows per vector spare the matvec's horizontal sums: Q4_0 M = 1,
    /// 1408×512, 33 → 4 µs on one core (decoding 1.2× faster); Q8_0 decoding of the 38.9M model 3.0 → 1.95 ms per token
    /// on one core of the Xeon (an earlier measurement on a Zen 5 EPYC had the matvec ahead for Q8_0). Every row then
    /// takes the same arithmetic whatever M, so a sequence's logits do not depend on the batch it is decoded in.</summary>
    public static bool UsesPacked(QuantType type, int m, int n)
        => m >= 1 && n % 16 == 0
           && (type == QuantType.Q4_0 ? Q4PackedGemm.IsSupported : type == QuantType.Q8_0 && Q8PackedGemm.IsSupported);

    // F16 W: y[:, n0:n0+P] = x · decode(W[n0:n0+P])ᵀ panel by panel: only one panel of W is ever decoded.
    static void PanelGemm(float* x, int m, int k, byte* w, long rowBytes, int n, float* y, float* panel)
    {
        int rows = PanelRows(k);
        for (int n0 = 0; n0 < n; n0 += rows)
        {
            int p = Math.Min(rows, n - n0);
            var decode = new DecodeBody { W = w + n0 * rowBytes, RowBytes = rowBytes, K = k, Panel = panel };
            ComputePool.Shared.For(p, ref decode);
            Gemm.Multiply(false, true, m, p, k, x, k, panel, k, y + n0, n);
        }
    }

    struct DecodeBody : IParallelBody
    {
        public byte* W;
        public float* Panel;
        public long RowBytes;
        public int K;

        public void Execute(int row) => DecodeRow(W + row * RowBytes, K, Panel + (long)row * K);
    }

    /// <summary>One F16 row of W to floats (exact widening).</summary>
    static void DecodeRow(byte* row, int k, float* destination)
    {
        ushort* h = (ushort*)row;
        for (int i = 0; i < k; i++) destination[i] = HalfBits.ToSingle(h[i]);
    }

    internal static void Validate(float* x, int m, int k, byte* w, QuantType type, int n, float* y, byte* scratch)
    {
        if (m < 0 || k <= 0 || n < 0)
            throw new ArgumentException($"QuantMatMul: dims m={m}, k={k}, n={n} must be non-negative (k positive).");
        if (k % QuantTypes.BlockValues(type) != 0)
            throw new ArgumentException($"QuantMatMul: {type} needs k a multiple of {QuantTypes.BlockValues(type)} (k={k}).");
        if (m > 0 && n > 0 && (x == null || w == null || y == null || (ScratchBytes(type, m, k) > 0 && scratch == null)))
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
    /// fp16), q = round-half-away(x·(1/d)). Scales go to <paramref name="d"/> (M·K/32 floats, the fp16 value widened);
    /// if <paramref name="c"/> is given, each block's 8·d·Σq goes there (the Q4_0 matvec's offset correction).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void QuantizeActivations(float* x, int m, int k, sbyte* q, float* d, float* c = null)
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
            int sum = 0;
            for (int i = 0; i < 32; i++) sum += qb[i] = (sbyte)MathF.Round(v[i] * inverse, MidpointRounding.AwayFromZero);
            if (c != null) c[b] = 8f * d[b] * sum;
        }
    }

    struct Body : IParallelBody
    {
        public float* X, Y, D, C;
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
                    Y[(long)r * N + j] = QuantDot.Row(Type, W + j * RowBytes, Q + (long)r * K, D + (long)r * nb, C + (long)r * nb, nb);
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>y (M, N) = x (M, K) · Wᵀ for a weight W (N, K) stored as BF16 (ggml's GGML_TYPE_BF16: the top half of each
/// float), never decoded as a whole. Below <see cref="PanelGemmRows"/> activation rows each weight vector is widened
/// inside the dot product (a shift by 16 bits), up to four activation rows sharing it; from there on W is decoded a
/// panel of rows at a time into the F32 GEMM, as <see cref="QuantMatMul"/> does for F16. Work is split over N on the
/// <see cref="ComputePool"/> and every output depends only on its own row and column, so any thread count gives the
/// same bits. Twin: <see cref="ForwardReference"/>, scalar, with the same accumulation order (bit-identical).</summary>
public static unsafe class Bf16MatMul
{
    /// <summary>From this many activation rows on, W is decoded panel by panel for the F32 GEMM (as F16 weights).</summary>
    public const int PanelGemmRows = QuantMatMul.PanelGemmRows;

    /// <summary>Scratch bytes <see cref="Forward"/> needs: one decoded weight panel for M ≥ <see cref="PanelGemmRows"/>,
    /// else none.</summary>
    public static long ScratchBytes(int m, int k) => m >= PanelGemmRows ? (long)PanelRows(k) * k * sizeof(float) : 0;

    // Rows of W decoded per GEMM panel: about 1 MB of floats (an L2), a multiple of 16 (QuantMatMul's F16 rule).
    static int PanelRows(int k) => Math.Max(16, 256 * 1024 / k / 16 * 16);

    // The dot product's fixed shape: 32 running sums (lane l takes elements l, l+32, l+64, … by fused multiply-add),
    // folded pairwise 32 → 16 → 8 → 4 → 2 → 1, then the K mod 32 tail added in order. The vector paths (two 512-bit or
    // four 256-bit accumulators) and the scalar twin all compute exactly this.
    const int Lanes = 32;

    /// <summary>Overwrites y (<paramref name="m"/>, <paramref name="n"/>) with x·Wᵀ; <paramref name="w"/> points at
    /// <paramref name="n"/> rows of <paramref name="k"/> bf16 values; <paramref name="scratch"/> holds at least
    /// <see cref="ScratchBytes"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* x, int m, int k, byte* w, int n, float* y, byte* scratch)
    {
        Validate(x, m, k, w, n, y, scratch);
        if (m == 0 || n == 0) return;
        if (m >= PanelGemmRows) { PanelGemm(x, m, k, (ushort*)w, n, y, (float*)scratch, vector: true); return; }
        var body = new Body { X = x, W = (ushort*)w, Y = y, M = m, K = k, N = n, RowsPerChunk = RowsPerChunk(m, k, n) };
        ComputePool.Shared.For((n + body.RowsPerChunk - 1) / body.RowsPerChunk, ref body);
    }

    /// <summary>The scalar twin of <see cref="Forward"/>: one thread, no vectors, the same sums in the same order, so
    /// the same bits (for M ≥ <see cref="PanelGemmRows"/> the panels are decoded by scalar code into the same GEMM).</summary>
    public static void ForwardReference(float* x, int m, int k, byte* w, int n, float* y, byte* scratch)
    {
        Validate(x, m, k, w, n, y, scratch);
        if (m == 0 || n == 0) return;
        if (m >= PanelGemmRows) { PanelGemm(x, m, k, (ushort*)w, n, y, (float*)scratch, vector: false); return; }
        for (int r = 0; r < m; r++)
            for (int j = 0; j < n; j++)
                y[(long)r * n + j] = DotScalar((ushort*)w + (long)j * k, x + (long)r * k, k);
    }

    static void Validate(float* x, int m, int k, byte* w, int n, float* y, byte* scratch)
    {
        if (m < 0 || k <= 0 || n < 0)
            throw new ArgumentException($"Bf16MatMul: dims m={m}, k={k}, n={n} must be non-negative (k positive).");
        if (m > 0 && n > 0 && (x == null || w == null || y == null || (ScratchBytes(m, k) > 0 && scratch == null)))
            throw new ArgumentException($"Bf16MatMul: null buffer for m={m}, k={k}, n={n}.");
    }

    // Enough weight rows per task that one task is worth a dispatch (~32k multiply-adds); for M > 1 at least 16 so a
    // group of activation rows meets several weight rows while both are in L1.
    static int RowsPerChunk(int m, int k, int n)
    {
        long perRow = (long)m * k;
        int rows = (int)Math.Clamp((32 * 1024 + perRow - 1) / perRow, 1, n);
        if (m > 1) rows = Math.Max(rows, Math.Min(16, n));
        return rows;
    }

    // y[:, n0:n0+P] = x · decode(W[n0:n0+P])ᵀ panel by panel: only one panel of W is ever decoded.
    static void PanelGemm(float* x, int m, int k, ushort* w, int n, float* y, float* panel, bool vector)
    {
        int rows = PanelRows(k);
        for (int n0 = 0; n0 < n; n0 += rows)
        {
            int p = Math.Min(rows, n - n0);
            if (vector)
            {
                var decode = new DecodeBody { W = w + (long)n0 * k, K = k, Panel = panel };
                ComputePool.Shared.For(p, ref decode);
            }
            else
            {
                for (long i = 0; i < (long)p * k; i++) panel[i] = Bf16.ToSingle(w[(long)n0 * k + i]);
            }
            Gemm.Multiply(false, true, m, p, k, x, k, panel, k, y + n0, n);
        }
    }

    struct DecodeBody : IParallelBody
    {
        public ushort* W;
        public float* Panel;
        public int K;

        public void Execute(int row) => Bf16.ToSingle(W + (long)row * K, Panel + (long)row * K, K);
    }

    struct Body : IParallelBody
    {
        public float* X, Y;
        public ushort* W;
        public int M, K, N, RowsPerChunk;

        public void Execute(int chunk)
        {
            int n0 = chunk * RowsPerChunk, n1 = Math.Min(N, n0 + RowsPerChunk);
            for (int r = 0; r < M; r += 4)
            {
                int rows = Math.Min(4, M - r);
                for (int j = n0; j < n1; j++)
                    Dot(W + (long)j * K, X + (long)r * K, K, rows, Y + (long)r * N + j, N);
            }
        }
    }

    /// <summary>y[i·ldy] = w · x[i·k…] for <paramref name="rows"/> (1–4) activation rows sharing each widened weight
    /// vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot(ushort* w, float* x, int k, int rows, float* y, int ldy)
    {
        if (Vector512.IsHardwareAccelerated) Dot512(w, x, k, rows, y, ldy);
        else if (Vector256.IsHardwareAccelerated) Dot256(w, x, k, rows, y, ldy);
        else for (int i = 0; i < rows; i++) y[(long)i * ldy] = DotScalar(w, x + (long)i * k, k);
    }

    static void Dot512(ushort* w, float* x, int k, int rows, float* y, int ldy)
    {
        int body = k / Lanes * Lanes;
        if (rows == 1)
        {
            // A decoding step: one activation row, so no work on the three unused rows' accumulators.
            Vector512<float> lo = default, hi = default;
            for (int c = 0; c < body; c += Lanes)
            {
                var h = Vector512.Load(w + c);
                lo = Vector512.FusedMultiplyAdd((Vector512.WidenLower(h) << 16).AsSingle(), Vector512.Load(x + c), lo);
                hi = Vector512.FusedMultiplyAdd((Vector512.WidenUpper(h) << 16).AsSingle(), Vector512.Load(x + c + 16), hi);
            }
            y[0] = Tail(w, x, body, k, Fold(lo + hi));
            return;
        }
        // Accumulators: row i's lanes 0–15 in lo[i], 16–31 in hi[i]; unused rows read row 0 and are dropped.
        Vector512<float> lo0 = default, hi0 = default, lo1 = default, hi1 = default, lo2 = default, hi2 = default, lo3 = default, hi3 = default;
        float* x0 = x, x1 = rows > 1 ? x + k : x, x2 = rows > 2 ? x + 2L * k : x, x3 = rows > 3 ? x + 3L * k : x;
        for (int c = 0; c < body; c += Lanes)
        {
            var h = Vector512.Load(w + c);
            var wl = (Vector512.WidenLower(h) << 16).AsSingle();
            var wh = (Vector512.WidenUpper(h) << 16).AsSingle();
            lo0 = Vector512.FusedMultiplyAdd(wl, Vector512.Load(x0 + c), lo0); hi0 = Vector512.FusedMultiplyAdd(wh, Vector512.Load(x0 + c + 16), hi0);
            lo1 = Vector512.FusedMultiplyAdd(wl, Vector512.Load(x1 + c), lo1); hi1 = Vector512.FusedMultiplyAdd(wh, Vector512.Load(x1 + c + 16), hi1);
            lo2 = Vector512.FusedMultiplyAdd(wl, Vector512.Load(x2 + c), lo2); hi2 = Vector512.FusedMultiplyAdd(wh, Vector512.Load(x2 + c + 16), hi2);
            lo3 = Vector512.FusedMultiplyAdd(wl, Vector512.Load(x3 + c), lo3); hi3 = Vector512.FusedMultiplyAdd(wh, Vector512.Load(x3 + c + 16), hi3);
        }
        y[0] = Tail(w, x0, body, k, Fold(lo0 + hi0));
        if (rows > 1) y[ldy] = Tail(w, x1, body, k, Fold(lo1 + hi1));
        if (rows > 2) y[2L * ldy] = Tail(w, x2, body, k, Fold(lo2 + hi2));
        if (rows > 3) y[3L * ldy] = Tail(w, x3, body, k, Fold(lo3 + hi3));
    }

    static void Dot256(ushort* w, float* x, int k, int rows, float* y, int ldy)
    {
        // Lanes 0–7, 8–15, 16–23, 24–31 in a, b, c, d: the 32 → 16 fold is (a + c, b + d), as in Dot512.
        int body = k / Lanes * Lanes;
        for (int i = 0; i < rows; i++)
        {
            float* xr = x + (long)i * k;
            Vector256<float> a = default, b = default, c = default, d = default;
            for (int e = 0; e < body; e += Lanes)
            {
                var h0 = Vector256.Load(w + e);
                var h1 = Vector256.Load(w + e + 16);
                a = Vector256.FusedMultiplyAdd((Vector256.WidenLower(h0) << 16).AsSingle(), Vector256.Load(xr + e), a);
                b = Vector256.FusedMultiplyAdd((Vector256.WidenUpper(h0) << 16).AsSingle(), Vector256.Load(xr + e + 8), b);
                c = Vector256.FusedMultiplyAdd((Vector256.WidenLower(h1) << 16).AsSingle(), Vector256.Load(xr + e + 16), c);
                d = Vector256.FusedMultiplyAdd((Vector256.WidenUpper(h1) << 16).AsSingle(), Vector256.Load(xr + e + 24), d);
            }
            y[(long)i * ldy] = Tail(w, xr, body, k, Fold(a + c, b + d));
        }
    }

    // 16 → 1 (lanes l and l+8, then l and l+4, l and l+2, l and l+1).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Fold(Vector512<float> v) => Fold(v.GetLower(), v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Fold(Vector256<float> lower, Vector256<float> upper)
    {
        var r = lower + upper;
        var s = r.GetLower() + r.GetUpper();
        return (s.GetElement(0) + s.GetElement(2)) + (s.GetElement(1) + s.GetElement(3));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Tail(ushort* w, float* x, int from, int k, float sum)
    {
        for (int i = from; i < k; i++) sum = MathF.FusedMultiplyAdd(Bf16.ToSingle(w[i]), x[i], sum);
        return sum;
    }

    /// <summary>The dot product of one weight row and one activation row in the fixed order, without vectors.</summary>
    internal static float DotScalar(ushort* w, float* x, int k)
    {
        float* p = stackalloc float[Lanes];
        for (int l = 0; l < Lanes; l++) p[l] = 0;
        int body = k / Lanes * Lanes;
        for (int c = 0; c < body; c += Lanes)
            for (int l = 0; l < Lanes; l++) p[l] = MathF.FusedMultiplyAdd(Bf16.ToSingle(w[c + l]), x[c + l], p[l]);
        for (int width = Lanes / 2; width >= 1; width /= 2)
            for (int l = 0; l < width; l++) p[l] += p[l + width];
        return Tail(w, x, body, k, p[0]);
    }
}

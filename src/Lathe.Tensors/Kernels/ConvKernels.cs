using System.Numerics.Tensors;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Convolution as im2col + GEMM (<see cref="Gemm"/>), per image and per group. Forward: the patches of a block
/// of output rows are unrolled into col ((C/G)·KH·KW × rows·Wo) and y_g = W_g · col. Input gradient: dcol = W_gᵀ · dy_g,
/// folded back onto the image (col2im, adding). Weight gradient: dW_g = Σ_n dy_{n,g} · col_nᵀ. A 1×1 kernel at stride 1
/// without padding needs no unrolling: the image itself is col.
///
/// Threads: images run in parallel when there are at least as many as threads (each task's GEMMs then run on its own
/// thread), else one after another with each GEMM split across the pool. The weight gradient is summed per chunk of
/// images into partial buffers (the chunk count depends only on N) and the partials are added in chunk order. Every
/// GEMM sums over its contraction in the same order on any number of threads, so all four kernels give the same bits
/// for any thread count. The im2col block (≤ 1 MiB) is the thread's <see cref="Scratch"/>, the partials the call's, so
/// a call allocates nothing once warm. Scalar twin: <see cref="ConvReference"/>.</summary>
internal static unsafe class ConvKernels
{
    /// <summary>Floats of one im2col block: output rows are unrolled a block at a time so col stays in L2.</summary>
    const long ColBlockFloats = 1 << 18;
    /// <summary>At most this many partial weight gradients (chunks of images) per call.</summary>
    const int MaxWeightChunks = 16;

    /// <summary>The pool a GEMM inside a per-image task runs on: one thread, so it runs inline on the task's thread.</summary>
    static readonly ComputePool Inline = new(1);

    static bool IsPointwise(in ConvGeometry g) => g.KH == 1 && g.KW == 1 && g.Stride == 1 && g.Padding == 0;

    /// <summary>Output rows per im2col block.</summary>
    static int BlockRows(in ConvGeometry g) => (int)Math.Clamp(ColBlockFloats / Math.Max(1L * g.PatchRows * g.Wo, 1), 1, Math.Max(g.Ho, 1));

    // ── Forward ─────────────────────────────────────────────────────────────────────────────────

    struct ForwardBody : IParallelBody
    {
        public ConvGeometry G;
        public float* X, W, Bias, Y;
        public bool Accumulate;
        public void Execute(int n) => ForwardImage(G, X + (long)n * G.InputImage, W, Bias, Y + (long)n * G.OutputImage, Accumulate, Inline);
    }

    /// <summary>y (N, O, Ho, Wo) = conv(x, w) + bias (+ y when <paramref name="accumulate"/>).</summary>
    public static void Forward(in ConvGeometry g, float* x, float* w, float* bias, float* y, bool accumulate, ComputePool? pool = null)
    {
        pool ??= ComputePool.Shared;
        var body = new ForwardBody { G = g, X = x, W = w, Bias = bias, Y = y, Accumulate = accumulate };
        if (Parallel(g.N, pool)) pool.For(g.N, ref body);
        else for (int n = 0; n < g.N; n++) ForwardImage(g, x + (long)n * g.InputImage, w, bias, y + (long)n * g.OutputImage, accumulate, pool);
    }

    static void ForwardImage(in ConvGeometry g, float* x, float* w, float* bias, float* y, bool accumulate, ComputePool pool)
    {
        int pixels = g.OutputPixels, k = g.PatchRows;
        if (IsPointwise(g))
        {
            for (int grp = 0; grp < g.Groups; grp++)   // y_g (Og, S) = W_g (Og, Cg) · x_g (Cg, S)
                Gemm.Multiply(false, false, g.Og, pixels, k, w + (long)grp * g.Og * k, k, x + (long)grp * g.Cg * pixels, pixels,
                    y + (long)grp * g.Og * pixels, pixels, accumulate, pool);
        }
        else
        {
            int rows = BlockRows(g);
            float* col = Scratch.Get((long)k * rows * g.Wo);
            for (int grp = 0; grp < g.Groups; grp++)
                for (int i0 = 0; i0 < g.Ho; i0 += rows)
                {
                    int nr = Math.Min(rows, g.Ho - i0), cols = nr * g.Wo;
                    Im2Col(g, x + (long)grp * g.Cg * g.H * g.W, i0, nr, col);                    // (k, cols)
                    Gemm.Multiply(false, false, g.Og, cols, k, w + (long)grp * g.Og * k, k, col, cols,
                        y + (long)grp * g.Og * pixels + (long)i0 * g.Wo, pixels, accumulate, pool);  // (Og, cols) of (Og, S)
                }
        }
        if (bias is not null)
            for (int o = 0; o < g.O; o++)
            {
                var row = new Span<float>(y + (long)o * pixels, pixels);
                TensorPrimitives.Add(row, bias[o], row);
            }
    }

    // ── Input gradient ──────────────────────────────────────────────────────────────────────────

    struct BackwardInputBody : IParallelBody
    {
        public ConvGeometry G;
        public float* DY, W, DX;
        public bool Accumulate;
        public void Execute(int n) => BackwardInputImage(G, DY + (long)n * G.OutputImage, W, DX + (long)n * G.InputImage, Accumulate, Inline);
    }

    /// <summary>dx (N, C, H, W) = convᵀ(dy, w) (+ dx when <paramref name="accumulate"/>).</summary>
    public static void BackwardInput(in ConvGeometry g, float* dy, float* w, float* dx, bool accumulate, ComputePool? pool = null)
    {
        pool ??= ComputePool.Shared;
        var body = new BackwardInputBody { G = g, DY = dy, W = w, DX = dx, Accumulate = accumulate };
        if (Parallel(g.N, pool)) pool.For(g.N, ref body);
        else for (int n = 0; n < g.N; n++) BackwardInputImage(g, dy + (long)n * g.OutputImage, w, dx + (long)n * g.InputImage, accumulate, pool);
    }

    static void BackwardInputImage(in ConvGeometry g, float* dy, float* w, float* dx, bool accumulate, ComputePool pool)
    {
        int pixels = g.OutputPixels, k = g.PatchRows;
        if (IsPointwise(g))
        {
            for (int grp = 0; grp < g.Groups; grp++)   // dx_g (Cg, S) = W_gᵀ (Cg, Og) · dy_g (Og, S)
                Gemm.Multiply(true, false, k, pixels, g.Og, w + (long)grp * g.Og * k, k, dy + (long)grp * g.Og * pixels, pixels,
                    dx + (long)grp * g.Cg * pixels, pixels, accumulate, pool);
            return;
        }
        if (!accumulate) new Span<float>(dx, g.InputImage).Clear();
        int rows = BlockRows(g);
        float* col = Scratch.Get((long)k * rows * g.Wo);
        for (int grp = 0; grp < g.Groups; grp++)
            for (int i0 = 0; i0 < g.Ho; i0 += rows)
            {
                int nr = Math.Min(rows, g.Ho - i0), cols = nr * g.Wo;
                Gemm.Multiply(true, false, k, cols, g.Og, w + (long)grp * g.Og * k, k, dy + (long)grp * g.Og * pixels + (long)i0 * g.Wo, pixels,
                    col, cols, false, pool);                                                     // dcol (k, cols) = W_gᵀ · dy_g
                Col2Im(g, col, i0, nr, dx + (long)grp * g.Cg * g.H * g.W);
            }
    }

    // ── Weight gradient ─────────────────────────────────────────────────────────────────────────

    struct BackwardWeightBody : IParallelBody
    {
        public ConvGeometry G;
        public float* X, DY, Partials;
        public int Chunks;

        public void Execute(int chunk)
        {
            int n0 = (int)((long)G.N * chunk / Chunks), n1 = (int)((long)G.N * (chunk + 1) / Chunks);
            long size = (long)G.O * G.PatchRows;
            BackwardWeightImages(G, X, DY, n0, n1, Partials + chunk * size, false, Inline);
        }
    }

    /// <summary>dw (O, C/G, KH, KW) = Σ_n dy_n · col(x_n)ᵀ (+ dw when <paramref name="accumulate"/>).</summary>
    public static void BackwardWeight(in ConvGeometry g, float* x, float* dy, float* dw, bool accumulate, ComputePool? pool = null)
    {
        pool ??= ComputePool.Shared;
        long size = (long)g.O * g.PatchRows;
        if (g.N == 0 || g.OutputPixels == 0)
        {
            if (!accumulate) new Span<float>(dw, (int)size).Clear();
            return;
        }
        int chunks = Math.Min(g.N, MaxWeightChunks);
        if (chunks == 1)
        {
            BackwardWeightImages(g, x, dy, 0, g.N, dw, accumulate, pool);
            return;
        }
        float* partials = Scratch.GetForCall(chunks * size);
        var body = new BackwardWeightBody { G = g, X = x, DY = dy, Partials = partials, Chunks = chunks };
        if (Parallel(chunks, pool)) pool.For(chunks, ref body);
        else
            for (int c = 0; c < chunks; c++)
                BackwardWeightImages(g, x, dy, (int)((long)g.N * c / chunks), (int)((long)g.N * (c + 1) / chunks), partials + c * size, false, pool);
        var dst = new Span<float>(dw, (int)size);
        if (!accumulate) new ReadOnlySpan<float>(partials, (int)size).CopyTo(dst);
        for (int c = accumulate ? 0 : 1; c < chunks; c++)
            TensorPrimitives.Add(dst, new ReadOnlySpan<float>(partials + c * size, (int)size), dst);
    }

    /// <summary>dw (+)= Σ over images [n0, n1) of dy_n · col(x_n)ᵀ, group by group, block by block.</summary>
    static void BackwardWeightImages(in ConvGeometry g, float* x, float* dy, int n0, int n1, float* dw, bool accumulate, ComputePool pool)
    {
        int pixels = g.OutputPixels, k = g.PatchRows;
        bool pointwise = IsPointwise(g);
        int rows = pointwise ? g.Ho : BlockRows(g);
        float* col = pointwise ? null : Scratch.Get((long)k * rows * g.Wo);
        for (int n = n0; n < n1; n++)
        {
            float* xn = x + (long)n * g.InputImage, dyn = dy + (long)n * g.OutputImage;
            for (int grp = 0; grp < g.Groups; grp++)
                for (int i0 = 0; i0 < g.Ho; i0 += rows)
                {
                    int nr = Math.Min(rows, g.Ho - i0), cols = nr * g.Wo;
                    float* xg = xn + (long)grp * g.Cg * g.H * g.W;
                    if (!pointwise) Im2Col(g, xg, i0, nr, col);
                    bool add = accumulate || n > n0 || i0 > 0;
                    // dW_g (Og, k) += dy_g (Og, cols) · colᵀ (cols, k)
                    Gemm.Multiply(false, true, g.Og, k, cols, dyn + (long)grp * g.Og * pixels + (long)i0 * g.Wo, pixels,
                        pointwise ? xg : col, pointwise ? pixels : cols, dw + (long)grp * g.Og * k, k, add, pool);
                }
        }
    }

    // ── Bias ────────────────────────────────────────────────────────────────────────────────────

    /// <summary>db[o] = Σ_{n,s} dy[n,o,s] (+ db when <paramref name="accumulate"/>), over a (N, O, S) gradient; each
    /// row summed in float, the rows added in double in image order.</summary>
    public static void BackwardBias(float* dy, float* db, int n, int channels, int pixels, bool accumulate)
    {
        for (int o = 0; o < channels; o++)
        {
            double acc = 0;
            for (int b = 0; b < n; b++) acc += TensorPrimitives.Sum(new ReadOnlySpan<float>(dy + ((long)b * channels + o) * pixels, pixels));
            db[o] = accumulate ? db[o] + (float)acc : (float)acc;
        }
    }

    /// <summary>y[n,c,:] += b[c] over a (N, C, S) tensor.</summary>
    public static void AddChannelBias(float* y, float* b, int n, int channels, int pixels)
    {
        for (int img = 0; img < n; img++)
            for (int c = 0; c < channels; c++)
            {
                var row = new Span<float>(y + ((long)img * channels + c) * pixels, pixels);
                TensorPrimitives.Add(row, b[c], row);
            }
    }

    // ── Unrolling ───────────────────────────────────────────────────────────────────────────────

    /// <summary>The output columns j whose input column j·s − p + kw lies inside [0, W): [lo, hi).</summary>
    static void ValidColumns(in ConvGeometry g, int kw, out int lo, out int hi)
    {
        int first = g.Padding - kw;                     // j·s ≥ p − kw
        lo = first <= 0 ? 0 : (first + g.Stride - 1) / g.Stride;
        int last = g.W - 1 + g.Padding - kw;            // j·s ≤ W − 1 + p − kw
        hi = last < 0 ? 0 : Math.Min(g.Wo, last / g.Stride + 1);
        lo = Math.Min(lo, g.Wo);
        if (hi < lo) hi = lo;
    }

    /// <summary>col[(c, kh, kw), (i − i0, j)] = x[c, i·s − p + kh, j·s − p + kw] (0 outside) for output rows
    /// [i0, i0 + nr) of one group's channels x (C/G, H, W).</summary>
    static void Im2Col(in ConvGeometry g, float* x, int i0, int nr, float* col)
    {
        int wo = g.Wo, s = g.Stride;
        float* dst = col;
        for (int c = 0; c < g.Cg; c++)
        {
            float* xc = x + (long)c * g.H * g.W;
            for (int kh = 0; kh < g.KH; kh++)
                for (int kw = 0; kw < g.KW; kw++)
                {
                    ValidColumns(g, kw, out int lo, out int hi);
                    int offset = kw - g.Padding;
                    for (int i = i0; i < i0 + nr; i++, dst += wo)
                    {
                        int ih = i * s - g.Padding + kh;
                        if ((uint)ih >= (uint)g.H) { new Span<float>(dst, wo).Clear(); continue; }
                        float* xrow = xc + (long)ih * g.W + offset;
                        for (int j = 0; j < lo; j++) dst[j] = 0f;
                        if (s == 1) new ReadOnlySpan<float>(xrow + lo, hi - lo).CopyTo(new Span<float>(dst + lo, hi - lo));
                        else for (int j = lo; j < hi; j++) dst[j] = xrow[j * s];
                        for (int j = hi; j < wo; j++) dst[j] = 0f;
                    }
                }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: dx[c, i·s − p + kh, j·s − p + kw] += dcol[(c, kh, kw), (i − i0, j)],
    /// in row order of dcol (a fixed order, so the sums are deterministic).</summary>
    static void Col2Im(in ConvGeometry g, float* dcol, int i0, int nr, float* dx)
    {
        int wo = g.Wo, s = g.Stride;
        float* src = dcol;
        for (int c = 0; c < g.Cg; c++)
        {
            float* dc = dx + (long)c * g.H * g.W;
            for (int kh = 0; kh < g.KH; kh++)
                for (int kw = 0; kw < g.KW; kw++)
                {
                    ValidColumns(g, kw, out int lo, out int hi);
                    int offset = kw - g.Padding;
                    for (int i = i0; i < i0 + nr; i++, src += wo)
                    {
                        int ih = i * s - g.Padding + kh;
                        if ((uint)ih >= (uint)g.H) continue;
                        float* drow = dc + (long)ih * g.W + offset;
                        if (s == 1)
                        {
                            var d = new Span<float>(drow + lo, hi - lo);
                            TensorPrimitives.Add(d, new ReadOnlySpan<float>(src + lo, hi - lo), d);
                        }
                        else for (int j = lo; j < hi; j++) drow[j * s] += src[j];
                    }
                }
        }
    }

    // ── Dispatch ────────────────────────────────────────────────────────────────────────────────

    /// <summary>Whether to run <paramref name="tasks"/> images (or chunks) in parallel, each task's GEMMs inline — when
    /// there are at least as many as threads — rather than in order with each GEMM split across the pool. The bits do
    /// not depend on the choice.</summary>
    static bool Parallel(int tasks, ComputePool pool) => tasks > 1 && tasks >= pool.Threads;
}

using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Single-precision matrix multiply, C = op(A)·op(B) (+ C), row-major.</summary>
/// <remarks>
/// The blocked path follows Goto's scheme: for each KC-deep slice of the contraction, B is packed into
/// NR-wide panels (KC×NR fits in L1 beside the A stream), then for each MC-tall block of A, A is packed into
/// MR-tall panels (MC×KC fits in L2), and a register-tiled micro-kernel computes each MR×NR tile of C. All
/// four transpose combinations cost the same: packing reads either layout. With several threads, work is split
/// across the compute pool by row blocks of C (each task packs its own A); for short C by NR panels. The contraction is never split, and each element's sum runs over k in the same
/// order for any thread count, so results are bit-identical across thread counts. Small products (m·n·k
/// below ~64k, or one row/column) skip packing and threads.
/// </remarks>
public static unsafe partial class Gemm
{
    const int KC = 256;
    const int MC = 288;     // rows of A packed per block (rounded down to a multiple of MR)
    const long SmallWork = 64 * 1024;

    // A not transposed is read in place by the AVX-512 kernel instead of being transposed into packed panels when C
    // has at most this many columns: each A block then meets few B panels, so the transposing pack (~8% of a ViT
    // training step) costs more than strided reads save. Wider C reuses each packed block over more panels, and
    // packing wins by 1–10% (bench gemm, 1 thread: n = 192–768 direct +3–25%; n ≥ 1024 packed +1–10%).
    // Both paths form the same products in the same order, so results are bit-identical; tests set 0 to compare.
    internal static int DirectAMaxColumns = 768;

    // The whole-k split (WholeKBody) applies above this depth, up to this many rows of C and this much packed B
    // (floats). Measured at 2 threads (bench gemm --trans-a): ViT's weight gradients (m = 192–768, k = 3,200)
    // 160–250 → 330–400 GFLOP/s; preset M's (k = 2,048) m = 1,152 and 1,536 +6–11%, m = 2,048 and 8,192 no gain.
    // At one thread there is no pool call to save and in-place reads measured within noise: the slice path stays.
    const int WholeKMinDepth = 3 * KC;
    const int WholeKMaxRows = 1536;
    const long WholeKMaxPackedB = 8L << 20;

    /// <summary>C[m×n] = op(A)[m×k]·op(B)[k×n] + (accumulate ? C : 0) (+ columnBias[j] on every row j-th column).
    /// Row-major; lda/ldb/ldc are row strides in elements. transA: A is stored k×m; transB: B is stored n×k.</summary>
    /// <remarks>A bias is added to each finished element, fl(C + bias): the bits of the product followed by
    /// <see cref="BiasKernels.AddToRows"/>, but the blocked path adds it to each tile while the tile is still in L1
    /// instead of in a second pass over C.</remarks>
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate = false, float* columnBias = null) =>
        Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, ComputePool.Shared, columnBias);

    /// <summary>As <see cref="Multiply(bool, bool, int, int, int, float*, int, float*, int, float*, int, bool, float*)"/> on a given pool.</summary>
    internal static void Multiply(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, ComputePool pool, float* columnBias = null)
    {
        Validate(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
        }
        // A few rows against a weight stored (out, in) — a decoding step's linear layers: B read once, in place.
        else if (GemmFewRows.Applies(transA, transB, m, n, k))
            GemmFewRows.Multiply(m, n, k, a, lda, b, ldb, c, ldc, accumulate, pool);
        else if ((long)m * n * k <= SmallWork || m == 1 || n == 1 || !(Avx2.IsSupported && Fma.IsSupported))
            GemmSmall.Multiply(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else
        {
            Blocked(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, pool, columnBias);
            return;
        }
        if (columnBias != null) AddBias(c, ldc, m, n, columnBias);
    }

    /// <summary><paramref name="batch"/> independent products; element offsets between consecutive matrices are
    /// strideA/B/C (0 broadcasts that operand; strideC = 0 is not allowed).</summary>
    public static void MultiplyBatched(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, long strideA, float* b, int ldb, long strideB, float* c, int ldc, long strideC,
        int batch, bool accumulate = false)
    {
        if (batch < 0) throw new ArgumentException($"Gemm: batch {batch} is negative.");
        if (batch > 1 && strideC == 0) throw new ArgumentException("Gemm: strideC must not be 0 for a batch of several products.");
        for (int i = 0; i < batch; i++)
            Multiply(transA, transB, m, n, k, a + i * strideA, lda, b + i * strideB, ldb, c + i * strideC, ldc, accumulate);
    }

    static void Validate(bool transA, bool transB, int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"Gemm: negative dimension (m={m}, n={n}, k={k}).");
        if (lda < (transA ? m : k) || ldb < (transB ? k : n) || ldc < n)
            throw new ArgumentException($"Gemm: leading dimensions lda={lda}, ldb={ldb}, ldc={ldc} too small for m={m}, n={n}, k={k} (transA={transA}, transB={transB}).");
        if ((m > 0 && n > 0 && c == null) || ((long)m * n * k > 0 && (a == null || b == null)))
            throw new ArgumentException("Gemm: null matrix pointer.");
    }

    /// <summary>The obvious triple loop with a double accumulator: the reference the fast paths are tested against.</summary>
    internal static void MultiplyReference(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate = false)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(transA ? a[(long)p * lda + i] : a[(long)i * lda + p]) * (transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j]);
                c[(long)i * ldc + j] = accumulate ? (float)(c[(long)i * ldc + j] + s) : (float)s;
            }
    }

    // ── Blocked path ────────────────────────────────────────────────────────────────────────────

    /// <summary>Per-thread-count packing buffers, reused across calls (grown when a call needs more).</summary>
    sealed class Workspace
    {
        public float* PackedB;     // KC × round_up(n, NR)
        public long PackedBFloats;
        public float* PackedA;     // round_up(min(m, MC), MR) × KC
        public long PackedAFloats;

        public void Ensure(long bFloats, long aFloats)
        {
            // A packed B for the lm_head or the whole-k split runs to 8 MB: huge pages where the system gives them.
            if (bFloats > PackedBFloats) { NativeMemory.AlignedFree(PackedB); PackedB = (float*)Storage.HugePages.Allocate((nuint)bFloats * 4, (nuint)bFloats * 4, 64); PackedBFloats = bFloats; }
            if (aFloats > PackedAFloats) { NativeMemory.AlignedFree(PackedA); PackedA = (float*)NativeMemory.AlignedAlloc((nuint)aFloats * 4, 64); PackedAFloats = aFloats; }
        }
    }

    [ThreadStatic] static Workspace? t_workspace;

    struct Job
    {
        public float* A, B, C;
        // Null, or one value per column of C added to each element after its last KC slice.
        public float* Bias;
        public int Lda, Ldb, Ldc, M, N, K;
        public bool TransA, TransB, Accumulate, Avx512;
        // A is read in place (row-major, not transposed, AVX-512): only a short last panel of a block is packed.
        public bool DirectA;
        // The whole-k path's in-place reads (AVX-512): a transposed A's MR adjacent values per k, lda apart, and a
        // plain B's NR adjacent values per k, ldb apart. Only short edge panels are packed.
        public bool InPlaceTransA, InPlaceB;
        public int MR, NR;
        // Current block.
        public int P0, Kc, I0, Mc;
        public float* PackedA, PackedB;
        public int PanelsPerTask, Panels;
    }

    struct PackBBody : IParallelBody
    {
        public Job* Job;
        public void Execute(int task)
        {
            ref Job j = ref *Job;
            int first = task * j.PanelsPerTask, last = Math.Min(j.Panels, first + j.PanelsPerTask);
            for (int panel = first; panel < last; panel++)
                GemmPacking.PackB(j.TransB, j.B, j.Ldb, j.P0, j.Kc, panel * j.NR, Math.Min(j.NR, j.N - panel * j.NR), j.NR,
                    j.PackedB + (long)panel * j.Kc * j.NR);
        }
    }

    struct PackABody : IParallelBody
    {
        public Job* Job;
        public void Execute(int panel)
        {
            ref Job j = ref *Job;
            int i = panel * j.MR;
            if (j.DirectA && i + j.MR <= j.Mc) return;
            GemmPacking.PackA(j.TransA, j.A, j.Lda, j.I0 + i, Math.Min(j.MR, j.Mc - i), j.P0, j.Kc, j.MR, j.PackedA + (long)i * j.Kc);
        }
    }

    struct ComputeBody : IParallelBody
    {
        public Job* Job;
        public void Execute(int task)
        {
            ref Job j = ref *Job;
            int first = task * j.PanelsPerTask, last = Math.Min(j.Panels, first + j.PanelsPerTask);
            ComputePanels(ref j, j.PackedA, j.I0, j.Mc, first, last);
        }
    }

    /// <summary>With several threads, the work is split by rows: each task packs its own
    /// block of A into its thread's buffer and runs it against every panel of the shared packed B. Task t takes the
    /// MR-row panels [t·P/Tasks, (t+1)·P/Tasks) of the P panels of C, so the blocks differ by at most one panel.</summary>
    struct RowBlockBody : IParallelBody
    {
        public Job* Job;
        public int Tasks, RowPanels, MaxRows;
        public void Execute(int task)
        {
            ref Job j = ref *Job;
            int i0 = (int)((long)task * RowPanels / Tasks) * j.MR;
            int mc = Math.Min((int)((long)(task + 1) * RowPanels / Tasks) * j.MR, j.M) - i0;
            var ws = t_workspace ??= new Workspace();
            ws.Ensure(0, (long)MaxRows * KC);
            if (j.DirectA)
            {
                int full = mc / j.MR * j.MR;   // only a short last panel needs the zero-padded pack
                if (full < mc) GemmPacking.PackA(false, j.A, j.Lda, i0 + full, mc - full, j.P0, j.Kc, j.MR, ws.PackedA + (long)full * j.Kc);
            }
            else GemmPacking.PackA(j.TransA, j.A, j.Lda, i0, mc, j.P0, j.Kc, j.MR, ws.PackedA);
            ComputePanels(ref j, ws.PackedA, i0, mc, 0, j.Panels);
        }
    }

    /// <summary>Packs every KC slice of op(B) at once (task = slice · panels + panel), slice p0 at p0·panels·NR: the
    /// layout <see cref="WholeKBody"/> reads.</summary>
    struct PackAllBBody : IParallelBody
    {
        public Job* Job;
        public void Execute(int task)
        {
            ref Job j = ref *Job;
            // With B read in place only the short last panel is packed: one task per slice.
            int perSlice = j.InPlaceB ? 1 : j.Panels;
            int slice = task / perSlice, panel = j.InPlaceB ? j.Panels - 1 : task % perSlice, p0 = slice * KC, kc = Math.Min(KC, j.K - p0);
            GemmPacking.PackB(j.TransB, j.B, j.Ldb, p0, kc, panel * j.NR, Math.Min(j.NR, j.N - panel * j.NR), j.NR,
                j.PackedB + (long)p0 * j.Panels * j.NR + (long)panel * kc * j.NR);
        }
    }

    /// <summary>A long contraction into a small C (a weight gradient: dW = dYᵀ·X over every token): each task owns a
    /// block of C (one of RowBlocks × ColumnBlocks) and runs the whole of k itself against the B packed once up
    /// front, so a GEMM is two pool calls instead of two or three per KC slice (13 slices for 3,200 tokens, each
    /// only ~60 µs of work at 2 threads). The slices are still summed into C in order, so the bits are the
    /// slice-by-slice path's.</summary>
    struct WholeKBody : IParallelBody
    {
        public Job* Job;
        public int RowBlocks, ColumnBlocks, RowPanels;
        public void Execute(int task)
        {
            Job j = *Job;   // a copy: P0, Kc and PackedB move with the slice
            float* packedAllB = j.PackedB;
            int rb = task / ColumnBlocks, cb = task % ColumnBlocks;
            int first = (int)((long)rb * RowPanels / RowBlocks) * j.MR;
            int end = Math.Min((int)((long)(rb + 1) * RowPanels / RowBlocks) * j.MR, j.M);
            int firstPanel = (int)((long)cb * j.Panels / ColumnBlocks), lastPanel = (int)((long)(cb + 1) * j.Panels / ColumnBlocks);
            var ws = t_workspace ??= new Workspace();
            ws.Ensure(0, (long)Math.Min(MC / j.MR * j.MR, end - first + j.MR) * KC);
            for (int p0 = 0; p0 < j.K; p0 += KC)
            {
                j.P0 = p0;
                j.Kc = Math.Min(KC, j.K - p0);
                j.PackedB = packedAllB + (long)p0 * j.Panels * j.NR;
                for (int i0 = first; i0 < end; i0 += MC / j.MR * j.MR)
                {
                    int mc = Math.Min(MC / j.MR * j.MR, end - i0);
                    if (j.DirectA || j.InPlaceTransA)
                    {
                        int full = mc / j.MR * j.MR;
                        if (full < mc) GemmPacking.PackA(j.TransA, j.A, j.Lda, i0 + full, mc - full, p0, j.Kc, j.MR, ws.PackedA + (long)full * j.Kc);
                    }
                    else GemmPacking.PackA(j.TransA, j.A, j.Lda, i0, mc, p0, j.Kc, j.MR, ws.PackedA);
                    ComputePanels(ref j, ws.PackedA, i0, mc, firstPanel, lastPanel);
                }
            }
        }
    }

    /// <summary>C[i0.., panels] (+)= packed A rows [i0, i0+mc) × packed B panels [first, last).</summary>
    static void ComputePanels(ref Job j, float* packedA, int i0, int mc, int first, int last)
    {
        bool add = j.Accumulate || j.P0 > 0;
        bool lastSlice = j.P0 + j.Kc == j.K;
        float* tile = stackalloc float[Math.Max(GemmMicroKernels.Avx512MR * GemmMicroKernels.Avx512NR, GemmMicroKernels.Avx2MR * GemmMicroKernels.Avx2NR)];
        for (int panel = first; panel < last; panel++)
        {
            int j0 = panel * j.NR, nr = Math.Min(j.NR, j.N - j0);
            bool inPlaceB = j.InPlaceB && nr == j.NR;
            float* bp = inPlaceB ? j.B + (long)j.P0 * j.Ldb + j0 : j.PackedB + (long)panel * j.Kc * j.NR;
            long bStep = inPlaceB ? j.Ldb : j.NR;
            float* bias = lastSlice && j.Bias != null ? j.Bias + j0 : null;
            for (int i = 0; i < mc; i += j.MR)
            {
                int mr = Math.Min(j.MR, mc - i);
                float* ap = packedA + (long)i * j.Kc;
                long aStep = j.MR;
                if (j.InPlaceTransA && mr == j.MR) { ap = j.A + (long)j.P0 * j.Lda + i0 + i; aStep = j.Lda; }
                float* cp = j.C + (long)(i0 + i) * j.Ldc + j0;
                bool direct = j.DirectA && mr == j.MR;
                float* ad = j.A + (long)(i0 + i) * j.Lda + j.P0;
                if (mr == j.MR && nr == j.NR)
                {
                    if (direct) GemmMicroKernels.Avx512Rows(j.Kc, ad, j.Lda, bp, cp, j.Ldc, add, bias, bStep);
                    else if (j.Avx512) GemmMicroKernels.Avx512(j.Kc, ap, bp, cp, j.Ldc, add, bias, aStep, bStep);
                    else GemmMicroKernels.Avx2(j.Kc, ap, bp, cp, j.Ldc, add, bias);
                }
                else
                {
                    // Edge tile: compute the full tile into scratch (the packs are zero-padded), copy the valid part.
                    if (direct) GemmMicroKernels.Avx512Rows(j.Kc, ad, j.Lda, bp, tile, j.NR, false, null, bStep);
                    else if (j.Avx512) GemmMicroKernels.Avx512(j.Kc, ap, bp, tile, j.NR, false, null, aStep, bStep);
                    else GemmMicroKernels.Avx2(j.Kc, ap, bp, tile, j.NR, false);
                    for (int r = 0; r < mr; r++)
                    {
                        float* dst = cp + (long)r * j.Ldc;
                        float* src = tile + r * j.NR;
                        if (add) for (int q = 0; q < nr; q++) dst[q] += src[q];
                        else for (int q = 0; q < nr; q++) dst[q] = src[q];
                    }
                    if (bias != null) AddBias(cp, j.Ldc, mr, nr, bias);
                }
            }
        }
    }

    /// <summary>c[r, q] += bias[q]: for an edge tile just copied out (full tiles add it in the micro-kernel) and after
    /// the unblocked paths.</summary>
    static void AddBias(float* c, int ldc, int rows, int cols, float* bias)
    {
        for (int r = 0; r < rows; r++, c += ldc)
            TensorPrimitives.Add(new ReadOnlySpan<float>(c, cols), new ReadOnlySpan<float>(bias, cols), new Span<float>(c, cols));
    }

    static void Blocked(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, ComputePool pool, float* bias)
    {
        bool avx512 = Avx512F.IsSupported;
        int MR = avx512 ? GemmMicroKernels.Avx512MR : GemmMicroKernels.Avx2MR;
        int NR = avx512 ? GemmMicroKernels.Avx512NR : GemmMicroKernels.Avx2NR;
        int panels = (n + NR - 1) / NR;
        int mcBlock = MC / MR * MR;
        int mcMax = Math.Min(mcBlock, (m + MR - 1) / MR * MR);
        var ws = t_workspace ??= new Workspace();
        // Several threads, a contraction of several slices and a C of few rows: the whole-k split (WholeKBody).
        bool wholeK = pool.Threads > 1 && k > WholeKMinDepth && m <= WholeKMaxRows && (long)k * panels * NR <= WholeKMaxPackedB;
        // The whole-k path packs all of B up front — only its short last panel when B is read in place (AVX-512, plain
        // B), and nothing when there is none.
        bool packsAllB = wholeK && (!(avx512 && !transB) || n % NR != 0);
        ws.Ensure(!wholeK ? (long)KC * panels * NR : packsAllB ? (long)k * panels * NR : 0, (long)mcMax * KC);
        // One task per NR panel: claiming is one CAS, and small tasks keep a thread the OS has descheduled from
        // holding back more than a sliver of the work.
        int tasks = panels;
        Job job = new()
        {
            A = a, B = b, C = c, Bias = bias, Lda = lda, Ldb = ldb, Ldc = ldc, M = m, N = n, K = k,
            TransA = transA, TransB = transB, Accumulate = accumulate, Avx512 = avx512, MR = MR, NR = NR,
            DirectA = avx512 && !transA && n <= DirectAMaxColumns,
            PackedA = ws.PackedA, PackedB = ws.PackedB, Panels = panels, PanelsPerTask = (panels + tasks - 1) / tasks,
        };
        int taskCount = (panels + job.PanelsPerTask - 1) / job.PanelsPerTask;
        if (wholeK)
        {
            job.InPlaceTransA = avx512 && transA;
            job.InPlaceB = avx512 && !transB;
            var packAll = new PackAllBBody { Job = &job };
            if (!job.InPlaceB) pool.For((k + KC - 1) / KC * panels, ref packAll);
            else if (n % NR != 0) pool.For((k + KC - 1) / KC, ref packAll);
            // Two tasks per thread in a grid of row × column blocks: of the splits with that many blocks, the one that
            // reads the least per slice — Σ (rows/rb + columns/cb) — so a tall C is cut across its rows and a wide
            // one across its columns (each column block packs its own copy of its A rows).
            int panelsOfRows = (m + MR - 1) / MR, gridTasks = 2 * pool.Threads, bestRows = 1;
            double best = double.MaxValue;
            for (int rb = 1; rb <= gridTasks; rb++)
            {
                if (gridTasks % rb != 0 || rb > panelsOfRows || gridTasks / rb > panels) continue;
                double cost = (double)m / rb + (double)n / (gridTasks / rb);
                if (cost < best) { best = cost; bestRows = rb; }
            }
            if (best == double.MaxValue) gridTasks = bestRows = Math.Min(panelsOfRows, gridTasks);
            var whole = new WholeKBody { Job = &job, RowPanels = panelsOfRows, RowBlocks = bestRows, ColumnBlocks = gridTasks / bestRows };
            pool.For(gridTasks, ref whole);
            return;
        }
        var packB = new PackBBody { Job = &job };
        var compute = new ComputeBody { Job = &job };
        var packA = new PackABody { Job = &job };
        // Several threads and enough rows: split by row blocks, each task packing its own block of A. That is two
        // pool calls per KC slice instead of two per MC block, and no thread waits for another's share of the A
        // packing (measured at 2 threads on the M preset's shapes: 8–20% faster than splitting by panels). But each
        // row block walks all of packed B, so a short block over a wide B (more than L2 holds) pays a trip from L3
        // per few tiles: there, splitting by panels wins (512×3072×768: ~340 against ~300 GFLOP/s).
        int rowBlock = Math.Min(mcBlock, ((m + pool.Threads * 4 - 1) / (pool.Threads * 4) + MR - 1) / MR * MR);
        bool byRows = pool.Threads > 1 && m >= 2 * rowBlock && rowBlock >= 4 * MR && (panels * NR <= 512 || rowBlock >= 16 * MR);
        // Equal row blocks, as many as a whole number per thread: 3200 rows in blocks of 288 made eleven full tasks
        // and one of 32, so one thread idled for most of a task at the end of every such GEMM (a ViT step's
        // forward and input-gradient products).
        int rowPanels = (m + MR - 1) / MR;
        int rowTasks = Math.Min(rowPanels, ((m + rowBlock - 1) / rowBlock + pool.Threads - 1) / pool.Threads * pool.Threads);
        var rows = new RowBlockBody { Job = &job, Tasks = rowTasks, RowPanels = rowPanels, MaxRows = (rowPanels + rowTasks - 1) / rowTasks * MR };
        for (int p0 = 0; p0 < k; p0 += KC)
        {
            job.P0 = p0;
            job.Kc = Math.Min(KC, k - p0);
            pool.For(taskCount, ref packB);
            if (byRows)
            {
                pool.For(rowTasks, ref rows);
                continue;
            }
            for (int i0 = 0; i0 < m; i0 += mcBlock)
            {
                job.I0 = i0;
                job.Mc = Math.Min(mcBlock, m - i0);
                if (!job.DirectA || job.Mc % MR != 0) pool.For((job.Mc + MR - 1) / MR, ref packA);
                pool.For(taskCount, ref compute);
            }
        }
    }
}

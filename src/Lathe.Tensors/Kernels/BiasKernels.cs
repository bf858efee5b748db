using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>The bias of a linear layer: y[r, :] += b over rows (forward), and db = Σ_r dy[r, :] (backward), on the
/// compute pool. The backward splits by column blocks and sums each column over the rows in order, so its result is
/// the same for any thread count. Its blocks are 32 columns (two 512-bit accumulators kept in registers down all the
/// rows); with 256-column blocks a 192-wide bias was one task, summed on one thread through a load and store of the
/// partial sums per row.</summary>
public static unsafe class BiasKernels
{
    const long MinParallel = 1 << 16;   // floats of y below which one thread does it all
    const int RowsPerChunk = 64;
    const int ColumnsPerChunk = 32;

    struct AddBody : IParallelBody
    {
        public float* Y, B;
        public int Rows, Cols;

        public void Execute(int chunk)
        {
            var b = new ReadOnlySpan<float>(B, Cols);
            for (int r = chunk * RowsPerChunk, end = Math.Min(Rows, r + RowsPerChunk); r < end; r++)
            {
                var row = new Span<float>(Y + (long)r * Cols, Cols);
                TensorPrimitives.Add(row, b, row);
            }
        }
    }

    struct SumBody : IParallelBody
    {
        public float* G, Db;
        public int Rows, Cols;
        public bool Overwrite;

        public void Execute(int chunk)
        {
            int c0 = chunk * ColumnsPerChunk, n = Math.Min(ColumnsPerChunk, Cols - c0);
            if (n == 32 && Vector512.IsHardwareAccelerated)
            {
                // The same additions in the same order as the span loop below, per column.
                float* g = G + c0, db = Db + c0;
                long cols = Cols;
                int row = 0;
                Vector512<float> a0, a1;
                if (Overwrite) { a0 = Vector512.Load(g); a1 = Vector512.Load(g + 16); row = 1; }
                else { a0 = Vector512.Load(db); a1 = Vector512.Load(db + 16); }
                for (; row < Rows; row++)
                {
                    float* gr = g + row * cols;
                    a0 += Vector512.Load(gr);
                    a1 += Vector512.Load(gr + 16);
                }
                a0.Store(db);
                a1.Store(db + 16);
                return;
            }
            var d = new Span<float>(Db + c0, n);
            int r = 0;
            if (Overwrite) { new ReadOnlySpan<float>(G + c0, n).CopyTo(d); r = 1; }
            for (; r < Rows; r++) TensorPrimitives.Add(d, new ReadOnlySpan<float>(G + (long)r * Cols + c0, n), d);
        }
    }

    /// <summary>y (rows, cols) += b (cols) on every row.</summary>
    public static void AddToRows(float* y, float* b, int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) return;
        var body = new AddBody { Y = y, B = b, Rows = rows, Cols = cols };
        int chunks = (rows + RowsPerChunk - 1) / RowsPerChunk;
        if ((long)rows * cols < MinParallel) for (int i = 0; i < chunks; i++) body.Execute(i);
        else ComputePool.Shared.For(chunks, ref body);
    }

    /// <summary>db (cols) = (or +=, unless <paramref name="overwrite"/>) the column sums of g (rows, cols).</summary>
    public static void SumRows(float* g, float* db, int rows, int cols, bool overwrite)
    {
        if (cols <= 0) return;
        if (rows <= 0) { if (overwrite) new Span<float>(db, cols).Clear(); return; }
        var body = new SumBody { G = g, Db = db, Rows = rows, Cols = cols, Overwrite = overwrite };
        int chunks = (cols + ColumnsPerChunk - 1) / ColumnsPerChunk;
        if ((long)rows * cols < MinParallel) for (int i = 0; i < chunks; i++) body.Execute(i);
        else ComputePool.Shared.For(chunks, ref body);
    }
}

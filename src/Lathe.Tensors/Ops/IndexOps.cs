namespace Lathe.Tensors;

// Row indexing for sparse layers (Mixture-of-Experts dispatch and combine): gather rows by index, scatter-add
// weighted rows back, and top-k indices per row. Every loop runs in index order on one thread, so repeated
// indices accumulate in a fixed order and results are the same bits for any thread count.
public static unsafe partial class Ops
{
    /// <summary>Rows <paramref name="rows"/> of <paramref name="x"/> (N, C) → (rows.Length, C). Backward adds each
    /// result row's gradient into row rows[m] of dX, in order m = 0, 1, …</summary>
    public static Tensor GatherRows(Tensor x, ReadOnlySpan<int> rows)
    {
        if (x.Rank != 2) throw new ArgumentException($"GatherRows: x has shape {Tensor.ShapeString(x.Shape)}, expected (N, C).");
        int n = x.Shape[0], cols = x.Shape[1];
        CheckRows("GatherRows", rows, n);
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult([rows.Length, cols]);
        for (int m = 0; m < rows.Length; m++)
            new ReadOnlySpan<float>(src.Data + (long)rows[m] * cols, cols).CopyTo(new Span<float>(y.Data + (long)m * cols, cols));
        if (Record(y, &GatherRowsBackward, src)) StoreRows(y, rows);
        return y;
    }

    static void GatherRowsBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        int cols = y.Shape[1], count = y.I0;
        float* g = y.Grad!.Data, d = dx.Data;
        int[] rows = y.Ints;
        for (int m = 0; m < count; m++)
        {
            var row = new Span<float>(d + (long)rows[m] * cols, cols);
            System.Numerics.Tensors.TensorPrimitives.Add(row, new ReadOnlySpan<float>(g + (long)m * cols, cols), row);
        }
    }

    /// <summary>The (<paramref name="n"/>, C) tensor Y with Y[rows[m]] += w[m] · src[m] for every row m of
    /// <paramref name="src"/> (M, C), in order m = 0, 1, …; rows nobody writes are 0. <paramref name="weights"/>
    /// (M) or (M, 1) scales each row (null: 1). Gradients: dSrc[m] = w[m] · dY[rows[m]],
    /// dW[m] = dY[rows[m]] · src[m].</summary>
    public static Tensor ScatterAddRows(Tensor src, ReadOnlySpan<int> rows, int n, Tensor? weights = null)
    {
        if (src.Rank != 2 || src.Shape[0] != rows.Length)
            throw new ArgumentException($"ScatterAddRows: src {Tensor.ShapeString(src.Shape)} must be (M, C) with M = {rows.Length} rows.");
        if (weights is not null && weights.Length != rows.Length)
            throw new ArgumentException($"ScatterAddRows: weights {Tensor.ShapeString(weights.Shape)} must hold one value per row ({rows.Length}).");
        if (n < 0) throw new ArgumentException($"ScatterAddRows: n = {n} must be ≥ 0.");
        CheckRows("ScatterAddRows", rows, n);
        int cols = src.Shape[1];
        var s = Contiguous(src);
        var w = weights is null ? null : Contiguous(weights);
        var y = Autograd.Tape.NewResult([n, cols]);
        new Span<float>(y.Data, y.Length).Clear();
        for (int m = 0; m < rows.Length; m++)
        {
            var dst = new Span<float>(y.Data + (long)rows[m] * cols, cols);
            var row = new ReadOnlySpan<float>(s.Data + (long)m * cols, cols);
            if (w is null) System.Numerics.Tensors.TensorPrimitives.Add(dst, row, dst);
            else System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(row, w.Data[m], dst, dst);
        }
        if (Record(y, &ScatterAddRowsBackward, s, w)) StoreRows(y, rows);
        return y;
    }

    static void ScatterAddRowsBackward(Tensor y)
    {
        Tensor s = y.In0!;
        Tensor? w = y.In1;
        var ds = GradOf(s);
        var dw = GradOf(w);
        int cols = y.Shape[1], count = y.I0;
        float* g = y.Grad!.Data;
        int[] rows = y.Ints;
        for (int m = 0; m < count; m++)
        {
            var gr = new ReadOnlySpan<float>(g + (long)rows[m] * cols, cols);
            if (ds is not null)
            {
                var d = new Span<float>(ds.Data + (long)m * cols, cols);
                if (w is null) System.Numerics.Tensors.TensorPrimitives.Add(d, gr, d);
                else System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(gr, w.Data[m], d, d);
            }
            if (dw is not null)
                dw.Data[m] += System.Numerics.Tensors.TensorPrimitives.Dot(gr, new ReadOnlySpan<float>(s.Data + (long)m * cols, cols));
        }
    }

    /// <summary>For each row of <paramref name="x"/> (N, E), the column indices of its <paramref name="k"/> largest
    /// values in descending order (equal values: lower index first) → <paramref name="indices"/> (N·k, row-major).
    /// Not differentiable: pick values with <see cref="GatherRows"/> for a gradient.</summary>
    public static void TopK(Tensor x, int k, Span<int> indices)
    {
        if (x.Rank != 2) throw new ArgumentException($"TopK: x has shape {Tensor.ShapeString(x.Shape)}, expected (N, E).");
        int n = x.Shape[0], e = x.Shape[1];
        if (k < 1 || k > e) throw new ArgumentException($"TopK: k = {k} must be in 1..{e}.");
        if (indices.Length != n * k) throw new ArgumentException($"TopK: room for {indices.Length} indices, need N·k = {n * k}.");
        var c = Contiguous(x);
        for (int r = 0; r < n; r++)
        {
            float* row = c.Data + (long)r * e;
            var top = indices.Slice(r * k, k);
            int filled = 0;
            // Insertion into a sorted list of k: E is small (a few dozen experts), so this beats a heap.
            for (int j = 0; j < e; j++)
            {
                float v = row[j];
                int pos = filled;
                while (pos > 0 && v > row[top[pos - 1]]) pos--;   // strict: an equal value stays behind the earlier index
                if (pos >= k) continue;
                int last = Math.Min(filled, k - 1);
                for (int i = last; i > pos; i--) top[i] = top[i - 1];
                top[pos] = j;
                if (filled < k) filled++;
            }
        }
    }

    static void CheckRows(string op, ReadOnlySpan<int> rows, int n)
    {
        for (int m = 0; m < rows.Length; m++)
            if ((uint)rows[m] >= (uint)n)
                throw new ArgumentException($"{op}: row index {rows[m]} at position {m} is outside 0..{n - 1}.");
    }

    // The indices are copied onto the node; the array only grows, so steps whose row counts vary (capacity
    // dropping) stop allocating once it has reached the largest count.
    static void StoreRows(Tensor y, ReadOnlySpan<int> rows)
    {
        if (y.Ints.Length < rows.Length) y.Ints = new int[rows.Length];
        rows.CopyTo(y.Ints);
        y.I0 = rows.Length;
    }
}

namespace Lathe.Tensors;

// Views: reshape, transpose/permute, narrow (slice), and the explicit copy Contiguous().
// A view shares memory with its input. Gradients are always contiguous in the tensor's own shape, so a
// view's backward maps each of its elements to the element of the input it reads — computed with the
// same view function applied to the input's *contiguous* strides (stored on the node as Ints/Ints2).
public static unsafe partial class Ops
{
    /// <summary>Same values, new shape (one dimension may be -1). Copies only if <paramref name="x"/> is not contiguous.</summary>
    public static Tensor Reshape(Tensor x, params ReadOnlySpan<int> shape)
    {
        Span<int> resolved = stackalloc int[shape.Length];
        int infer = -1;
        long known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"Reshape: more than one -1 in {Tensor.ShapeString(shape)}.");
                infer = i;
            }
            else if (shape[i] < 0) throw new ArgumentException($"Reshape: negative dimension in {Tensor.ShapeString(shape)}.");
            else known *= shape[i];
            resolved[i] = shape[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || x.Length % known != 0)
                throw new ArgumentException($"Reshape: cannot reshape {Tensor.ShapeString(x.Shape)} into {Tensor.ShapeString(shape)}.");
            resolved[infer] = (int)(x.Length / known);
            known *= resolved[infer];
        }
        if (known != x.Length)
            throw new ArgumentException($"Reshape: cannot reshape {Tensor.ShapeString(x.Shape)} ({x.Length} elements) into {Tensor.ShapeString(shape)}.");
        var source = x.IsContiguous ? x : Contiguous(x);
        Span<int> strides = stackalloc int[resolved.Length];
        int s = 1;
        for (int i = resolved.Length - 1; i >= 0; i--) { strides[i] = s; s *= Math.Max(resolved[i], 1); }
        var y = Autograd.Tape.NewView(source, resolved, strides, source.Offset);
        Record(y, &ReshapeBackward, source);
        return y;
    }

    static void ReshapeBackward(Tensor y)
    {
        var dx = GradOfForWrite(y.In0, out bool overwrite);
        if (dx is null) return;
        WriteOrAccumulate(y.Grad!.Data, dx.Data, dx.Length, overwrite);
    }

    /// <summary>Swaps two axes (a view).</summary>
    public static Tensor Transpose(Tensor x, int axis0, int axis1)
    {
        int a = Tensor.NormalizeAxis(axis0, x.Rank, "Transpose"), b = Tensor.NormalizeAxis(axis1, x.Rank, "Transpose");
        Span<int> perm = stackalloc int[x.Rank];
        for (int i = 0; i < perm.Length; i++) perm[i] = i;
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(x, perm);
    }

    /// <summary>Reorders axes (a view): result axis i is input axis <paramref name="order"/>[i].</summary>
    public static Tensor Permute(Tensor x, params ReadOnlySpan<int> order)
    {
        if (order.Length != x.Rank)
            throw new ArgumentException($"Permute: order of length {order.Length} for tensor of shape {Tensor.ShapeString(x.Shape)}.");
        Span<bool> seen = stackalloc bool[x.Rank];
        Span<int> shape = stackalloc int[x.Rank];
        Span<int> strides = stackalloc int[x.Rank];
        for (int i = 0; i < order.Length; i++)
        {
            int a = Tensor.NormalizeAxis(order[i], x.Rank, "Permute");
            if (seen[a]) throw new ArgumentException($"Permute: axis {a} repeated in order {Tensor.ShapeString(order)}.");
            seen[a] = true;
            shape[i] = x.Shape[a];
            strides[i] = x.Strides[a];
        }
        var y = Autograd.Tape.NewView(x, shape, strides, x.Offset);
        if (Record(y, &ViewBackward, x))
        {
            // Logical strides: the same permutation of x's contiguous strides.
            Span<int> logical = stackalloc int[x.Rank];
            ContiguousStrides(x.Shape, logical);
            y.Ints = EnsureLength(y.Ints, x.Rank);
            for (int i = 0; i < order.Length; i++) y.Ints[i] = logical[Tensor.NormalizeAxis(order[i], x.Rank, "Permute")];
            y.I0 = 0;
        }
        return y;
    }

    /// <summary>Elements [start, start+length) along <paramref name="axis"/> (a view).</summary>
    public static Tensor Narrow(Tensor x, int axis, int start, int length)
    {
        int a = Tensor.NormalizeAxis(axis, x.Rank, "Narrow");
        if (start < 0 || length < 0 || start + length > x.Shape[a])
            throw new ArgumentException($"Narrow: range [{start}, {start + length}) is outside axis {a} of size {x.Shape[a]} (shape {Tensor.ShapeString(x.Shape)}).");
        Span<int> shape = stackalloc int[x.Rank];
        x.Shape.CopyTo(shape);
        shape[a] = length;
        var y = Autograd.Tape.NewView(x, shape, x.Strides, x.Offset + (long)start * x.Strides[a]);
        if (Record(y, &ViewBackward, x))
        {
            Span<int> logical = stackalloc int[x.Rank];
            ContiguousStrides(x.Shape, logical);
            y.Ints = EnsureLength(y.Ints, x.Rank);
            logical.CopyTo(y.Ints);
            y.I0 = start * logical[a];
        }
        return y;
    }

    /// <summary>Row-major copy of <paramref name="x"/>, or <paramref name="x"/> itself when already contiguous.</summary>
    public static Tensor Contiguous(Tensor x)
    {
        if (x.IsContiguous) return x;
        var y = Autograd.Tape.NewResult(x.Shape);
        StridedCopy(x, y.Data);
        Record(y, &ReshapeBackward, x);  // same logical shape: the gradient passes straight through
        return y;
    }

    /// <summary>Copies a strided tensor into contiguous memory.</summary>
    internal static void StridedCopy(Tensor x, float* dst)
    {
        if (x.Length == 0) return;
        if (x.Rank == 0) { *dst = *x.Data; return; }
        StridedRows.Run(x.Shape, x.Strides, x.Buffer!.Pointer, x.Offset, dst, scatterAdd: false);
    }

    // dX[logical offset of each view element] += dY[i]: the view's elements in row-major order, mapped to the
    // input's contiguous gradient through the logical strides stored on the node.
    static void ViewBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null || y.Length == 0) return;
        if (y.Rank == 0) { dx.Data[y.I0] += *y.Grad!.Data; return; }
        StridedRows.Run(y.Shape, y.Ints, dx.Data, y.I0, y.Grad!.Data, scatterAdd: true);
    }

    internal static void ContiguousStrides(ReadOnlySpan<int> shape, Span<int> strides)
    {
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { strides[i] = acc; acc *= Math.Max(shape[i], 1); }
    }

    internal static int[] EnsureLength(int[] a, int n) => a.Length == n ? a : new int[n];

    static void TensorPrimitivesAdd(Span<float> dst, ReadOnlySpan<float> src) =>
        System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);
}

using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Lathe.Tensors;

/// <summary>Cosine and sine tables for rotary position embedding (RoPE, Su et al. 2021) in the Hugging Face
/// Llama layout: dimension pairs are (i, i + D/2), frequency θ^(−2i/D) — divided by a per-pair divisor when given
/// (Llama 3's frequency scaling, llama.cpp's rope_freqs) — and positions divided by a linear scaling factor.</summary>
public sealed class RopeTables
{
    public int MaxPositions { get; }
    public int HeadDim { get; }
    internal readonly float[] Cos;   // (MaxPositions, HeadDim/2)
    internal readonly float[] Sin;

    RopeTables(int maxPositions, int headDim, float[] cos, float[] sin)
    {
        MaxPositions = maxPositions; HeadDim = headDim; Cos = cos; Sin = sin;
    }

    /// <summary>Tables for positions 0..maxPositions−1. <paramref name="frequencyDivisors"/>: empty, or headDim/2
    /// positive values; pair i turns at θ^(−2i/D) / divisor_i.</summary>
    public static RopeTables Create(int maxPositions, int headDim, double theta = 10000, double scaling = 1, ReadOnlySpan<float> frequencyDivisors = default)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"RopeTables: head dimension {headDim} must be positive and even.");
        if (maxPositions <= 0) throw new ArgumentException($"RopeTables: max positions {maxPositions} must be positive.");
        if (!(theta > 0) || !(scaling > 0)) throw new ArgumentException($"RopeTables: theta {theta} and scaling {scaling} must be positive.");
        int half = headDim / 2;
        if (!frequencyDivisors.IsEmpty && frequencyDivisors.Length != half)
            throw new ArgumentException($"RopeTables: {frequencyDivisors.Length} frequency divisors for head dimension {headDim} (expected {half}).");
        foreach (float d in frequencyDivisors)
            if (!(d > 0) || float.IsInfinity(d)) throw new ArgumentException($"RopeTables: frequency divisor {d} must be positive and finite.");
        var cos = new float[maxPositions * half];
        var sin = new float[maxPositions * half];
        for (int i = 0; i < half; i++)
        {
            // Computed in float32 as the reference implementations do, so angles match to the bit pattern
            // of float inv_freq · position.
            float invFreq = (float)(1.0 / Math.Pow(theta, 2.0 * i / headDim));
            if (!frequencyDivisors.IsEmpty) invFreq /= frequencyDivisors[i];   // float32, as Hugging Face's inv_freq / factor
            for (int t = 0; t < maxPositions; t++)
            {
                float angle = (float)(t / scaling) * invFreq;
                cos[t * half + i] = MathF.Cos(angle);
                sin[t * half + i] = MathF.Sin(angle);
            }
        }
        return new RopeTables(maxPositions, headDim, cos, sin);
    }
}

public static unsafe partial class Ops
{
    /// <summary>Rotates pairs (i, i+D/2) of the last axis of <paramref name="x"/> (B, H, T, D) by the angle of
    /// position <paramref name="positionOffset"/> + t.</summary>
    public static Tensor Rope(Tensor x, RopeTables tables, int positionOffset = 0)
    {
        if (x.Rank != 4 || x.Shape[3] != tables.HeadDim)
            throw new ArgumentException($"Rope: input {Tensor.ShapeString(x.Shape)} must be (B, H, T, {tables.HeadDim}).");
        int T = x.Shape[2];
        if (positionOffset < 0 || positionOffset + T > tables.MaxPositions)
            throw new ArgumentException($"Rope: positions {positionOffset}..{positionOffset + T - 1} exceed the table of {tables.MaxPositions}.");
        return RopeNode(x, tables, positionOffset, tokenMajor: false, perPosition: 1, rotated: 1);
    }

    // Both layouts: the rotated copy of x, recorded with what the backward's inverse rotation needs. Positions: empty
    // for offset + t, else one per token (B·T, token-major only), copied onto the node for the backward.
    static Tensor RopeNode(Tensor x, RopeTables tables, int offset, bool tokenMajor, int perPosition, int rotated,
        ReadOnlySpan<int> positions = default)
    {
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult(x.Shape);
        fixed (int* at = positions)
            RotateSegments(src.Data, y.Data, x.Length / tables.HeadDim, perPosition, rotated, x.Shape[tokenMajor ? 1 : 2], tables, offset,
                positions.IsEmpty ? null : at, inverse: false, accumulate: false);
        if (Record(y, &RopeBackward, src))
        {
            y.I0 = offset;
            y.I1 = perPosition;
            y.I2 = rotated;
            y.B0 = tokenMajor;
            y.B1 = !positions.IsEmpty;
            if (y.B1)
            {
                y.Ints = EnsureLength(y.Ints, positions.Length);
                positions.CopyTo(y.Ints);
            }
            y.Extra = tables;
        }
        return y;
    }

    static void RopeBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        var tables = (RopeTables)y.Extra!;
        fixed (int* at = y.Ints)
            RotateSegments(y.Grad!.Data, dx.Data, y.Length / tables.HeadDim, y.I1, y.I2, y.Shape[y.B0 ? 1 : 2], tables, y.I0,
                y.B1 ? at : null, inverse: true, accumulate: true);
    }

    /// <summary>Rotates <paramref name="segments"/> runs of D values laid end to end; segment r is at position
    /// offset + (r / perPosition) mod T — perPosition 1 for (B,H,T,D), the head count for (B,T,heads·D) — and only
    /// the first <paramref name="rotated"/> of each position's segments turn (the rest pass through). With
    /// <paramref name="positions"/> (one per token) segment r is at positions[r / perPosition] instead. In parallel
    /// over chunks of segments, each written by one task.</summary>
    static void RotateSegments(float* x, float* y, int segments, int perPosition, int rotated, int T, RopeTables tables, int offset,
        int* positions, bool inverse, bool accumulate)
    {
        int D = tables.HeadDim;
        fixed (float* cos = tables.Cos, sin = tables.Sin)
        {
            var body = new RotateBody
            {
                X = x, Y = y, Cos = cos, Sin = sin, Positions = positions, Segments = segments, PerPosition = perPosition, Rotated = rotated, T = T, Offset = offset,
                Half = D / 2, Inverse = inverse, Accumulate = accumulate, Chunks = Kernels.RowPartition.Chunks(segments, D),
            };
            if (body.Chunks > 0) Threading.ComputePool.Shared.For(body.Chunks, ref body);
        }
    }

    struct RotateBody : Threading.IParallelBody
    {
        public float* X, Y, Cos, Sin;
        public int* Positions;
        public int Segments, PerPosition, Rotated, T, Offset, Half, Chunks;
        public bool Inverse, Accumulate;

        public void Execute(int chunk)
        {
            int r0 = Kernels.RowPartition.Start(chunk, Chunks, Segments), r1 = Kernels.RowPartition.Start(chunk + 1, Chunks, Segments);
            long D = 2L * Half;
            for (int r = r0; r < r1; r++)
            {
                long position = Positions == null ? Offset + r / PerPosition % T : Positions[r / PerPosition];
                if (r % PerPosition < Rotated) RotateHead(X + r * D, Y + r * D, Cos + position * Half, Sin + position * Half, Half, Inverse, Accumulate);
                else if (Accumulate) TensorPrimitives.Add(new ReadOnlySpan<float>(Y + r * D, (int)D), new ReadOnlySpan<float>(X + r * D, (int)D), new Span<float>(Y + r * D, (int)D));
                else new ReadOnlySpan<float>(X + r * D, (int)D).CopyTo(new Span<float>(Y + r * D, (int)D));
            }
        }
    }

    // One head's D values: y1 = x1·cos − x2·sin, y2 = x2·cos + x1·sin; the inverse (the transpose, for backward)
    // flips sin's sign. Eight lanes at a time with the scalar tail's exact operations (no fused multiply-add).
    static void RotateHead(float* xr, float* yr, float* c, float* s, int half, bool inverse, bool accumulate)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= half; i += 8)
            {
                var x1 = Vector256.Load(xr + i); var x2 = Vector256.Load(xr + half + i);
                var cv = Vector256.Load(c + i); var sv = Vector256.Load(s + i);
                if (inverse) sv = -sv;
                var a = x1 * cv - x2 * sv;
                var b = x2 * cv + x1 * sv;
                if (accumulate) { a += Vector256.Load(yr + i); b += Vector256.Load(yr + half + i); }
                a.Store(yr + i);
                b.Store(yr + half + i);
            }
        for (; i < half; i++)
        {
            float sin = inverse ? -s[i] : s[i];
            float a = xr[i] * c[i] - xr[i + half] * sin;
            float b = xr[i + half] * c[i] + xr[i] * sin;
            if (accumulate) { yr[i] += a; yr[i + half] += b; }
            else { yr[i] = a; yr[i + half] = b; }
        }
    }

    /// <summary><see cref="Rope"/> for heads stored token-major: <paramref name="x"/> (B, T, n·D), each token's n heads
    /// of D values side by side, as a projection writes them. The same rotation, value for value, without moving the
    /// heads ahead of the tokens (<see cref="AttentionTokenMajor"/> and <see cref="AttentionPacked"/> read this
    /// layout). Only each token's first <paramref name="rotatedHeads"/> heads turn (default: all); the rest are
    /// copied — the values of a fused QKV projection.</summary>
    public static Tensor RopeTokenMajor(Tensor x, RopeTables tables, int positionOffset = 0, int rotatedHeads = -1)
    {
        var (heads, rotated) = TokenMajorHeads(x, tables, rotatedHeads);
        int T = x.Shape[1];
        if (positionOffset < 0 || positionOffset + T > tables.MaxPositions)
            throw new ArgumentException($"RopeTokenMajor: positions {positionOffset}..{positionOffset + T - 1} exceed the table of {tables.MaxPositions}.");
        return RopeNode(x, tables, positionOffset, tokenMajor: true, perPosition: heads, rotated);
    }

    // The head count of a token-major (B, T, heads·D) input and how many of them turn (rotatedHeads < 0: all).
    static (int Heads, int Rotated) TokenMajorHeads(Tensor x, RopeTables tables, int rotatedHeads)
    {
        int D = tables.HeadDim;
        if (x.Rank != 3 || x.Shape[2] % D != 0)
            throw new ArgumentException($"RopeTokenMajor: input {Tensor.ShapeString(x.Shape)} must be (B, T, heads·{D}).");
        int heads = x.Shape[2] / D;
        if (rotatedHeads < 0) rotatedHeads = heads;
        if (rotatedHeads > heads) throw new ArgumentException($"RopeTokenMajor: {rotatedHeads} rotated heads of {heads}.");
        return (heads, rotatedHeads);
    }

    /// <summary><see cref="RopeTokenMajor(Tensor, RopeTables, int, int)"/> with a position per token:
    /// <paramref name="positions"/> (B·T) gives token (b, t) its own position — packed rows, where each sequence's
    /// positions restart at 0. Differentiable (the backward rotates the gradient back by the same angles).</summary>
    public static Tensor RopeTokenMajor(Tensor x, RopeTables tables, ReadOnlySpan<int> positions, int rotatedHeads = -1)
    {
        var (heads, rotated) = TokenMajorHeads(x, tables, rotatedHeads);
        if (positions.Length != x.Shape[0] * x.Shape[1])
            throw new ArgumentException($"RopeTokenMajor: {positions.Length} positions for B·T = {x.Shape[0]}·{x.Shape[1]} tokens.");
        for (int i = 0; i < positions.Length; i++)
            if ((uint)positions[i] >= (uint)tables.MaxPositions)
                throw new ArgumentException($"RopeTokenMajor: position {positions[i]} of token {i} exceeds the table of {tables.MaxPositions}.");
        return RopeNode(x, tables, 0, tokenMajor: true, perPosition: heads, rotated, positions);
    }

    /// <summary>Joins tensors along <paramref name="axis"/>; all other axes must agree.</summary>
    public static Tensor Concat(ReadOnlySpan<Tensor> xs, int axis)
    {
        if (xs.Length == 0) throw new ArgumentException("Concat: no tensors given.");
        var first = xs[0];
        int a = Tensor.NormalizeAxis(axis, first.Rank, "Concat");
        int total = 0;
        foreach (var x in xs)
        {
            if (x.Rank != first.Rank)
                throw new ArgumentException($"Concat: shapes {Tensor.ShapeString(first.Shape)} and {Tensor.ShapeString(x.Shape)} differ in rank.");
            for (int d = 0; d < x.Rank; d++)
                if (d != a && x.Shape[d] != first.Shape[d])
                    throw new ArgumentException($"Concat: shapes {Tensor.ShapeString(first.Shape)} and {Tensor.ShapeString(x.Shape)} differ off axis {a}.");
            total += x.Shape[a];
        }
        Span<int> shape = stackalloc int[first.Rank];
        first.Shape.CopyTo(shape);
        shape[a] = total;
        var y = Autograd.Tape.NewResult(shape);
        int outer = 1, inner = 1;
        for (int d = 0; d < a; d++) outer *= first.Shape[d];
        for (int d = a + 1; d < first.Rank; d++) inner *= first.Shape[d];
        int offset = 0;
        bool anyGrad = false;
        foreach (var x in xs)
        {
            var c = Contiguous(x);
            int chunk = x.Shape[a] * inner, row = total * inner;
            for (int o = 0; o < outer; o++)
                new ReadOnlySpan<float>(c.Data + (long)o * chunk, chunk).CopyTo(new Span<float>(y.Data + (long)o * row + offset, chunk));
            offset += chunk;
            anyGrad |= x.NeedsGrad;
        }
        if (anyGrad && Autograd.Tape.IsRecording)
        {
            // Backward hands each input the slice of the gradient it filled: record the parts on the node.
            y.BackwardFn = &ConcatBackward;
            y.I0 = a; y.I1 = outer; y.I2 = inner;
            // The slot keeps its parts array from step to step, so this allocates only on the first step.
            if (y.Extra is not Tensor[] parts || parts.Length != xs.Length) y.Extra = parts = new Tensor[xs.Length];
            xs.CopyTo(parts);
        }
        return y;
    }

    static void ConcatBackward(Tensor y)
    {
        var parts = (Tensor[])y.Extra!;
        int a = y.I0, outer = y.I1, inner = y.I2, total = y.Shape[a];
        int offset = 0;
        float* g = y.Grad!.Data;
        foreach (var x in parts!)
        {
            int chunk = x.Shape[a] * inner, row = total * inner;
            if (GradOf(x) is { } dx)
                for (int o = 0; o < outer; o++)
                {
                    var d = new Span<float>(dx.Data + (long)o * chunk, chunk);
                    System.Numerics.Tensors.TensorPrimitives.Add(d, new ReadOnlySpan<float>(g + (long)o * row + offset, chunk), d);
                }
            offset += chunk;
        }
    }

    /// <summary>Splits <paramref name="x"/> along <paramref name="axis"/> into views of the given sizes.</summary>
    public static void Split(Tensor x, int axis, ReadOnlySpan<int> sizes, Span<Tensor> results)
    {
        int a = Tensor.NormalizeAxis(axis, x.Rank, "Split");
        if (results.Length != sizes.Length) throw new ArgumentException($"Split: {sizes.Length} sizes but room for {results.Length} results.");
        int sum = 0;
        foreach (int s in sizes) sum += s;
        if (sum != x.Shape[a]) throw new ArgumentException($"Split: sizes add to {sum}, axis {a} of {Tensor.ShapeString(x.Shape)} has {x.Shape[a]}.");
        int start = 0;
        for (int i = 0; i < sizes.Length; i++) { results[i] = Narrow(x, a, start, sizes[i]); start += sizes[i]; }
    }
}

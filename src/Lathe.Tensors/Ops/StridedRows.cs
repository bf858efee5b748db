using System.Numerics.Tensors;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors;

/// <summary>Moves data between a strided layout and a contiguous one, row by row (a row is the innermost axis),
/// in parallel over row chunks: gather copies strided → contiguous (Contiguous), scatter-add adds contiguous →
/// strided (a view's backward). Each chunk finds its first row's offset by dividing the row number by the shape,
/// so chunks are independent; rows of a view never overlap, so the scatter-add has one writer per element.</summary>
internal static unsafe class StridedRows
{
    const int MaxRank = 8;

    struct Body : IParallelBody
    {
        public fixed int Shape[MaxRank];
        public fixed int Strides[MaxRank];
        public int Rank, Rows, Inner, Chunks;
        public float* Strided, Contiguous;
        public long Offset;
        public bool ScatterAdd;

        public void Execute(int chunk)
        {
            int r0 = RowPartition.Start(chunk, Chunks, Rows), r1 = RowPartition.Start(chunk + 1, Chunks, Rows);
            if (r0 >= r1) return;
            Span<int> index = stackalloc int[Rank];
            long off = Offset;
            int rest = r0;
            for (int k = Rank - 2; k >= 0; k--)
            {
                index[k] = rest % Shape[k];
                rest /= Shape[k];
                off += (long)index[k] * Strides[k];
            }
            int innerStride = Strides[Rank - 1];
            for (int row = r0; row < r1; row++)
            {
                float* flat = Contiguous + (long)row * Inner;
                float* strided = Strided + off;
                if (innerStride == 1)
                {
                    if (ScatterAdd)
                    {
                        var dst = new Span<float>(strided, Inner);
                        TensorPrimitives.Add(dst, new ReadOnlySpan<float>(flat, Inner), dst);
                    }
                    else new ReadOnlySpan<float>(strided, Inner).CopyTo(new Span<float>(flat, Inner));
                }
                else if (ScatterAdd) for (int i = 0; i < Inner; i++) strided[(long)i * innerStride] += flat[i];
                else for (int i = 0; i < Inner; i++) flat[i] = strided[(long)i * innerStride];
                for (int k = Rank - 2; k >= 0; k--)
                {
                    index[k]++;
                    off += Strides[k];
                    if (index[k] < Shape[k]) break;
                    off -= (long)Strides[k] * Shape[k];
                    index[k] = 0;
                }
            }
        }
    }

    /// <summary><paramref name="strided"/> + offset, with <paramref name="shape"/>/<paramref name="strides"/>, against
    /// a row-major <paramref name="contiguous"/> of the same shape.</summary>
    public static void Run(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, float* strided, long offset, float* contiguous, bool scatterAdd)
    {
        if (shape.Length > MaxRank) throw new ArgumentException($"strided copy: rank {shape.Length} exceeds {MaxRank}.");
        var body = new Body { Rank = shape.Length, Strided = strided, Contiguous = contiguous, Offset = offset, ScatterAdd = scatterAdd };
        long length = 1;
        for (int i = 0; i < shape.Length; i++) { body.Shape[i] = shape[i]; body.Strides[i] = strides[i]; length *= shape[i]; }
        if (length == 0) return;
        body.Inner = shape[^1];
        body.Rows = (int)(length / body.Inner);
        body.Chunks = RowPartition.Chunks(body.Rows, body.Inner);
        ComputePool.Shared.For(body.Chunks, ref body);
    }
}

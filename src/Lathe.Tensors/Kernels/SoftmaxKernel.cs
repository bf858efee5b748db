using System.Numerics.Tensors;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Softmax and log-softmax over rows of (rows, cols), vectorized per row and parallel over row chunks.
/// Twin: <see cref="ReferenceKernels.SoftmaxForward"/> / <see cref="ReferenceKernels.SoftmaxBackward"/>.</summary>
internal static unsafe class SoftmaxKernel
{
    struct Body : IParallelBody
    {
        public float* X, Y, DY, DX;
        public int Rows, Cols, Chunks;
        public bool Log, Backward;

        public void Execute(int chunk)
        {
            int r0 = RowPartition.Start(chunk, Chunks, Rows), r1 = RowPartition.Start(chunk + 1, Chunks, Rows);
            for (int r = r0; r < r1; r++)
            {
                long o = (long)r * Cols;
                if (Backward) BackwardRow(new(Y + o, Cols), new(DY + o, Cols), new(DX + o, Cols), Log);
                else ForwardRow(new(X + o, Cols), new(Y + o, Cols), Log);
            }
        }
    }

    static void ForwardRow(ReadOnlySpan<float> x, Span<float> y, bool log)
    {
        if (x.Length == 0) return;
        float max = TensorPrimitives.Max(x);
        float sum = FloatExp.ExpShiftedSum(x, max, y);
        if (log) TensorPrimitives.Subtract(x, max + MathF.Log(sum), y);
        else TensorPrimitives.Multiply(y, 1f / sum, y);
    }

    static void BackwardRow(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, bool log)
    {
        var tmp = new Span<float>(Scratch.Get(y.Length), y.Length);
        if (log)
        {
            // dx += dy − exp(y)·Σdy
            float s = TensorPrimitives.Sum(dy);
            TensorPrimitives.Exp(y, tmp);
            TensorPrimitives.Add(dx, dy, dx);
            TensorPrimitives.MultiplyAdd(tmp, -s, dx, dx);
        }
        else
        {
            // dx += y ⊙ (dy − y·dy)
            float s = TensorPrimitives.Dot(y, dy);
            TensorPrimitives.Subtract(dy, s, tmp);
            TensorPrimitives.MultiplyAdd(y, tmp, dx, dx);
        }
    }

    public static void Forward(float* x, float* y, int rows, int cols, bool log)
    {
        var body = new Body { X = x, Y = y, Rows = rows, Cols = cols, Chunks = RowPartition.Chunks(rows, cols), Log = log };
        ComputePool.Shared.For(body.Chunks, ref body);
    }

    public static void Backward(float* y, float* dy, float* dx, int rows, int cols, bool log)
    {
        var body = new Body { Y = y, DY = dy, DX = dx, Rows = rows, Cols = cols, Chunks = RowPartition.Chunks(rows, cols), Log = log, Backward = true };
        ComputePool.Shared.For(body.Chunks, ref body);
    }
}

using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Elementwise passes over long float spans (add, accumulate, scale, copy, clear) split into fixed chunks
/// on the <see cref="ComputePool"/>. Each element is computed by the same SIMD code whichever thread runs its chunk, so
/// results are identical for any thread count. Short spans run inline: below <see cref="MinParallel"/> floats the
/// hand-off costs more than it saves.</summary>
public static unsafe class ParallelSpans
{
    /// <summary>Chunk size in floats (128 KiB: a chunk and its operands stay in L2).</summary>
    const int Chunk = 1 << 15;
    /// <summary>Spans shorter than this run on the calling thread.</summary>
    public const long MinParallel = 1 << 16;

    const int OpAdd = 0, OpAccumulate = 1, OpClear = 2, OpCopy = 3, OpScale = 4, OpAccumulateScaled = 5, OpSub = 6, OpMul = 7, OpDiv = 8;

    struct Body : IParallelBody
    {
        public float* A, B, Y;
        public long N;
        public float S;
        public int Op;

        public void Execute(int chunk)
        {
            long start = (long)chunk * Chunk;
            Apply(Op, A + start, B + start, Y + start, (int)Math.Min(Chunk, N - start), S);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Apply(int op, float* a, float* b, float* y, int n, float s)
    {
        var sy = new Span<float>(y, n);
        switch (op)
        {
            case OpAdd: TensorPrimitives.Add(new ReadOnlySpan<float>(a, n), new ReadOnlySpan<float>(b, n), sy); break;
            case OpSub: TensorPrimitives.Subtract(new ReadOnlySpan<float>(a, n), new ReadOnlySpan<float>(b, n), sy); break;
            case OpMul: TensorPrimitives.Multiply(new ReadOnlySpan<float>(a, n), new ReadOnlySpan<float>(b, n), sy); break;
            case OpDiv: TensorPrimitives.Divide(new ReadOnlySpan<float>(a, n), new ReadOnlySpan<float>(b, n), sy); break;
            case OpAccumulate: TensorPrimitives.Add(sy, new ReadOnlySpan<float>(a, n), sy); break;
            case OpClear: sy.Clear(); break;
            case OpCopy: new ReadOnlySpan<float>(a, n).CopyTo(sy); break;
            case OpScale: TensorPrimitives.Multiply(new ReadOnlySpan<float>(a, n), s, sy); break;
            case OpAccumulateScaled: TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(a, n), s, sy, sy); break;
        }
    }

    static void Run(int op, float* a, float* b, float* y, long n, float s = 0)
    {
        if (n <= 0) return;
        if (n < MinParallel || ComputePool.Shared.Threads == 1)
        {
            for (long start = 0; start < n; start += int.MaxValue / 2)
            {
                int len = (int)Math.Min(int.MaxValue / 2, n - start);
                Apply(op, a + (op == OpClear ? 0 : start), b + (b == null ? 0 : start), y + start, len, s);
            }
            return;
        }
        var body = new Body { A = a, B = b, Y = y, N = n, S = s, Op = op };
        ComputePool.Shared.For((int)((n + Chunk - 1) / Chunk), ref body);
    }

    /// <summary>y = a + b.</summary>
    public static void Add(float* a, float* b, float* y, long n) => Run(OpAdd, a, b, y, n);
    /// <summary>y = a − b.</summary>
    public static void Subtract(float* a, float* b, float* y, long n) => Run(OpSub, a, b, y, n);
    /// <summary>y = a · b.</summary>
    public static void Multiply(float* a, float* b, float* y, long n) => Run(OpMul, a, b, y, n);
    /// <summary>y = a / b.</summary>
    public static void Divide(float* a, float* b, float* y, long n) => Run(OpDiv, a, b, y, n);
    /// <summary>y += a.</summary>
    public static void Accumulate(float* a, float* y, long n) => Run(OpAccumulate, a, null, y, n);
    /// <summary>y += a · s.</summary>
    public static void AccumulateScaled(float* a, float s, float* y, long n) => Run(OpAccumulateScaled, a, null, y, n, s);
    /// <summary>y = a · s.</summary>
    public static void Scale(float* a, float s, float* y, long n) => Run(OpScale, a, null, y, n, s);
    /// <summary>y = a.</summary>
    public static void Copy(float* a, float* y, long n) => Run(OpCopy, a, null, y, n);
    /// <summary>y = 0.</summary>
    public static void Clear(float* y, long n) => Run(OpClear, null, null, y, n);
}

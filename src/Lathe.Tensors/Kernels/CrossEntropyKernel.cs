using System.Numerics.Tensors;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Softmax cross-entropy over rows of logits (N, V) with an ignore index and optional per-row weights. Memory-lean: no (N, V)
/// probability buffer — the backward recomputes each row's softmax straight into dlogits. Per-row losses go
/// to a buffer and are summed in row order (deterministic). Twin: <see cref="ReferenceKernels.CrossEntropyForward"/>.</summary>
internal static unsafe class CrossEntropyKernel
{
    struct Body : IParallelBody
    {
        public float* X, DX, Losses, Weights;   // Weights: null = every row 1
        public int* Targets;
        public int Rows, Cols, Chunks, Ignore;
        public float Scale;
        public bool Backward, Overwrite;

        public void Execute(int chunk)
        {
            int r0 = RowPartition.Start(chunk, Chunks, Rows), r1 = RowPartition.Start(chunk + 1, Chunks, Rows);
            var tmp = new Span<float>(Scratch.Get(Cols), Cols);
            for (int r = r0; r < r1; r++)
            {
                int t = Targets[r];
                if (t == Ignore)
                {
                    if (!Backward) Losses[r] = 0;
                    else if (Overwrite) new Span<float>(DX + (long)r * Cols, Cols).Clear();
                    continue;
                }
                var x = new ReadOnlySpan<float>(X + (long)r * Cols, Cols);
                float max = TensorPrimitives.Max(x);
                float sum = FloatExp.ExpShiftedSum(x, max, tmp);
                if (!Backward) { Losses[r] = max + MathF.Log(sum) - x[t]; continue; }
                var dx = new Span<float>(DX + (long)r * Cols, Cols);
                float scale = Weights == null ? Scale : Scale * Weights[r];
                if (Overwrite) TensorPrimitives.Multiply(tmp, scale / sum, dx);
                else TensorPrimitives.MultiplyAdd(tmp, scale / sum, dx, dx);
                dx[t] -= scale;
            }
        }
    }

    /// <summary>Returns Σ loss over non-ignored rows (in double, summed in row order) and their count.
    /// <paramref name="losses"/> (N floats) receives each row's loss (0 for ignored rows).</summary>
    public static double Forward(float* logits, int* targets, int ignore, int n, int vocab, float* losses, out int count) =>
        Forward(logits, targets, null, ignore, n, vocab, losses, out count, out _);

    /// <summary>Weighted form: returns Σ wᵣ·lossᵣ and Σ wᵣ over non-ignored rows (in double, in row order);
    /// <paramref name="weights"/> null means every weight is 1 (then the weight sum equals the count).</summary>
    public static double Forward(float* logits, int* targets, float* weights, int ignore, int n, int vocab, float* losses, out int count, out double weightSum)
    {
        var body = new Body { X = logits, Targets = targets, Losses = losses, Rows = n, Cols = vocab, Ignore = ignore, Chunks = RowPartition.Chunks(n, vocab) };
        ComputePool.Shared.For(body.Chunks, ref body);
        double total = 0;
        count = 0;
        weightSum = 0;
        for (int r = 0; r < n; r++)
        {
            if (targets[r] == ignore) continue;
            double w = weights == null ? 1.0 : weights[r];
            total += w * losses[r];
            weightSum += w;
            count++;
        }
        return total;
    }

    /// <summary>dlogits += scale·wᵣ·(softmax − onehot) for non-ignored rows (wᵣ = 1 when <paramref name="weights"/> is null);
    /// with <paramref name="overwrite"/>, dlogits = that (and 0 on ignored rows), its old contents unread — a gradient
    /// the backward pass has not touched yet needs no clearing first (for an lm_head's 2,048 × 8,192 logits, a 64 MB
    /// memset and a read of the zeros).</summary>
    public static void Backward(float* logits, int* targets, int ignore, float* dlogits, int n, int vocab, float scale, float* weights = null, bool overwrite = false)
    {
        var body = new Body { X = logits, DX = dlogits, Targets = targets, Weights = weights, Rows = n, Cols = vocab, Ignore = ignore, Scale = scale, Backward = true, Overwrite = overwrite, Chunks = RowPartition.Chunks(n, vocab) };
        ComputePool.Shared.For(body.Chunks, ref body);
    }
}

using System.Numerics.Tensors;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Compression.Distillation;

/// <summary>Row-parallel passes of the logit-distillation loss over student logits (N, V): for each kept row
/// (target ≠ −100) KLᵣ = Σⱼ pₜ(j)·(log pₜ(j) − log pₛ(j)) between the temperature-softened teacher and student, and
/// the hard-label CEᵣ = logsumexp(x) − x[t]. The teacher is either dense logits (N, V) or, from a top-k file, K ids
/// with their log-probabilities and the rest mass (the teacher's probability outside those K), which the sparse form
/// compares with the student's rest mass as one more bucket. Like the cross-entropy kernel it keeps no (N, V)
/// probability buffer: the backward recomputes each row's softmaxes into per-thread scratch. Each row is computed
/// by one thread alone and the caller adds the rows in row order, so results do not depend on the thread count.</summary>
internal static unsafe class DistillationKernel
{
    /// <summary>What one pass reads and writes. Teacher is dense logits (N, V), or null with TopIds/TopLogProbs (N, K)
    /// and TeacherRest (N) for the sparse form. Forward writes Kl, Ce (N) and, sparse, StudentRest (N), which the
    /// backward reads back. Backward adds Scale[r]·(KdCoefficient·∂KLᵣ/∂aᵣ + CeCoefficient·∂CEᵣ/∂xᵣ) into DX with
    /// a = x/T, so KdCoefficient = α·T makes the gradient of α·T²·KL.</summary>
    public struct Pass : IParallelBody
    {
        public float* X, DX, Teacher, TopLogProbs, TeacherRest, StudentRest, Kl, Ce, Scale;
        public int* Targets, TopIds;
        public int Rows, Vocab, K, Chunks;
        public float InvT, KdCoefficient, CeCoefficient;
        public bool Backward;

        public void Execute(int chunk)
        {
            int r0 = RowPartition.Start(chunk, Chunks, Rows), r1 = RowPartition.Start(chunk + 1, Chunks, Rows);
            int V = Vocab;
            float* scratch = Scratch.Get(3L * V);
            var soft = new Span<float>(scratch, V);            // the student's softened log-probs, then probabilities
            var other = new Span<float>(scratch + V, V);       // the teacher's log-probs, or the student's T = 1 softmax
            var tmp = new Span<float>(scratch + 2L * V, V);
            for (int r = r0; r < r1; r++)
            {
                int t = Targets[r];
                if (t == -100) { if (!Backward) { Kl[r] = 0; Ce[r] = 0; if (StudentRest != null) StudentRest[r] = 0; } continue; }
                var x = new ReadOnlySpan<float>(X + (long)r * V, V);
                float lseSoft = LogSoftmaxScaled(x, InvT, soft, tmp);
                if (!Backward)
                {
                    float lseHard = InvT == 1f ? lseSoft : LogSumExp(x, tmp);
                    Ce[r] = lseHard - x[t];
                    Kl[r] = Teacher != null ? DenseKl(r, soft, other, tmp) : SparseKl(r, soft, tmp);
                    continue;
                }
                float g = Scale[r];
                if (g == 0f) continue;
                var dx = new Span<float>(DX + (long)r * V, V);
                float kd = KdCoefficient * g, ce = CeCoefficient * g;
                TensorPrimitives.Exp(soft, soft);              // soft = pₛ at T
                if (kd != 0f)
                {
                    if (Teacher != null) DenseGradient(r, soft, other, tmp, dx, kd);
                    else SparseGradient(r, soft, dx, kd);
                }
                if (ce != 0f)
                {
                    // (1 − α)·(softmax(x) − onehot(t)); at T = 1 the softened softmax is that softmax.
                    if (InvT == 1f) TensorPrimitives.MultiplyAdd(soft, ce, dx, dx);
                    else
                    {
                        LogSoftmaxScaled(x, 1f, other, tmp);
                        TensorPrimitives.Exp(other, other);
                        TensorPrimitives.MultiplyAdd(other, ce, dx, dx);
                    }
                    dx[t] -= ce;
                }
            }
        }

        // Σ pₜ·(log pₜ − log pₛ), the teacher's log-probs computed from its logits.
        readonly float DenseKl(int r, Span<float> studentLogProbs, Span<float> teacherLogProbs, Span<float> tmp)
        {
            LogSoftmaxScaled(new ReadOnlySpan<float>(Teacher + (long)r * Vocab, Vocab), InvT, teacherLogProbs, tmp);
            TensorPrimitives.Exp(teacherLogProbs, tmp);                                   // pₜ
            TensorPrimitives.Subtract(teacherLogProbs, studentLogProbs, teacherLogProbs);  // log pₜ − log pₛ
            return TensorPrimitives.Dot(tmp, teacherLogProbs);
        }

        // dx += kd·(pₛ − pₜ): the gradient of T²·KL with respect to x is T·(pₛ − pₜ), and kd carries α·T·g.
        readonly void DenseGradient(int r, Span<float> studentProbs, Span<float> teacherProbs, Span<float> tmp, Span<float> dx, float kd)
        {
            LogSoftmaxScaled(new ReadOnlySpan<float>(Teacher + (long)r * Vocab, Vocab), InvT, teacherProbs, tmp);
            TensorPrimitives.Exp(teacherProbs, teacherProbs);
            TensorPrimitives.Subtract(studentProbs, teacherProbs, teacherProbs);
            TensorPrimitives.MultiplyAdd(teacherProbs, kd, dx, dx);
        }

        // Over K + 1 buckets — the teacher's top-k tokens and "the rest":
        // KL = Σₖ pₜₖ·(log pₜₖ − log pₛ(idₖ)) + Rₜ·(log Rₜ − log Rₛ), with 0·log 0 = 0. Rₛ, the student's mass off the K ids,
        // is summed over the complement (the ids' entries set to −∞ in the scratch copy), not taken as 1 − Σ, so it
        // keeps its precision when small and is exactly 0 when K = V.
        readonly float SparseKl(int r, Span<float> studentLogProbs, Span<float> tmp)
        {
            int* ids = TopIds + (long)r * K;
            float* lt = TopLogProbs + (long)r * K;
            double kl = 0;
            for (int k = 0; k < K; k++)
            {
                int id = ids[k];
                kl += MathF.Exp(lt[k]) * (lt[k] - studentLogProbs[id]);
                studentLogProbs[id] = float.NegativeInfinity;
            }
            TensorPrimitives.Exp(studentLogProbs, tmp);
            float studentRest = TensorPrimitives.Sum(tmp);
            StudentRest[r] = studentRest;
            float rest = TeacherRest[r];
            if (rest > 0f) kl += rest * (Math.Log(rest) - Math.Log(studentRest));
            return (float)kl;
        }

        // ∂KL/∂aⱼ = pₛⱼ·(Σₖ pₜₖ + Rₜ) − pₜⱼ on the K ids, and pₛⱼ·(Σₖ pₜₖ + Rₜ) − Rₜ·pₛⱼ/Rₛ off them; kd carries α·T·g.
        readonly void SparseGradient(int r, Span<float> studentProbs, Span<float> dx, float kd)
        {
            int* ids = TopIds + (long)r * K;
            float* lt = TopLogProbs + (long)r * K;
            float rest = TeacherRest[r];
            double mass = rest;
            for (int k = 0; k < K; k++) mass += MathF.Exp(lt[k]);
            float on = (float)mass, off = rest > 0f ? on - rest / StudentRest[r] : on;
            // The off-ids coefficient applied everywhere, then the K ids corrected to theirs.
            TensorPrimitives.MultiplyAdd(studentProbs, kd * off, dx, dx);
            for (int k = 0; k < K; k++)
            {
                int id = ids[k];
                dx[id] += kd * ((on - off) * studentProbs[id] - MathF.Exp(lt[k]));
            }
        }
    }

    // destination = log softmax(x·invT); returns logsumexp(x·invT). tmp: V floats of scratch.
    static float LogSoftmaxScaled(ReadOnlySpan<float> x, float invT, Span<float> destination, Span<float> tmp)
    {
        if (invT == 1f) x.CopyTo(destination);
        else TensorPrimitives.Multiply(x, invT, destination);
        float max = TensorPrimitives.Max(destination);
        TensorPrimitives.Subtract(destination, max, destination);
        TensorPrimitives.Exp(destination, tmp);
        float logSum = MathF.Log(TensorPrimitives.Sum(tmp));
        TensorPrimitives.Subtract(destination, logSum, destination);
        return max + logSum;
    }

    // logsumexp(x); tmp: V floats of scratch.
    static float LogSumExp(ReadOnlySpan<float> x, Span<float> tmp)
    {
        float max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, tmp);
        TensorPrimitives.Exp(tmp, tmp);
        return max + MathF.Log(TensorPrimitives.Sum(tmp));
    }

    /// <summary>Runs <paramref name="pass"/> over its rows on the shared pool.</summary>
    public static void Run(ref Pass pass)
    {
        pass.Chunks = RowPartition.Chunks(pass.Rows, pass.Vocab);
        ComputePool.Shared.For(pass.Chunks, ref pass);
    }
}

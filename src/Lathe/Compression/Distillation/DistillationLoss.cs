using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Compression.Distillation;

/// <summary>The two parts of a distillation loss, each the weighted mean over the kept targets: KL (at temperature T,
/// before the T² factor) and the hard-label cross-entropy.</summary>
public readonly record struct DistillationTerms(double Kl, double CrossEntropy);

/// <summary>The teacher of one micro-batch as a top-k file stores it: for each of N positions the K token ids it
/// ranks highest, their log-probabilities at temperature T (normalised over the whole vocabulary), and the mass
/// 1 − Σ pₖ it puts on every other token (stored, not recomputed, so K = V gives exactly 0).</summary>
public readonly ref struct TopKTeacher
{
    public TopKTeacher(ReadOnlySpan<int> ids, ReadOnlySpan<float> logProbs, ReadOnlySpan<float> restMass, int k)
    {
        Ids = ids; LogProbs = logProbs; RestMass = restMass; K = k;
    }

    /// <summary>(N, K) token ids, distinct within a row.</summary>
    public ReadOnlySpan<int> Ids { get; }
    /// <summary>(N, K) log-probabilities at temperature T.</summary>
    public ReadOnlySpan<float> LogProbs { get; }
    /// <summary>(N) the teacher's probability outside the row's K ids.</summary>
    public ReadOnlySpan<float> RestMass { get; }
    public int K { get; }
}

/// <summary>Knowledge distillation's logit loss (Hinton, Vinyals &amp; Dean 2015) as one fused tape op over student
/// logits (N, V): α·T²·KL(pₜ^T ‖ pₛ^T) + (1 − α)·CE(student, targets), the weighted mean over targets ≠ −100 (weights as
/// in <see cref="Ops.CrossEntropy(Tensor, ReadOnlySpan{int}, ReadOnlySpan{float}, int)"/>). The T² keeps the soft
/// term's gradient on the scale of the hard term's as T grows (ibid., §2). Both softmaxes are taken as log-softmax of
/// logits/T, so large logits cannot overflow; only the student's logits receive a gradient.</summary>
public static unsafe class DistillationLoss
{
    /// <summary>The loss against the teacher's dense logits (N, V) — a tensor that must stay valid until the backward
    /// pass (the teacher's own tape slot, say). <paramref name="terms"/> receives the two parts.</summary>
    public static Tensor Dense(Tensor studentLogits, Tensor teacherLogits, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights,
        float alpha, float temperature, out DistillationTerms terms)
    {
        const string Op = "DistillationLoss";
        int n = Validate(Op, studentLogits, targets, weights, alpha, temperature);
        if (teacherLogits.Rank != 2 || teacherLogits.Shape[0] != n || teacherLogits.Shape[1] != studentLogits.Shape[1])
            throw new ArgumentException($"{Op}: teacher logits {Tensor.ShapeString(teacherLogits.Shape)} do not match the student's {Tensor.ShapeString(studentLogits.Shape)}.");
        var teacher = Ops.Contiguous(teacherLogits);
        return Build(studentLogits, targets, weights, alpha, temperature, teacher, default, out terms);
    }

    /// <summary>The loss against a top-k teacher (sparse KD). The KL is between two distributions over K + 1 buckets —
    /// the teacher's K ids and "the rest" — so it stays a proper divergence however small K is; with K = V it is the
    /// dense loss.</summary>
    public static Tensor Sparse(Tensor studentLogits, TopKTeacher teacher, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights,
        float alpha, float temperature, out DistillationTerms terms)
    {
        const string Op = "DistillationLoss";
        int n = Validate(Op, studentLogits, targets, weights, alpha, temperature);
        int vocab = studentLogits.Shape[1], k = teacher.K;
        if (k < 1 || k > vocab || teacher.Ids.Length != n * k || teacher.LogProbs.Length != n * k || teacher.RestMass.Length != n)
            throw new ArgumentException($"{Op}: a top-{k} teacher of {teacher.Ids.Length} ids, {teacher.LogProbs.Length} log-probs and {teacher.RestMass.Length} rest masses for {n} rows of {vocab}.");
        foreach (int id in teacher.Ids)
            if ((uint)id >= (uint)vocab) throw new ArgumentException($"{Op}: teacher id {id} is outside the vocabulary of {vocab}.");
        return Build(studentLogits, targets, weights, alpha, temperature, null, teacher, out terms);
    }

    static int Validate(string op, Tensor logits, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, float alpha, float temperature)
    {
        if (logits.Rank != 2 || logits.Shape[0] != targets.Length)
            throw new ArgumentException($"{op}: logits {Tensor.ShapeString(logits.Shape)} and {targets.Length} targets do not match (expected (N, V) with N = targets).");
        if (!(alpha >= 0f && alpha <= 1f)) throw new ArgumentException($"{op}: alpha = {alpha} must be in [0, 1].");
        if (!(temperature > 0f && float.IsFinite(temperature))) throw new ArgumentException($"{op}: temperature = {temperature} must be finite and > 0.");
        int n = logits.Shape[0], vocab = logits.Shape[1];
        if (!weights.IsEmpty && weights.Length != n) throw new ArgumentException($"{op}: {weights.Length} weights for {n} rows.");
        for (int i = 0; i < n; i++)
        {
            if (targets[i] != -100 && (uint)targets[i] >= (uint)vocab)
                throw new ArgumentException($"{op}: target {targets[i]} at row {i} is outside the vocabulary of {vocab}.");
            if (!weights.IsEmpty && !(weights[i] >= 0f && float.IsFinite(weights[i])))
                throw new ArgumentException($"{op}: weight {weights[i]} at row {i} must be finite and ≥ 0.");
        }
        return n;
    }

    static Tensor Build(Tensor studentLogits, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, float alpha, float temperature,
        Tensor? teacher, TopKTeacher top, out DistillationTerms terms)
    {
        var x = Ops.Contiguous(studentLogits);
        int n = x.Shape[0], vocab = x.Shape[1];
        var y = Tape.NewResult([]);
        // The per-row buffers live on the result's slot and are reused from step to step (no per-step garbage).
        if (y.Extra is not State state) y.Extra = state = new State();
        state.Fill(targets, weights, top, n);
        state.Teacher = teacher;
        state.Alpha = alpha;
        state.InvT = 1f / temperature;
        state.Temperature = temperature;
        double kl = 0, ce = 0, total = 0, weightSum = 0;
        fixed (int* t = state.Targets, ids = state.TopIds)
        fixed (float* klRows = state.Kl, ceRows = state.Ce, lp = state.TopLogProbs, tr = state.TeacherRest, sr = state.StudentRest)
        {
            var pass = new DistillationKernel.Pass
            {
                X = x.Data, Teacher = teacher is null ? null : teacher.Data, Targets = t, TopIds = ids, TopLogProbs = lp, TeacherRest = tr,
                StudentRest = teacher is null ? sr : null, Kl = klRows, Ce = ceRows, Rows = n, Vocab = vocab, K = state.K, InvT = state.InvT,
            };
            if (n > 0) DistillationKernel.Run(ref pass);
        }
        float t2 = temperature * temperature;
        for (int r = 0; r < n; r++)
        {
            if (targets[r] == -100) continue;
            double w = state.Scale[r];
            kl += w * state.Kl[r];
            ce += w * state.Ce[r];
            weightSum += w;
        }
        if (weightSum > 0) { kl /= weightSum; ce /= weightSum; total = alpha * t2 * kl + (1 - alpha) * ce; }
        *y.Data = (float)total;
        terms = new DistillationTerms(kl, ce);
        state.WeightSum = weightSum;
        if (!Ops.Record(y, &Backward, x)) state.Teacher = null;
        return y;
    }

    static void Backward(Tensor y)
    {
        var dx = Ops.GradOf(y.In0);
        var state = (State)y.Extra!;
        if (dx is null || state.WeightSum == 0) return;
        var x = y.In0!;
        float g = (float)(*y.Grad!.Data / state.WeightSum);
        fixed (int* t = state.Targets, ids = state.TopIds)
        fixed (float* scale = state.Scale, lp = state.TopLogProbs, tr = state.TeacherRest, sr = state.StudentRest)
        {
            var pass = new DistillationKernel.Pass
            {
                X = x.Data, DX = dx.Data, Teacher = state.Teacher is null ? null : state.Teacher.Data, Targets = t, TopIds = ids,
                TopLogProbs = lp, TeacherRest = tr, StudentRest = sr, Scale = scale, Rows = x.Shape[0], Vocab = x.Shape[1], K = state.K,
                InvT = state.InvT, KdCoefficient = state.Alpha * state.Temperature * g, CeCoefficient = (1f - state.Alpha) * g, Backward = true,
            };
            DistillationKernel.Run(ref pass);
        }
        state.Teacher = null;
    }

    /// <summary>What the backward reads, kept on the loss's tape slot.</summary>
    sealed class State
    {
        public int[] Targets = [], TopIds = [];
        public float[] Scale = [], Kl = [], Ce = [], TopLogProbs = [], TeacherRest = [], StudentRest = [];
        public Tensor? Teacher;
        public float Alpha, InvT, Temperature;
        public int K;
        public double WeightSum;

        public void Fill(ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, TopKTeacher top, int n)
        {
            Grow(ref Targets, n); Grow(ref Scale, n); Grow(ref Kl, n); Grow(ref Ce, n); Grow(ref StudentRest, n);
            targets.CopyTo(Targets);
            if (weights.IsEmpty) Scale.AsSpan(0, n).Fill(1f); else weights.CopyTo(Scale);
            K = top.K;
            Grow(ref TopIds, top.Ids.Length); Grow(ref TopLogProbs, top.LogProbs.Length); Grow(ref TeacherRest, top.RestMass.Length);
            top.Ids.CopyTo(TopIds); top.LogProbs.CopyTo(TopLogProbs); top.RestMass.CopyTo(TeacherRest);
        }

        static void Grow<T>(ref T[] buffer, int n)
        {
            if (buffer.Length < n) buffer = new T[n];
        }
    }
}

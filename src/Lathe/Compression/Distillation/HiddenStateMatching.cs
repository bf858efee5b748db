using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Compression.Distillation;

/// <summary>How a student layer's hidden states are compared with its teacher layer's.</summary>
public enum HiddenStateLoss
{
    /// <summary>DistilBERT (Sanh et al. 2019): 1 − cos(hₛ, hₜ) per token, averaged; needs equal widths.</summary>
    Cosine,
    /// <summary>TinyBERT (Jiao et al. 2020, eq. 8): MSE(hₛ·W_h, hₜ) over every element, W_h (Cₛ, Cₜ) a learned
    /// projection when the widths differ (none when they are equal).</summary>
    Mse,
}

/// <summary>Hidden-state matching between a student and a teacher decoder: each student layer i is paired with teacher
/// layer map[i] (by default the uniform map ⌊(i+1)·Lₜ/Lₛ⌋ − 1, so the last layers pair up), and the term is the mean
/// over pairs of <see cref="HiddenStateLoss"/> over all B·T positions of the block outputs (before the final norm).
/// The projection, when there is one, is a trainable parameter of this term, not of the student: it is trained with the
/// student and discarded after training (the saved student is a plain checkpoint).</summary>
public sealed class HiddenStateMatching : IDisposable
{
    readonly int[] _map;

    public HiddenStateMatching(ModelConfig student, ModelConfig teacher, HiddenStateLoss loss, float weight, int[]? layerMap = null, ulong seed = 0)
    {
        if (!(weight >= 0f && float.IsFinite(weight))) throw new ArgumentException($"--hidden-weight {weight} must be finite and ≥ 0");
        _map = layerMap ?? UniformMap(student.Layers, teacher.Layers);
        if (_map.Length != student.Layers)
            throw new ArgumentException($"--layer-map: {_map.Length} entries for a student of {student.Layers} layers");
        foreach (int t in _map)
            if ((uint)t >= (uint)teacher.Layers) throw new ArgumentException($"--layer-map: teacher layer {t} is outside 0…{teacher.Layers - 1}");
        int cs = student.Embd, ct = teacher.Embd;
        if (loss == HiddenStateLoss.Cosine && cs != ct)
            throw new ArgumentException($"--match-hidden cosine: the student's width {cs} differs from the teacher's {ct}; use mse (a learned projection)");
        Loss = loss;
        Weight = weight;
        if (loss == HiddenStateLoss.Mse && cs != ct)
        {
            // Uniform(±1/√Cₛ), as a linear layer's default init, from the run's seed.
            var rng = new Philox(seed ^ 0x5EED_41DDE1UL);
            var w = new float[cs * ct];
            float bound = 1f / MathF.Sqrt(cs);
            for (int i = 0; i < w.Length; i++) w[i] = (rng.NextFloat() * 2 - 1) * bound;
            var value = Tensor.FromArray(w, cs, ct);
            value.RequiresGrad = true;
            Projection = new ModelParameter("distill.hidden_projection", value, storedTransposed: false, decay: true);
        }
    }

    /// <summary>Student layer i ↔ teacher layer ⌊(i+1)·Lₜ/Lₛ⌋ − 1 (at least 0: a student deeper than its teacher pairs
    /// its first layers with the teacher's first).</summary>
    public static int[] UniformMap(int studentLayers, int teacherLayers) =>
        Enumerable.Range(0, studentLayers).Select(i => Math.Max(0, (int)((long)(i + 1) * teacherLayers / studentLayers) - 1)).ToArray();

    public HiddenStateLoss Loss { get; }
    public float Weight { get; }
    public IReadOnlyList<int> LayerMap => _map;
    /// <summary>W_h (Cₛ, Cₜ), trainable, or null.</summary>
    public ModelParameter? Projection { get; }

    /// <summary>The weighted term over captured block outputs (each (B,T,C) or (N,C)); teacher layers carry no gradient.</summary>
    public Tensor Term(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher)
    {
        Tensor? sum = null;
        for (int i = 0; i < _map.Length; i++)
        {
            var s = Ops.Reshape(student[i], -1, student[i].Dim(-1));   // (N, Cₛ)
            var t = Ops.Reshape(teacher[_map[i]], -1, teacher[_map[i]].Dim(-1));   // (N, Cₜ)
            var term = Loss == HiddenStateLoss.Cosine ? CosineDistance(s, t) : Mse(Projection is null ? s : Ops.MatMul(s, Projection.Value), t);
            sum = sum is null ? term : Ops.Add(sum, term);
        }
        return Ops.Scale(sum!, Weight / _map.Length);
    }

    /// <summary>mean over rows of 1 − ⟨a, b⟩ / (‖a‖·‖b‖).</summary>
    public static Tensor CosineDistance(Tensor a, Tensor b)
    {
        var dot = Ops.Sum(Ops.Mul(a, b), 1);                                           // (N)
        var norms = Ops.Sqrt(Ops.Mul(Ops.Sum(Ops.Mul(a, a), 1), Ops.Sum(Ops.Mul(b, b), 1)));   // (N)
        return Ops.Affine(Ops.MeanAll(Ops.Div(dot, norms)), -1f, 1f);
    }

    /// <summary>mean over every element of (a − b)².</summary>
    public static Tensor Mse(Tensor a, Tensor b)
    {
        var d = Ops.Sub(a, b);
        return Ops.MeanAll(Ops.Mul(d, d));
    }

    public void Dispose() => Projection?.Value.Dispose();
}

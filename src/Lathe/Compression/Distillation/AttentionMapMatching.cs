using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Compression.Distillation;

/// <summary>Attention-map matching between a student and a teacher decoder (MiniLM, Wang et al. 2020, eq. 1–3; TinyBERT,
/// Jiao et al. 2020, §3.1 matches the same maps by MSE): each student layer i is paired with teacher layer map[i] (the
/// <see cref="HiddenStateMatching.UniformMap"/> by default, or the same --layer-map), and the term is the mean over pairs
/// of KL(Āₜ ‖ Āₛ) per query row, mean over the B·T rows, where Ā = mean over heads of
/// softmax(q·kᵀ/√D + causal mask) (B,T,T). Averaging over heads is our departure from MiniLM (which pairs head with
/// head): it lets the student have fewer heads, or a different head size, than the teacher — and an average of
/// distributions is a distribution, so the KL stays a KL.</summary>
/// <remarks>The fused attention kernel never materialises probabilities, so the maps are recomputed here from the
/// layers' captured post-RoPE q and k (<see cref="AttentionCapture"/>): the student's on its tape, so the gradient
/// reaches its q/k projections, the teacher's without one. Memory: the scores and probabilities are (B,H,T,T) per mapped
/// layer on the tape, plus (B,T,T) maps — fine for the short contexts distilled here (B·H·T² floats: 8·4·256² = 8 MB
/// per layer and tensor), not for long ones. Masked entries (key after query) are exactly 0 in both maps and contribute
/// nothing; a student probability that underflows to 0 where the teacher's is not would make the term infinite.</remarks>
public sealed class AttentionMapMatching : IDisposable
{
    readonly int[] _map;
    // Per sequence length: the additive causal mask (0 on and below the diagonal, −∞ above) and its indicator (1 above
    // the diagonal), which makes log(Ā + above) exactly 0 where Ā is 0 by the mask. Built once per T, reused every step.
    readonly Dictionary<int, (Tensor Mask, Tensor Above)> _masks = [];

    public AttentionMapMatching(ModelConfig student, ModelConfig teacher, float weight, int[]? layerMap = null)
    {
        if (!(weight >= 0f && float.IsFinite(weight))) throw new ArgumentException($"--attention-weight {weight} must be finite and ≥ 0");
        _map = layerMap ?? HiddenStateMatching.UniformMap(student.Layers, teacher.Layers);
        if (_map.Length != student.Layers)
            throw new ArgumentException($"--layer-map: {_map.Length} entries for a student of {student.Layers} layers");
        foreach (int t in _map)
            if ((uint)t >= (uint)teacher.Layers) throw new ArgumentException($"--layer-map: teacher layer {t} is outside 0…{teacher.Layers - 1}");
        Weight = weight;
    }

    public float Weight { get; }
    public IReadOnlyList<int> LayerMap => _map;

    /// <summary>The weighted term over the captured layers of one forward each; the teacher's maps carry no gradient.</summary>
    public Tensor Term(IReadOnlyList<AttentionCapture> student, IReadOnlyList<AttentionCapture> teacher)
    {
        Tensor? sum = null;
        for (int i = 0; i < _map.Length; i++)
        {
            var s = student[i];
            int T = s.Q.Dim(1);
            var (mask, above) = Masks(T);
            Tensor teacherMap, teacherLog;
            using (Tape.NoGrad())
            {
                teacherMap = HeadAveragedMap(teacher[_map[i]], mask);                      // (B,T,T)
                teacherLog = Ops.Log(Ops.Add(teacherMap, above));
            }
            var studentLog = Ops.Log(Ops.Add(HeadAveragedMap(s, mask), above));           // (B,T,T)
            var term = RowKl(teacherMap, teacherLog, studentLog);
            sum = sum is null ? term : Ops.Add(sum, term);
        }
        return Ops.Scale(sum!, Weight / _map.Length);
    }

    /// <summary>mean over rows of Σⱼ pₜ·(log pₜ − log pₛ): KL(pₜ ‖ pₛ) per query row of (B,T,T) maps.</summary>
    static Tensor RowKl(Tensor teacherMap, Tensor teacherLog, Tensor studentLog) =>
        Ops.MeanAll(Ops.Sum(Ops.Mul(teacherMap, Ops.Sub(teacherLog, studentLog)), 2));

    /// <summary>Ā = mean over the H heads of softmax(q·kᵀ/√D + mask), (B,T,T), from one layer's captured q and k.</summary>
    public static Tensor HeadAveragedMap(AttentionCapture c, Tensor mask)
    {
        int B = c.Q.Dim(0), T = c.Q.Dim(1), H = c.Heads, Hkv = c.KvHeads, D = c.HeadDim, G = H / Hkv;
        // The G query heads that read kv head g are heads g·G … g·G+G−1: grouping them along the row axis turns
        // grouped-query attention into one batched product per kv head, with no copy of the keys.
        var q = Ops.Reshape(Ops.Contiguous(Ops.Permute(Ops.Reshape(Ops.Contiguous(c.Q), B, T, Hkv, G, D), 0, 2, 3, 1, 4)), B, Hkv, G * T, D);
        var k = Ops.Contiguous(Ops.Transpose(Ops.Reshape(Ops.Contiguous(c.K), B, T, Hkv, D), 1, 2));   // (B,Hkv,T,D)
        var scores = Ops.Reshape(Ops.MatMul(q, k, transB: true), B, H, T, T);         // (B,Hkv,G·T,T) → (B,H,T,T)
        var probabilities = Ops.Softmax(Ops.Add(Ops.Scale(scores, 1f / MathF.Sqrt(D)), mask));
        return Ops.Mean(probabilities, 1);                                           // (B,T,T)
    }

    /// <summary>The additive causal mask (T,T) and the indicator of its masked entries, cached per T.</summary>
    internal (Tensor Mask, Tensor Above) Masks(int T)
    {
        if (_masks.TryGetValue(T, out var cached)) return cached;
        var mask = new float[T * T];
        var above = new float[T * T];
        for (int i = 0; i < T; i++)
            for (int j = i + 1; j < T; j++) { mask[i * T + j] = float.NegativeInfinity; above[i * T + j] = 1f; }
        var pair = (Tensor.FromArray(mask, T, T), Tensor.FromArray(above, T, T));
        _masks[T] = pair;
        return pair;
    }

    public void Dispose()
    {
        foreach (var (mask, above) in _masks.Values) { mask.Dispose(); above.Dispose(); }
        _masks.Clear();
    }
}

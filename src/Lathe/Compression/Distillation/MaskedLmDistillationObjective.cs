using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Compression.Distillation;

/// <summary>Logit distillation between BERT encoders on the masked-LM positions (DistilBERT, Sanh et al. 2019, §3:
/// L_ce on the teacher's soft targets plus the student's own MLM loss): each micro-batch is masked once, with the
/// batch seed, exactly as <see cref="MaskedLmObjective"/> masks it, and teacher and student encode the same masked
/// sequences. The loss is α·T²·KL(pₜ^T ‖ pₛ^T) + (1 − α)·CE over the masked positions only (weight 1 each, the fused
/// <see cref="DistillationLoss.Dense"/>), plus the student's next-sentence cross-entropy in full, as
/// <see cref="MaskedLmObjective"/> adds it (the teacher does not teach NSP). α = 0 is exactly
/// <see cref="MaskedLmObjective"/>'s loss (the teacher is not run).</summary>
/// <remarks>Student and teacher may differ in depth, width and heads; they share the vocabulary and its special ids.
/// The teacher's forward records on a tape of its own, rewound at the next micro-batch, as in
/// <see cref="LogitDistillationObjective"/>. Validation scores the student alone with <see cref="MaskedLmObjective"/>.</remarks>
public sealed class MaskedLmDistillationObjective : ITrainingObjective, IDisposable
{
    readonly Tape _teacherTape = new();
    readonly BertPretrainingBatch _data;
    int[] _rows = [], _labels = [];   // reused: the masked positions and their labels
    double _klSum, _ceSum, _nspSum;
    int _microBatches;

    /// <param name="student">The student's config: the masking draws from it (vocabulary, special ids).</param>
    /// <param name="teacher">The teacher, frozen here.</param>
    public MaskedLmDistillationObjective(ModelConfig student, BertModel teacher, float alpha, float temperature)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        Alpha = DistillationSettings.Alpha(alpha);
        Temperature = DistillationSettings.Temperature(temperature);
        var t = teacher.Config;
        if ((student.VocabSize, student.ClsId, student.SepId, student.MaskId, student.PadId) != (t.VocabSize, t.ClsId, t.SepId, t.MaskId, t.PadId))
            throw new InvalidDataException($"distillation: the student's vocabulary ({student.VocabSize} ids, [CLS] {student.ClsId} [SEP] {student.SepId} [MASK] {student.MaskId} [PAD] {student.PadId}) " +
                $"differs from the teacher's ({t.VocabSize}, {t.ClsId} {t.SepId} {t.MaskId} {t.PadId})");
        Teacher = DistillationSettings.Freeze(teacher);
        _data = new BertPretrainingBatch(student);
        ValidationObjective = new MaskedLmObjective(student);
    }

    public BertModel Teacher { get; }
    public float Alpha { get; }
    public float Temperature { get; }
    public string Name => "masked-lm-distillation";
    public ITrainingObjective ValidationObjective { get; }

    /// <summary>The student's forward plus a third of the teacher's (training ≈ 3× this, the teacher runs forward only).</summary>
    public double ForwardFlopsPerToken(LanguageModel model, int T)
    {
        int S = BertPretrainingBatch.SequenceLength(T);
        double student = ((BertModel)model).ForwardFlopsPerToken(S, BertPretrainingBatch.MaskFraction);
        return student + (Alpha > 0 ? Teacher.ForwardFlopsPerToken(S, BertPretrainingBatch.MaskFraction) / 3 : 0);
    }

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        var student = (BertModel)model;
        _data.Build(batch.Inputs, batch.Targets, batch.B, batch.T, batch.Seed);
        int B = batch.B, T = _data.Length;
        var mlmLabels = _data.MlmLabels;
        if (_rows.Length < B * T) { _rows = new int[B * T]; _labels = new int[B * T]; }
        int m = 0;
        for (int i = 0; i < mlmLabels.Length; i++)
            if (mlmLabels[i] != BertModel.IgnoreLabel) { _rows[m] = i; _labels[m] = mlmLabels[i]; m++; }
        var rows = _rows.AsSpan(0, m);
        var labels = _labels.AsSpan(0, m);

        var hidden = student.Encode(_data.Ids, _data.TokenTypes, default, B, T);          // (B·T, C)
        var nsp = Ops.CrossEntropy(student.NextSentenceLogits(hidden, B, T), _data.NspLabels);
        _nspSum += nsp.Item();
        _microBatches++;
        if (m == 0) return nsp;
        var logits = student.MaskedLmLogits(Ops.Embedding(hidden, rows));                  // (M, V)
        if (Alpha == 0f) return Ops.Add(Ops.CrossEntropy(logits, labels), nsp);            // MaskedLmObjective's loss
        var teacherLogits = TeacherLogits(rows, B, T);                                     // (M, V), no gradient
        var loss = DistillationLoss.Dense(logits, teacherLogits, labels, default, Alpha, Temperature, out var terms);
        _klSum += terms.Kl;
        _ceSum += terms.CrossEntropy;
        return Ops.Add(loss, nsp);
    }

    // The teacher's MLM logits at the masked rows of the batch _data holds, on its own tape; valid until the next call.
    Tensor TeacherLogits(ReadOnlySpan<int> rows, int B, int T)
    {
        _teacherTape.Reset();
        using (_teacherTape.Activate())
        using (Tape.NoGrad())
        {
            var hidden = Teacher.Encode(_data.Ids, _data.TokenTypes, default, B, T);       // (B·T, Cₜ)
            return Teacher.MaskedLmLogits(Ops.Embedding(hidden, rows));                    // (M, V)
        }
    }

    public IReadOnlyList<KeyValuePair<string, double>>? TakeStepMetrics()
    {
        if (_microBatches == 0) return null;
        var figures = new List<KeyValuePair<string, double>>(3)
        {
            new("distill/kl", _klSum / _microBatches), new("distill/ce", _ceSum / _microBatches), new("distill/nsp", _nspSum / _microBatches),
        };
        _klSum = _ceSum = _nspSum = 0;
        _microBatches = 0;
        return figures;
    }

    public void Dispose() => _teacherTape.Dispose();
}

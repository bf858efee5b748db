using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Compression.Distillation;

/// <summary>Logit distillation from a frozen teacher decoder (Hinton et al. 2015): for each micro-batch the teacher
/// runs forward on the same inputs without a tape of the student's, and the student's loss is
/// α·T²·KL(pₜ^T ‖ pₛ^T) + (1 − α)·CE(student, targets), the mean over the targets (weighted by
/// <see cref="TrainingBatch.Weights"/> as <see cref="CausalLmObjective"/> is), plus the student's auxiliary losses.
/// Student and teacher may differ in depth and width; they must share the vocabulary. α = 0 is exactly
/// <see cref="CausalLmObjective"/>'s loss and gradient (the teacher is then not run).</summary>
/// <remarks>The teacher's forward records on a tape of its own, rewound at the next micro-batch: its logits stay
/// valid through the student's backward, and its activations reuse the same memory step after step. Validation
/// scores the student alone (<see cref="ValidationObjective"/>), so a distilled run's validation loss compares with
/// a run trained from scratch.</remarks>
public sealed class LogitDistillationObjective : ITrainingObjective, IDisposable
{
    readonly Tape _teacherTape = new();
    double _klSum, _ceSum;
    int _microBatches;

    /// <param name="teacher">The teacher, frozen here (its parameters stop requiring gradients; it may hold quantized weights).</param>
    /// <param name="alpha">Weight of the distillation term, in [0, 1]; 1 − α weighs the hard-label cross-entropy.</param>
    /// <param name="temperature">The softmax temperature T &gt; 0 of both distributions in the KL term.</param>
    public LogitDistillationObjective(CausalLM teacher, float alpha, float temperature) : this(teacher, alpha, temperature, null) { }

    /// <param name="hidden">Hidden-state matching added to the loss (its weight inside), or null. Its projection, if
    /// any, must be in the trainer's trainable set.</param>
    public LogitDistillationObjective(CausalLM teacher, float alpha, float temperature, HiddenStateMatching? hidden)
        : this(teacher, alpha, temperature, hidden, null) { }

    /// <param name="attention">Attention-map matching added to the loss (its weight inside), or null.</param>
    public LogitDistillationObjective(CausalLM teacher, float alpha, float temperature, HiddenStateMatching? hidden, AttentionMapMatching? attention)
    {
        Hidden = hidden;
        Attention = attention;
        Teacher = DistillationSettings.Freeze(teacher);
        Alpha = DistillationSettings.Alpha(alpha);
        Temperature = DistillationSettings.Temperature(temperature);
    }

    public CausalLM Teacher { get; }
    /// <summary>Hidden-state matching, or null.</summary>
    public HiddenStateMatching? Hidden { get; }
    /// <summary>Attention-map matching, or null.</summary>
    public AttentionMapMatching? Attention { get; }
    readonly List<Tensor> _studentLayers = [], _teacherLayers = [];
    readonly List<AttentionCapture> _studentAttention = [], _teacherAttention = [];
    double _hiddenSum, _attentionSum;
    public float Alpha { get; }
    public float Temperature { get; }

    public string Name => "logit-distillation";

    /// <summary>The student's forward, backward and the teacher's forward, in student-forward units (training ≈ 3× this).</summary>
    public double ForwardFlopsPerToken(LanguageModel model, int T) =>
        ((CausalLM)model).ForwardFlopsPerToken(T) + (Alpha > 0 ? Teacher.ForwardFlopsPerToken(T) / 3 : 0);

    public ITrainingObjective ValidationObjective { get; } = new CausalLmObjective();

    public bool MeanOverWeights => true;

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        var student = (CausalLM)model;
        if (student.Config.VocabSize != Teacher.Config.VocabSize)
            throw new InvalidDataException($"distillation: the student's vocabulary ({student.Config.VocabSize}) differs from the teacher's ({Teacher.Config.VocabSize})");
        if (Hidden is not null) { _studentLayers.Clear(); student.CapturedLayers = _studentLayers; }
        if (Attention is not null) { _studentAttention.Clear(); student.CapturedAttention = _studentAttention; }
        Tensor logits;
        try { logits = student.Logits(batch.Inputs, batch.B, batch.T); }   // (B·T, V)
        finally { student.CapturedLayers = null; student.CapturedAttention = null; }
        if (Alpha == 0f && Hidden is null && Attention is null) return student.AddAuxiliaryLosses(Ops.CrossEntropy(logits, batch.Targets, batch.Weights));   // from scratch, bit for bit
        var teacherLogits = TeacherLogits(batch.Inputs, batch.B, batch.T);            // (B·T, V), no gradient
        Tensor loss;
        if (Alpha == 0f) loss = Ops.CrossEntropy(logits, batch.Targets, batch.Weights);
        else
        {
            loss = DistillationLoss.Dense(logits, teacherLogits, batch.Targets, batch.Weights, Alpha, Temperature, out var terms);
            _klSum += terms.Kl;
            _ceSum += terms.CrossEntropy;
        }
        if (Hidden is not null)
        {
            var term = Hidden.Term(_studentLayers, _teacherLayers);
            _hiddenSum += term.Item();
            loss = Ops.Add(loss, term);
        }
        if (Attention is not null)
        {
            var term = Attention.Term(_studentAttention, _teacherAttention);
            _attentionSum += term.Item();
            loss = Ops.Add(loss, term);
        }
        _microBatches++;
        return student.AddAuxiliaryLosses(loss);
    }

    /// <summary>The teacher's logits (B·T, V) of <paramref name="inputs"/>, on the teacher's own tape; valid until the
    /// next call.</summary>
    internal Tensor TeacherLogits(ReadOnlySpan<int> inputs, int B, int T)
    {
        _teacherTape.Reset();
        if (Hidden is not null) { _teacherLayers.Clear(); Teacher.CapturedLayers = _teacherLayers; }
        if (Attention is not null) { _teacherAttention.Clear(); Teacher.CapturedAttention = _teacherAttention; }
        try
        {
            using (_teacherTape.Activate())
            using (Tape.NoGrad())
                return Teacher.Logits(inputs, B, T);
        }
        finally { Teacher.CapturedLayers = null; Teacher.CapturedAttention = null; }
    }

    public IReadOnlyList<KeyValuePair<string, double>>? TakeStepMetrics()
    {
        if (_microBatches == 0) return null;
        // A new list per step: the metrics log keeps it (one small object per step, not per token).
        var figures = new List<KeyValuePair<string, double>>(4) { new("distill/kl", _klSum / _microBatches), new("distill/ce", _ceSum / _microBatches) };
        if (Hidden is not null) figures.Add(new("distill/hidden", _hiddenSum / _microBatches));
        if (Attention is not null) figures.Add(new("distill/attention", _attentionSum / _microBatches));
        _klSum = _ceSum = _hiddenSum = _attentionSum = 0;
        _microBatches = 0;
        return figures;
    }

    public void Dispose() => _teacherTape.Dispose();
}

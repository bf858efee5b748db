using Lathe.Models;
using Lathe.Tensors;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Compression.Distillation;

/// <summary>Sparse logit distillation from a top-k file (no teacher in the process): each micro-batch's
/// <see cref="TrainingBatch.Extra"/> is its <see cref="TopKBatch"/> (see <see cref="TopKBatchSource"/>), and the loss is
/// α·T²·KL over K + 1 buckets (the K ids and the rest) + (1 − α)·CE, as <see cref="DistillationLoss.Sparse"/>.
/// The temperature is the file's.</summary>
public sealed class TopKDistillationObjective(float alpha, float temperature) : ITrainingObjective
{
    double _klSum, _ceSum;
    int _microBatches;

    public float Alpha { get; } = DistillationSettings.Alpha(alpha);
    public float Temperature { get; } = DistillationSettings.Temperature(temperature);

    public string Name => "topk-distillation";

    public double ForwardFlopsPerToken(LanguageModel model, int T) => ((CausalLM)model).ForwardFlopsPerToken(T);

    public ITrainingObjective ValidationObjective { get; } = new CausalLmObjective();

    public bool MeanOverWeights => true;

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        var student = (CausalLM)model;
        if (batch.Extra is not TopKBatch top)
            throw new InvalidOperationException("top-k distillation: the batch carries no top-k teacher (use TopKBatchSource)");
        var logits = student.Logits(batch.Inputs, batch.B, batch.T);   // (B·T, V)
        var loss = DistillationLoss.Sparse(logits, top.Teacher, batch.Targets, batch.Weights, Alpha, Temperature, out var terms);
        _klSum += terms.Kl;
        _ceSum += terms.CrossEntropy;
        _microBatches++;
        return student.AddAuxiliaryLosses(loss);
    }

    public IReadOnlyList<KeyValuePair<string, double>>? TakeStepMetrics()
    {
        if (_microBatches == 0) return null;
        var figures = new KeyValuePair<string, double>[] { new("distill/kl", _klSum / _microBatches), new("distill/ce", _ceSum / _microBatches) };
        _klSum = _ceSum = 0;
        _microBatches = 0;
        return figures;
    }
}

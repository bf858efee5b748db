using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Training.Objectives;

/// <summary>Turns a batch into a scalar loss on the active tape. A model computes hidden states and logits; the
/// objective decides what is predicted and how it is scored (causal LM, masked LM + next sentence, span corruption,
/// and later SFT, reward ranking, DPO, PPO, distillation). The trainer calls it once per micro-batch and runs the
/// backward pass from what it returns.</summary>
public interface ITrainingObjective
{
    /// <summary>A short name for logs and metrics ("causal-lm", "masked-lm+nsp", …).</summary>
    string Name { get; }

    /// <summary>The scalar loss of <paramref name="batch"/> under <paramref name="model"/>.</summary>
    Tensor Loss(LanguageModel model, in TrainingBatch batch);

    /// <summary>Matmul FLOPs of one forward pass per corpus token of B×T batches under this objective (training ≈ 3×
    /// this), for throughput and MFU figures: what runs depends on the objective as much as on the model.</summary>
    double ForwardFlopsPerToken(LanguageModel model, int T);

    /// <summary>The objective's own figures for the step that just ended, averaged over its micro-batches (DPO's
    /// rewards/chosen, rewards/accuracies, …), which the trainer writes into metrics.jsonl beside the loss; taking them
    /// starts the next step's averages. Null when the objective has none.</summary>
    IReadOnlyList<KeyValuePair<string, double>>? TakeStepMetrics() => null;

    /// <summary>True when the loss is the weighted mean Σ wᵢ·ℓᵢ / Σ wᵢ over the batch's loss weights: a data-parallel run
    /// then weighs each rank's loss by its share of the weights, so K ranks give the mean one process would over all their
    /// rows (not a mean of the ranks' means).</summary>
    bool MeanOverWeights => false;

    /// <summary>The objective validation loss is scored by: this one, unless its training loss mixes in what a
    /// validation figure should not (distillation's teacher term: its runs report the student's own next-token loss,
    /// comparable with a run trained from scratch).</summary>
    ITrainingObjective ValidationObjective => this;
}

/// <summary>The pre-training objective of each architecture.</summary>
public static class PretrainingObjective
{
    /// <summary>Causal LM for decoders, masked LM + next-sentence prediction for BERT, span corruption for T5;
    /// a BERT classifier's is sequence classification.</summary>
    public static ITrainingObjective For(LanguageModel model) => model switch
    {
        CausalLM => new CausalLmObjective(),
        BertModel bert => new MaskedLmObjective(bert.Config),
        BertClassifier => new SequenceClassificationObjective(),   // a classifier's own objective (it has no pre-training heads)
        T5Model => new SpanCorruptionObjective(),
        _ => throw new InvalidDataException($"config: model_type: '{model.Config.ModelType}' has no pre-training objective"),
    };
}

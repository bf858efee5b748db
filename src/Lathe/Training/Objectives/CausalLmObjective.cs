using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Training.Objectives;

/// <summary>Next-token prediction: the (optionally weighted) mean cross-entropy of each target given the inputs
/// before it, plus, in training passes, the auxiliary losses the model's layers report (Mixture-of-Experts load
/// balancing). With per-target weights it is SFT's masked loss: Σ wᵢ·ℓᵢ / Σ wᵢ.</summary>
public sealed class CausalLmObjective : ITrainingObjective
{
    public string Name => "causal-lm";

    public double ForwardFlopsPerToken(LanguageModel model, int T) => ((CausalLM)model).ForwardFlopsPerToken(T);

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        var decoder = (CausalLM)model;
        var logits = decoder.Logits(batch.Inputs, batch.B, batch.T);             // (B·T, V)
        var loss = Ops.CrossEntropy(logits, batch.Targets, batch.Weights);
        return decoder.AddAuxiliaryLosses(loss);
    }
}

using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tuning;

namespace Lathe.Training.Objectives;

/// <summary>Supervised fine-tuning: next-token cross-entropy over the trainable targets only (an assistant's replies
/// and their end-of-turn markers), Σ wᵢ·ℓᵢ / Σ wᵢ, through a tuning method's input embeddings when one is attached.
/// Targets of weight 0 (or −100) contribute exactly nothing to the loss or to any gradient.</summary>
/// <remarks>With prompt tuning the method puts P virtual rows before every sequence: the model runs over P + T
/// positions and the first P logit rows of each row predict nothing (their targets are the ignore index). Packed rows
/// (the batch's <see cref="TrainingBatch.Extra"/> is a <see cref="PackedLayout"/>) go to the model, which keeps each
/// example to itself; virtual tokens and packing do not combine (the virtual rows would belong to no example).</remarks>
public sealed class SftObjective : ITrainingObjective
{
    readonly ITuningMethod? _method;
    int[] _targets = [];     // (B, P+T) when P > 0, reused from step to step
    float[] _weights = [];

    /// <param name="method">The tuning method whose embeddings feed the model; null for the plain model.</param>
    public SftObjective(ITuningMethod? method = null) => _method = method;

    public string Name => "sft";

    /// <inheritdoc/>
    public bool MeanOverWeights => true;

    public double ForwardFlopsPerToken(LanguageModel model, int T) => ((CausalLM)model).ForwardFlopsPerToken(T + (_method?.VirtualTokens ?? 0));

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        var decoder = (CausalLM)model;
        int B = batch.B, T = batch.T, P = _method?.VirtualTokens ?? 0;
        var layout = batch.Extra as PackedLayout;
        if (P > 0 && layout is not null)
            throw new NotSupportedException($"sft: {_method!.Name} adds {P} virtual tokens per row, which packed rows cannot share; use padded rows.");
        var embeddings = _method?.Embed(batch.Inputs, B, T) ?? decoder.Embed(batch.Inputs, B, T);   // (B, P+T, C)
        var logits = decoder.Logits(embeddings, B, P + T, layout);                                  // (B·(P+T), V)
        Tensor loss;
        if (P == 0) loss = Ops.CrossEntropy(logits, batch.Targets, batch.Weights);
        else
        {
            // The virtual rows predict nothing: their targets are the ignore index and their weights 0.
            int n = B * (P + T);
            if (_targets.Length != n) { _targets = new int[n]; _weights = new float[n]; }
            for (int b = 0; b < B; b++)
            {
                int row = b * (P + T);
                _targets.AsSpan(row, P).Fill(-100);
                _weights.AsSpan(row, P).Clear();
                batch.Targets.Slice(b * T, T).CopyTo(_targets.AsSpan(row + P, T));
                if (batch.Weights.IsEmpty) _weights.AsSpan(row + P, T).Fill(1f);
                else batch.Weights.Slice(b * T, T).CopyTo(_weights.AsSpan(row + P, T));
            }
            loss = Ops.CrossEntropy(logits, _targets, _weights);
        }
        return decoder.AddAuxiliaryLosses(loss);
    }
}

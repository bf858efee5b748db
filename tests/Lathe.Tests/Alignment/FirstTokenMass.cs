using Lathe.Alignment;
using Lathe.Inference;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Alignment;

/// <summary>The exact expected reward of a first-token rule under a policy — the oracle of the PPO and rejection
/// sampling tests: Σ over rewarded ids of softmax(logits at each rendered prompt's last position), averaged over the
/// prompts, from the model's full forward (no sampling).</summary>
internal static class FirstTokenMass
{
    public static double Of(LoadedModel policy, RolloutGenerator generator, IReadOnlyList<AlignmentPrompt> prompts, Func<int, bool> rewarded)
    {
        int vocab = policy.Decoder.Config.VocabSize;
        double total = 0;
        using var tape = new Tape();
        foreach (var p in prompts)
        {
            int[] ids = generator.EncodePrompt(p.Prompt);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = policy.Decoder.Logits(ids, 1, ids.Length).AsSpan().Slice((ids.Length - 1) * vocab, vocab);
                double max = double.NegativeInfinity, z = 0, mass = 0;
                foreach (float x in logits) max = Math.Max(max, x);
                for (int v = 0; v < vocab; v++)
                {
                    double e = Math.Exp(logits[v] - max);
                    z += e;
                    if (rewarded(v)) mass += e;
                }
                total += mass / z;
            }
        }
        return total / prompts.Count;
    }
}

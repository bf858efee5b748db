using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Training;

/// <summary>The loss of a model's objective over a token stream, in non-overlapping windows, without gradients:
/// next-token loss for a decoder; for an encoder or encoder-decoder, its own objective with random choices fixed by
/// the window's position, so two evaluations of one model agree.</summary>
public static class LossEvaluator
{
    /// <summary>Sum of per-token losses (nats) and the number of predicted tokens over windows of
    /// <paramref name="T"/> tokens (B rows at a time; the tail shorter than a window is scored as one shorter row).
    /// <paramref name="maxBatches"/> &gt; 0 stops early;
    /// <paramref name="objective"/> null scores the model's pre-training objective.</summary>
    public static (double SumNats, long Tokens) Evaluate(LanguageModel model, ReadOnlySpan<int> tokens, int B, int T, int maxBatches = 0, Tape? tape = null,
        ITrainingObjective? objective = null)
    {
        objective ??= PretrainingObjective.For(model);
        bool ownTape = tape is null;
        tape ??= new Tape();
        double sum = 0;
        long count = 0;
        var inputs = new int[B * T];
        var targets = new int[B * T];
        try
        {
            int pos = 0, batches = 0, predictable = tokens.Length - 1;
            while (pos + T <= predictable && (maxBatches <= 0 || batches < maxBatches))
            {
                int rows = Math.Min(B, (predictable - pos) / T);
                for (int b = 0; b < rows; b++)
                {
                    tokens.Slice(pos + b * T, T).CopyTo(inputs.AsSpan(b * T, T));
                    tokens.Slice(pos + b * T + 1, T).CopyTo(targets.AsSpan(b * T, T));
                }
                sum += Score(model, objective, inputs.AsSpan(0, rows * T), targets.AsSpan(0, rows * T), rows, T, (ulong)pos, tape);
                count += rows * T;
                pos += rows * T;
                batches++;
            }
            int tail = predictable - pos;
            if (tail > 0 && (maxBatches <= 0 || batches < maxBatches))
            {
                sum += Score(model, objective, tokens.Slice(pos, tail), tokens.Slice(pos + 1, tail), 1, tail, (ulong)pos, tape);
                count += tail;
            }
        }
        finally { if (ownTape) tape.Dispose(); }
        return (sum, count);
    }

    static double Score(LanguageModel model, ITrainingObjective objective, ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int B, int T, ulong position, Tape tape)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
            return (double)objective.Loss(model, new TrainingBatch(inputs, targets, B, T, Hash64.Mix(position))).Item() * B * T;
    }
}

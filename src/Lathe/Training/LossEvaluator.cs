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
    /// <remarks>With <paramref name="ranks"/> &gt; 1 this rank scores only batches rank, rank + ranks, … (the tail counts
    /// as one batch); the caller adds the ranks' sums.</remarks>
    /// <param name="onBatch">Hears each scored batch's index and loss sum (so ranks can add their batches in batch order).</param>
    public static (double SumNats, long Tokens) Evaluate(LanguageModel model, ReadOnlySpan<int> tokens, int B, int T, int maxBatches = 0, Tape? tape = null,
        ITrainingObjective? objective = null, int rank = 0, int ranks = 1, Action<int, double>? onBatch = null)
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
                if (batches % ranks == rank)
                {
                    double score = Score(model, objective, inputs.AsSpan(0, rows * T), targets.AsSpan(0, rows * T), rows, T, (ulong)pos, tape);
                    onBatch?.Invoke(batches, score);
                    sum += score;
                    count += rows * T;
                }
                pos += rows * T;
                batches++;
            }
            int tail = predictable - pos;
            if (tail > 0 && (maxBatches <= 0 || batches < maxBatches) && batches % ranks == rank)
            {
                double score = Score(model, objective, tokens.Slice(pos, tail), tokens.Slice(pos + 1, tail), 1, tail, (ulong)pos, tape);
                onBatch?.Invoke(batches, score);
                sum += score;
                count += tail;
            }
        }
        finally { if (ownTape) tape.Dispose(); }
        return (sum, count);
    }

    /// <summary>The weighted loss over a source of examples (fine-tuning validation): Σ over batches of the objective's
    /// weighted mean × that batch's weight sum, and the weight sum Σ wᵢ (the trainable targets) — so sum / weight is
    /// the mean over every trainable token, however the examples fall into batches. Reads from position 0 either one
    /// whole pass (<see cref="IExampleBatchSource.BatchesPerPass"/>) or <paramref name="maxBatches"/> batches when the
    /// source cannot say; the source's position is restored afterwards. Buffers come from the caller.</summary>
    public static (double SumNats, double Weight) Evaluate(LanguageModel model, IExampleBatchSource source, int B, int T, int maxBatches,
        Tape tape, ITrainingObjective objective, int[] inputs, int[] targets, float[] weights, int rank = 0, int ranks = 1)
    {
        long saved = source.Position;
        source.Position = 0;
        int batches = source.BatchesPerPass(B, T);
        if (batches <= 0) batches = maxBatches;
        double sum = 0, weight = 0;
        try
        {
            for (int i = 0; i < batches; i++)
            {
                var layout = source.Next(inputs, targets, weights, B, T);
                if (i % ranks != rank) continue;   // another rank's batch
                double w = 0;
                for (int j = 0; j < B * T; j++) if (targets[j] != -100) w += weights[j];
                if (w == 0) continue;
                tape.Reset();
                using (tape.Activate())
                using (Tape.NoGrad())
                    sum += (double)objective.Loss(model, new TrainingBatch(inputs, targets, B, T, Hash64.Mix((ulong)i), weights, layout)).Item() * w;
                weight += w;
            }
        }
        finally { source.Position = saved; }
        return (sum, weight);
    }

    static double Score(LanguageModel model, ITrainingObjective objective, ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int B, int T, ulong position, Tape tape)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
            return (double)objective.Loss(model, new TrainingBatch(inputs, targets, B, T, Hash64.Mix(position))).Item() * B * T;
    }
}

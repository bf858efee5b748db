using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Training;

namespace Lathe.Compression.Distillation;

/// <summary>Runs a teacher once over a run's training batches, in the order the trainer will read them, and writes
/// each target position's top-k log-probabilities to a <see cref="TopKFile"/>.</summary>
public static class TopKRecorder
{
    /// <summary>Reads <paramref name="header"/>.MicroBatches batches of (B, T) from <paramref name="source"/> (from its
    /// current position), runs <paramref name="teacher"/> on each without gradients and writes the file atomically.</summary>
    public static void Record(CausalLM teacher, IBatchSource source, TopKHeader header, string path, IProgress<long>? progress = null)
    {
        int B = header.BatchSize, T = header.BlockSize, V = teacher.Config.VocabSize, K = header.K;
        if (V != header.VocabSize) throw new ArgumentException($"top-k: the teacher's vocabulary {V} differs from the header's {header.VocabSize}");
        var inputs = new int[B * T];
        var targets = new int[B * T];
        var selection = new TopKSelection(V, K);
        using var tape = new Tape();
        TopKFile.Write(path, header, (_, ids, logProbs, rest) =>
        {
            source.Next(inputs, targets, B, T);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = teacher.Logits(inputs, B, T).AsSpan();   // (B·T, V)
                for (int r = 0; r < B * T; r++)
                    rest[r] = selection.Select(logits.Slice(r * V, V), header.Temperature, ids.AsSpan(r * K, K), logProbs.AsSpan(r * K, K));
            }
            return TopKFile.InputsHash(inputs);
        }, progress);
    }
}

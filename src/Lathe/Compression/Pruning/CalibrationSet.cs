using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Compression.Pruning;

/// <summary>Calibration text for the activation and Taylor scores and for the before/after perplexity: the first
/// N + 1 tokens of a shard folder's training ranges (not its validation ranges, which `eval loss` reads), cut into
/// windows of T tokens scored B at a time.</summary>
public sealed class CalibrationSet
{
    /// <summary>Rows per batch of the calibration passes.</summary>
    public const int BatchRows = 4;

    /// <summary>N + 1 tokens: N predicted positions.</summary>
    public int[] Tokens { get; }
    /// <summary>Window length (min(context, 256)).</summary>
    public int T { get; }

    public CalibrationSet(int[] tokens, int contextLength)
    {
        if (tokens.Length < 2) throw new ArgumentException("calibration: at least 2 tokens are needed.");
        Tokens = tokens;
        T = Math.Min(Math.Min(contextLength, 256), tokens.Length - 1);
    }

    /// <summary>Reads <paramref name="count"/> + 1 tokens from the training shards of <paramref name="dir"/>; fewer is a
    /// one-line error naming the folder and --calib-tokens; ids outside the vocabulary are refused by name.</summary>
    public static CalibrationSet Read(string dir, int count, ModelConfig config)
    {
        if (count < 1) throw new ArgumentException($"prune: --calib-tokens {count} must be positive.");
        var data = ShardFolder.Open(dir);
        if (data.TrainTokens < count + 1L)
            throw new InvalidDataException($"prune: --calibration {dir} holds {data.TrainTokens} training tokens, fewer than --calib-tokens {count} needs ({count + 1}).");
        data.CheckTokenIds(config.VocabSize, $"vocab_size {config.VocabSize} of the model");
        var tokens = new int[count + 1];
        int o = 0;
        foreach (var r in data.Train)
        {
            if (o == tokens.Length) break;
            int take = (int)Math.Min(r.Count, tokens.Length - o);
            using var shard = TokenShard.Open(r.Path);
            shard.Read(r.Start, tokens.AsSpan(o, take));
            o += take;
        }
        return new CalibrationSet(tokens, config.MaxPositions);
    }

    /// <summary>Mean next-token loss (nats) of <paramref name="model"/> on the calibration tokens.</summary>
    public double Loss(CausalLM model)
    {
        var (sum, count) = LossEvaluator.Evaluate(model, Tokens, BatchRows, T);
        return sum / count;
    }

    /// <summary>Runs the calibration windows through <paramref name="model"/> without gradients (for the activation
    /// recorders attached to its layers).</summary>
    public void Forward(CausalLM model) => LossEvaluator.Evaluate(model, Tokens, BatchRows, T);

    /// <summary>Leaves ∂L/∂w of the mean calibration loss in every parameter's gradient (full windows only, each batch
    /// weighted by its share of the windows). The caller releases the gradients.</summary>
    public void Gradients(CausalLM model)
    {
        int windows = (Tokens.Length - 1) / T;
        if (windows == 0) throw new InvalidDataException($"calibration: {Tokens.Length} tokens make no window of {T}.");
        foreach (var p in model.Parameters) { p.Value.RequiresGrad = true; p.Value.ZeroGrad(); }
        var objective = new CausalLmObjective();
        var inputs = new int[BatchRows * T];
        var targets = new int[BatchRows * T];
        using var tape = new Tape();
        for (int w = 0; w < windows; w += BatchRows)
        {
            int rows = Math.Min(BatchRows, windows - w);
            for (int b = 0; b < rows; b++)
            {
                Tokens.AsSpan((w + b) * T, T).CopyTo(inputs.AsSpan(b * T, T));
                Tokens.AsSpan((w + b) * T + 1, T).CopyTo(targets.AsSpan(b * T, T));
            }
            tape.Reset();
            using (tape.Activate())
            {
                var loss = objective.Loss(model, new TrainingBatch(inputs.AsSpan(0, rows * T), targets.AsSpan(0, rows * T), rows, T, 0));
                tape.Backward(loss, (float)rows / windows);
            }
        }
    }
}

using Lathe.Models;
using Lathe.Training;

namespace Lathe.Compression.Pruning;

/// <summary>Recovery after pruning: a short causal-LM fine-tune of the pruned model on token shards through the one
/// <see cref="Trainer"/> (the batch source and checks of a resumed pre-training run, <see cref="PretrainSetup.ForResume"/>).
/// With a sparsity mask, the pruned weights are zeroed again after every update, so the pattern survives (the
/// optimizer's moments for them are kept but never reach the weights). Recovery by distillation from the unpruned
/// model is `lathe distill --teacher UNPRUNED --student PRUNED`, not this.</summary>
public static class PruneRecovery
{
    /// <summary>Runs <paramref name="options"/>.Steps updates on <paramref name="model"/> (in place); returns the mean
    /// training loss of the last update. <paramref name="sourceDir"/> is the checkpoint whose tokenizer the shards must fit.</summary>
    public static float Run(CausalLM model, SparsityMask? mask, string dataDir, string sourceDir, TrainingOptions options, Action<int, float>? onStep = null)
    {
        var setup = PretrainSetup.ForResume(model.Config, dataDir, sourceDir);
        model.Config.ValidateContext(options.BlockSize);
        using var source = setup.CreateBatchSource(options);
        if (source.WindowCount < (long)options.BatchSize * options.GradAccum)
            throw new InvalidDataException($"prune: --data {dataDir} holds {source.WindowCount} training windows of {options.BlockSize + 1} tokens, fewer than one recovery step takes.");
        using var trainer = new Trainer(model, options with { EvalEvery = 0, CheckpointEvery = 0 }, source, null, runDir: null, tokenizerJson: null);
        float loss = float.NaN;
        while (trainer.Step < options.Steps)
        {
            loss = trainer.TrainStep();
            mask?.Apply();
            onStep?.Invoke(trainer.Step, loss);
        }
        return loss;
    }
}

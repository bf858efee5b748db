using Lathe.Data;
using Lathe.Models;
using Lathe.Training;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>A `data prepare` folder (token shards, manifest.json, tokenizer.json) as `pretrain --data DIR` reads it:
/// <see cref="PretrainSetup.ForNewRun"/> (shard headers, manifest against shards and tokenizer, token ids against
/// the vocabulary), a batch of windows from the memory-mapped shards, and the validation tokens. Seed: the folder
/// <see cref="CorpusPipeline.Prepare"/> writes from a few paragraphs.</summary>
internal sealed class ShardsTarget : FuzzTarget
{
    public override string Name => "shards";

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir)
    {
        var tokenizer = FuzzSeeds.Bpe();
        var docs = Enumerable.Range(0, 40).Select(i => new Document($"d{i}", $"{i}: " + FuzzSeeds.Text[(i * 11 % 200)..]));
        CorpusPipeline.Prepare(docs, tokenizer, workDir, new PrepareOptions
        {
            Threads = 1, NearDedup = false, ExactDedup = false, ValidationFraction = 0.1, Cleaning = CleaningOptions.Default with { QualityFilter = false },
        });
        var files = FuzzSeeds.ReadFolder(workDir);
        var mutable = files.Keys.ToDictionary(f => f, f => f.EndsWith(".bin", StringComparison.Ordinal) ? ShardMutators.All : (IReadOnlyList<Mutator>)JsonMutators.All);
        return [new FuzzSeed("prepared", files, mutable)];
    }

    public override void Run(string caseDir, FuzzSeed seed)
    {
        var setup = PretrainSetup.ForNewRun(ModelConfig.FromPresetOrFile("gpt2-tiny"), caseDir, vocabSizeGiven: false);
        const int B = 2, T = 8;
        using (var source = setup.CreateBatchSource(new TrainingOptions { BatchSize = B, BlockSize = T }))
        {
            Span<int> inputs = stackalloc int[B * T], targets = stackalloc int[B * T];
            source.Next(inputs, targets, B, T);
        }
        _ = setup.Data.ReadValidation(B * T + 1);
    }
}

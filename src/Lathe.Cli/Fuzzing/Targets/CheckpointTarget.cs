using Lathe.Formats;
using Lathe.Inference;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>A checkpoint folder as `generate --model DIR` opens it (<see cref="ModelLoader.Load"/>, then one forward),
/// with one of its files damaged: model.safetensors ("safetensors") or config.json ("config"). Seeds: a tiny GPT-2
/// and a tiny Llama written by <see cref="Checkpoint.SaveModel"/>, each with a trained BPE tokenizer.json.</summary>
internal sealed class CheckpointTarget(string name, string damagedFile, IReadOnlyList<Mutator> mutators) : FuzzTarget
{
    public override string Name => name;

    public static CheckpointTarget Safetensors() => new("safetensors", Checkpoint.ModelFile, SafetensorsMutators.All);

    public static CheckpointTarget Config() => new("config", Checkpoint.ConfigFile, JsonMutators.All);

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir)
    {
        var tokenizer = FuzzSeeds.Bpe();
        return [Seed("gpt2", FuzzSeeds.Gpt2), Seed("llama", FuzzSeeds.Llama)];

        FuzzSeed Seed(string seedName, Models.ModelConfig config) =>
            new(seedName, FuzzSeeds.ReadFolder(FuzzSeeds.WriteCheckpoint(Path.Combine(workDir, seedName), config, tokenizer)),
                new Dictionary<string, IReadOnlyList<Mutator>> { [damagedFile] = mutators });
    }

    public override void Run(string caseDir, FuzzSeed seed)
    {
        using var loaded = ModelLoader.Load(caseDir);
        FuzzSeeds.Forward(loaded);
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.IO;

namespace Lathe.Training;

/// <summary>trainer_state.json: everything besides weights and moments that a run needs to continue exactly.</summary>
public sealed record TrainerState
{
    [JsonPropertyName("step")] public int Step { get; init; }
    /// <summary>The batch source's <see cref="IBatchSource.Position"/>; for shards (<see cref="ShardBatchSource"/>)
    /// epoch · windows per epoch + window, so one number restores the loader's shuffled order and place.</summary>
    [JsonPropertyName("data_position")] public long DataPosition { get; init; }
    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; init; }
    [JsonPropertyName("rng_seed")] public ulong RngSeed { get; init; }
    [JsonPropertyName("rng_counter")] public ulong RngCounter { get; init; }
    [JsonPropertyName("rng_used")] public int RngUsed { get; init; }
    [JsonPropertyName("last_val_loss")] public double? LastValidationLoss { get; init; }
    /// <summary>The ranks the run had when this was saved (its global batch is batch_size × ranks); 1 for one process.</summary>
    [JsonPropertyName("ranks")] public int Ranks { get; init; } = 1;
    [JsonPropertyName("options")] public TrainingOptions Options { get; init; } = new();

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    public static TrainerState Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint: {path} not found (no trainer state to resume from)");
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path))
                ?? throw new InvalidDataException($"checkpoint: {path}: empty trainer state");
        }
        catch (JsonException e) { throw new InvalidDataException($"checkpoint: {path}: {e.Message.Split('\n')[0]}"); }
    }
}

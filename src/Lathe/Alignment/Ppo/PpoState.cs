using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.IO;

namespace Lathe.Alignment;

/// <summary>ppo_state.json in a PPO checkpoint: what besides the weights, the value head and the optimizer's moments
/// a run needs to continue bit for bit. Every random draw of a phase (its prompts' order, the rollouts' sampler, the
/// minibatch shuffles) is keyed by (seed, phase), so the seed and the phase are the whole random state.</summary>
public sealed record PpoState
{
    public const string FileName = "ppo_state.json";

    /// <summary>Phases completed.</summary>
    [JsonPropertyName("phase")] public int Phase { get; init; }
    /// <summary>Prompts drawn so far (the next phase's first prompt is this one of the shuffled stream).</summary>
    [JsonPropertyName("prompt_position")] public long PromptPosition { get; init; }
    /// <summary>The KL controller's β (its whole state).</summary>
    [JsonPropertyName("kl_coef")] public float KlCoef { get; init; }
    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; init; }
    [JsonPropertyName("seed")] public ulong Seed { get; init; }
    [JsonPropertyName("options")] public PpoOptions Options { get; init; } = new();

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    public static PpoState Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint: {path} not found (no PPO state to resume from)");
        try
        {
            return JsonSerializer.Deserialize<PpoState>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"checkpoint: {path}: empty PPO state");
        }
        catch (JsonException e) { throw new InvalidDataException($"checkpoint: {path}: {e.Message.Split('\n')[0]}"); }
    }

    /// <summary>The folder of a PPO run's last checkpoint: <paramref name="path"/> itself, else its checkpoint/ (or the
    /// checkpoint.old/ an interrupted save leaves).</summary>
    public static string Resolve(string path)
    {
        foreach (var d in new[] { path, Path.Combine(path, Formats.Checkpoint.Folder), Path.Combine(path, Formats.Checkpoint.Folder + ".old") })
            if (File.Exists(Path.Combine(d, FileName))) return d;
        throw new FileNotFoundException($"checkpoint: no {FileName} in {path} (or {Path.Combine(path, Formats.Checkpoint.Folder)})");
    }
}

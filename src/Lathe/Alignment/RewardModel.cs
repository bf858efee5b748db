using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>What a reward model was trained for, and the statistics of its scores on its training responses (what
/// Llama 2's whitening subtracts and divides by). Saved as reward.json beside the head.</summary>
public sealed record RewardInfo
{
    /// <summary>"helpfulness", "safety", or any name the user gave (--kind).</summary>
    [JsonPropertyName("kind")] public string Kind { get; init; } = "helpfulness";
    [JsonPropertyName("score_mean")] public double ScoreMean { get; init; }
    [JsonPropertyName("score_std")] public double ScoreStd { get; init; } = 1;
    /// <summary>Held-out pairwise accuracy when it was measured.</summary>
    [JsonPropertyName("pairwise_accuracy")] public double? PairwiseAccuracy { get; init; }
}

/// <summary>A reward model: a decoder whose final hidden state at a sequence's last token goes through a scalar head,
/// Hugging Face's sequence-classification layout for decoders (LlamaForSequenceClassification's <c>score</c>, a (1, C)
/// linear without bias reading the last non-padding token). The head lives beside the decoder's own files, in
/// reward_head.safetensors as <c>score.weight</c>, so the trunk stays an ordinary checkpoint or adapter folder.</summary>
/// <remarks>The head starts at zero: every reward is 0 at the first step, so the Bradley–Terry loss starts at exactly
/// ln 2 and the gradient still reaches the head through (h_chosen − h_rejected).</remarks>
public sealed class RewardModel
{
    public const string HeadFile = "reward_head.safetensors", InfoFile = "reward.json", HeadName = "score.weight";

    int[] _rows = [];

    public RewardModel(CausalLM decoder)
    {
        Decoder = decoder;
        Head = new ModelParameter(HeadName, Tensor.Zeros(1, decoder.Config.Embd), storedTransposed: false, decay: true);
    }

    public CausalLM Decoder { get; }
    /// <summary>The scalar head (1, C).</summary>
    public ModelParameter Head { get; }
    public RewardInfo Info { get; set; } = new();

    /// <summary>The reward of every row's whole sequence (B), on the active tape: the head applied to the final hidden
    /// state at the row's last token. Padding rows score whatever position 0 gives; callers ignore them.</summary>
    public Tensor Scores(ITuningMethod? method, ResponseRows rows)
    {
        int B = rows.B, T = rows.T, P = method?.VirtualTokens ?? 0;
        if (_rows.Length != B) _rows = new int[B];
        for (int b = 0; b < B; b++) _rows[b] = b * (P + T) + P + rows.LastPosition[b];
        var embeddings = method?.Embed(rows.Inputs, B, T) ?? Decoder.Embed(rows.Inputs, B, T);
        var last = Ops.GatherRows(Decoder.Hidden(embeddings, B, P + T), _rows);   // (B, C)
        return Ops.Reshape(Ops.Linear(last, Head.Value), B);
    }

    /// <summary>Writes the head and reward.json into <paramref name="dir"/>, atomically.</summary>
    public void SaveHead(string dir)
    {
        Directory.CreateDirectory(dir);
        SafetensorsWriter.Write(Path.Combine(dir, HeadFile),
            [SafetensorsWriter.F32(HeadName, [1, Decoder.Config.Embd], Head.Value.AsSpan().ToArray())],
            new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(dir, InfoFile), JsonSerializer.Serialize(Info, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Reads the head (and reward.json when present) from <paramref name="dir"/>; a folder without a head, or a
    /// head of another width, is a one-line error naming the file.</summary>
    public void LoadHead(string dir)
    {
        string path = Path.Combine(dir, HeadFile);
        if (!File.Exists(path)) throw new InvalidDataException($"{dir}: no {HeadFile} (not a reward model; train one with `lathe align reward`)");
        using (var file = SafetensorsFile.Open(path))
        {
            if (!file.Entries.TryGetValue(HeadName, out var entry) || entry.Shape.Length != 2 || entry.Shape[0] != 1 || entry.Shape[1] != Decoder.Config.Embd)
                throw new InvalidDataException($"{path}: tensor '{HeadName}' must be (1, {Decoder.Config.Embd}) for this model");
            file.ReadFloats(HeadName).CopyTo(Head.Value.AsSpan());
        }
        string info = Path.Combine(dir, InfoFile);
        if (File.Exists(info))
            Info = JsonSerializer.Deserialize<RewardInfo>(File.ReadAllText(info)) ?? throw new InvalidDataException($"{info}: empty");
    }

    /// <summary>Whether <paramref name="dir"/> holds a reward head.</summary>
    public static bool IsRewardFolder(string dir) => File.Exists(Path.Combine(dir, HeadFile));
}

using System.Text.Json.Nodes;
using Lathe.Alignment;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>What the align verbs share: opening the starting policy with a tuning method, the chat template, encoding
/// preference pairs, the run folder's settings, and the held-out behaviour table before and after.</summary>
internal static class AlignCommon
{
    /// <summary>A loaded policy (or reward-model trunk) with its method attached and the template it speaks.</summary>
    internal sealed record Policy(LoadedModel Loaded, ChatTemplate Chat, ITuningMethod Method, string? TokenizerJson) : IDisposable
    {
        public void Dispose() { Method.Dispose(); Loaded.Dispose(); }
    }

    /// <summary>Opens <paramref name="modelPath"/> and attaches a fresh <paramref name="tuning"/> method; QLoRA keeps a
    /// quantized base quantized, every other method trains from F32.</summary>
    public static Policy OpenPolicy(string verb, string modelPath, TuningOptions tuning, string? template, ulong seed)
    {
        try { tuning.Validate(); }
        catch (ArgumentException e) { throw new UserInputException(e.Message); }
        var loaded = ModelLoader.Load(modelPath, new LoadOptions { Dequantize = tuning.Method != TuningOptions.Qlora });
        try
        {
            if (tuning.Method == TuningOptions.Full && loaded.Format == "gguf")
                throw new UserInputException($"{verb}: --method full on a GGUF base is not supported (its tokenizer cannot be written as tokenizer.json); use lora, qlora or adapter");
            ChatTemplate chat;
            try { chat = !string.IsNullOrEmpty(template) ? ChatTemplate.Named(template) : ChatTemplate.Detect(loaded.ChatTemplate); }
            catch (ArgumentException e) { throw new UserInputException($"{verb}: --template: " + e.Message); }
            string? tokenizerJson = loaded.Format == "gguf" ? null : Path.Combine(loaded.Source, Checkpoint.TokenizerFile);
            var method = TuningMethods.Create(loaded.Model, tuning, seed, loaded.Tokenizer, tokenizerJson);
            return new Policy(loaded, chat, method, tokenizerJson);
        }
        catch { loaded.Dispose(); throw; }
    }

    /// <summary>Preference pairs from <paramref name="path"/>, only of <paramref name="kinds"/> when given (pairs without
    /// a kind are kept only when no filter is given).</summary>
    public static List<PreferencePair> LoadPairs(string path, IReadOnlySet<string>? kinds, string option)
    {
        var pairs = PreferencePairs.Load(path);
        if (kinds is not null) pairs = pairs.Where(p => p.Kind is not null && kinds.Contains(p.Kind)).ToList();
        if (pairs.Count == 0) throw new UserInputException($"{option}: {path}: no preference pairs{(kinds is null ? "" : $" of kind {string.Join(", ", kinds)}")}");
        return pairs;
    }

    public static IReadOnlySet<string>? ParseKinds(string? s) =>
        string.IsNullOrWhiteSpace(s) ? null : s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();

    /// <summary>Each pair's prompt + chosen and prompt + rejected tokenized as SFT tokenizes a conversation (the reply and
    /// its end of turn trainable); pairs longer than <paramref name="maxTokens"/> are dropped and counted.</summary>
    public static (List<EncodedPair> Pairs, int Dropped) Encode(Policy policy, IReadOnlyList<PreferencePair> pairs, int maxTokens, float margin = 0f)
    {
        var encoder = new SftEncoder(policy.Chat, policy.Loaded.Tokenizer, policy.Loaded.AddBos ? policy.Loaded.BosId : null, maxTokens, OverlongPolicy.Drop);
        var encoded = new List<EncodedPair>(pairs.Count);
        int dropped = 0;
        foreach (var p in pairs)
        {
            var chosen = encoder.Encode([.. p.Prompt, new ChatMessage("assistant", p.Chosen)]);
            var rejected = encoder.Encode([.. p.Prompt, new ChatMessage("assistant", p.Rejected)]);
            if (chosen.Ids.Length > maxTokens || rejected.Ids.Length > maxTokens) { dropped++; continue; }
            encoded.Add(new EncodedPair(chosen, rejected, margin));
        }
        return (encoded, dropped);
    }

    /// <summary>Refuses to start over a run folder that holds a checkpoint unless resuming; returns the checkpoint to
    /// resume from (null for a fresh run).</summary>
    public static string? CheckRunFolder(string verb, string runDir, bool resume)
    {
        if (resume) return Checkpoint.ResolveState(runDir);
        if (Directory.Exists(Path.Combine(runDir, Checkpoint.Folder)))
            throw new UserInputException($"{verb}: {runDir} already holds a checkpoint; pass --resume to continue it or choose another --out");
        return null;
    }

    /// <summary>align.json: the method, the base the run started from (absolute, so the run opens from anywhere), the
    /// template, and the verb's own settings.</summary>
    public static void WriteSettings(string runDir, string method, string basePath, Policy policy, JsonObject? extra = null)
    {
        var o = new JsonObject
        {
            ["method"] = method, ["base"] = Path.GetFullPath(basePath), ["template"] = policy.Chat.Name, ["tuning"] = policy.Method.Name,
        };
        if (extra is not null) foreach (var (k, v) in extra) o[k] = v?.DeepClone();
        AlignedModel.WriteSettings(runDir, o);
    }

    /// <summary>The held-out behaviour metrics of the policy as it is now, printed on one line.</summary>
    public static HeldOutResult? HeldOut(string verb, Policy policy, IReadOnlyList<AlignmentPrompt>? prompts, string when)
    {
        if (prompts is null) return null;
        var result = HeldOutEvaluation.Run(policy.Loaded, prompts, new HeldOutOptions { Template = policy.Chat });
        Console.Error.WriteLine($"{verb}: held-out {when}: " + string.Join(", ", result.Metrics().Select(kv => $"{kv.Key} {kv.Value:F3}")));
        return result;
    }

    /// <summary>"before"/"after" pairs of the held-out metrics for the final JSON line.</summary>
    public static IEnumerable<(string, object?)> HeldOutFields(HeldOutResult? before, HeldOutResult? after)
    {
        if (after is not null) foreach (var (k, v) in after.Metrics()) yield return (k, v);
        if (before is not null) foreach (var (k, v) in before.Metrics()) yield return (k + "_before", v);
    }


    /// <summary>Steps for <paramref name="epochs"/> passes over <paramref name="pairs"/> at <paramref name="B"/> rows
    /// (two per pair) × accumulation, when --steps was not given.</summary>
    public static TrainingOptions StepsFor(TrainingOptions training, int pairs, double epochs)
    {
        if (training.Steps > 0) return training;
        int perEpoch = TrainingOptionSet.StepsPerPass((pairs + training.BatchSize / 2 - 1) / (training.BatchSize / 2), training);
        int steps = Math.Max(1, (int)Math.Ceiling(perEpoch * epochs));
        return training with { Steps = steps, WarmupSteps = Math.Min(training.WarmupSteps, steps / 5) };
    }
}

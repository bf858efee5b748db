using Lathe.Formats;
using Lathe.Models;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>The frozen reference's response log-probabilities for every preference pair, computed once before DPO's
/// first step (the reference is the policy as it starts: the SFT model, or the base with a freshly attached adapter
/// whose update is still zero) and saved in the run folder, so a resumed run reads them back instead of recomputing
/// them from weights that have since moved.</summary>
public static class ReferenceLogProbs
{
    public const string FileName = "reference_logps.safetensors";

    /// <summary>(chosen, rejected) per pair, batched B rows at a time without gradients; sums, or length-averaged
    /// when <paramref name="average"/> (IPO).</summary>
    public static (float[] Chosen, float[] Rejected) Compute(CausalLM policy, ITuningMethod? method, IReadOnlyList<EncodedPair> pairs,
        int B, int T, int padId, bool average)
    {
        var scorer = new SequenceLogProbs();
        return PairBatchSource.EvaluateInOrder(pairs, B, T, padId, rows => DpoObjective.RowLogProbs(policy, method, rows, average, scorer));
    }

    public static void Save(string path, float[] chosen, float[] rejected) =>
        SafetensorsWriter.Write(path,
            [SafetensorsWriter.F32("chosen", [chosen.Length], chosen), SafetensorsWriter.F32("rejected", [rejected.Length], rejected)],
            new Dictionary<string, string> { ["format"] = "pt" });

    /// <summary>Reads a saved pair of arrays; a file of another pair count is a one-line error (the data changed).</summary>
    public static (float[] Chosen, float[] Rejected) Load(string path, int pairs)
    {
        using var file = SafetensorsFile.Open(path);
        var chosen = file.ReadFloats("chosen");
        var rejected = file.ReadFloats("rejected");
        if (chosen.Length != pairs || rejected.Length != pairs)
            throw new InvalidDataException($"{path}: {chosen.Length} reference log-probabilities for {pairs} pairs (the training data changed since the run began)");
        return (chosen, rejected);
    }
}

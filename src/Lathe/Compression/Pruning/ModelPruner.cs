using System.Globalization;
using Lathe.Models;

namespace Lathe.Compression.Pruning;

/// <summary>What to prune: the method, how much (a fraction in (0, 1); for layers also a count N of blocks) and how
/// structured units are ranked.</summary>
public sealed record PruneRequest(PruneMethod Method, double Target, ImportanceScore Score = ImportanceScore.Magnitude)
{
    /// <summary>Parses --target: a fraction in (0, 1), or for <see cref="PruneMethod.Layers"/> also a whole number of
    /// blocks. Anything else is a one-line <see cref="ArgumentException"/>.</summary>
    public static double ParseTarget(string text, PruneMethod method)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new ArgumentException($"prune: --target '{text}' is not a number.");
        bool count = method == PruneMethod.Layers && v >= 1 && v == Math.Floor(v);
        if (!count && !(v > 0 && v < 1))
            throw new ArgumentException($"prune: --target {text} must be a fraction in (0, 1){(method == PruneMethod.Layers ? " or a whole number of layers" : "")}.");
        return v;
    }
}

/// <summary>The pruned model and what was removed.</summary>
public sealed record PruneResult(CausalLM Model, string Removed, SparsityMask? Mask);

/// <summary>The one library call behind `lathe prune`: ranks and removes heads, channels or layers (returning a new,
/// smaller model), or zeroes weights in place (returning the same model and its mask).</summary>
public static class ModelPruner
{
    /// <summary>Prunes <paramref name="model"/>. Structured methods return a new model (the caller disposes both);
    /// unstructured ones change <paramref name="model"/> and return it. Targets that would empty a layer, remove
    /// nothing, or need calibration that is missing are one-line errors, checked before any work.</summary>
    public static PruneResult Prune(CausalLM model, PruneRequest request, CalibrationSet? calibration)
    {
        var c = model.Config;
        PruneUnits.CheckSupported(c, request.Method);
        if (request.Method == PruneMethod.TwoFour && request.Score == ImportanceScore.Taylor)
            throw new ArgumentException("prune: --method 2:4 ranks by magnitude or activation (Wanda's |W|·‖X‖), not taylor.");
        bool needsCalibration = request.Method is PruneMethod.Layers or PruneMethod.Wanda
            || (request.Method is not PruneMethod.Magnitude && request.Score != ImportanceScore.Magnitude);
        // Checked after the target (below), so a target that cannot work is the error a user sees first.
        void RequireCalibration()
        {
            if (needsCalibration && calibration is null)
                throw new ArgumentException($"prune: --method {PruneNames.Name(request.Method)}{(request.Method is PruneMethod.Heads or PruneMethod.Channels or PruneMethod.TwoFour ? $" --score {Name(request.Score)}" : "")} needs --calibration SHARDS.");
        }
        switch (request.Method)
        {
            case PruneMethod.Heads:
            {
                int units = PruneUnits.AttentionUnitCount(c), group = c.Heads / c.KvHeads;
                int remove = Removed(request.Target, units, c.KvHeads == c.Heads ? "heads" : $"kv groups ({group} query heads each)");
                RequireCalibration();
                var scores = Scores(model, channels: false, request.Score, calibration);
                var kept = scores.Select(s => StructuredScores.Keep(s, units - remove)).ToArray();
                return new(StructuredPruner.KeepHeads(model, kept), $"{remove * group} of {c.Heads} heads per layer" +
                    (group > 1 ? $" ({remove} of {c.KvHeads} kv groups)" : "") + $" by {Name(request.Score)}", null);
            }
            case PruneMethod.Channels:
            {
                int remove = Removed(request.Target, c.Intermediate, "MLP channels");
                RequireCalibration();
                var scores = Scores(model, channels: true, request.Score, calibration);
                var kept = scores.Select(s => StructuredScores.Keep(s, c.Intermediate - remove)).ToArray();
                return new(StructuredPruner.KeepChannels(model, kept), $"{remove} of {c.Intermediate} MLP channels per layer by {Name(request.Score)}", null);
            }
            case PruneMethod.Layers:
            {
                int remove = request.Target >= 1 ? (int)request.Target : (int)Math.Round(request.Target * c.Layers, MidpointRounding.AwayFromZero);
                if (remove >= c.Layers) throw new ArgumentException($"prune: --target {request.Target.ToString(CultureInfo.InvariantCulture)} would remove all {c.Layers} layers; at most {c.Layers - 1}.");
                if (remove < 1) throw new ArgumentException($"prune: --target {request.Target.ToString(CultureInfo.InvariantCulture)} removes no layer of {c.Layers}.");
                RequireCalibration();
                var delta = StructuredScores.LayerSkipLoss(model, calibration!);
                var kept = StructuredScores.Keep(delta, c.Layers - remove);
                var gone = Enumerable.Range(0, c.Layers).Except(kept);
                return new(StructuredPruner.KeepLayers(model, kept), $"layers [{string.Join(", ", gone)}] of {c.Layers} by calibration loss when skipped", null);
            }
            default:
            {
                if (request.Target >= 1) throw new ArgumentException($"prune: --target {request.Target.ToString(CultureInfo.InvariantCulture)} must be a fraction in (0, 1).");
                RequireCalibration();
                var stats = request.Method == PruneMethod.Wanda || (request.Method == PruneMethod.TwoFour && request.Score == ImportanceScore.Activation)
                    ? ActivationStatistics.Collect(model, calibration!) : null;
                var mask = UnstructuredPruner.Prune(model, request.Method, request.Target, stats);
                string by = stats is null ? "|W|" : "|W|·‖X‖";
                return new(model, $"{mask.Sparsity * 100:F1}% of block linear weights zeroed ({PruneNames.Name(request.Method)}, by {by})", mask);
            }
        }
    }

    static string Name(ImportanceScore s) => s.ToString().ToLowerInvariant();

    // Units to remove per layer: round(f·n); all of them or none is refused.
    static int Removed(double target, int units, string what)
    {
        if (target >= 1) throw new ArgumentException($"prune: --target {target.ToString(CultureInfo.InvariantCulture)} must be a fraction in (0, 1).");
        int remove = (int)Math.Round(target * units, MidpointRounding.AwayFromZero);
        if (remove >= units)
            throw new ArgumentException($"prune: --target {target.ToString(CultureInfo.InvariantCulture)} would remove all {units} {what} of every layer; `--method layers` removes whole layers.");
        if (remove < 1) throw new ArgumentException($"prune: --target {target.ToString(CultureInfo.InvariantCulture)} removes none of the {units} {what} per layer.");
        return remove;
    }

    static double[][] Scores(CausalLM model, bool channels, ImportanceScore score, CalibrationSet? calibration)
    {
        switch (score)
        {
            case ImportanceScore.Activation:
                return StructuredScores.Units(model, channels, score, ActivationStatistics.Collect(model, calibration!));
            case ImportanceScore.Taylor:
                calibration!.Gradients(model);
                try { return StructuredScores.Units(model, channels, score, null); }
                finally { foreach (var p in model.Parameters) p.Value.ReleaseGrad(); }
            default:
                return StructuredScores.Units(model, channels, score, null);
        }
    }
}

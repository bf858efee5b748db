using System.CommandLine;
using System.Globalization;
using Lathe.Compression.Pruning;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe prune`: a checkpoint → a pruned checkpoint (heads, MLP channels or layers removed, so the model is
/// smaller; or weights zeroed by magnitude, Wanda or 2:4), optionally fine-tuned back (--recover-steps); one summary
/// line. `--plot RESULTS.json --out DIR` draws the trade-off curves of scripts/bench/prune-curves.sh instead.</summary>
internal static class PruneVerb
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Checkpoint folder (gpt2 or llama) to prune." };
        var method = new Option<string?>("--method") { Description = "heads | channels | layers (structured: the model shrinks) or magnitude | wanda | 2:4 (weights zeroed)." };
        var target = new Option<string?>("--target") { Description = "Fraction in (0, 1) removed per layer (heads, channels) or per matrix (sparsity); for layers also a count N." };
        var score = new Option<string?>("--score") { Description = "Ranking of heads/channels: magnitude (default), activation or taylor; of 2:4 groups: magnitude or activation (default with --calibration)." };
        var calibration = new Option<string?>("--calibration") { Description = "Token shard folder: calibration text (its training shards) for activation/Taylor/layer scores, Wanda, and perplexity before/after." };
        var calibTokens = new Option<int>("--calib-tokens") { Description = "Calibration tokens to read.", DefaultValueFactory = _ => 8192 };
        var recoverSteps = new Option<int>("--recover-steps") { Description = "Fine-tune the pruned model this many steps on --data (causal-LM loss; a sparsity pattern is kept).", DefaultValueFactory = _ => 0 };
        var data = new Option<string?>("--data") { Description = "Token shard folder for recovery." };
        var lr = new Option<float>("--lr") { Description = "Recovery learning rate (peak).", DefaultValueFactory = _ => 3e-4f };
        var batch = new Option<int>("--batch-size") { Description = "Recovery sequences per step.", DefaultValueFactory = _ => 8 };
        var block = new Option<int>("--block-size") { Description = "Recovery tokens per sequence.", DefaultValueFactory = _ => 128 };
        var seed = new Option<ulong>("--seed") { Description = "Recovery seed.", DefaultValueFactory = _ => 1337 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var plot = new Option<string?>("--plot") { Description = "Draw the curves of a prune-curves results JSON into --out (no pruning)." };
        var json = new Option<bool>("--json") { Description = "Print the summary as one JSON object." };
        var output = new Option<string>("--out") { Description = "Folder for the pruned checkpoint (or the plots).", Required = true };
        var command = new Command("prune", "Prune heads, MLP channels or layers (a smaller model) or single weights (magnitude, Wanda, 2:4); optional recovery fine-tune.")
        {
            model, method, target, score, calibration, calibTokens, recoverSteps, data, lr, batch, block, seed, threads, plot, json, output,
        };
        command.SetAction(r =>
        {
            if (r.GetValue(plot) is { } results) return Plot(results, r.GetValue(output)!);
            return Run(r.GetValue(model) ?? throw new UserInputException("prune: --model is required."),
                r.GetValue(method) ?? throw new UserInputException("prune: --method is required."),
                r.GetValue(target), r.GetValue(score), r.GetValue(calibration), r.GetValue(calibTokens), r.GetValue(recoverSteps),
                r.GetValue(data), new TrainingOptions
                {
                    Steps = Math.Max(1, r.GetValue(recoverSteps)), LearningRate = r.GetValue(lr), BatchSize = r.GetValue(batch), BlockSize = r.GetValue(block),
                    Seed = r.GetValue(seed), WarmupSteps = Math.Min(10, Math.Max(0, r.GetValue(recoverSteps) / 10)),
                }, r.GetValue(threads), r.GetValue(json), r.GetValue(output)!);
        });
        return command;
    }

    static int Plot(string results, string outDir)
    {
        foreach (var path in PruneCurvePlot.WriteAll(outDir, PruneCurvePlot.Read(results))) Console.Error.WriteLine($"prune: wrote {path}");
        return 0;
    }

    static int Run(string modelDir, string methodName, string? targetText, string? scoreName, string? calibrationDir, int calibTokens,
        int recoverSteps, string? dataDir, TrainingOptions recovery, int threads, bool json, string outDir)
    {
        // Every argument is checked before the model is read.
        var method = PruneNames.Method(methodName);
        if (threads <= 0) throw new UserInputException("prune: --threads must be positive.");
        if (recoverSteps < 0) throw new UserInputException("prune: --recover-steps must be ≥ 0.");
        if (recoverSteps > 0 && dataDir is null) throw new UserInputException("prune: --recover-steps needs --data SHARDS.");
        if (calibTokens < 1) throw new UserInputException($"prune: --calib-tokens {calibTokens} must be positive.");
        double fraction = method == PruneMethod.TwoFour
            ? (targetText is null || PruneRequest.ParseTarget(targetText, method) == 0.5 ? 0.5 : throw new UserInputException($"prune: --method 2:4 prunes exactly half (--target 0.5 or none), not {targetText}."))
            : PruneRequest.ParseTarget(targetText ?? throw new UserInputException("prune: --target is required."), method);
        ImportanceScore importance;
        if (scoreName is null)
            importance = method == PruneMethod.TwoFour && calibrationDir is not null ? ImportanceScore.Activation : ImportanceScore.Magnitude;
        else if (method is PruneMethod.Heads or PruneMethod.Channels or PruneMethod.TwoFour) importance = PruneNames.Score(scoreName);
        else throw new UserInputException(method == PruneMethod.Layers
            ? "prune: --method layers ranks layers by the calibration loss change when each is skipped; --score does not apply."
            : $"prune: --method {methodName} has its own score (|W|{(method == PruneMethod.Wanda ? "·‖X‖" : "")}); --score does not apply.");
        if (Path.GetFullPath(outDir) == Path.GetFullPath(modelDir)) throw new UserInputException("prune: --out must differ from --model.");
        ComputePool.SetSharedThreads(threads);

        string source = Checkpoint.Resolve(modelDir);
        using var original = Checkpoint.LoadModel(source);
        var request = new PruneRequest(method, fraction, importance);
        var calibration = calibrationDir is null ? null : CalibrationSet.Read(calibrationDir, calibTokens, original.Config);
        long before = original.ParameterCount;
        double? pplBefore = calibration is null ? null : Math.Exp(calibration.Loss(original));
        var result = ModelPruner.Prune(original, request, calibration);
        var pruned = result.Model;
        try
        {
            double? pplPruned = calibration is null ? null : Math.Exp(calibration.Loss(pruned));
            float? recoveryLoss = null;
            if (recoverSteps > 0)
            {
                // The step counter only on a terminal: a log gets the summary line.
                bool tty = !Console.IsErrorRedirected;
                recoveryLoss = PruneRecovery.Run(pruned, result.Mask, dataDir!, source, recovery,
                    tty ? (step, loss) => Console.Error.Write($"\rprune: recovery step {step}/{recoverSteps} loss {loss:F4}   ") : null);
                if (tty) Console.Error.WriteLine();
            }
            double? pplAfter = calibration is null ? null : recoverSteps > 0 ? Math.Exp(calibration.Loss(pruned)) : pplPruned;
            string tokenizer = Path.Combine(source, Checkpoint.TokenizerFile);
            Checkpoint.SaveModel(outDir, pruned, File.Exists(tokenizer) ? tokenizer : null);
            Print(json, methodName, result, before, pruned.ParameterCount, pplBefore, pplPruned, pplAfter, recoverSteps, recoveryLoss, calibration, outDir);
        }
        finally { if (!ReferenceEquals(pruned, original)) pruned.Dispose(); }
        return 0;
    }

    static void Print(bool json, string method, PruneResult result, long before, long after, double? pplBefore, double? pplPruned,
        double? pplAfter, int recoverSteps, float? recoveryLoss, CalibrationSet? calibration, string outDir)
    {
        var inv = CultureInfo.InvariantCulture;
        var c = result.Model.Config;
        if (json)
        {
            var fields = new List<(string, object?)>
            {
                ("prune", method), ("removed", result.Removed), ("params_before", before), ("params_after", after),
                ("layers", c.Layers), ("heads", c.Heads), ("kv_heads", c.KvHeads), ("head_dim", c.HeadDim), ("intermediate", c.Intermediate),
                ("sparsity", result.Mask?.Sparsity ?? 0.0), ("recover_steps", recoverSteps), ("out", outDir),
            };
            if (recoveryLoss is float rl) fields.Add(("recovery_final_loss", (double)rl));
            if (calibration is not null)
            {
                fields.Add(("calib_tokens", calibration.Tokens.Length - 1));
                fields.Add(("calib_ppl_before", pplBefore));
                fields.Add(("calib_ppl_pruned", pplPruned));
                fields.Add(("calib_ppl_after", pplAfter));
            }
            BenchSupport.PrintJson(fields.ToArray());
            return;
        }
        string ppl = pplBefore is double b ? $"; calibration perplexity {b.ToString("F3", inv)} → {pplPruned!.Value.ToString("F3", inv)}" +
            (recoverSteps > 0 ? $" → {pplAfter!.Value.ToString("F3", inv)} after {recoverSteps} recovery steps" : "") : "";
        Console.WriteLine($"prune: {before:N0} → {after:N0} parameters ({100.0 * (before - after) / before:F1}% fewer); removed {result.Removed}{ppl}; wrote {outDir}");
    }
}

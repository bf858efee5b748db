using Lathe.Alignment;
using Lathe.Formats;
using Lathe.Training;

namespace Lathe.Cli.KillSweep;

/// <summary>The verbs the kill sweep knows, each at a scale that finishes in seconds on one thread and still writes
/// several checkpoints and evaluations. Adding a verb is one entry here.</summary>
internal static class SweepVerbs
{
    static readonly string[] Pretrain =
        ["--n-layer", "1", "--n-embd", "32", "--n-head", "2", "--n-positions", "16", "--vocab-size", "64", "--data", SweepInputs.Data,
         "--steps", "24", "--batch-size", "4", "--block-size", "16", "--eval-every", "4", "--checkpoint-every", "3", "--threads", "1", "--warmup", "3"];

    static readonly string[] Training =
        ["--steps", "10", "--batch-size", "4", "--block-size", "64", "--checkpoint-every", "2", "--threads", "1", "--warmup", "1"];

    static readonly string[] Ppo =
        ["--model", SweepInputs.Policy, "--prompts", SweepInputs.Prompts, "--reward", SweepInputs.Reward, "--template", "chatml",
         "--phases", "4", "--prompts-per-phase", "2", "--samples", "2", "--max-new-tokens", "4", "--ppo-epochs", "2", "--checkpoint-every", "1",
         "--threads", "1", "--seed", "3"];

    static readonly string[] Rlaif =
        ["align", "rlaif", "--model", SweepInputs.Policy, "--judge", SweepInputs.Policy, "--prompts", SweepInputs.Prompts, "--max-new-tokens", "6",
         "--min-confidence", "0.5", "--seed", "3", "--threads", "1"];

    public static readonly IReadOnlyList<SweepVerb> All =
    [
        Trainer("pretrain-gpt2", run => ["pretrain", "--config", "gpt2-tiny", "--out", run, .. Pretrain]),
        Trainer("pretrain-llama", run => ["pretrain", "--config", "llama-tiny", "--n-kv-head", "1", "--intermediate-size", "64", "--out", run, .. Pretrain]),
        Trainer("distill", run => ["distill", "--teacher", SweepInputs.Policy, "--student", SweepInputs.Student, "--data", SweepInputs.DistillData,
            "--steps", "24", "--batch-size", "4", "--block-size", "16",
            "--eval-every", "4", "--checkpoint-every", "3", "--threads", "1", "--warmup", "3", "--out", run]),
        Trainer("finetune-full", run => ["finetune", "--model", SweepInputs.Policy, "--data", SweepInputs.Chat, "--val-fraction", "0.25", "--eval-every", "3",
            "--method", "full", "--out", run, .. Training]),
        Trainer("finetune-lora", run => ["finetune", "--model", SweepInputs.Policy, "--data", SweepInputs.Chat, "--val-fraction", "0.25", "--eval-every", "3",
            "--method", "lora", "--rank", "4", "--out", run, .. Training]),
        Trainer("align-reward", run => ["align", "reward", "--model", SweepInputs.Policy, "--data", SweepInputs.Pairs, "--val-fraction", "0.25",
            "--eval-every", "3", "--out", run, .. Training]),
        Trainer("align-dpo", run => ["align", "dpo", "--model", SweepInputs.Policy, "--data", SweepInputs.Pairs, "--out", run, .. Training]),
        new("align-ppo", run => ["align", "ppo", "--out", run, .. Ppo], run => ["align", "ppo", "--out", run, "--resume", .. Ppo],
            run => HasFile(run, PpoState.FileName)),
        new("align-rejection",
            run => ["align", "rejection", "--model", SweepInputs.Policy, "--prompts", SweepInputs.Prompts, "--reward", SweepInputs.Reward, "--rounds", "2",
                "--samples", "3", "--max-new-tokens", "6", "--steps", "3", "--batch-size", "4", "--block-size", "64", "--checkpoint-every", "1",
                "--threads", "1", "--warmup", "1", "--seed", "4", "--out", run],
            run => ["align", "rejection", "--out", run, "--resume", "--threads", "1"],
            run => File.Exists(Path.Combine(run, Lathe.Alignment.AlignedModel.SettingsFile))),
        // One pass of sampling and judging with no state to continue: an interrupted run is run again, and must write
        // the same pairs (its output file appears whole or not at all).
        new("align-rlaif", run => [.. Rlaif, "--out", Path.Combine(run, "pairs.jsonl")], run => [.. Rlaif, "--out", Path.Combine(run, "pairs.jsonl")],
            _ => false),
    ];

    /// <summary>The names `--verb` takes: each entry's, the groups before their dash (pretrain, finetune, align), and "all".</summary>
    public static IEnumerable<string> Names => All.Select(v => v.Name.Split('-')[0]).Distinct().Concat(All.Select(v => v.Name)).Append("all");

    /// <summary>The entries <paramref name="name"/> selects — one by its name, a group (pretrain: every pretrain-…), or
    /// every one for "all" — in table order; empty when the name is unknown.</summary>
    public static IReadOnlyList<SweepVerb> Select(string name) =>
        name == "all" ? All : All.Where(v => v.Name == name || v.Name.StartsWith(name + "-", StringComparison.Ordinal)).ToList();

    // A verb built on the Trainer: `--resume` after the same arguments, and a run to continue when a checkpoint holds
    // trainer_state.json.
    static SweepVerb Trainer(string name, Func<string, string[]> fresh) =>
        new(name, fresh, run => [.. fresh(run), "--resume"], run => HasFile(run, Checkpoint.StateFile));

    // The file in the run folder's checkpoint/ or in the checkpoint.old/ an interrupted swap leaves.
    static bool HasFile(string run, string file) =>
        File.Exists(Path.Combine(run, Checkpoint.Folder, file)) || File.Exists(Path.Combine(run, Checkpoint.Folder + ".old", file));
}

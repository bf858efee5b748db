using System.Text.Json.Nodes;
using Lathe.Alignment;
using Lathe.Cli.Verbs;
using Lathe.Formats;
using Lathe.Training;
using Lathe.Tests.Data;

namespace Lathe.Tests.Cli;

/// <summary>`lathe align rejection --resume` in process: every setting comes from align.json (no --model, --prompts or
/// reward given again); a finished run given more rounds continues bit for bit as one straight run; a run cut after its
/// last round's checkpoint but before rounds.jsonl recorded it finishes with the same rounds.jsonl; refusals are one
/// line and exit 2. (Interruptions mid-SFT are RejectionResumeTests', which cancel the trainer's token.)</summary>
[Collection(nameof(ConsoleCapture))]
public class AlignRejectionResumeCliTests
{
    static readonly string[] Few = ["--samples", "3", "--max-new-tokens", "6", "--steps", "3", "--batch-size", "4", "--block-size", "64", "--threads", "1", "--warmup", "1", "--seed", "4"];

    static (int Code, string Stdout, string Stderr) Rejection(params string[] args) => AlignLoopInputs.Run(AlignRejectionVerb.Create(), args);

    [Fact]
    public void Resume_reads_its_settings_extends_a_run_bit_for_bit_and_refuses_in_one_line()
    {
        using var dir = new TempDir();
        AlignLoopInputs.Write(dir);
        AlignLoopInputs.RewardModel(dir);
        string[] fresh = ["--model", dir.File("policy"), "--prompts", dir.File("prompts.jsonl"), "--reward", dir.File("rm"), "--limit", "4", .. Few];
        string straight = dir.File("straight"), extended = dir.File("extended");
        var (code, _, stderr) = Rejection([.. fresh, "--rounds", "2", "--out", straight]);
        Assert.True(code == 0, stderr);
        (code, _, stderr) = Rejection([.. fresh, "--rounds", "1", "--out", extended]);
        Assert.True(code == 0, stderr);

        // More rounds: round 1 is skipped (its weights loaded), round 2 runs from them; the settings are align.json's.
        var (resumed, stdout, err) = Rejection("--out", extended, "--resume", "--rounds", "2", "--threads", "1");
        Assert.True(resumed == 0, err);
        var json = AlignLoopInputs.LastJson(stdout);
        Assert.Equal((2, 3, 4), (json.GetProperty("rounds").GetInt32(), json.GetProperty("samples").GetInt32(), json.GetProperty("prompts").GetInt32()));
        Assert.DoesNotContain("round 1:", err);
        Assert.Contains("round 2:", err);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "checkpoint", "model.safetensors")), File.ReadAllBytes(Path.Combine(extended, "checkpoint", "model.safetensors")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "round-2", "winners.jsonl")), File.ReadAllBytes(Path.Combine(extended, "round-2", "winners.jsonl")));
        string rounds = File.ReadAllText(Path.Combine(straight, RejectionSampler.RoundsFile));
        Assert.Equal(rounds, File.ReadAllText(Path.Combine(extended, RejectionSampler.RoundsFile)));
        Assert.Equal(2, AlignedModel.ReadSettings(extended)!["rejection"]!["rounds"]!.GetValue<int>());

        // Cut after round 2's last checkpoint, before rounds.jsonl had it and checkpoint/ was published: the round is
        // sampled again (the same winners), its trainer has no step left, and the run ends as the straight one did.
        File.WriteAllText(Path.Combine(straight, RejectionSampler.RoundsFile), rounds.Split('\n')[0] + "\n");
        Directory.Delete(Path.Combine(straight, "checkpoint"), recursive: true);
        (resumed, _, err) = Rejection("--out", straight, "--resume", "--threads", "1");
        Assert.True(resumed == 0, err);
        Assert.Equal(rounds, File.ReadAllText(Path.Combine(straight, RejectionSampler.RoundsFile)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(extended, "checkpoint", "model.safetensors")), File.ReadAllBytes(Path.Combine(straight, "checkpoint", "model.safetensors")));

        // Refusals: no run there, another verb's run, settings an older run did not write, fewer rounds than finished.
        var old = AlignedModel.ReadSettings(extended)!;
        ((JsonObject)old["rejection"]!).Remove("training");
        Directory.CreateDirectory(dir.File("old"));
        AlignedModel.WriteSettings(dir.File("old"), old);
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--out", dir.File("none"), "--resume"], $"lathe: rejection: --resume: {dir.File("none")} holds no run (align.json not found)"),
            (["--out", dir.File("rm"), "--resume"], $"lathe: rejection: --resume: {Path.Combine(dir.File("rm"), "align.json")} is not a rejection-sampling run's"),
            (["--out", dir.File("old"), "--resume"], $"lathe: rejection: --resume: {Path.Combine(dir.File("old"), "align.json")}: \"training\" cannot be read (a run from before --resume existed cannot be resumed)"),
            (["--out", extended, "--resume", "--rounds", "1"], $"lathe: --rounds: 1 is fewer than the 2 rounds {extended} has finished"),
            (["--out", dir.File("bad"), "--prompts", dir.File("prompts.jsonl"), "--reward", dir.File("rm")], "lathe: rejection: --model is required (unless --resume)"),
            ([.. fresh, "--out", extended], $"lathe: rejection: {extended} already holds a checkpoint; pass --resume to continue it or choose another --out"),
        })
        {
            var (c, _, e) = Rejection(args);
            Assert.Equal((2, message), (c, e.Trim()));
        }
        Assert.False(Directory.Exists(dir.File("none")));
    }
}

using System.Text.Json;
using Lathe.Tests.Data;

namespace Lathe.Tests.Cli;

/// <summary>`align rejection`, `align ppo` and `align rlaif` under `mpirun`: each rank samples (and scores or judges) its share of
/// the prompts with the sampler seeds of their places in the whole set, so the winners and the labelled pairs are those
/// one process draws, byte for byte, on 2 and 3 ranks; rejection's SFT is data-parallel (K ranks × batch B follow one
/// process with batch K·B), PPO's minibatches are split by rows (the same steps), and a rerun on the same ranks is
/// bit-identical.</summary>
[Collection("mpirun")]
public class DistributedAlignCliTests
{
    static readonly string[] Few = ["--samples", "3", "--max-new-tokens", "6", "--steps", "3", "--block-size", "64", "--threads", "1", "--warmup", "1", "--seed", "4"];

    static string[] Inputs(LatheProcess lathe, TempDir dir)
    {
        AlignLoopInputs.Write(dir);
        lathe.RunOk("align", "reward", "--model", dir.File("policy"), "--data", dir.File("pairs.jsonl"), "--out", dir.File("rm"),
            "--val-fraction", "0.25", "--steps", "2", "--batch-size", "4", "--block-size", "64", "--threads", "1", "--warmup", "1");
        return ["align", "rejection", "--model", dir.File("policy"), "--prompts", dir.File("prompts.jsonl"), "--reward", dir.File("rm"), .. Few];
    }

    [Fact]
    public void Rejection_sampling_over_ranks_draws_one_process_winners_and_trains_on_the_whole_batch()
    {
        using var lathe = new LatheProcess();
        using var dir = new TempDir();
        string[] run = Inputs(lathe, dir);
        lathe.RunOk([.. run, "--batch-size", "4", "--out", "one"]);
        lathe.RunMpiOk(2, [.. run, "--batch-size", "2", "--out", "two"]);
        lathe.RunMpiOk(2, [.. run, "--batch-size", "2", "--out", "two-again"]);
        var (code, _, stderr) = lathe.RunMpi(3, [], [.. run, "--batch-size", "2", "--rounds", "1", "--out", "three"]);
        Assert.True(code == 0, stderr);

        string Winners(string r) => File.ReadAllText(lathe.PathOf(Path.Combine(r, "round-1", "winners.jsonl")));
        Assert.Equal(Winners("one"), Winners("two"));     // 6 prompts dealt 3 + 3
        Assert.Equal(Winners("one"), Winners("three"));   // and 2 + 2 + 2
        foreach (string figure in new[] { "mean_best_reward", "mean_reward", "winners_mean_tokens" })
            Assert.Equal(Round(lathe, "one").GetProperty(figure).GetDouble(), Round(lathe, "two").GetProperty(figure).GetDouble());

        // The SFT: 2 ranks × 2 rows follow one process × 4 rows (sums in another order: a relative 1e-3 on the loss).
        var one = Losses(lathe, "one");
        var two = Losses(lathe, "two");
        Assert.Equal(3, one.Count);
        Assert.Equal(one.Keys, two.Keys);
        foreach (var (step, loss) in one)
            Assert.True(Math.Abs(loss - two[step]) <= 1e-3 * Math.Abs(loss), $"step {step}: loss {two[step]} on 2 ranks vs {loss} in one process");
        Assert.Equal(File.ReadAllBytes(lathe.PathOf("two/checkpoint/model.safetensors")), File.ReadAllBytes(lathe.PathOf("two-again/checkpoint/model.safetensors")));
        // Files are rank 0's: one align.json, one checkpoint.
        Assert.True(File.Exists(lathe.PathOf("two/align.json")) && File.Exists(lathe.PathOf("two/checkpoint/model.safetensors")));
    }

    [Fact]
    public void Ppo_over_ranks_draws_one_process_rollouts_and_takes_its_steps()
    {
        using var lathe = new LatheProcess();
        using var dir = new TempDir();
        Inputs(lathe, dir);
        string[] run = ["align", "ppo", "--model", dir.File("policy"), "--prompts", dir.File("prompts.jsonl"), "--reward", dir.File("rm"),
            "--phases", "2", "--prompts-per-phase", "4", "--samples", "2", "--minibatch-size", "4", "--ppo-epochs", "2", "--max-new-tokens", "5",
            "--threads", "1", "--seed", "3"];
        lathe.RunOk([.. run, "--out", "one"]);
        lathe.RunMpiOk(2, [.. run, "--out", "two"]);
        lathe.RunMpiOk(2, [.. run, "--out", "two-again"]);
        var (code, _, stderr) = lathe.RunMpi(3, [], [.. run, "--out", "three"]);   // minibatches of 4 rows dealt 2 + 1 + 1
        Assert.True(code == 0, stderr);

        var one = Phases(lathe, "one");
        foreach (string other in new[] { "two", "three" })
        {
            var theirs = Phases(lathe, other);
            Assert.Equal(2, theirs.Count);
            // Phase 1's rollouts, scores and no-grad forwards are one process's, bit for bit (the same weights, batches and seeds).
            foreach (string figure in new[] { "objective/scores", "objective/kl", "objective/entropy", "response_length" })
                Assert.Equal(one[0].GetProperty(figure).GetDouble(), theirs[0].GetProperty(figure).GetDouble());
            // The optimisation sums gradients in another order: its figures agree to a relative 1e-3 (phase 2 samples from
            // weights that differ by that rounding).
            for (int phase = 0; phase < 2; phase++)
                foreach (string figure in new[] { "loss", "loss/value_avg", "objective/scores" })
                {
                    double a = one[phase].GetProperty(figure).GetDouble(), b = theirs[phase].GetProperty(figure).GetDouble();
                    Assert.True(Math.Abs(a - b) <= 1e-3 * Math.Max(Math.Abs(a), 1e-3), $"{other} ranks, phase {phase + 1}: {figure} {b} vs one process's {a}");
                }
        }
        foreach (string file in new[] { "model.safetensors", "value_head.safetensors" })
            Assert.Equal(File.ReadAllBytes(lathe.PathOf(Path.Combine("two", "checkpoint", file))), File.ReadAllBytes(lathe.PathOf(Path.Combine("two-again", "checkpoint", file))));
    }

    static List<JsonElement> Phases(LatheProcess lathe, string run) =>
        File.ReadLines(lathe.PathOf(Path.Combine(run, "metrics.jsonl"))).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    [Fact]
    public void Rlaif_over_ranks_writes_the_pairs_one_process_writes()
    {
        using var lathe = new LatheProcess();
        using var dir = new TempDir();
        AlignLoopInputs.Write(dir);
        string[] run = ["align", "rlaif", "--model", dir.File("policy"), "--judge", dir.File("policy"), "--prompts", dir.File("prompts.jsonl"),
            "--min-confidence", "0.5", "--max-new-tokens", "6", "--threads", "1", "--seed", "3"];
        string stdout = lathe.RunOk([.. run, "--out", "one.jsonl"]);
        lathe.RunMpiOk(2, [.. run, "--out", "two.jsonl"]);
        var (code, _, stderr) = lathe.RunMpi(3, [], [.. run, "--limit", "5", "--out", "three.jsonl"]);
        Assert.True(code == 0, stderr);
        string pairs = File.ReadAllText(lathe.PathOf("one.jsonl"));
        var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        Assert.True(json.GetProperty("labelled").GetInt32() > 0, stdout);
        Assert.Equal(pairs, File.ReadAllText(lathe.PathOf("two.jsonl")));
        lathe.RunOk([.. run, "--limit", "5", "--out", "one-5.jsonl"]);
        Assert.Equal(File.ReadAllText(lathe.PathOf("one-5.jsonl")), File.ReadAllText(lathe.PathOf("three.jsonl")));   // 5 prompts dealt 2 + 2 + 1
    }

    static JsonElement Round(LatheProcess lathe, string run) =>
        JsonDocument.Parse(File.ReadLines(lathe.PathOf(Path.Combine(run, "rounds.jsonl"))).First()).RootElement;

    static Dictionary<int, double> Losses(LatheProcess lathe, string run) => lathe.Losses(Path.Combine(run, "round-1", "metrics.jsonl"));
}

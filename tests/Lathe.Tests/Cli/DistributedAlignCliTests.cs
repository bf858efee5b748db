using System.Text.Json;
using Lathe.Tests.Data;

namespace Lathe.Tests.Cli;

/// <summary>`align rejection` and `align rlaif` under `mpirun`: each rank samples (and scores or judges) its share of
/// the prompts with the sampler seeds of their places in the whole set, so the winners and the labelled pairs are those
/// one process draws, byte for byte, on 2 and 3 ranks; rejection's SFT is data-parallel (K ranks × batch B follow one
/// process with batch K·B) and a rerun on the same ranks is bit-identical.</summary>
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

    static Dictionary<int, double> Losses(LatheProcess lathe, string run) =>
        File.ReadLines(lathe.PathOf(Path.Combine(run, "round-1", "metrics.jsonl"))).Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(e => e.GetProperty("step").GetInt32(), e => e.GetProperty("loss").GetDouble());
}

using System.Text.Json;

namespace Lathe.Tests.Cli;

/// <summary>`finetune --task classify` under `mpirun`: 2 ranks × batch 2 follow one process × batch 4 (the loss curve
/// to a relative 1e-3: the gradients are summed in another order), the held-out scores match, rank 0 alone writes, and
/// a rerun on 2 ranks is bit-identical.</summary>
[Collection("mpirun")]
public class DistributedClassifyCliTests
{
    [Fact]
    public void A_bert_classifier_over_two_ranks_follows_one_process_with_the_whole_batch()
    {
        using var lathe = new LatheProcess();
        FinetuneClassifyCliTests.Base(lathe);
        // Dropout draws each rank's masks from its own stream, not the ones one process draws: compared without it.
        string configPath = lathe.PathOf("base/checkpoint/config.json");
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!;
        config["hidden_dropout_prob"] = 0.0;
        config["attention_probs_dropout_prob"] = 0.0;
        File.WriteAllText(configPath, config.ToJsonString());
        string[] run = ["finetune", "--model", "base", "--data", "mails.jsonl", "--steps", "4", "--threads", "1", "--heldout-fraction", "0.25", "--warmup", "1"];
        string one = lathe.RunOk([.. run, "--batch-size", "4", "--out", "one"]);
        string two = lathe.RunMpiOk(2, [.. run, "--batch-size", "2", "--out", "two"]);
        lathe.RunMpiOk(2, [.. run, "--batch-size", "2", "--out", "two-again"]);

        var a = lathe.Losses("one/metrics.jsonl");
        var b = lathe.Losses("two/metrics.jsonl");
        Assert.Equal(4, a.Count);
        Assert.Equal(a.Keys, b.Keys);
        foreach (var (step, loss) in a)
            Assert.True(Math.Abs(loss - b[step]) <= 1e-3 * Math.Abs(loss), $"step {step}: loss {b[step]} on 2 ranks vs {loss} in one process");
        JsonElement Last(string stdout) => JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]).RootElement;
        Assert.Equal(Last(one).GetProperty("held_out").GetInt32(), Last(two).GetProperty("held_out").GetInt32());
        Assert.Equal(Last(one).GetProperty("accuracy").GetDouble(), Last(two).GetProperty("accuracy").GetDouble(), 6);
        Assert.Equal(File.ReadAllBytes(lathe.PathOf("two/checkpoint/model.safetensors")), File.ReadAllBytes(lathe.PathOf("two-again/checkpoint/model.safetensors")));
        Assert.True(File.Exists(lathe.PathOf("two/classification.json")));
    }
}

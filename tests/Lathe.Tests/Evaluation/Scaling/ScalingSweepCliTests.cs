using System.Text;
using System.Text.Json;
using Lathe.Tests.Cli;
using Lathe.Tests.Data;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>The scaling chain as a user runs it: tokenizer → data prepare → `eval scaling plan` over three tiny
/// configs → `eval scaling sweep` (real pre-training runs, resumable) → `eval scaling fit` with the held-out run.</summary>
public sealed class ScalingSweepCliTests : IDisposable
{
    readonly LatheProcess _cli = new();
    public void Dispose() => _cli.Dispose();

    [Fact]
    public void A_plan_is_swept_resumed_and_fitted()
    {
        _cli.PrepareMobyDick(chapters: 4, vocab: 300);
        foreach (var (name, width) in new[] { ("c1", 8), ("c2", 16), ("c3", 24) })
            File.WriteAllText(_cli.PathOf(name + ".json"), $$"""{ "model_type": "gpt2", "vocab_size": 300, "n_positions": 32, "n_embd": {{width}}, "n_layer": 1, "n_head": 2 }""");
        _cli.RunOk("eval", "scaling", "plan", "--budget-minutes", "0.2", "--tokens-per-second", "40000", "--measured-on", "c2.json",
            "--configs", "c1.json,c2.json,c3.json", "--batch-size", "2", "--block-size", "32", "--out", "plan.json");
        using (var plan = JsonDocument.Parse(File.ReadAllText(_cli.PathOf("plan.json"))))
            Assert.Equal(9, plan.RootElement.GetProperty("runs").GetArrayLength());

        _cli.RunOk("eval", "scaling", "sweep", "--plan", "plan.json", "--data", "data", "--out", "sweep", "--batch-size", "2", "--block-size", "32", "--threads", "1");
        var runs = File.ReadAllLines(_cli.PathOf("sweep/runs.jsonl")).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(9, runs.Count);
        Assert.All(runs, r => Assert.InRange(r.GetProperty("loss").GetDouble(), 1.0, 7.0));   // below ln 300 = 5.7 after training, finite
        Assert.Single(File.ReadAllLines(_cli.PathOf("sweep/heldout.jsonl")), l => l.Length > 0);

        // A second sweep finds every run done: nothing is trained again.
        var (code, _, stderr) = _cli.Run("eval", "scaling", "sweep", "--plan", "plan.json", "--data", "data", "--out", "sweep", "--batch-size", "2", "--block-size", "32", "--threads", "1");
        Assert.Equal(0, code);
        Assert.Equal(10, stderr.Split('\n').Count(l => l.Contains("done before")));
        Assert.DoesNotContain("pretrain:", stderr);

        _cli.RunOk("eval", "scaling", "fit", "--runs", "sweep/runs.jsonl", "--heldout", "sweep/heldout.jsonl", "--out", "sweep", "--grid", "small");
        Assert.True(File.Exists(_cli.PathOf("sweep/scaling.json")));

        var (bad, _, badErr) = _cli.Run("eval", "scaling", "sweep", "--plan", "plan.json", "--data", "data", "--out", "sweep", "--batch-size", "4", "--block-size", "32");
        Assert.Equal(2, bad);
        Assert.Contains("tokens_per_step 64 is not --batch-size 4 × --block-size 32", badErr);
    }
}

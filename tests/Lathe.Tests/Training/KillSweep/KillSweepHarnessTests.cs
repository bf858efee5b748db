using Lathe.Cli.KillSweep;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Models;
using Lathe.Tests.Cli;
using Lathe.Tests.Data;
using Lathe.Training;

namespace Lathe.Tests.Training.KillSweep;

/// <summary>The sweep's own oracles must see what they are meant to: the comparison a changed byte (and not a wall
/// time), the audit a truncated tensor file and a half-written state, the plan its targets and its seed; and `lathe
/// bench kill`'s bad input is one line, exit 2.</summary>
public class KillSweepHarnessTests
{
    static void TwoRuns(TempDir dir)
    {
        foreach (string run in new[] { "a", "b" })
        {
            using var model = CausalLM.Create(new ModelConfig { ModelType = "gpt2", VocabSize = 16, MaxPositions = 8, Embd = 8, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 16 }, 3);
            Checkpoint.SaveModel(dir.File($"{run}/checkpoint"), model, null);
            new TrainerState { Step = 4 }.Save(dir.File($"{run}/checkpoint/{Checkpoint.StateFile}"));
            File.WriteAllText(dir.File($"{run}/metrics.jsonl"), $"{{\"step\":1,\"loss\":2.5,\"wall_s\":{(run == "a" ? 1.5 : 2.25)}}}\n");
        }
    }

    [Fact]
    public void The_comparison_finds_one_changed_byte_and_ignores_timing_fields()
    {
        using var dir = new TempDir();
        TwoRuns(dir);
        Assert.Empty(RunComparison.Differences(dir.File("a"), dir.File("b")));   // only wall_s differs
        string weights = dir.File($"b/checkpoint/{Checkpoint.ModelFile}");
        byte[] bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 1;
        File.WriteAllBytes(weights, bytes);
        File.WriteAllText(dir.File("b/.metrics.jsonl.1.x.tmp"), "half");   // a temporary is not part of the run
        Assert.Equal([$"checkpoint{Path.DirectorySeparatorChar}{Checkpoint.ModelFile}: differs"], RunComparison.Differences(dir.File("a"), dir.File("b")));
        File.AppendAllText(dir.File("b/metrics.jsonl"), "{\"step\":2,\"loss\":2.4}\n");
        File.Delete(dir.File($"b/checkpoint/{Checkpoint.StateFile}"));
        Assert.Equal([$"checkpoint{Path.DirectorySeparatorChar}{Checkpoint.StateFile}: missing", $"checkpoint{Path.DirectorySeparatorChar}{Checkpoint.ModelFile}: differs", "metrics.jsonl: differs"],
            RunComparison.Differences(dir.File("a"), dir.File("b")));
        Assert.True(RunComparison.IsTiming("tokens_per_s") && RunComparison.IsTiming("peak_rss_mb") && !RunComparison.IsTiming("loss"));
    }

    [Fact]
    public void The_audit_names_a_truncated_tensor_file_and_a_half_written_state()
    {
        using var dir = new TempDir();
        TwoRuns(dir);
        Assert.Empty(CheckpointAudit.Check(dir.File("a")));
        string weights = dir.File($"a/checkpoint/{Checkpoint.ModelFile}");
        byte[] bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length - 8)]);
        string state = dir.File($"a/checkpoint/{Checkpoint.StateFile}");
        File.WriteAllText(state, File.ReadAllText(state)[..10]);
        Directory.CreateDirectory(dir.File("a/checkpoint.tmp"));
        File.WriteAllText(dir.File("a/checkpoint.tmp/trainer_state.json"), "{");   // a swap's temporary is never read
        var problems = CheckpointAudit.Check(dir.File("a"));
        Assert.Contains(problems, p => p.StartsWith(state + ":", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith(weights + ":", StringComparison.Ordinal));
        Assert.DoesNotContain(problems, p => p.Contains("checkpoint.tmp", StringComparison.Ordinal));
        Assert.Equal(["checkpoint.tmp"], CheckpointAudit.Temporaries(dir.File("a")));
    }

    [Fact]
    public void The_plan_aims_at_each_point_passed_and_follows_its_seed()
    {
        var passes = new Dictionary<string, int> { [KillPoints.CheckpointSwap] = 5, [KillPoints.Evaluation] = 2, [KillPoints.FileWrite] = 30 };
        var plan = KillMoment.Plan(20, seed: 9, seconds: 4, firstPoint: 1, passes);
        Assert.Equal(20, plan.Count);
        Assert.Equal([KillPoints.CheckpointSwap, KillPoints.Evaluation, KillPoints.FileWrite], plan.Skip(1).Take(3).Select(m => m.Point));
        Assert.All(plan.Skip(1).Take(3), m => Assert.InRange(m.Occurrence, 1, passes[m.Point!]));
        var timed = plan.Where(m => m.Point is null).ToList();
        Assert.Equal(17, timed.Count);
        Assert.All(timed, m => Assert.InRange(m.After!.Value.TotalSeconds, 0.5, 4 * 0.97));
        Assert.Contains(timed, m => m.AgainAfter is not null);
        Assert.Equal(plan, KillMoment.Plan(20, seed: 9, seconds: 4, firstPoint: 1, passes));
        Assert.NotEqual(plan, KillMoment.Plan(20, seed: 10, seconds: 4, firstPoint: 1, passes));
    }

    [Fact]
    public void Bench_kill_refuses_an_unknown_verb_and_no_moments_in_one_line()
    {
        using var lathe = new LatheProcess();
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--verb", "sing"], $"lathe: bench kill: --verb 'sing' is not one of {string.Join(", ", SweepVerbs.Names)}"),
            (["--verb", "pretrain", "--moments", "0"], "lathe: bench kill: --moments: 0 must be at least 1"),
        })
        {
            var (code, stdout, stderr) = lathe.Run(["bench", "kill", .. args]);
            Assert.Equal((2, message, ""), (code, stderr.Trim(), stdout));
        }
        Assert.Equal(["pretrain-gpt2", "pretrain-llama"], SweepVerbs.Select("pretrain").Select(v => v.Name));
        Assert.Equal(SweepVerbs.All.Count, SweepVerbs.Select("all").Count);
    }
}

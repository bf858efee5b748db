using Lathe.Cli.KillSweep;
using Lathe.IO;
using Lathe.Tests.Data;

namespace Lathe.Tests.Training.KillSweep;

/// <summary>Issue #21's kill -9 guarantee at a small scale, for every verb of the sweep's table: a run SIGKILLed at a
/// random moment and inside a checkpoint's swap, then at the moment just after a checkpoint, and one given Ctrl-C,
/// each continued the verb's way, leaves only readable files and ends bit for bit as the uninterrupted run. (`lathe
/// bench kill` runs the same sweep with 20 moments; docs/KILL9.md has its results.)</summary>
public class KillSweepTests
{
    public static TheoryData<string> Verbs() => [.. SweepVerbs.All.Select(v => v.Name)];

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Killed_and_interrupted_runs_resume_to_the_uninterrupted_end(string name)
    {
        using var work = new TempDir();
        SweepInputs.Write(work.Path);
        var verb = SweepVerbs.Select(name).Single();
        var reference = KillSweepRunner.RunReference(verb, work.Path);
        var sweep = KillSweepRunner.Sweep(verb, work.Path, moments: 2, seed: 21, reference: reference);
        Assert.True(sweep.Unreadable == 0 && sweep.Differs == 0, string.Join("\n", sweep.Findings));
        Assert.True(sweep.Kills >= 1, $"{name}: no moment landed before the run ended");

        // Ctrl-C mid-training (mid-sampling for rlaif): a clean exit with its state saved, and the resume ends as the reference.
        var interrupted = KillSweepRunner.RunInterrupt(verb, work.Path, reference, "ctrl-c");
        Assert.True(interrupted.Unreadable.Count == 0 && interrupted.Differences.Count == 0,
            string.Join("\n", interrupted.Unreadable.Concat(interrupted.Differences)));
        Assert.True(interrupted.Kills == 1, $"{name}: the run ended before its Ctrl-C");   // it exited 130, not 0
    }

    // Regression: the trainers wrote metrics.jsonl after the checkpoint's swap, so a kill between the two left a
    // checkpoint at step s and metrics only to the previous checkpoint — the resumed run never wrote the rows between.
    [Theory]
    [InlineData("pretrain-gpt2")]
    [InlineData("align-ppo")]
    public void A_kill_just_after_a_checkpoint_loses_no_metrics_row(string name)
    {
        using var work = new TempDir();
        SweepInputs.Write(work.Path);
        var verb = SweepVerbs.Select(name).Single();
        var reference = KillSweepRunner.RunReference(verb, work.Path);
        var result = KillSweepRunner.RunMoment(verb, work.Path, reference, new KillMoment(null, KillPoints.CheckpointDone, 1, null), "killed");
        Assert.Equal(1, result.Kills);
        Assert.Empty(result.Unreadable);
        Assert.Empty(result.Differences);
    }

    // Regression: the swap deleted the previous checkpoint as checkpoint.old/; a kill inside that delete during a run's
    // last save left a half-emptied checkpoint.old/ that the resumed run — with no step left, so no save — kept for
    // good. It is now deleted under the temporary name, which nothing reads.
    [Fact]
    public void A_kill_while_the_last_save_clears_the_old_checkpoint_leaves_no_old_checkpoint()
    {
        using var work = new TempDir();
        SweepInputs.Write(work.Path);
        var verb = SweepVerbs.Select("finetune-full").Single();
        var reference = KillSweepRunner.RunReference(verb, work.Path);
        int last = reference.Passes[KillPoints.CheckpointCleanup];
        var result = KillSweepRunner.RunMoment(verb, work.Path, reference, new KillMoment(null, KillPoints.CheckpointCleanup, last, null), "killed");
        Assert.Equal(1, result.Kills);
        Assert.Empty(result.Unreadable);
        Assert.Empty(result.Differences);
    }
}

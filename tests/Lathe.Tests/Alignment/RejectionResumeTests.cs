using System.Runtime.InteropServices;
using Lathe.Alignment;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Tests.Data;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Tests.Alignment;

/// <summary>Rejection sampling resumed after an interruption (a cancellation mid-SFT, as Ctrl-C makes) ends with the
/// same weights, bit for bit, as a run never interrupted — interrupted in round 1 or round 2, with full fine-tuning or
/// LoRA — and its rounds.jsonl, winners and per-step metrics are the straight run's, each round listed once.</summary>
public class RejectionResumeTests
{
    const int Rounds = 2, Steps = 6;

    /// <summary>The share of a response's tokens that are ASCII bytes: varied rewards, so best-of-K has real choices.</summary>
    sealed class AsciiShare : IRewardFunction
    {
        public void Score(IReadOnlyList<Rollout> rollouts, IReadOnlyList<string?> promptKinds, Span<float> rewards)
        {
            for (int i = 0; i < rollouts.Count; i++)
            {
                var s = rollouts[i].Sequence;
                int n = 0, ascii = 0;
                for (int t = 0; t < s.Ids.Length; t++)
                    if (s.Trainable[t]) { n++; if (s.Ids[t] < 128) ascii++; }
                rewards[i] = (float)ascii / n;
            }
        }
    }

    sealed record Outcome(List<RejectionRound> Rounds, bool Interrupted, int[][] Weights, int FirstStep);

    // A fresh tiny policy (as a new process would load it) run into runDir; cancelled after step stopStep of round
    // stopRound (0: never), the way the CLI's Ctrl-C handler cancels the trainer's token.
    static Outcome Run(string runDir, string method, bool resume, int stopRound = 0, int stopStep = 0, int rounds = Rounds)
    {
        using var model = RejectionSamplingTests.Tiny();
        var generator = new RolloutGenerator(model, ChatTemplate.Named("chatml"), maxNewTokens: 4, parallel: 8);
        using var tuning = TuningMethods.Create(model.Model, new TuningOptions { Method = method, Rank = 4 }, 7);
        var sampler = new RejectionSampler(model, tuning, generator, new AsciiShare(), new RejectionOptions
        {
            Samples = 4, Rounds = rounds, Seed = 3,
            Training = new TrainingOptions { Steps = Steps, BatchSize = 4, BlockSize = 64, LearningRate = 1e-2f, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, Seed = 9 },
        });
        using var cancel = new CancellationTokenSource();
        int round = 0, first = 0;
        var (done, interrupted) = sampler.RunAll(RejectionSamplingTests.Prompts(8), runDir, resume, cancel.Token, p =>
        {
            if (first == 0) first = p.Step;
            if (p.Step == 1) round++;   // a round that starts afresh reports its step 1 first
            if (round == stopRound && p.Step == stopStep) cancel.Cancel();
        });
        // The weights as bits (−0 and NaN compare as what they are), the model's and the method's own.
        var weights = model.Model.Parameters.Concat(tuning.Trainable).Select(p => MemoryMarshal.Cast<float, int>(p.Value.ToArray().AsSpan()).ToArray()).ToArray();
        return new Outcome(done, interrupted, weights, first);
    }

    static byte[] Bytes(string dir, string file) => File.ReadAllBytes(Path.Combine(dir, file));

    [Theory]
    [InlineData(TuningOptions.Full, 2)]
    [InlineData(TuningOptions.Full, 1)]
    [InlineData(TuningOptions.Lora, 2)]
    public void A_run_interrupted_mid_sft_and_resumed_ends_bit_for_bit_where_a_straight_run_does(string method, int stopRound)
    {
        using var dir = new TempDir();
        string straight = dir.File("straight"), broken = dir.File("broken");
        var a = Run(straight, method, resume: false);
        Assert.False(a.Interrupted);
        Assert.Equal(Rounds, a.Rounds.Count);

        var cut = Run(broken, method, resume: false, stopRound, stopStep: 3);
        Assert.True(cut.Interrupted);
        Assert.Equal(stopRound - 1, cut.Rounds.Count);
        // The interrupted round's trainer wrote its checkpoint at step 3 of 6: a real mid-SFT state, not a finished one.
        var state = TrainerState.Load(Path.Combine(RejectionSampler.RoundFolder(broken, stopRound), Checkpoint.Folder, Checkpoint.StateFile));
        Assert.Equal((3, Steps), (state.Step, state.Options.Steps));
        Assert.Equal(stopRound - 1, File.ReadAllLines(Path.Combine(broken, RejectionSampler.RoundsFile)).Length);
        Assert.NotEqual(a.Weights.SelectMany(w => w), cut.Weights.SelectMany(w => w));

        var b = Run(broken, method, resume: true);
        Assert.False(b.Interrupted);
        Assert.Equal(4, b.FirstStep);   // the round's trainer went on from its checkpoint, not from step 1
        Assert.Equal(Rounds, b.Rounds.Count);
        Assert.Equal(a.Weights.Length, b.Weights.Length);
        for (int i = 0; i < a.Weights.Length; i++) Assert.True(a.Weights[i].AsSpan().SequenceEqual(b.Weights[i]), $"tensor {i} differs after resume");
        // Finished rounds are skipped (read back, no winners), the interrupted one re-sampled the same winners.
        Assert.Equal(stopRound == 2 ? 0 : 8, b.Rounds[0].Winners.Count);
        Assert.Equal(8, b.Rounds[1].Winners.Count);
        string weightsFile = method == TuningOptions.Full ? Checkpoint.ModelFile : "adapter_model.safetensors";
        for (int r = 1; r <= Rounds; r++)
        {
            string ra = RejectionSampler.RoundFolder(straight, r), rb = RejectionSampler.RoundFolder(broken, r);
            Assert.Equal(Bytes(ra, RejectionSampler.WinnersFile), Bytes(rb, RejectionSampler.WinnersFile));
            Assert.Equal(Bytes(ra, "metrics.jsonl"), Bytes(rb, "metrics.jsonl"));   // each step's loss, lr and gradient norm
            Assert.Equal(Bytes(Path.Combine(ra, Checkpoint.Folder), weightsFile), Bytes(Path.Combine(rb, Checkpoint.Folder), weightsFile));
            Assert.Equal(Bytes(Path.Combine(ra, Checkpoint.Folder), Checkpoint.OptimizerFile), Bytes(Path.Combine(rb, Checkpoint.Folder), Checkpoint.OptimizerFile));
        }
        // rounds.jsonl lists each round once, with the straight run's figures.
        var lines = File.ReadAllLines(Path.Combine(broken, RejectionSampler.RoundsFile));
        Assert.Equal(File.ReadAllLines(Path.Combine(straight, RejectionSampler.RoundsFile)), lines);
        Assert.Equal(Rounds, lines.Length);
    }

    [Fact]
    public void A_finished_run_resumed_with_more_rounds_continues_it_bit_for_bit()
    {
        using var dir = new TempDir();
        var a = Run(dir.File("straight"), TuningOptions.Full, resume: false);
        var one = Run(dir.File("extended"), TuningOptions.Full, resume: false, rounds: 1);
        Assert.Single(one.Rounds);
        var b = Run(dir.File("extended"), TuningOptions.Full, resume: true);
        Assert.Equal(Rounds, b.Rounds.Count);
        Assert.Empty(b.Rounds[0].Winners);   // round 1 was read back, not run again
        Assert.Equal(8, b.Rounds[1].Winners.Count);
        for (int i = 0; i < a.Weights.Length; i++) Assert.True(a.Weights[i].AsSpan().SequenceEqual(b.Weights[i]), $"tensor {i} differs");
        Assert.Equal(File.ReadAllLines(dir.File("straight/rounds.jsonl")), File.ReadAllLines(dir.File("extended/rounds.jsonl")));

        // Fewer rounds than the run finished, and a fresh start over a run, are one-line refusals.
        Assert.StartsWith("--rounds: 1 is fewer than the 2 rounds", Assert.Throws<ArgumentException>(() => Run(dir.File("extended"), TuningOptions.Full, resume: true, rounds: 1)).Message);
        Assert.StartsWith("rejection: ", Assert.Throws<ArgumentException>(() => Run(dir.File("extended"), TuningOptions.Full, resume: false)).Message);
    }
}

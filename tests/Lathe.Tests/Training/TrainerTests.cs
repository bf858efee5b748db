using Lathe.Data;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Models;
using Lathe.Training;

namespace Lathe.Tests.Training;

public class TrainerTests
{
    static ModelConfig Tiny => new() { ModelType = "gpt2", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 128 };

    // A tiny "corpus": a repeating pattern with some noise, learnable in a few hundred steps.
    static int[] Corpus(int n, ulong seed)
    {
        var rng = new Lathe.Tensors.Philox(seed);
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rng.NextInt(8) == 0 ? rng.NextInt(64) : (i * 7 + i / 5) % 23;
        return t;
    }

    static TrainingOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 4, BlockSize = 16, GradAccum = 2, LearningRate = 3e-3f, WarmupSteps = 5, EvalEvery = 0,
        CheckpointEvery = 0, Seed = 5,
    };

    [Theory]
    [InlineData(0f, 0f)]
    [InlineData(0.1f, 0f)]   // dropout masks come from the trainer's generator, whose state the checkpoint saves
    [InlineData(0.1f, 0.1f)] // attention-probability masks too (their seeds are drawn from the same generator)
    public void Interrupted_and_resumed_run_matches_the_uninterrupted_run_bit_for_bit(float dropout, float attentionDropout)
    {
        int[] corpus = Corpus(4000, 1);
        ExactResume.Check(seed => CausalLM.Create(Tiny with { Dropout = dropout, AttentionDropout = attentionDropout }, seed),
            () => new TokenStreamSource(corpus, 16), (model, source, run) => new Trainer(model, Options(12), source, null, run, null), n: 6);
    }

    [Theory]
    [InlineData("gpt2", 0.2f, 0f)]
    [InlineData("gpt2", 0f, 0.2f)]
    [InlineData("llama", 0f, 0.2f)]
    public void Dropout_applies_only_while_training(string type, float dropout, float attentionDropout)
    {
        var config = type == "gpt2" ? Tiny with { Dropout = dropout, AttentionDropout = attentionDropout }
            : new ModelConfig { ModelType = "llama", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 64, AttentionDropout = attentionDropout };
        using var model = CausalLM.Create(config, 3);
        int[] ids = Corpus(33, 4);
        using var tape = new Lathe.Tensors.Autograd.Tape();
        float Loss()
        {
            tape.Reset();
            using (tape.Activate()) return Lathe.Tensors.Ops.CrossEntropy(model.Logits(ids.AsSpan(0, 32), 2, 16), ids.AsSpan(1, 32)).Item();
        }
        float plain = Loss();
        Assert.Equal(plain, Loss());
        model.DropoutRng = new Lathe.Tensors.Philox(1);
        float dropped = Loss();
        Assert.NotEqual(plain, dropped);
        Assert.NotEqual(dropped, Loss());   // a fresh mask each call
        model.DropoutRng = null;
        Assert.Equal(plain, Loss());
    }

    [Fact]
    public void Two_hundred_steps_reduce_validation_loss()
    {
        int[] corpus = Corpus(6000, 2), validation = Corpus(1000, 3);
        using var model = CausalLM.Create(Tiny, 4);
        using var trainer = new Trainer(model, Options(200) with { GradAccum = 1 }, new TokenStreamSource(corpus, 16), validation, null, null);
        double before = trainer.Evaluate();
        trainer.Run(CancellationToken.None);
        double after = trainer.Evaluate();
        Assert.True(before > 3.9, $"initial loss {before} should be near ln 64 = 4.16");
        Assert.True(after < 0.6 * before, $"validation loss went {before:F3} → {after:F3}");
    }

    [Fact]
    public void NaN_loss_stops_training_and_keeps_the_last_good_checkpoint()
    {
        string run = CheckpointTests.TempDir();
        using var model = CausalLM.Create(Tiny, 3);
        using var trainer = new Trainer(model, Options(10), new TokenStreamSource(Corpus(2000, 1), 16), null, run, null);
        trainer.TrainStep();
        trainer.SaveCheckpoint();
        var good = model.Parameters[0].Value.ToArray();
        model.Parameters[0].Value.AsSpan()[0] = float.NaN;   // poisons the embedding → NaN loss
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.TrainStep());
        Assert.StartsWith("training diverged: loss is NaN at step 2", e.Message);
        using var loaded = Checkpoint.LoadModel(run);
        Assert.Equal(good, loaded.Parameters[0].Value.ToArray());
        Assert.Equal(1, TrainerState.Load(Path.Combine(Checkpoint.Resolve(run), "trainer_state.json")).Step);
    }

    [Fact]
    public void Run_writes_metrics_curves_and_a_resumable_checkpoint_and_stops_on_cancel()
    {
        string run = CheckpointTests.TempDir();
        using var model = CausalLM.Create(Tiny, 3);
        using var cancel = new CancellationTokenSource();
        using var trainer = new Trainer(model, Options(50) with { EvalEvery = 2 }, new TokenStreamSource(Corpus(2000, 1), 16), Corpus(300, 9), run, null);
        var outcome = trainer.Run(cancel.Token, p => { if (p.Step == 4) cancel.Cancel(); });
        Assert.Equal(TrainingOutcome.Interrupted, outcome);
        Assert.Equal(4, TrainerState.Load(Path.Combine(run, "checkpoint", "trainer_state.json")).Step);
        var lines = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal(4, lines.Length);
        Assert.Contains("\"val_loss\"", lines[1]);
        Assert.Contains("<polyline", File.ReadAllText(Path.Combine(run, "loss.svg")));
        Assert.True(File.Exists(Path.Combine(run, "loss.html")));
    }

    [Fact]
    public void Gradient_accumulation_matches_one_larger_batch()
    {
        int[] corpus = Corpus(3000, 6);
        float[][] Grads(int batch, int accum)
        {
            using var model = CausalLM.Create(Tiny, 3);
            using var trainer = new Trainer(model, Options(1) with { BatchSize = batch, GradAccum = accum, ClipNorm = 0 },
                new TokenStreamSource(corpus, 16), null, null, null);
            trainer.TrainStep();
            return model.Parameters.Select(p => p.Value.Grad!.ToArray()).ToArray();
        }
        var whole = Grads(4, 1);
        var split = Grads(2, 2);
        for (int i = 0; i < whole.Length; i++) ModelParityTests.AssertClose($"grad {i}", whole[i], split[i], 1e-5f);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void A_steady_state_step_allocates_no_managed_memory(string type)
    {
        var config = type == "gpt2" ? Tiny with { Dropout = 0.1f, AttentionDropout = 0.1f }
            : new ModelConfig { ModelType = "llama", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 64, TieEmbeddings = false, AttentionDropout = 0.1f };
        using var model = CausalLM.Create(config, 3);
        using var trainer = new Trainer(model, Options(20), new TokenStreamSource(Corpus(3000, 1), 16), null, null, null);
        for (int i = 0; i < 3; i++) trainer.TrainStep();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++) trainer.TrainStep();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Weight_decay_applies_to_matrices_only()
    {
        using var gpt = CausalLM.Create(Tiny, 1);
        foreach (var p in gpt.Parameters)
            Assert.Equal(p.Name.EndsWith(".weight", StringComparison.Ordinal) && p.Value.Rank == 2 && !p.Name.Contains("wte") && !p.Name.Contains("wpe"), p.Decay);
        using var llama = CausalLM.Create(ModelConfig.FromPresetOrFile("llama-tiny"), 1);
        foreach (var p in llama.Parameters)
            Assert.Equal(p.Value.Rank == 2 && p.Name != "model.embed_tokens.weight", p.Decay);
    }

    [Fact]
    public void Schedule_warms_up_then_decays_to_the_floor()
    {
        var s = new LearningRateSchedule(1f, 10, 110, 0.1f);
        Assert.Equal(0.1f, s.At(1), 6);
        Assert.Equal(1f, s.At(10), 6);
        Assert.Equal(0.55f, s.At(60), 5);
        Assert.Equal(0.1f, s.At(110), 6);
    }

    [Fact]
    public void Shards_round_trip_and_bad_input_names_the_file()
    {
        string dir = CheckpointTests.TempDir();
        int[] tokens = [1, 2, 65535, 0, 7];
        TokenShards.Write(Path.Combine(dir, "x_train_000.bin"), tokens);
        Assert.Equal(tokens, TokenShards.Read(Path.Combine(dir, "x_train_000.bin")));
        TokenShards.Write(Path.Combine(dir, "x_val_000.bin"), [70000, 3]);
        Assert.Equal([70000, 3], TokenShards.Read(Path.Combine(dir, "x_val_000.bin")));
        string bad = Path.Combine(dir, "bad.bin");
        File.WriteAllBytes(bad, new byte[1024]);
        Assert.Equal($"data: {bad}: magic 0 at byte offset 0, expected 20240520 (llm.c token shard)", Assert.Throws<InvalidDataException>(() => TokenShards.Read(bad)).Message);
        string empty = CheckpointTests.TempDir();
        Assert.Equal($"data: {empty} holds no token shards (*.bin)", Assert.Throws<InvalidDataException>(() => TokenShards.LoadFolder(empty)).Message);
    }
}

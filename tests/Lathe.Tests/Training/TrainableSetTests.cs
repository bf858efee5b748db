using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Tests.Tuning;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Tests.Training;

/// <summary>The trainer's trainable set: frozen parameters keep their values, get no gradient buffer and no optimizer
/// state; the trainable ones get exactly the gradient full training gives them; extra parameters (an adapter's) train.</summary>
public class TrainableSetTests
{
    static TrainingOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 2, BlockSize = 16, LearningRate = 1e-2f, WarmupSteps = 0, EvalEvery = 0, CheckpointEvery = 0, Seed = 3,
    };

    static int[] Corpus(int n)
    {
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = (i * 7 + i / 5) % 23;
        return t;
    }

    [Fact]
    public void Frozen_parameters_keep_their_values_and_get_no_gradient_or_optimizer_state()
    {
        using var model = CausalLM.Create(AdapterSlotTests.Gpt2, 1);
        var trainable = model.Parameters.Where(p => p.Name.Contains(".attn.")).ToList();
        var before = model.Parameters.ToDictionary(p => p.Name, p => p.Value.ToArray());
        string run = CheckpointTests.TempDir();
        using (var trainer = new Trainer(model, Options(3), new TokenStreamSource(Corpus(2000), 16), null, run, null, trainable: trainable))
        {
            for (int i = 0; i < 3; i++) trainer.TrainStep();
            trainer.SaveCheckpoint();
        }
        foreach (var p in model.Parameters)
        {
            bool train = trainable.Contains(p);
            Assert.Equal(!train, before[p.Name].AsSpan().SequenceEqual(p.Value.ToArray()));
            if (!train) Assert.Null(p.Value.Grad);
        }
        using var optimizer = SafetensorsFile.Open(Path.Combine(Checkpoint.Resolve(run), Checkpoint.OptimizerFile));
        Assert.Equal(trainable.SelectMany(p => new[] { "exp_avg." + p.Name, "exp_avg_sq." + p.Name }).Order(), optimizer.Entries.Keys.Order());
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Trainable_parameters_get_the_gradient_full_training_gives_them(string type)
    {
        var config = type == "gpt2" ? AdapterSlotTests.Gpt2 : AdapterSlotTests.Llama;
        int[] tokens = Corpus(33);
        float[][] Gradients(bool freezeMost)
        {
            using var model = CausalLM.Create(config, 4);
            foreach (var p in model.Parameters) p.Value.RequiresGrad = !freezeMost || p.Name.Contains("layers.1") || p.Name.Contains("h.1");
            using var tape = new Tape();
            using (tape.Activate())
                tape.Backward(new CausalLmObjective().Loss(model, new TrainingBatch(tokens.AsSpan(0, 32), tokens.AsSpan(1, 32), 2, 16, 0)));
            return model.Parameters.Where(p => p.Name.Contains("layers.1") || p.Name.Contains("h.1")).Select(p => p.Value.Grad!.ToArray()).ToArray();
        }
        var full = Gradients(false);
        var partial = Gradients(true);
        Assert.NotEmpty(full);
        for (int i = 0; i < full.Length; i++) Assert.True(full[i].AsSpan().SequenceEqual(partial[i]), $"gradient {i} differs when the other layers are frozen");
    }

    [Fact]
    public void An_adapters_own_parameters_train_while_the_model_stays_frozen()
    {
        using var model = CausalLM.Create(AdapterSlotTests.Llama, 2);
        var adapters = model.Linears
            .Select((l, i) => { var a = new AdapterSlotTests.LowRank(l, 8, 2f, i, zeroB: true); l.Adapter = a; return a; }).ToList();
        var before = model.Parameters.Select(p => p.Value.ToArray()).ToArray();
        var options = Options(40) with { LearningRate = 3e-2f };
        float first, last = 0;
        using (var trainer = new Trainer(model, options, new TokenStreamSource(Corpus(4000), 16), null, null, null,
                   trainable: adapters.SelectMany(a => a.Parameters).ToList()))
        {
            first = trainer.TrainStep();
            for (int i = 1; i < 40; i++) last = trainer.TrainStep();
        }
        Assert.True(last < first - 0.3f, $"loss {first:F3} → {last:F3}: the adapters did not learn");
        for (int i = 0; i < before.Length; i++) Assert.True(before[i].AsSpan().SequenceEqual(model.Parameters[i].Value.ToArray()));
        foreach (var a in adapters) a.Dispose();
    }

    [Fact]
    public void A_run_with_frozen_parameters_resumes_bit_for_bit()
    {
        // The optimizer file then holds moments for the trainable set only; resume must read exactly those.
        int[] corpus = Corpus(3000);
        ExactResume.Check(seed => CausalLM.Create(AdapterSlotTests.Llama, seed), () => new TokenStreamSource(corpus, 16),
            (model, source, run) => new Trainer(model, Options(8), source, null, run, null,
                trainable: model.Parameters.Where(p => p.Name.Contains("layers.1.") || p.Name.Contains("norm")).ToList()), n: 4);
    }

    [Fact]
    public void Weighted_targets_train_only_where_the_weight_is_not_zero()
    {
        // SFT's loss mask: with every weight 0 except the second half of each row, the loss equals the mean over that half.
        using var model = CausalLM.Create(AdapterSlotTests.Gpt2, 7);
        int[] tokens = Corpus(33);
        var weights = new float[32];
        for (int i = 0; i < 32; i++) weights[i] = i % 16 >= 8 ? 1f : 0f;
        var masked = (int[])tokens.AsSpan(1, 32).ToArray().Clone();
        for (int i = 0; i < 32; i++) if (weights[i] == 0) masked[i] = -100;
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            float weighted = new CausalLmObjective().Loss(model, new TrainingBatch(tokens.AsSpan(0, 32), tokens.AsSpan(1, 32), 2, 16, 0, weights)).Item();
            float ignored = new CausalLmObjective().Loss(model, new TrainingBatch(tokens.AsSpan(0, 32), masked, 2, 16, 0)).Item();
            Assert.Equal(ignored, weighted, 6);
        }
    }
}

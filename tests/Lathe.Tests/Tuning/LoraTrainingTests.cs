using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Models;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Tests.Tuning;

/// <summary>LoRA under the trainer: the base's bytes never change, and an interrupted run resumed from its checkpoint
/// plus the adapter folder ends bit for bit where the uninterrupted run ends (dropout on the branch included).</summary>
public class LoraTrainingTests
{
    static TrainingOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 2, BlockSize = 16, GradAccum = 2, LearningRate = 1e-2f, WarmupSteps = 2, EvalEvery = 0, CheckpointEvery = 0, Seed = 5,
    };

    static LoraConfig Config => new() { Rank = 4, Alpha = 8, Dropout = 0.1, TargetModules = null, TargetPattern = "all-linear" };

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Training_changes_the_adapters_and_not_one_byte_of_the_base(string type)
    {
        using var model = CausalLM.Create(type == "gpt2" ? AdapterSlotTests.Gpt2 : AdapterSlotTests.Llama, 3);
        var before = model.Parameters.Select(p => p.Value.ToArray()).ToArray();
        using var lora = LoraMethod.Attach(model, Config, 4);
        float first, last = 0;
        using (var trainer = new Trainer(model, Options(12), new TokenStreamSource(Corpus(600), 16), null, null, null, trainable: lora.Trainable))
        {
            first = trainer.TrainStep();
            for (int i = 1; i < 12; i++) last = trainer.TrainStep();
        }
        for (int i = 0; i < before.Length; i++)
            Assert.True(before[i].AsSpan().SequenceEqual(model.Parameters[i].Value.AsSpan()), $"{model.Parameters[i].Name} changed");
        Assert.All(model.Parameters, p => Assert.Null(p.Value.Grad));   // frozen: no gradient buffer either
        Assert.True(last < first, $"loss {first} → {last}: the adapters did not learn");
        Assert.All(lora.Adapters, a => Assert.Contains(a.B.ToArray(), v => v != 0f));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void An_interrupted_run_resumes_bit_for_bit(string type)
    {
        const int n = 3;
        var config = type == "gpt2" ? AdapterSlotTests.Gpt2 : AdapterSlotTests.Llama;
        int[] corpus = Corpus(600);
        float[][] straight;
        using (var model = CausalLM.Create(config, 3))
        using (var lora = LoraMethod.Attach(model, Config, 4))
        using (var t = new Trainer(model, Options(2 * n), new TokenStreamSource(corpus, 16), null, null, null, trainable: lora.Trainable))
        {
            for (int i = 0; i < 2 * n; i++) t.TrainStep();
            straight = lora.Trainable.Select(p => p.Value.ToArray()).ToArray();
        }
        string run = CheckpointTests.TempDir(), adapterDir = Path.Combine(run, "adapter");
        using (var model = CausalLM.Create(config, 3))
        using (var lora = LoraMethod.Attach(model, Config, 4))
        using (var t = new Trainer(model, Options(2 * n), new TokenStreamSource(corpus, 16), null, run, null, trainable: lora.Trainable))
        {
            for (int i = 0; i < n; i++) t.TrainStep();
            t.SaveCheckpoint();
            lora.Save(adapterDir);   // the trainer checkpoints the base, moments, RNG and data position; the method its own tensors
            t.TrainStep();           // work a kill would lose
        }
        using (var model = CausalLM.Create(config, 99))               // everything must come from the files
        using (var lora = LoraMethod.Attach(model, Config, 77))
        using (var t = new Trainer(model, Options(2 * n), new TokenStreamSource(corpus, 16), null, run, null, trainable: lora.Trainable))
        {
            lora.Load(adapterDir);
            t.Resume(Checkpoint.Resolve(run));
            while (t.Step < 2 * n) t.TrainStep();
            for (int i = 0; i < straight.Length; i++)
                Assert.True(straight[i].AsSpan().SequenceEqual(lora.Trainable[i].Value.AsSpan()), $"{lora.Trainable[i].Name} differs after resume");
        }
    }

    static int[] Corpus(int n)
    {
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = (i * 7 + i / 5) % 23;
        return t;
    }
}

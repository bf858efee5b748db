using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Tuning;
using Lathe.Training;
using Lathe.Distributed;
using Lathe.Training.Distributed;
using Lathe.Training.Objectives;
using Lathe.Tuning;

namespace Lathe.Tests.Training.Distributed;

/// <summary>The in-process parts of data parallelism: when the backward may send a gradient (Tape.FirstReaders — a
/// gradient copied at that moment must equal the final one, for every architecture and tuning method, including
/// parameters that reach the graph through a concatenation), and the sharded optimizer (ZeRO-1), which on one rank
/// must update exactly as AdamW does.</summary>
public class DataParallelTests
{
    static int[] Tokens(int n) => Enumerable.Range(0, n).Select(i => (i * 7 + i / 5) % 23).ToArray();

    // Copies a leaf's gradient when the backward passes the leaf's first reader.
    sealed class Snapshot(IReadOnlyList<Tensor> leaves, int[] first) : IBackwardObserver
    {
        public readonly float[]?[] Taken = new float[leaves.Count][];
        public void Passed(int slot)
        {
            for (int j = 0; j < leaves.Count; j++)
                if (first[j] == slot) Taken[j] = leaves[j].Grad!.ToArray();
        }
    }

    [Theory]
    [InlineData("gpt2", TuningOptions.Full)]
    [InlineData("llama", TuningOptions.Full)]
    [InlineData("gpt2", TuningOptions.Lora)]
    [InlineData("llama", TuningOptions.Prefix)]
    [InlineData("gpt2", TuningOptions.Prompt)]
    [InlineData("llama", TuningOptions.Adapter)]
    public void A_gradient_is_final_once_the_backward_passes_its_first_reader(string type, string method)
    {
        using var model = CausalLM.Create(type == "gpt2" ? AdapterSlotTests.Gpt2 : AdapterSlotTests.Llama, 5);
        var tuning = TuningMethods.Create(model, new TuningOptions { Method = method, VirtualTokens = 3, PrefixProjection = 0, Bottleneck = 8 }.Validate(), 7);
        var trainable = tuning.Trainable;
        Trainer.Freeze(model, trainable);
        var leaves = trainable.Select(p => p.Value).ToList();
        int[] tokens = Tokens(33);
        using var tape = new Tape();
        using (tape.Activate())
        {
            // 2 rows of 12: room for the soft prompt's 3 rows in the 16 positions.
            var loss = new SftObjective(tuning).Loss(model, new TrainingBatch(tokens.AsSpan(0, 24), tokens.AsSpan(1, 24), 2, 12, 1));
            var first = new int[leaves.Count];
            tape.FirstReaders(leaves, first);
            Assert.All(first, s => Assert.True(s >= 0, "a trainable parameter no node reads"));
            var snapshot = new Snapshot(leaves, first);
            tape.Backward(loss, 1f, snapshot);
            for (int j = 0; j < leaves.Count; j++)
            {
                Assert.NotNull(snapshot.Taken[j]);
                Assert.True(snapshot.Taken[j].AsSpan().SequenceEqual(leaves[j].Grad!.ToArray()), $"{trainable[j].Name}: its gradient changed after its first reader");
            }
        }
    }

    [Fact]
    public void The_sharded_optimizer_on_one_rank_updates_exactly_as_AdamW_with_small_buckets()
    {
        using var a = CausalLM.Create(AdapterSlotTests.Gpt2, 9);
        using var b = CausalLM.Create(AdapterSlotTests.Gpt2, 9);
        var options = new TrainingOptions { Steps = 4, BatchSize = 2, BlockSize = 16, LearningRate = 1e-2f, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, ClipNorm = 0.5f };
        using var plain = new Trainer(a, options, new TokenStreamSource(Tokens(4000), 16), null, null, null);
        // Tiny buckets (a few thousand floats) so parameters are spread over many buckets and sent mid-backward.
        using var sharded = new Trainer(b, options, new TokenStreamSource(Tokens(4000), 16), null, null, null,
            distributed: new DistributedOptions(SingleProcess.Instance, ShardOptimizer: true, BucketMb: 0.01));
        Assert.Null(sharded.DataParallel);   // one rank: the trainer takes the one-process path …
        using var dp = new DataParallel(SingleProcess.Instance, b.Parameters, shardOptimizer: true, bucketMb: 0.01);
        Assert.True(dp.BucketCount > 3);
        // … so drive the data-parallel step by hand beside AdamW: the same gradients in, the same weights out.
        using var optimizer = new AdamWOptimizer(a.Parameters) { Beta1 = options.Beta1, Beta2 = options.Beta2, WeightDecay = options.WeightDecay };
        int[] tokens = Tokens(33);
        using var tape = new Tape();
        for (int step = 1; step <= 3; step++)
        {
            foreach (var (model, useDp) in new[] { ((LanguageModel)a, false), (b, true) })
            {
                foreach (var p in model.Parameters) { p.Value.RequiresGrad = true; p.Value.ZeroGrad(); }
                tape.Reset();
                using (tape.Activate())
                {
                    var loss = PretrainingObjective.For(model).Loss(model, new TrainingBatch(tokens.AsSpan(0, 32), tokens.AsSpan(1, 32), 2, 16, 1));
                    if (useDp) { dp.BeginBackward(tape); tape.Backward(loss, 1f, dp); dp.FinishBackward(); }
                    else tape.Backward(loss);
                }
                if (useDp) dp.Step(1e-2f, 0.5f, options.Beta1, options.Beta2, AdamWOptimizer.DefaultEps, options.WeightDecay);
                else { optimizer.ScaleGradients(0.5f); optimizer.Step(1e-2f); }
            }
            Assert.Equal(optimizer.GradientNorm(), Math.Sqrt(dp.ShardSquaredNorm()), 1e-9);   // one rank's shard (clipped in place) is the whole gradient
            for (int i = 0; i < a.Parameters.Count; i++)
                Assert.True(a.Parameters[i].Value.ToArray().AsSpan().SequenceEqual(b.Parameters[i].Value.ToArray()), $"step {step}: {a.Parameters[i].Name} differs");
        }
        // The gathered moments are AdamW's.
        var (m, v) = dp.GatherMoments();
        var saved = Path.Combine(Path.GetTempPath(), $"lathe-dp-{Guid.NewGuid():N}.safetensors");
        try
        {
            optimizer.Save(saved);
            var (m2, v2, count) = AdamWOptimizer.LoadMoments(saved, a.Parameters);
            Assert.Equal(3, count);
            Assert.Equal(3, dp.StepCount);
            for (int i = 0; i < m.Length; i++) { Assert.Equal(m2[i], m[i]); Assert.Equal(v2[i], v[i]); }
        }
        finally { File.Delete(saved); }
    }
}

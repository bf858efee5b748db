using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Tuning;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Tests.Training;

/// <summary>The SFT loss: the weighted mean over trainable targets (checked in double against the logits), masked
/// targets contributing exactly nothing, and a tuning method's virtual rows dropped from the loss.</summary>
public class SftObjectiveTests
{
    const int B = 3, T = 10;

    // A padded batch of examples of ≤ 8 tokens: positions 7…9 of every row are padding.
    static (int[] Inputs, int[] Targets, float[] Weights) Batch(ulong seed)
    {
        var source = new SftBatchSource(SftBatchSourceTests.Examples(B, 8, seed), SequenceMode.Padded, seed: 1, shuffle: false);
        var (inputs, targets, weights) = (new int[B * T], new int[B * T], new float[B * T]);
        source.Next(inputs, targets, weights, B, T);
        return (inputs, targets, weights);
    }

    static float Loss(CausalLM model, SftObjective objective, int[] inputs, int[] targets, float[] weights, Tape tape, bool backward)
    {
        tape.Reset();
        using (tape.Activate())
        {
            if (!backward)
                using (Tape.NoGrad()) return objective.Loss(model, new TrainingBatch(inputs, targets, B, T, 7, weights)).Item();
            var loss = objective.Loss(model, new TrainingBatch(inputs, targets, B, T, 7, weights));
            float value = loss.Item();
            tape.Backward(loss);
            return value;
        }
    }

    // Σ wᵢ·(logsumexp − logit[target]) / Σ wᵢ in double over logits (B·(P+T), V) whose first P rows of each row predict nothing.
    static double Reference(float[] logits, int[] targets, float[] weights, int P, int V)
    {
        double sum = 0, weight = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
            {
                int i = b * T + t, row = b * (P + T) + P + t;
                if (targets[i] == -100 || weights[i] == 0) continue;
                double max = double.NegativeInfinity, z = 0;
                for (int v = 0; v < V; v++) max = Math.Max(max, logits[row * V + v]);
                for (int v = 0; v < V; v++) z += Math.Exp(logits[row * V + v] - max);
                sum += weights[i] * (max + Math.Log(z) - logits[row * V + targets[i]]);
                weight += weights[i];
            }
        return sum / weight;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void The_loss_is_the_weighted_mean_over_trainable_targets_after_the_virtual_rows(int P)
    {
        using var model = CausalLM.Create(AdapterSlotTests.Gpt2, 1);
        using var method = new OffsetEmbeddings(model, T, P, 2);
        var objective = new SftObjective(P > 0 ? method : null);
        var (inputs, targets, weights) = Batch(3);
        using var tape = new Tape();
        float loss = Loss(model, objective, inputs, targets, weights, tape, backward: false);
        float[] logits;
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
            logits = model.Logits(P > 0 ? method.Embed(inputs, B, T) : model.Embed(inputs, B, T), B, P + T).ToArray();
        double want = Reference(logits, targets, weights, P, 64);
        Assert.True(Math.Abs(loss - want) <= 1e-5 * (1 + Math.Abs(want)), $"P = {P}: loss {loss} vs reference {want}");
    }

    [Fact]
    public void Masked_targets_get_exactly_zero_gradient()
    {
        var (_, targets, weights) = Batch(4);
        // At the logits: every row whose target is masked gets a gradient of exactly 0, every trained row a nonzero one.
        using var logits = Tensor.Zeros(B * T, 64);
        new Philox(5).FillNormal(logits.AsSpan(), 0, 2f);
        logits.RequiresGrad = true;
        using (var tape = new Tape())
        {
            using (tape.Activate()) tape.Backward(Ops.CrossEntropy(logits, targets, weights));
            float[] g = logits.Grad!.ToArray();
            for (int i = 0; i < B * T; i++)
            {
                var row = g.AsSpan(i * 64, 64);
                if (weights[i] == 0) Assert.True(row.IndexOfAnyExcept(0f) < 0, $"masked row {i} has a nonzero gradient");
                else Assert.True(row.IndexOfAnyExcept(0f) >= 0, $"trained row {i} has no gradient");
            }
            logits.ReleaseGrad();
        }
        // Through the whole model: the inputs at positions whose every later target (in every row) is masked reach
        // only masked targets, so their trained per-position offsets get exactly 0.
        using var model = CausalLM.Create(AdapterSlotTests.Gpt2, 1);
        foreach (var p in model.Parameters) p.Value.RequiresGrad = false;
        using var method = new OffsetEmbeddings(model, T, 0, 2);
        method.Offsets.RequiresGrad = true;
        var (inputs, _, _) = Batch(4);
        using (var tape = new Tape()) Loss(model, new SftObjective(method), inputs, targets, weights, tape, backward: true);
        float[] grad = method.Offsets.Grad!.ToArray();
        int lastTrained = Enumerable.Range(0, B * T).Where(i => weights[i] > 0).Max(i => i % T);
        Assert.True(lastTrained < T - 1, "the batch must end in padding for this test");
        for (int t = 0; t < T; t++)
        {
            var row = grad.AsSpan(t * 32, 32);
            if (t > lastTrained) Assert.True(row.IndexOfAnyExcept(0f) < 0, $"position {t} reaches only masked targets but has a gradient");
            else Assert.True(row.IndexOfAnyExcept(0f) >= 0, $"position {t} reaches a trained target but has no gradient");
        }
    }

    [Fact]
    public void A_masked_target_id_changes_neither_the_loss_nor_any_gradient()
    {
        var (inputs, targets, weights) = Batch(6);
        var other = (int[])targets.Clone();
        var rng = new Philox(7);
        int changed = 0;
        for (int i = 0; i < other.Length; i++) if (weights[i] == 0) { other[i] = rng.NextInt(64); changed++; }   // valid ids, weight 0
        Assert.True(changed > B);
        (float Loss, float[][] Grads) Run(int[] t)
        {
            using var model = CausalLM.Create(AdapterSlotTests.Gpt2, 1);
            foreach (var p in model.Parameters) p.Value.RequiresGrad = true;
            using var tape = new Tape();
            float loss = Loss(model, new SftObjective(), inputs, t, weights, tape, backward: true);
            var grads = model.Parameters.Select(p => p.Value.Grad!.ToArray()).ToArray();
            foreach (var p in model.Parameters) p.Value.ReleaseGrad();
            return (loss, grads);
        }
        var (lossA, gradsA) = Run(targets);
        var (lossB, gradsB) = Run(other);
        Assert.Equal(BitConverter.SingleToInt32Bits(lossA), BitConverter.SingleToInt32Bits(lossB));
        for (int i = 0; i < gradsA.Length; i++) Assert.True(gradsA[i].AsSpan().SequenceEqual(gradsB[i]), $"gradient {i} differs");
    }

    [Fact]
    public void Virtual_rows_get_the_finite_difference_gradient_of_the_sft_loss()
    {
        const int P = 2;
        using var model = CausalLM.Create(AdapterSlotTests.Gpt2, 1);
        foreach (var p in model.Parameters) p.Value.RequiresGrad = false;
        using var method = new OffsetEmbeddings(model, T, P, 3);
        foreach (var p in method.Trainable) p.Value.RequiresGrad = true;
        var objective = new SftObjective(method);
        var (inputs, targets, weights) = Batch(8);
        using var tape = new Tape();
        Loss(model, objective, inputs, targets, weights, tape, backward: true);
        var virtualRows = method.Trainable[1].Value;
        float[] analytic = virtualRows.Grad!.ToArray();
        var data = virtualRows.AsSpan();
        foreach (int i in new[] { 0, 13, 33, 63 })
        {
            float saved = data[i];
            data[i] = saved + 1e-2f; double plus = Loss(model, objective, inputs, targets, weights, tape, backward: false);
            data[i] = saved - 1e-2f; double minus = Loss(model, objective, inputs, targets, weights, tape, backward: false);
            data[i] = saved;
            double numeric = (plus - minus) / 2e-2;
            Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"virtual[{i}]: analytic {analytic[i]:G5}, numeric {numeric:G5}");
        }
        Assert.True(analytic.AsSpan().IndexOfAnyExcept(0f) >= 0);
    }

    [Fact]
    public void Virtual_tokens_with_packed_rows_are_a_clear_error()
    {
        using var model = CausalLM.Create(AdapterSlotTests.Gpt2, 1);
        using var method = new OffsetEmbeddings(model, T, 2, 3);
        var (inputs, targets, weights) = Batch(8);
        using var tape = new Tape();
        using (tape.Activate())
        {
            var e = Assert.Throws<NotSupportedException>(() =>
                new SftObjective(method).Loss(model, new TrainingBatch(inputs, targets, B, T, 1, weights, new PackedLayout(B, T))));
            Assert.Contains("padded rows", e.Message);
        }
    }
}

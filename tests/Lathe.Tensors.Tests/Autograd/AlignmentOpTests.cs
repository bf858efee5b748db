using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>The engine ops of the alignment losses — TokenLogProbs, Sigmoid, LogSigmoid, Softplus, Clamp, Minimum,
/// Maximum — against PyTorch (Fixtures/make_alignment_op_fixtures.py, float64 reference from float32 inputs) and
/// against finite differences.</summary>
public class AlignmentOpTests
{
    static readonly TorchFixture Torch = new("alignment_ops.safetensors");
    static SafetensorsFile Fixtures => Torch.File;
    const float OutputTolerance = TorchFixture.OutputTolerance, GradientTolerance = TorchFixture.GradientTolerance;
    static Tensor Load(string name, bool requiresGrad = true) => Torch.Load(name, requiresGrad);
    static void Check(string name, string[] inputs, Func<Tensor[], Tensor> op) => Torch.Check(name, inputs, op);
    static void Close(string what, float[] expected, float[] actual, float tolerance) => TorchFixture.Close(what, expected, actual, tolerance);

    [Theory]
    [InlineData("token_log_probs_5x17")]
    [InlineData("token_log_probs_63x129")]
    [InlineData("token_log_probs_17x1000")]
    public void TokenLogProbs_matches_PyTorch_with_ignored_rows(string name)
    {
        int[] targets = Fixtures.ReadInts($"{name}.t");
        Assert.Contains(-100, targets);
        Check(name, ["x"], x => Ops.TokenLogProbs(x[0], targets));
    }

    [Fact]
    public void Sigmoid_family_clamp_and_extrema_match_PyTorch()
    {
        Check("sigmoid", ["x"], x => Ops.Sigmoid(x[0]));
        Check("log_sigmoid", ["x"], x => Ops.LogSigmoid(x[0]));
        Check("softplus", ["x"], x => Ops.Softplus(x[0]));
        Check("clamp", ["x"], x => Ops.Clamp(x[0], 0.8f, 1.2f));
        Check("minimum", ["a", "b"], x => Ops.Minimum(x[0], x[1]));
        Check("maximum", ["a", "b"], x => Ops.Maximum(x[0], x[1]));
    }

    [Fact]
    public void Gradients_match_finite_differences()
    {
        int[] targets = [3, -100, 0, 16, 8, 16];
        GradCheck.Check(x => Ops.TokenLogProbs(x[0], targets), [GradCheck.Random(31, -2f, 2f, 6, 17)]);
        GradCheck.Check(x => Ops.Sigmoid(x[0]), [GradCheck.Random(32, -4f, 4f, 5, 3)]);
        GradCheck.Check(x => Ops.LogSigmoid(x[0]), [GradCheck.Random(33, -4f, 4f, 5, 3)]);
        GradCheck.Check(x => Ops.Softplus(x[0]), [GradCheck.Random(34, -4f, 4f, 5, 3)]);
        // Values kept ≥ 2·eps away from the bounds and from each other, where the kinks are.
        GradCheck.Check(x => Ops.Clamp(x[0], -0.5f, 0.5f), [Tensor.FromArray([-0.9f, -0.3f, 0.1f, 0.45f, 0.8f, -0.56f], 2, 3)]);
        GradCheck.Check(x => Ops.Minimum(x[0], x[1]), [Tensor.FromArray([0.1f, -0.5f, 0.7f, 0.3f], 4), Tensor.FromArray([0.4f, -0.9f, 0.2f, 0.35f], 4)]);
        GradCheck.Check(x => Ops.Maximum(x[0], x[1]), [Tensor.FromArray([0.1f, -0.5f, 0.7f, 0.3f], 4), Tensor.FromArray([0.4f, -0.9f, 0.2f, 0.35f], 4)]);
    }

    [Fact]
    public void TokenLogProbs_at_a_32k_vocabulary_matches_a_double_log_softmax()
    {
        const int N = 3, V = 32000;
        using var x = GradCheck.Random(12, -8f, 8f, N, V);
        int[] targets = [0, 31999, 12345];
        using var result = Ops.TokenLogProbs(x, targets);
        var lp = result.ToArray();
        var data = x.AsSpan();
        for (int i = 0; i < N; i++)
        {
            var row = data.Slice(i * V, V);
            double max = double.NegativeInfinity, sum = 0;
            foreach (float v in row) max = Math.Max(max, v);
            foreach (float v in row) sum += Math.Exp(v - max);
            double expected = row[targets[i]] - max - Math.Log(sum);
            Assert.True(Math.Abs(lp[i] - expected) <= 1e-5 * Math.Abs(expected), $"row {i}: {lp[i]} vs {expected}");
        }
    }

    [Fact]
    public void TokenLogProbs_ignored_rows_are_exactly_zero_with_zero_gradient()
    {
        using var x = GradCheck.Random(5, -3f, 3f, 4, 9);
        x.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var lp = Ops.TokenLogProbs(x, [2, 5, 7, -1], ignoreIndex: -1);
            var v = lp.ToArray();
            Assert.Equal(0, BitConverter.SingleToInt32Bits(v[3]));   // +0, not −0
            Assert.True(v[0] < 0 && v[1] < 0 && v[2] < 0);
            tape.Backward(Ops.SumAll(lp));
        }
        var g = x.Grad!.ToArray();
        for (int j = 0; j < 9; j++) Assert.Equal(0f, g[3 * 9 + j]);
        // A kept row's gradient is onehot − softmax: it sums to 0.
        Assert.Equal(0.0, g.AsSpan(0, 9).ToArray().Sum(v => (double)v), 6);
    }

    [Fact]
    public void TokenLogProbs_rows_do_not_depend_on_how_rows_are_split_across_threads()
    {
        // Each row is computed by one thread, alone, in the same sequence of operations whatever chunk holds it: so
        // the batch (split over the pool's threads) and each row alone (one chunk, one thread) agree bit for bit —
        // which is what makes the result the same for any thread count.
        const int N = 64, V = 3001;
        using var x = GradCheck.Random(8, -5f, 5f, N, V);
        x.RequiresGrad = true;
        int[] targets = Enumerable.Range(0, N).Select(i => i % 7 == 3 ? -100 : (i * 131) % V).ToArray();
        float[] up = Enumerable.Range(0, N).Select(i => 0.25f + i * 0.01f).ToArray();
        float[] batch, batchGrad;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var lp = Ops.TokenLogProbs(x, targets);
            batch = lp.ToArray();
            using var u = Tensor.FromArray(up, N);
            tape.Backward(lp, u);
            batchGrad = x.Grad!.ToArray();
        }
        for (int i = 0; i < N; i += 9)
        {
            using var row = Tensor.FromArray(x.AsSpan().Slice(i * V, V), 1, V);
            row.RequiresGrad = true;
            tape.Reset();
            using (tape.Activate())
            {
                var lp = Ops.TokenLogProbs(row, targets.AsSpan(i, 1));
                Assert.Equal(BitConverter.SingleToInt32Bits(batch[i]), BitConverter.SingleToInt32Bits(lp.ToArray()[0]));
                tape.Backward(lp, Tensor.FromArray([up[i]], 1));
            }
            Assert.True(row.Grad!.AsSpan().SequenceEqual(batchGrad.AsSpan(i * V, V)), $"row {i} gradient differs");
        }
    }

    [Fact]
    public void LogSigmoid_and_softplus_are_finite_and_exact_in_the_tails()
    {
        using var x = Tensor.FromArray([-200f, -40f, 40f, 200f], 4);
        // Under a tape, so the results are its slots (disposed with it).
        using var tape = new Tape();
        using var scope = tape.Activate();
        var ls = Ops.LogSigmoid(x).ToArray();
        Assert.Equal(-200f, ls[0]);
        Assert.Equal(-40f, ls[1]);
        Assert.Equal((float)-Math.Exp(-40), ls[2], 1e-25f);
        Assert.Equal(0f, ls[3]);
        var sp = Ops.Softplus(x).ToArray();
        Assert.Equal(200f, sp[3]);
        Assert.Equal((float)Math.Exp(-200.0), sp[0]);
        var s = Ops.Sigmoid(x).ToArray();
        Assert.Equal((float)Math.Exp(-40), s[1], 1e-25f);
        Assert.Equal(1f, s[3]);
    }

    [Fact]
    public void Ties_go_to_the_first_argument_and_bad_arguments_name_the_op()
    {
        using var a = Tensor.FromArray([1f, 2f], 2);
        using var b = Tensor.FromArray([1f, 3f], 2);
        a.RequiresGrad = b.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate()) tape.Backward(Ops.SumAll(Ops.Minimum(a, b)));
        Assert.Equal([1f, 1f], a.Grad!.ToArray());
        Assert.Equal([0f, 0f], b.Grad!.ToArray());
        using var c = Tensor.FromArray([1f, 2f, 3f], 3);
        Assert.Contains("Maximum", Assert.Throws<ArgumentException>(() => Ops.Maximum(a, c)).Message);
        Assert.Contains("Clamp", Assert.Throws<ArgumentException>(() => Ops.Clamp(a, 1f, 0f)).Message);
        using var z = Tensor.Zeros(2, 3);
        Assert.Contains("row 1", Assert.Throws<ArgumentException>(() => Ops.TokenLogProbs(z, [0, 3])).Message);
    }
    [Fact]
    public void A_repeated_step_allocates_nothing()
    {
        // TokenLogProbs runs every PPO/DPO step over B·T rows: once the tape is warm, a step allocates nothing.
        using var x = GradCheck.Random(4, -3f, 3f, 33, 257);
        using var lo = GradCheck.Random(5, 0.5f, 1.5f, 33);
        x.RequiresGrad = lo.RequiresGrad = true;
        int[] targets = Enumerable.Range(0, 33).Select(i => i % 5 == 0 ? -100 : i * 7).ToArray();
        using var tape = new Tape();
        void Step()
        {
            tape.Reset();
            using (tape.Activate())
            {
                var lp = Ops.TokenLogProbs(x, targets);
                var z = Ops.Maximum(Ops.Clamp(Ops.Exp(lp), 0.8f, 1.2f), Ops.Minimum(lo, Ops.Sigmoid(lp)));
                tape.Backward(Ops.MeanAll(Ops.Add(Ops.LogSigmoid(z), Ops.Softplus(z))));
            }
        }
        Step(); Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}

using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Tuning;

namespace Lathe.Tests.Tuning;

/// <summary>Houlsby adapters on a BERT classifier: which projections carry them (attention.output.dense and the FFN's
/// output.dense, never intermediate.dense or the pooler), the exact start, where the adapter acts (checked against a
/// plain model whose dense weights absorb an adapter that is affine in its input) and finite-difference gradients.</summary>
public class BottleneckAdaptersBertTests
{
    static ModelConfig Config => BertClassifierParityTests.FixtureConfig;   // 2 layers, d 32, 3 labels, no dropout
    const int B = 2, T = 8;
    static readonly int[] Ids = [93, 10, 11, 12, 94, 0, 0, 0, 93, 1, 2, 3, 4, 5, 6, 94], Lengths = [5, 8], Labels = [2, 0];

    static float[] Logits(BertClassifier model)
    {
        using var tape = new Tape();
        using (tape.Activate()) using (Tape.NoGrad()) return model.Logits(Ids, Lengths, B, T).ToArray();
    }

    [Fact]
    public void Adapters_go_after_each_attention_and_FFN_output_dense_and_start_from_the_base_bit_for_bit()
    {
        using var model = (BertClassifier)LanguageModel.Create(Config, seed: 3);
        float[] plain = Logits(model);
        using var method = (BottleneckAdapters)TuningMethods.Create(model, new TuningOptions { Method = "adapter", Bottleneck = 4 }, seed: 1);
        Assert.Equal(["bert.encoder.layer.0.attention.output.dense", "bert.encoder.layer.0.output.dense",
            "bert.encoder.layer.1.attention.output.dense", "bert.encoder.layer.1.output.dense"], method.Modules);
        Assert.Equal(4 * 4, method.Trainable.Count);
        Assert.True(plain.AsSpan().SequenceEqual(Logits(model)));   // W_up = 0, b_up = 0: the adapter returns y
        // The name test is on the whole tail: a look-alike elsewhere is not a target.
        Assert.False(BottleneckAdapters.IsTarget("bert.encoder.layer.0.intermediate.dense"));
        Assert.False(BottleneckAdapters.IsTarget("bert.pooler.dense"));
        Assert.False(BottleneckAdapters.IsTarget("cls.predictions.transform.dense"));
        Assert.False(BottleneckAdapters.IsTarget("x.output.dense"));
        method.Detach();
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));
    }

    /// <summary>With ReLU and b_down so large that every pre-activation is positive, the adapter is affine in the dense
    /// output y: y + U(Dy + b_d) + b_u. A plain model whose dense weight is (I + UD)·W and bias (I + UD)·b + U·b_d + b_u
    /// computes the same function only if the adapter acts on dense's output, before the residual add and LayerNorm.
    /// Tolerance 2e-5 absolute on logits of order 0.1 (float32 matmul order; the reference weights are built in double).</summary>
    [Fact]
    public void The_adapter_acts_on_the_dense_output_before_the_residual_and_LayerNorm()
    {
        using var model = (BertClassifier)LanguageModel.Create(Config, seed: 3);
        using var method = BottleneckAdapters.Attach(model, new BottleneckConfig { BottleneckSize = 4, Activation = BottleneckActivation.Relu }, seed: 1);
        var rng = new Philox(7);
        var byName = method.Trainable.ToDictionary(p => p.Name, p => p.Value);
        foreach (var module in method.Modules)
        {
            string n = "base_model.model." + module;
            byName[n + ".adapter_down.bias"].AsSpan().Fill(5f);
            rng.FillNormal(byName[n + ".adapter_up.weight"].AsSpan(), 0, 0.05f);
            rng.FillNormal(byName[n + ".adapter_up.bias"].AsSpan(), 0, 0.05f);
        }
        float[] adapted = Logits(model);

        using var folded = (BertClassifier)LanguageModel.Create(Config, seed: 3);
        var weights = folded.Parameters.ToDictionary(p => p.Name, p => p.Value);
        foreach (var module in method.Modules)
        {
            string n = "base_model.model." + module;
            Fold(weights[module + ".weight"], weights[module + ".bias"], byName[n + ".adapter_down.weight"], byName[n + ".adapter_down.bias"],
                byName[n + ".adapter_up.weight"], byName[n + ".adapter_up.bias"]);
        }
        float[] expected = Logits(folded);
        Assert.True(TuningTestSupport.MaxAbsDiff(expected, adapted) <= 2e-5, $"max |Δ| {TuningTestSupport.MaxAbsDiff(expected, adapted):G3}");
        Assert.True(TuningTestSupport.MaxAbsDiff(expected, Logits(WithoutAdapters(model, method))) > 1e-3);   // the adapters matter
    }

    static BertClassifier WithoutAdapters(BertClassifier model, BottleneckAdapters method) { method.Detach(); return model; }

    // W ← (I + UD)·W, b ← (I + UD)·b + U·b_d + b_u, in double; W (C, in), D (m, C), U (C, m).
    static void Fold(Tensor w, Tensor b, Tensor down, Tensor downBias, Tensor up, Tensor upBias)
    {
        int C = w.Dim(0), inF = w.Dim(1), m = down.Dim(0);
        float[] W = w.ToArray(), bias = b.ToArray(), D = down.ToArray(), bd = downBias.ToArray(), U = up.ToArray(), bu = upBias.ToArray();
        var M = new double[C * C];   // I + UD
        for (int i = 0; i < C; i++)
            for (int j = 0; j < C; j++)
            {
                double s = i == j ? 1 : 0;
                for (int k = 0; k < m; k++) s += (double)U[i * m + k] * D[k * C + j];
                M[i * C + j] = s;
            }
        var wSpan = w.AsSpan(); var bSpan = b.AsSpan();
        for (int i = 0; i < C; i++)
        {
            for (int c = 0; c < inF; c++)
            {
                double s = 0;
                for (int j = 0; j < C; j++) s += M[i * C + j] * W[j * inF + c];
                wSpan[i * inF + c] = (float)s;
            }
            double t = bu[i];
            for (int j = 0; j < C; j++) t += M[i * C + j] * bias[j];
            for (int k = 0; k < m; k++) t += (double)U[i * m + k] * bd[k];
            bSpan[i] = (float)t;
        }
    }

    /// <summary>Central differences (step 1e-2) of the classification loss against the analytic gradient at three entries
    /// of every adapter tensor (W_up and b_up made non-zero first, so W_down has a gradient); allowed 2e-3 + 2e-2·|numeric|
    /// (float32 loss rounding over the step, and the O(h²) truncation).</summary>
    [Fact]
    public void The_adapter_gradients_on_BERT_match_finite_differences()
    {
        using var model = (BertClassifier)LanguageModel.Create(Config, seed: 3);
        using var method = BottleneckAdapters.Attach(model, new BottleneckConfig { BottleneckSize = 4 }, seed: 1);
        var rng = new Philox(9);
        foreach (var p in method.Trainable.Where(p => p.Name.Contains("adapter_up", StringComparison.Ordinal))) rng.FillNormal(p.Value.AsSpan(), 0, 0.5f);
        foreach (var p in method.Trainable) p.Value.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate()) tape.Backward(Ops.CrossEntropy(model.Logits(Ids, Lengths, B, T), Labels));
        double Loss()
        {
            tape.Reset();
            using (tape.Activate()) using (Tape.NoGrad()) return Ops.CrossEntropy(model.Logits(Ids, Lengths, B, T), Labels).Item();
        }
        foreach (var p in method.Trainable)
        {
            float[] analytic = p.Value.Grad!.ToArray();
            Assert.Contains(analytic, g => g != 0);
            TuningTestSupport.CheckFiniteDifferences(p, analytic, Loss);
        }
    }
}

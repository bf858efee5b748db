using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Quantized;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Tests.Tuning;

/// <summary>QLoRA: LoRA trained over a frozen quantized base through the quantized matrices' input gradient (also
/// through Llama's stacked q/k/v and gate/up matrices and GPT-2's tied lm_head), compared with LoRA over the same base
/// dequantized to F32.</summary>
public class LoraQloraTests
{
    static ModelConfig Config(string type) => type == "gpt2" ? AdapterSlotTests.Gpt2 : AdapterSlotTests.Llama;

    /// <summary>An F32 model whose projection weights (and GPT-2's tied embedding) are already on the quantization grid
    /// of <paramref name="type"/>: quantizing it again gives exactly these values back, so LoRA over it is LoRA over the
    /// dequantized base of the QLoRA model made from it.</summary>
    static CausalLM OnGrid(string type, QuantType quant)
    {
        var model = CausalLM.Create(Config(type), 4);
        foreach (var layer in model.Linears)
        {
            var w = layer.Weight;
            using var q = QuantizedMatrix.FromFloat(w.AsSpan(), w.Dim(0), w.Dim(1), quant);
            for (int r = 0; r < q.Rows; r++) q.DequantizeRow(r, w.AsSpan().Slice(r * q.Columns, q.Columns));
        }
        return model;
    }

    static CausalLM Copy(CausalLM source)
    {
        var model = CausalLM.Create(source.Config, 99);
        for (int i = 0; i < model.Parameters.Count; i++) source.Parameters[i].Value.AsSpan().CopyTo(model.Parameters[i].Value.AsSpan());
        return model;
    }

    static (float Loss, float[][] Grads) LossAndGrads(CausalLM model, LoraMethod lora, int[] ids, int[] targets)
    {
        using var tape = new Tape();
        float loss;
        using (tape.Activate())
        {
            var l = Ops.CrossEntropy(model.Logits(ids, 2, 16), targets);
            loss = l.Item();
            tape.Backward(l);
        }
        return (loss, lora.Trainable.Select(p => p.Value.Grad!.ToArray()).ToArray());
    }

    // F16 weights are decoded exactly and multiply F32 activations: QLoRA equals LoRA over the decoded base up to float
    // summation order (measured ≤ 1.6e-6 of the largest gradient entry; bound 1e-4, as the PyTorch gradient parity).
    // Q8_0/Q4_0 products also round the activations to Q8_0 blocks (llama.cpp's scheme, ~0.4% per value) in the forward,
    // which moves the loss by ≤ 3e-5 relative and the gradients by 0.3–1.1% of the largest entry (measured, these seeds);
    // the bound 2e-2 of the largest entry covers that, while a wrong or missing gradient path is off by O(1).
    [Theory]
    [InlineData("llama", "all-linear", QuantType.F16, 1e-4)]        // stacked q/k/v and gate/up, every slice adapted
    [InlineData("llama", "q_proj,v_proj", QuantType.F16, 1e-4)]     // k's slice of the stack has no adapter
    [InlineData("gpt2", "all-linear", QuantType.F16, 1e-4)]         // biases, tied lm_head (quantized, not adapted)
    [InlineData("llama", "all-linear", QuantType.Q8_0, 2e-2)]
    [InlineData("llama", "q_proj,v_proj", QuantType.Q4_0, 2e-2)]
    [InlineData("gpt2", "c_attn", QuantType.Q4_0, 2e-2)]
    public void QLoRA_gradients_match_LoRA_over_the_dequantized_base(string type, string targets, QuantType quant, double tolerance)
    {
        var (modules, pattern) = LoraConfig.ParseTargets(targets);
        var config = new LoraConfig { Rank = 4, Alpha = 8, TargetModules = modules, TargetPattern = pattern, InitLoraWeights = "false" };
        using var f32 = OnGrid(type, quant);
        using var quantized = Copy(f32);
        using var lora = LoraMethod.Attach(f32, config, 5);
        using var qlora = QloraMethod.Attach(quantized, config, quant, 5);
        Assert.Equal("qlora", qlora.Name);
        Assert.Equal("lora", lora.Name);
        foreach (var (a, b) in f32.Linears.Zip(quantized.Linears))
        {
            var row = new float[a.InFeatures];
            for (int r = 0; r < a.OutFeatures; r += 7)
            {
                b.Quantized!.DequantizeRow(r, row);
                Assert.True(row.AsSpan().SequenceEqual(a.Weight.AsSpan().Slice(r * a.InFeatures, a.InFeatures)), $"{a.Name}: the grid premise fails at row {r}");
            }
        }
        int[] ids = LoraMethodTests.Ids(32, 6), targetIds = LoraMethodTests.Ids(32, 7);
        var (lossF, gradsF) = LossAndGrads(f32, lora, ids, targetIds);
        var (lossQ, gradsQ) = LossAndGrads(quantized, qlora, ids, targetIds);
        Assert.True(Math.Abs(lossF - lossQ) <= tolerance * (1 + Math.Abs(lossF)), $"loss {lossQ} vs {lossF}");
        for (int i = 0; i < gradsF.Length; i++)
        {
            double scale = gradsF[i].Max(Math.Abs), worst = 0;
            Assert.True(scale > 0, $"{lora.Trainable[i].Name}: zero gradient");
            for (int j = 0; j < gradsF[i].Length; j++) worst = Math.Max(worst, Math.Abs(gradsF[i][j] - gradsQ[i][j]));
            Assert.True(worst <= tolerance * scale, $"{lora.Trainable[i].Name}: max |diff| {worst:G3} vs max |grad| {scale:G3} ({quant})");
        }
        Assert.All(quantized.Parameters, p => Assert.Null(p.Value.Grad));
    }

    [Theory]
    [InlineData("llama", QuantType.Q4_0)]
    [InlineData("gpt2", QuantType.Q8_0)]
    public void Training_steps_move_the_adapters_and_leave_the_quantized_bytes_as_they_were(string type, QuantType quant)
    {
        using var model = CausalLM.Create(Config(type), 8);
        using var qlora = QloraMethod.Attach(model, new LoraConfig { Rank = 4, Alpha = 8, TargetModules = null, TargetPattern = "all-linear", Dropout = 0.1 }, quant, 9);
        var bytes = model.Linears.Select(l => l.Quantized!.Bytes.ToArray()).ToArray();
        var embeddings = model.Parameters.Where(p => !p.Value.Name!.Contains("proj") && !p.Value.Name!.Contains("c_attn") && !p.Value.Name!.Contains("c_fc"))
            .Select(p => (p, p.Value.ToArray())).ToArray();   // what stays F32: embeddings, norms, biases
        float[][] before = qlora.Trainable.Select(p => p.Value.ToArray()).ToArray();
        var options = new TrainingOptions { Steps = 4, BatchSize = 2, BlockSize = 16, LearningRate = 1e-2f, WarmupSteps = 0, EvalEvery = 0, CheckpointEvery = 0, Seed = 3 };
        using (var trainer = new Trainer(model, options, new TokenStreamSource(LoraMethodTests.Ids(400, 10), 16), null, null, null, trainable: qlora.Trainable))
            for (int i = 0; i < 4; i++) Assert.True(float.IsFinite(trainer.TrainStep()));
        for (int i = 0; i < bytes.Length; i++)
            Assert.True(bytes[i].AsSpan().SequenceEqual(model.Linears.ElementAt(i).Quantized!.Bytes), $"{model.Linears.ElementAt(i).Name}: quantized bytes changed");
        foreach (var (p, values) in embeddings)
            Assert.True(values.AsSpan().SequenceEqual(p.Value.AsSpan()), $"{p.Name} changed");
        for (int i = 0; i < before.Length; i++)
            if (qlora.Trainable[i].Name.Contains("lora_B"))
                Assert.False(before[i].AsSpan().SequenceEqual(qlora.Trainable[i].Value.AsSpan()), $"{qlora.Trainable[i].Name} did not train");
    }

    [Fact]
    public void A_PEFT_adapter_loads_over_a_quantized_base()
    {
        int[] ids = LoraMethodTests.Ids(16, 3, vocab: 97);
        float[] f32;
        using (var model = LoraParityTests.Base("gpt2"))
        using (LoraMethod.Load(model, LoraParityTests.Fixture("gpt2-all-linear")))
            f32 = LoraMethodTests.Logits(model, ids, 2, 8);
        using var quantized = LoraParityTests.Base("gpt2");
        float[] plain = LoraMethodTests.Logits(quantized, ids, 2, 8);
        using var qlora = QloraMethod.Load(quantized, LoraParityTests.Fixture("gpt2-all-linear"), QuantType.Q8_0);
        Assert.Equal("qlora", qlora.Name);
        Assert.All(quantized.Linears, l => Assert.NotNull(l.Quantized));
        float[] q8 = LoraMethodTests.Logits(quantized, ids, 2, 8);
        double error = 0, effect = 0;
        for (int i = 0; i < f32.Length; i++) { error = Math.Max(error, Math.Abs(f32[i] - q8[i])); effect = Math.Max(effect, Math.Abs(f32[i] - plain[i])); }
        Assert.True(error < effect / 10, $"Q8_0 base + adapter differs from F32 base + adapter by {error:G3}; the adapter's own effect is {effect:G3}");
        // The llama fixture's MLP (48 wide) does not fill Q8_0 blocks: refused before any weight is touched.
        using var llama = LoraParityTests.Base("llama");
        var e = Assert.Throws<ArgumentException>(() => QloraMethod.Load(llama, LoraParityTests.Fixture("llama-all-linear"), QuantType.Q8_0));
        Assert.Contains("down_proj", e.Message);
        Assert.All(llama.Linears, l => Assert.Null(l.Quantized));
    }

    [Fact]
    public void A_quantized_base_refuses_to_merge_and_to_train_its_own_weights()
    {
        using var model = CausalLM.Create(AdapterSlotTests.Llama, 8);
        using var qlora = QloraMethod.Attach(model, new LoraConfig { TargetModules = ["v_proj"] }, QuantType.Q8_0, 1);
        var e = Assert.Throws<InvalidOperationException>(() => qlora.Merge());
        Assert.Contains("v_proj", e.Message);
        Assert.True(qlora.IsAttached);
        // Asking the frozen quantized weight for a gradient is an error, not a silently missing one.
        var down = model.Linears.First(l => l.Name.EndsWith("down_proj", StringComparison.Ordinal));
        down.Weight.RequiresGrad = true;
        using var x = Tensor.Zeros(2, down.InFeatures);
        x.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var err = Assert.Throws<InvalidOperationException>(() => down.Forward(x));
            Assert.Contains("model.layers.0.mlp.down_proj", err.Message);
        }
        down.Weight.RequiresGrad = false;
    }
}

using Lathe.Compression.Pruning;
using Lathe.Models;
using static Lathe.Tests.Compression.Pruning.PruningTestModels;

namespace Lathe.Tests.Compression.Pruning;

/// <summary>Scores on weights where the answer is known by hand, the activation recorder against the layer input
/// computed directly, the Taylor score against a finite difference of the calibration loss, and the layer score
/// against the loss of the model with the layer removed.</summary>
public class ImportanceScoreTests
{
    [Fact]
    public void Head_magnitude_is_the_norm_of_the_heads_rows_bias_and_output_columns()
    {
        var c = Gpt2;
        using var model = CausalLM.Create(c, 1);
        foreach (var p in model.Parameters) p.Value.AsSpan().Clear();
        int C = c.Embd, D = c.HeadDim, H = c.Heads;
        var attn = Param(model, "transformer.h.0.attn.c_attn.weight").AsSpan();       // (3C, C)
        var bias = Param(model, "transformer.h.0.attn.c_attn.bias").AsSpan();
        var proj = Param(model, "transformer.h.0.attn.c_proj.weight").AsSpan();       // (C, C)
        for (int u = 0; u < H; u++)
            for (int part = 0; part < 3; part++)
                for (int d = 0; d < D; d++)
                {
                    int row = part * C + u * D + d;
                    attn.Slice(row * C, C).Fill(u + 1);
                    bias[row] = u + 1;
                    for (int r = 0; r < C; r++) proj[r * C + u * D + d] = u + 1;
                }
        var scores = StructuredScores.Units(model, channels: false, ImportanceScore.Magnitude, null);
        double elements = 3.0 * D * C + 3 * D + (double)C * D;
        for (int u = 0; u < H; u++) Assert.Equal((u + 1) * Math.Sqrt(elements), scores[0][u], 9);
        Assert.All(scores[1], s => Assert.Equal(0, s));
        Assert.Equal([2, 3], StructuredScores.Keep(scores[0], 2));
    }

    [Fact]
    public void Channel_magnitude_is_the_norm_of_gate_and_up_rows_and_the_down_column()
    {
        var c = Llama;
        using var model = CausalLM.Create(c, 1);
        foreach (var p in model.Parameters) p.Value.AsSpan().Clear();
        int C = c.Embd, I = c.Intermediate;
        var gate = Param(model, "model.layers.2.mlp.gate_proj.weight").AsSpan();
        var up = Param(model, "model.layers.2.mlp.up_proj.weight").AsSpan();
        var down = Param(model, "model.layers.2.mlp.down_proj.weight").AsSpan();    // (C, I)
        for (int j = 0; j < I; j++)
        {
            gate.Slice(j * C, C).Fill(j);
            up.Slice(j * C, C).Fill(2);
            for (int r = 0; r < C; r++) down[r * I + j] = -1;
        }
        var scores = StructuredScores.Units(model, channels: true, ImportanceScore.Magnitude, null);
        for (int j = 0; j < I; j++) Assert.Equal(Math.Sqrt(C * (j * j + 4.0 + 1)), scores[2][j], 9);
    }

    [Fact]
    public void Activation_statistics_are_the_sum_of_squares_of_each_layer_input()
    {
        var c = Llama;
        using var model = Random(c, 21);
        var tokens = Ids(70, c.VocabSize, 8);
        var stats = ActivationStatistics.Collect(model, new CalibrationSet(tokens, c.MaxPositions));
        // Layer 0's q_proj reads input_layernorm(embedding): RMSNorm with its gain, over every input token.
        var embed = Param(model, "model.embed_tokens.weight").AsSpan();
        var gain = Param(model, "model.layers.0.input_layernorm.weight").AsSpan();
        int C = c.Embd;
        var expected = new double[C];
        foreach (int id in tokens[..^1])
        {
            var e = embed.Slice(id * C, C);
            double ms = 0;
            foreach (float v in e) ms += (double)v * v;
            double inv = 1 / Math.Sqrt(ms / C + c.NormEps);
            for (int j = 0; j < C; j++) { double x = e[j] * inv * gain[j]; expected[j] += x * x; }
        }
        var actual = stats.SumSquares("model.layers.0.self_attn.q_proj");
        for (int j = 0; j < C; j++) Assert.Equal(expected[j], actual[j], expected[j] * 1e-5);
        // Every block projection is recorded, the output head is not; no adapter stays attached.
        Assert.Equal(c.Intermediate, stats.SumSquares("model.layers.2.mlp.down_proj").Length);
        Assert.Throws<KeyNotFoundException>(() => stats.SumSquares("lm_head"));
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));
    }

    [Theory]
    [InlineData("llama-gqa")]
    [InlineData("gpt2")]
    public void Taylor_score_is_the_derivative_of_the_loss_along_the_units_weights(string arch)
    {
        var c = arch == "gpt2" ? Gpt2 : LlamaGqa;
        using var model = Random(c, 22, scale: 0.5f);
        var calibration = new CalibrationSet(Ids(3 * 32 + 1, c.VocabSize, 9), c.MaxPositions);   // three whole windows of 32
        calibration.Gradients(model);
        var taylor = StructuredScores.Units(model, channels: false, ImportanceScore.Taylor, null);
        foreach (var p in model.Parameters) p.Value.ReleaseGrad();
        // d/dα L(w + α·w on the unit's weights) at α = 0 is Σ w·∂L/∂w over them: a central difference, α = 1e-2
        // (truncation O(α²)·L''' ≈ 1e-5; float rounding of L ≈ 6 at 1e-6 / α ≈ 1e-4).
        int layer = 1, unit = 1, D = c.HeadDim, group = c.Heads / c.KvHeads;
        (string Name, int Axis, int[] Index)[] owned = arch == "gpt2"
            ? [($"transformer.h.{layer}.attn.c_attn.weight", 0, [.. Range(unit * D, D), .. Range(c.Embd + unit * D, D), .. Range(2 * c.Embd + unit * D, D)]),
               ($"transformer.h.{layer}.attn.c_attn.bias", 0, [.. Range(unit * D, D), .. Range(c.Embd + unit * D, D), .. Range(2 * c.Embd + unit * D, D)]),
               ($"transformer.h.{layer}.attn.c_proj.weight", 1, Range(unit * D, D))]
            : [($"model.layers.{layer}.self_attn.q_proj.weight", 0, Range(unit * group * D, group * D)),
               ($"model.layers.{layer}.self_attn.k_proj.weight", 0, Range(unit * D, D)),
               ($"model.layers.{layer}.self_attn.v_proj.weight", 0, Range(unit * D, D)),
               ($"model.layers.{layer}.self_attn.o_proj.weight", 1, Range(unit * group * D, group * D))];
        var saved = owned.Select(o => Param(model, o.Name).ToArray()).ToArray();
        double LossAt(float alpha)
        {
            for (int i = 0; i < owned.Length; i++)
            {
                var w = Param(model, owned[i].Name);
                var v = w.AsSpan();
                saved[i].CopyTo(v);
                int cols = w.Rank == 1 ? 1 : w.Dim(1), rows = w.Dim(0);
                foreach (int k in owned[i].Index)
                    if (owned[i].Axis == 0) for (int j = 0; j < cols; j++) v[k * cols + j] *= 1 + alpha;
                    else for (int r = 0; r < rows; r++) v[r * cols + k] *= 1 + alpha;
            }
            return calibration.Loss(model);
        }
        const float alpha = 1e-2f;
        double fd = (LossAt(alpha) - LossAt(-alpha)) / (2 * alpha);
        Assert.True(Math.Abs(fd) > 1e-3, $"the unit must matter for the test to mean something: {fd}");
        Assert.Equal(Math.Abs(fd), taylor[layer][unit], 3e-4 + 0.01 * Math.Abs(fd));
    }

    [Fact]
    public void Layer_score_is_the_calibration_loss_increase_of_the_model_without_the_layer()
    {
        var c = Gpt2;
        using var model = Random(c, 23);
        var calibration = new CalibrationSet(Ids(80, c.VocabSize, 10), c.MaxPositions);
        var delta = StructuredScores.LayerSkipLoss(model, calibration);
        double full = calibration.Loss(model);
        for (int l = 0; l < c.Layers; l++)
        {
            using var without = StructuredPruner.KeepLayers(model, Enumerable.Range(0, c.Layers).Where(k => k != l).ToArray());
            Assert.Equal(calibration.Loss(without) - full, delta[l], 1e-5);
        }
        Assert.Equal(full, calibration.Loss(model));   // the weights are back
    }

    static int[] Range(int start, int count) => Enumerable.Range(start, count).ToArray();
}

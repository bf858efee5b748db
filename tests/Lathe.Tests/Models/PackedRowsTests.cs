using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Models;

/// <summary>Sequence packing in the decoders: a batch of packed rows (several examples back to back, then padding) must
/// compute what each example computes alone — its logits, and the causal-LM loss gradient of every parameter (the
/// packed batch's summed loss against the sum of the examples' summed losses). The oracle is the model's ordinary
/// unpacked forward (itself checked against PyTorch in ModelParityTests), one example at a time.</summary>
public class PackedRowsTests
{
    const int T = 80;   // > 64: the attention kernel's second block of queries and keys
    // Row 0: three examples (one a single token) and 24 tokens of padding; row 1: two examples, the second across the
    // 64-token block edge.
    static readonly int[][] Examples = [[30, 1, 25], [50, 30]];

    static ModelConfig Config(string preset, string? positions)
    {
        // Larger initial weights than the presets' so attention is far from uniform and a leak across examples shows.
        var c = ModelConfig.FromPresetOrFile(preset) with { InitStd = 0.1f, Layers = 2 };
        return positions is null ? c : c with { PositionEmbeddingType = positions };
    }

    // (row, start, length) of every example; the padding after row 0's last example is a segment of its own.
    static List<(int Row, int Start, int Length)> Segments(bool withPadding)
    {
        var list = new List<(int, int, int)>();
        for (int b = 0; b < Examples.Length; b++)
        {
            int start = 0;
            foreach (int n in Examples[b]) { list.Add((b, start, n)); start += n; }
            if (withPadding && start < T) list.Add((b, start, T - start));
        }
        return list;
    }

    static PackedLayout Layout()
    {
        var layout = new PackedLayout(Examples.Length, T);
        foreach (var (row, start, n) in Segments(withPadding: true))
            for (int i = 0; i < n; i++)
            {
                layout.Positions[row * T + start + i] = i;
                layout.SegmentStarts[row * T + start + i] = start;
            }
        return layout;
    }

    // Ids (B·T) and next-token targets inside each example (its last token and the padding: ignored).
    static (int[] Ids, int[] Targets) Data(int vocab)
    {
        var rng = new Philox(21);
        int B = Examples.Length;
        var ids = Enumerable.Range(0, B * T).Select(_ => rng.NextInt(vocab)).ToArray();
        var targets = Enumerable.Repeat(-100, B * T).ToArray();
        foreach (var (row, start, n) in Segments(withPadding: false))
            for (int i = 0; i + 1 < n; i++) targets[row * T + start + i] = ids[row * T + start + i + 1];
        return (ids, targets);
    }

    public static TheoryData<string, string?> Models => new()
    {
        { "gpt2-tiny", null },            // learned positions
        { "gpt2-tiny", "rope" },
        { "gpt2-tiny", "sinusoidal" },
        { "llama-tiny", null },           // rotary, grouped-query heads (4 query heads over 2 kv heads)
        { "llama-moe-tiny", null },       // Mixtral experts: routed per token, nothing to pack
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Packed_rows_give_each_examples_own_logits(string preset, string? positions)
    {
        var config = Config(preset, positions);
        using var model = CausalLM.Create(config, 3);
        var (ids, _) = Data(config.VocabSize);
        int V = config.VocabSize;
        using var tape = new Tape();
        float[] packed;
        using (tape.Activate())
        using (Tape.NoGrad())
            packed = model.Logits(model.Embed(ids, Examples.Length, T), Examples.Length, T, Layout()).ToArray();
        float worst = 0;
        foreach (var (row, start, n) in Segments(withPadding: false))
        {
            tape.Reset();
            float[] alone;
            using (tape.Activate())
            using (Tape.NoGrad())
                alone = model.Logits(ids.AsSpan(row * T + start, n), 1, n).ToArray();
            for (int i = 0; i < alone.Length; i++) worst = Math.Max(worst, Math.Abs(alone[i] - packed[(row * T + start) * V + i]));
        }
        Assert.True(worst <= 1e-5f, $"{preset} {positions}: packed logits differ from the examples' own by {worst:G3}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Packed_rows_give_the_sum_of_the_examples_gradients(string preset, string? positions)
    {
        var config = Config(preset, positions);
        using var model = CausalLM.Create(config, 5);
        var (ids, targets) = Data(config.VocabSize);
        using var tape = new Tape();
        var parameters = model.Parameters.Select(p => p.Value).ToArray();

        // Σ over the packed batch's counted tokens of the loss: the mean times the count.
        int counted = targets.Count(t => t != -100);
        foreach (var p in parameters) p.ZeroGrad();
        using (tape.Activate())
            tape.Backward(Ops.Mul(Ops.CrossEntropy(model.Logits(model.Embed(ids, Examples.Length, T), Examples.Length, T, Layout()), targets), Scalar(counted)));
        var packed = parameters.Select(p => p.Grad!.ToArray()).ToArray();

        // The same sum, one example at a time (a single-token example has no target and adds nothing).
        foreach (var p in parameters) p.ZeroGrad();
        foreach (var (row, start, n) in Segments(withPadding: false))
        {
            if (n < 2) continue;
            tape.Reset();
            using (tape.Activate())
                tape.Backward(Ops.Mul(Ops.CrossEntropy(model.Logits(ids.AsSpan(row * T + start, n), 1, n), targets.AsSpan(row * T + start, n)), Scalar(n - 1)));
        }
        for (int k = 0; k < parameters.Length; k++)
        {
            var alone = parameters[k].Grad!.ToArray();
            float scale = alone.Max(Math.Abs), worst = 0;
            Assert.True(scale > 0, $"{model.Parameters[k].Name}: no gradient reached it");
            for (int i = 0; i < alone.Length; i++) worst = Math.Max(worst, Math.Abs(alone[i] - packed[k][i]));
            // Float32 sums over ~130 tokens in other orders: a relative 1e-5 of the tensor's largest gradient.
            Assert.True(worst <= 1e-5f * scale, $"{preset} {positions} {model.Parameters[k].Name}: packed gradient differs by {worst:G3} (largest {scale:G3})");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void One_example_per_row_with_dropout_gives_the_unpacked_logits_bit_for_bit(string preset, string? positions)
    {
        // Dropout draws the same masks packed or not: a layout of whole rows changes nothing, in training mode too.
        var config = Config(preset, positions) with { Dropout = 0.1f, AttentionDropout = 0.2f };
        using var model = CausalLM.Create(config, 4);
        var (ids, _) = Data(config.VocabSize);
        int B = Examples.Length;
        var whole = new PackedLayout(B, T);
        for (int i = 0; i < B * T; i++) whole.Positions[i] = i % T;
        using var tape = new Tape();
        float[] Run(PackedLayout? layout)
        {
            model.DropoutRng = new Philox(9);
            tape.Reset();
            using (tape.Activate())
                return model.Logits(model.Embed(ids, B, T), B, T, layout).ToArray();
        }
        var plain = Run(null);
        Assert.Equal(plain, Run(whole));
        model.DropoutRng = null;
        tape.Reset();
        using (tape.Activate())
            Assert.NotEqual(plain, model.Logits(model.Embed(ids, B, T), B, T, whole).ToArray());   // dropout was on
    }

    static Tensor Scalar(float value) => Tensor.FromArray([value]);

    [Fact]
    public void Alibi_positions_and_an_attention_prefix_refuse_packed_rows_in_one_line()
    {
        var alibi = Config("gpt2-tiny", "alibi");
        using var model = CausalLM.Create(alibi, 1);
        var (ids, _) = Data(alibi.VocabSize);
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var e = Assert.Throws<NotSupportedException>(() => model.Logits(model.Embed(ids, 2, T), 2, T, Layout()));
            Assert.Equal("gpt2: packed rows are not supported with ALiBi positions; pad the examples instead.", e.Message);
        }

        var config = Config("llama-tiny", null);
        using var llama = CausalLM.Create(config, 1);
        using var keys = Tensor.Zeros(config.KvHeads, 2, config.HeadDim);
        using var values = Tensor.Zeros(config.KvHeads, 2, config.HeadDim);
        llama.SetAttentionPrefix(0, keys, values);
        var (llamaIds, _) = Data(config.VocabSize);
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var e = Assert.Throws<ArgumentException>(() => llama.Logits(llama.Embed(llamaIds, 2, T), 2, T, Layout()));
            Assert.Contains("attention prefix: not with packed rows", e.Message);
        }
    }

    [Fact]
    public void A_malformed_layout_names_the_token()
    {
        var config = Config("llama-tiny", null);
        using var model = CausalLM.Create(config, 1);
        var (ids, _) = Data(config.VocabSize);
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var wrongShape = new PackedLayout(1, T);
            Assert.Contains("packed layout of (B, T) = (1, 80) for embeddings of (2, 80)",
                Assert.Throws<ArgumentException>(() => model.Logits(model.Embed(ids, 2, T), 2, T, wrongShape)).Message);
            var layout = Layout();
            layout.Positions[T + 40] = 3;   // row 1 token 40: start 0, so its position must be 40
            Assert.Contains("row 1 token 40: segment start 0 and position 3",
                Assert.Throws<ArgumentException>(() => model.Logits(model.Embed(ids, 2, T), 2, T, layout)).Message);
        }
    }
}

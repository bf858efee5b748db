using Lathe.Compression;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Quantized;
using Lathe.Tokenizers;

namespace Lathe.Tests.Inference;

/// <summary>The quantized inference path: Ops.QuantLinear against Ops.Linear on decoded weights, models converted by
/// ModelQuantizer against their F32 selves, and the decode-path shortcuts (LastLogits) against the full computation.</summary>
public class QuantizedInferenceTests
{
    static int[] Tokens(int n, int vocab, ulong seed)
    {
        var rng = new Philox(seed);
        var ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = rng.NextInt(vocab);
        return ids;
    }

    static float[] Run(Func<Tensor> f)
    {
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
            return f().ToArray();
    }

    [Theory]
    [InlineData(QuantType.Q8_0, 1)]
    [InlineData(QuantType.Q4_0, 5)]
    [InlineData(QuantType.F16, 3)]
    [InlineData(QuantType.Q4_0, 40)]   // prompt-sized, N = 45: the matvec kernels
    [InlineData(QuantType.Q8_0, 33)]
    [InlineData(QuantType.F16, 40)]    // prompt-sized F16: the panel GEMM path
    public void QuantLinear_is_Linear_on_the_decoded_weights(QuantType type, int rows)
    {
        const int N = 45, K = 96;
        var rng = new Philox(9);
        var w = new float[N * K];
        var x = new float[rows * K];
        var b = new float[N];
        rng.FillNormal(w, 0, 0.5f); rng.FillNormal(x, 0, 1f); rng.FillNormal(b, 0, 1f);
        using var qw = QuantizedMatrix.FromFloat(w, N, K, type);
        var decoded = new float[N * K];
        for (int j = 0; j < N; j++) qw.DequantizeRow(j, decoded.AsSpan(j * K, K));
        // Q types multiply Q8_0-rounded activations: round x the same way for the oracle.
        var xr = (float[])x.Clone();
        if (type != QuantType.F16)
        {
            var blocks = new byte[Q8_0.Bytes(xr.Length)];
            Q8_0.Quantize(x, blocks);
            Q8_0.Dequantize(blocks, xr);
        }
        using var tx = Tensor.FromArray(x, rows, K);
        using var txr = Tensor.FromArray(xr, rows, K);
        using var tw = Tensor.FromArray(decoded, N, K);
        using var tb = Tensor.FromArray(b, N);
        var actual = Run(() => Ops.QuantLinear(tx, qw, tb));
        var expected = Run(() => Ops.Linear(txr, tw, tb));
        for (int i = 0; i < expected.Length; i++)
            // fp32 sums of 96 products in different orders: 1e-4 absolute on values of order 10.
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + Math.Abs(expected[i])), $"{type} rows={rows}: y[{i}] = {actual[i]}, Linear says {expected[i]}");
    }

    [Fact]
    public void QuantLinear_names_both_shapes_when_the_input_does_not_fit()
    {
        // (Its backward, for QLoRA, is tested in Lathe.Tensors.Tests' QuantLinearBackwardTests.)
        using var qw = QuantizedMatrix.FromFloat(new float[32 * 4], 4, 32, QuantType.Q8_0);
        using var wrong = Tensor.Zeros(2, 31);
        var e = Assert.Throws<ArgumentException>(() => Ops.QuantLinear(wrong, qw));
        Assert.Contains("(4, 32)", e.Message);
    }

    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("llama-tiny")]
    public void LastLogits_is_the_last_row_of_the_cached_logits(string preset)
    {
        var config = ModelConfig.FromPresetOrFile(preset);
        using var model = CausalLM.Create(config, 3);
        var ids = Tokens(9, config.VocabSize, 4);
        int V = config.VocabSize;
        using var c1 = new OneSequenceCache(config);
        using var c2 = new OneSequenceCache(config);
        foreach (var (start, count) in new[] { (0, 7), (7, 1), (8, 1) })
        {
            var all = Run(() => c1.Logits(model, ids.AsSpan(start, count)));
            var last = Run(() => c2.LastLogits(model, ids.AsSpan(start, count)));
            Assert.Equal(V, last.Length);
            for (int v = 0; v < V; v++)
                Assert.True(Math.Abs(all[(count - 1) * V + v] - last[v]) <= 1e-6f * (1 + Math.Abs(last[v])), $"{preset} at {start}+{count}: token {v}");
        }
    }

    [Theory]
    [InlineData("llama-tiny", QuantType.Q8_0)]
    [InlineData("llama-tiny", QuantType.Q4_0)]
    [InlineData("llama-tiny", QuantType.F16)]
    [InlineData("gpt2-tiny", QuantType.Q8_0)]
    [InlineData("gpt2-tiny", QuantType.Q4_0)]
    public void Quantized_model_is_the_F32_model_with_decoded_weights(string preset, QuantType type)
    {
        // Oracle: the same model in F32 with every linear weight replaced by its decoded quantized value. A larger
        // init than GPT-2's 0.02 spreads the logits so that differences show.
        var config = ModelConfig.FromPresetOrFile(preset) with { InitStd = 0.1f };
        using var oracle = CausalLM.Create(config, 21);
        using var quantized = CausalLM.Create(config, 21);
        ModelQuantizer.Quantize(quantized, type, releaseFloatWeights: true);
        foreach (var (o, q) in oracle.Linears.Zip(quantized.Linears))
        {
            if (o.SharesWeight) continue;   // a tied lm_head: its F32 weight is the embedding, which stays as is
            for (int j = 0; j < q.Quantized!.Rows; j++)
                q.Quantized.DequantizeRow(j, o.Weight.AsSpan().Slice(j * q.Quantized.Columns, q.Quantized.Columns));
        }
        // A tied lm_head (gpt2) is quantized apart from the embedding the oracle must keep F32: the oracle uses the
        // very same quantized matrix there (the object is disposed once; a second Dispose is a no-op). llama-tiny is
        // untied, so its lm_head is checked like every other layer.
        foreach (var (o, q) in oracle.Linears.Zip(quantized.Linears))
            if (o.SharesWeight) o.Quantized = q.Quantized;

        // 40 tokens ≥ the panel threshold: F16 goes through decoded panels with F32 activations — the oracle's math up to
        // summation order; Q8_0/Q4_0 round activations to Q8_0 as for single tokens below (the packed GEMMs' exactness is
        // tested at the kernel, and against llama.cpp in GgufParityTests).
        var ids = Tokens(40, config.VocabSize, 22);
        var expected = Run(() => oracle.Logits(ids, 1, ids.Length));
        var actual = Run(() => quantized.Logits(ids, 1, ids.Length));
        AssertLogitsClose(expected, actual, type != QuantType.F16, $"{preset} {type}");

        // Single cached tokens: activations are rounded to Q8_0 (8 bits per 32-block) before each product, so the
        // logits move by about 1% of their spread (a wrong layout or scale would move them by ~100%).
        using var c1 = new OneSequenceCache(config);
        using var c2 = new OneSequenceCache(config);
        double num = 0, den = 0;
        for (int t = 0; t < 6; t++)
        {
            var e = Run(() => c1.LastLogits(oracle, ids.AsSpan(t, 1)));
            var a = Run(() => c2.LastLogits(quantized, ids.AsSpan(t, 1)));
            for (int i = 0; i < e.Length; i++) { num += Math.Pow(e[i] - a[i], 2); den += Math.Pow(e[i], 2); }
        }
        double relative = Math.Sqrt(num / den);
        Assert.True(relative < (type == QuantType.F16 ? 1e-5 : 0.05), $"{preset} {type}: relative logit error of cached decoding {relative:G4}");

        using var generator = new Generator(quantized);
        var greedy = new SamplingOptions { Temperature = 0f };
        var first = generator.Generate(ids[..5], 12, greedy).ToArray();
        var second = generator.Generate(ids[..5], 12, greedy).ToArray();
        Assert.Equal(12, first.Length);
        Assert.Equal(first, second);
    }

    /// <summary>F32-activation paths: elementwise within 1e-4 (fp32 sums in another order). Q8_0-rounded activations:
    /// the logits move by about 1% of their spread, bound 5% (a wrong layout or scale moves them by ~100%).</summary>
    internal static void AssertLogitsClose(float[] expected, float[] actual, bool activationsRounded, string what)
    {
        if (!activationsRounded)
        {
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + Math.Abs(expected[i])), $"{what}: logit {i} = {actual[i]}, oracle {expected[i]}");
            return;
        }
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++) { num += Math.Pow(expected[i] - actual[i], 2); den += Math.Pow(expected[i], 2); }
        Assert.True(Math.Sqrt(num / den) < 0.05, $"{what}: relative logit error {Math.Sqrt(num / den):G4} with Q8_0-rounded activations");
    }

    [Fact]
    public void Quantizing_a_model_whose_width_is_not_whole_blocks_names_the_tensor()
    {
        var config = ModelConfig.FromPresetOrFile("llama-tiny") with { Embd = 48, Heads = 2, KvHeads = 1, Intermediate = 64 };
        using var model = CausalLM.Create(config, 1);
        var e = Assert.Throws<ArgumentException>(() => ModelQuantizer.Quantize(model, QuantType.Q4_0));
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", e.Message);
        ModelQuantizer.Quantize(model, QuantType.F16);   // F16 has no blocks
    }
}

/// <summary>GGUF files loaded with their quantized weights kept as stored (<see cref="GgufModelLoader.LoadQuantized"/>).</summary>
public class QuantizedGgufTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0, false)]
    [InlineData(GgmlType.Q8_0, true)]
    [InlineData(GgmlType.Q4_0, true)]
    [InlineData(GgmlType.F16, false)]
    public void A_gguf_loaded_quantized_gives_the_logits_of_its_decoded_weights(GgmlType type, bool tied)
    {
        var config = new ModelConfig
        {
            ModelType = "llama", VocabSize = 300, MaxPositions = 64, Embd = 64, Layers = 2, Heads = 4, KvHeads = 2,
            Intermediate = 96, TieEmbeddings = tied, NormEps = 1e-5f, RopeTheta = 10000, InitStd = 0.1f,
        };
        string dir = Path.Combine(Path.GetTempPath(), "lathe-quant-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "m.gguf");
            using var model = CausalLM.Create(config, seed: 3);
            var tokenizer = new BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train(["the whale and the ship, the sea and the sky; 12 whales!"]);
            GgufExport.Save(model, tokenizer, path, type);
            using var quantized = GgufModelLoader.LoadQuantized(path);
            Assert.All(quantized.Linears, l => Assert.Equal(ToQuant(type), l.Quantized!.Type));
            // Oracle: the F32 model with every stored weight rounded through the type (what the file decodes to).
            GgufExport.RoundTripWeights(model, type);
            var ids = new int[40];
            for (int i = 0; i < ids.Length; i++) ids[i] = (i * 37 + 5) % config.VocabSize;
            using var tape = new Tape();
            float[] expected, actual;
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                expected = model.Logits(ids, 1, ids.Length).ToArray();
                actual = quantized.Logits(ids, 1, ids.Length).ToArray();   // 40 rows: packed GEMMs or F16 panels
            }
            QuantizedInferenceTests.AssertLogitsClose(expected, actual, type != GgmlType.F16, type.ToString());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    static QuantType ToQuant(GgmlType t) => t switch { GgmlType.F16 => QuantType.F16, GgmlType.Q8_0 => QuantType.Q8_0, _ => QuantType.Q4_0 };
}

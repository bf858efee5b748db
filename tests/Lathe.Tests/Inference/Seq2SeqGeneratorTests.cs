using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tests.Inference;

/// <summary>T5's decoder through the same Generator (sampling, stop tokens, streaming) as the decoder-only models: its
/// greedy tokens equal the full-recompute twin's (every step re-runs the decoder over the whole prefix, no cache), and
/// stop tokens and seeded sampling behave as they do for a decoder.</summary>
public class Seq2SeqGeneratorTests
{
    static ModelConfig Tiny => Lathe.Tests.Models.T5TrainingTests.Tiny;   // 2+2 layers, 4 heads of 8, vocab 72

    static int[] Encoder(int n, int seed)
    {
        var rng = new Philox((ulong)seed);
        var ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = 2 + rng.NextInt(70);
        return ids;
    }

    [Theory]
    [InlineData(9, 3)]
    [InlineData(21, 4)]
    public void Greedy_generation_equals_the_full_recompute_twin(int Te, int seed)
    {
        using var model = (T5Model)LanguageModel.Create(Tiny, (ulong)seed);
        int[] enc = Encoder(Te, seed);
        const int Steps = 20;
        int[] reference = Seq2SeqGreedy.Decode(model, enc, default, 1, Te, Steps, useCache: false);
        using var generator = new Generator(model, enc);
        var greedy = new SamplingOptions { Temperature = 0, TopK = 0, TopP = 1, MinP = 0 };
        int[] got = generator.Generate([model.Config.DecoderStartTokenId], Steps, greedy).ToArray();
        Assert.Equal(reference, got);
        // The cache is kept: asking again with the same decoder prompt reuses it and gives the same tokens.
        Assert.Equal(reference, generator.Generate([model.Config.DecoderStartTokenId], Steps, greedy).ToArray());
    }

    [Fact]
    public void Stop_tokens_and_seeded_sampling_work_as_for_a_decoder()
    {
        using var model = (T5Model)LanguageModel.Create(Tiny, 7);
        int[] enc = Encoder(12, 7);
        int start = model.Config.DecoderStartTokenId;
        var sampling = new SamplingOptions { Temperature = 1f, TopK = 0, TopP = 1, MinP = 0, Seed = 5 };
        int[] a, b;
        using (var g = new Generator(model, enc)) a = g.Generate([start], 16, sampling).ToArray();
        using (var g = new Generator(model, enc)) b = g.Generate([start], 16, sampling).ToArray();
        Assert.Equal(a, b);                                       // same seed, same tokens
        Assert.Equal(16, a.Length);
        using var stopping = new Generator(model, enc);
        int[] cut = stopping.Generate([start], 16, sampling, new HashSet<int> { a[5] }).ToArray();
        int first = Array.IndexOf(a, a[5]);
        Assert.Equal(a[..first], cut);                            // stops before the first stop token, which is not yielded
        Assert.Equal(StopReason.StopToken, stopping.Reason);
    }

    [Fact]
    public void An_empty_encoder_input_is_an_error()
    {
        using var model = (T5Model)LanguageModel.Create(Tiny, 1);
        Assert.Throws<ArgumentException>(() => new Generator(model, ReadOnlySpan<int>.Empty));
    }
}

using Lathe.Compression;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Quantized;

namespace Lathe.Tests.Inference;

/// <summary>A sequence's logits do not depend on the other sequences decoded in the same batched step: every kernel of
/// the step computes a row with the same arithmetic whatever the number of rows (GemmFewRows for F32 weights up to its
/// row limit, the packed Q4_0/Q8_0 GEMMs for any number, attention per row, norms per row). So a seeded request gives the
/// same tokens alone and under load. Checked bit for bit where the machine has those kernels (AVX2+FMA for F32; AVX-512
/// and AVX-VNNI for the packed Q types — elsewhere the matvec kernels take a different path for one row and for four).</summary>
public class BatchInvarianceTests
{
    static float[] Run(Tape tape, Func<Tensor> f)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
            return Ops.Contiguous(f()).ToArray();
    }

    public static TheoryData<string, string> Models => new() { { "llama-tiny", "f32" }, { "gpt2-tiny", "f32" }, { "llama-tiny", "q8_0" }, { "llama-tiny", "q4_0" } };

    static bool KernelsAreInvariant(string variant) => variant switch
    {
        "f32" => GemmFewRows.Applies(false, true, 1, 16, 32),
        "q8_0" => QuantMatMul.UsesPacked(QuantType.Q8_0, 1, 16),
        _ => QuantMatMul.UsesPacked(QuantType.Q4_0, 1, 16),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void A_sequence_has_the_same_logits_alone_and_in_a_batched_step(string preset, string variant)
    {
        if (!KernelsAreInvariant(variant)) return;   // this machine's kernels round one row and several differently
        using var model = CausalLM.Create(ModelConfig.FromPresetOrFile(preset) with { InitStd = 0.1f }, 5);
        if (variant != "f32") ModelQuantizer.Quantize(model, QuantTypes.Parse(variant));
        int V = model.Config.VocabSize;
        var rng = new Philox(11);
        // Prompt lengths just under the 16-token block boundaries, so the decode steps cross them.
        int[][] prompts = [.. new[] { 14, 31, 47 }.Select(n => Enumerable.Range(0, n).Select(_ => rng.NextInt(V)).ToArray())];
        using var tape = new Tape();
        using var cache = new PagedKvCache(model.Config, blocks: 48);
        int[] together = new int[3], alone = new int[3], next = new int[3];
        for (int i = 0; i < 3; i++)
        {
            together[i] = cache.AddSequence();
            var logits = Run(tape, () => cache.Forward(model, prompts[i], together[i]));
            next[i] = ArgMax(logits);
            alone[i] = cache.Fork(together[i]);   // the same cached prefix, decoded one sequence per step
        }
        for (int step = 0; step < 4; step++)
        {
            var batched = Run(tape, () => cache.Forward(model, next, together, [1, 1, 1]));   // (3, V)
            for (int i = 0; i < 3; i++)
            {
                var single = Run(tape, () => cache.Forward(model, [next[i]], alone[i]));
                Assert.Equal(single, batched.AsSpan(i * V, V).ToArray());
                next[i] = ArgMax(single);
            }
        }
        // A prompt chunk of one sequence beside the others' decode tokens: the decode rows still match.
        int[] chunk = [.. Enumerable.Range(0, 5).Select(_ => rng.NextInt(V))];
        var mixed = Run(tape, () => cache.Forward(model, [next[0], .. chunk, next[2]], together, [1, 5, 1]));
        foreach (int i in new[] { 0, 2 })
            Assert.Equal(Run(tape, () => cache.Forward(model, [next[i]], alone[i])), mixed.AsSpan(i * V, V).ToArray());
        Assert.Equal(Run(tape, () => cache.Forward(model, chunk, alone[1])), mixed.AsSpan(V, V).ToArray());
    }

    static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int v = 1; v < row.Length; v++) if (row[v] > row[best]) best = v;
        return best;
    }
}

using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

/// <summary>Generation with the obvious loop: each new token re-runs the model over the last n_positions tokens
/// (no KV cache yet) and the <see cref="SamplerChain"/> picks the next one. For the demo and tests.</summary>
public static unsafe class NaiveGenerator
{
    /// <summary>Continues <paramref name="prompt"/> by <paramref name="count"/> tokens.</summary>
    public static int[] Generate(CausalLM model, ReadOnlySpan<int> prompt, int count, SamplingOptions options)
    {
        if (prompt.IsEmpty) throw new ArgumentException("generate: the prompt is empty");
        var tokens = new List<int>(prompt.ToArray());
        var sampler = new SamplerChain(options);
        int V = model.Config.VocabSize, maxT = model.Config.MaxPositions;
        using var tape = new Tape();
        for (int n = 0; n < count; n++)
        {
            int T = Math.Min(tokens.Count, maxT);
            var window = tokens.GetRange(tokens.Count - T, T).ToArray();
            tape.Reset();
            int next;
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = model.Logits(window, 1, T);            // (T, V)
                next = sampler.Sample(new ReadOnlySpan<float>(logits.Data + (long)(T - 1) * V, V), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens));
            }
            tokens.Add(next);
        }
        return tokens.GetRange(prompt.Length, count).ToArray();
    }
}

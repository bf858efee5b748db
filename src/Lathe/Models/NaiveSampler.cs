using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Models;

/// <summary>Greedy or temperature sampling with the obvious loop: each new token re-runs the model over the
/// last n_positions tokens (no KV cache — the Inference stage brings that). For demos and tests.</summary>
public static unsafe class NaiveSampler
{
    /// <summary>Continues <paramref name="prompt"/> by <paramref name="count"/> tokens; temperature 0 is greedy.</summary>
    public static int[] Generate(CausalLM model, ReadOnlySpan<int> prompt, int count, float temperature, ulong seed)
    {
        if (prompt.IsEmpty) throw new ArgumentException("sample: the prompt is empty");
        var tokens = new List<int>(prompt.ToArray());
        var rng = new Philox(seed);
        int V = model.Config.VocabSize, maxT = model.Config.MaxPositions;
        var probs = new double[V];
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
                float* last = logits.Data + (long)(T - 1) * V;
                next = temperature <= 0 ? ArgMax(last, V) : Sample(last, V, temperature, probs, rng);
            }
            tokens.Add(next);
        }
        return tokens.GetRange(prompt.Length, count).ToArray();
    }

    static int ArgMax(float* x, int n)
    {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    static int Sample(float* logits, int V, float temperature, double[] probs, Philox rng)
    {
        double max = double.NegativeInfinity, sum = 0;
        for (int i = 0; i < V; i++) max = Math.Max(max, logits[i]);
        for (int i = 0; i < V; i++) { probs[i] = Math.Exp((logits[i] - max) / temperature); sum += probs[i]; }
        double u = rng.NextFloat() * sum;
        for (int i = 0; i < V; i++) { u -= probs[i]; if (u <= 0) return i; }
        return V - 1;
    }
}

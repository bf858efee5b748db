namespace Lathe.Inference;

/// <summary>Log-probabilities as OpenAI reports them: of the model's own next-token distribution (log-softmax of the
/// raw logits, before penalties, masks and temperature), for the chosen token and the most likely alternatives.</summary>
public static class Logprobs
{
    /// <summary><paramref name="e"/> with the chosen token's log-probability and, when <paramref name="top"/> ≥ 1, the
    /// <paramref name="top"/> most likely tokens (best first; ties by lower id).</summary>
    public static GenerationEvent Describe(GenerationEvent e, ReadOnlySpan<float> logits, int token, int top)
    {
        float lse = LogSumExp(logits);
        TokenLogprob[]? best = top > 0 ? Top(logits, Math.Min(top, logits.Length), lse) : null;
        return e with { Logprob = logits[token] - lse, TopLogprobs = best };
    }

    /// <summary>log Σ exp(logits), computed stably.</summary>
    public static float LogSumExp(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (float x in logits) if (x > max) max = x;
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);
        return max + (float)Math.Log(sum);
    }

    // The k best by insertion into a short sorted array: k ≤ 20, so one pass over V with a rare insert.
    static TokenLogprob[] Top(ReadOnlySpan<float> logits, int k, float lse)
    {
        var ids = new int[k];
        var values = new float[k];
        int n = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float x = logits[i];
            if (n == k && x <= values[k - 1]) continue;
            int at = n < k ? n++ : k - 1;
            while (at > 0 && values[at - 1] < x) { values[at] = values[at - 1]; ids[at] = ids[at - 1]; at--; }
            values[at] = x;
            ids[at] = i;
        }
        var result = new TokenLogprob[n];
        for (int i = 0; i < n; i++) result[i] = new TokenLogprob(ids[i], values[i] - lse);
        return result;
    }
}

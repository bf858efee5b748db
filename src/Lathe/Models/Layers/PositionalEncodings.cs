using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Models;

/// <summary>Positional encodings other than a learned table, for the gpt2 architecture
/// (config position_embedding_type): "sinusoidal" — the fixed table of Vaswani et al. 2017 §3.5 added to the token
/// embeddings; "alibi" — Press et al. 2022, no embedding but a bias −m_h·(i − j) on the attention scores of query i
/// for key j ≤ i, one slope m_h per head; "rope" — rotary q and k (rotate_half layout, rope_theta).</summary>
internal static class PositionalEncodings
{
    /// <summary>PE[pos, 2i] = sin(pos / 10000^(2i/C)), PE[pos, 2i+1] = cos(pos / 10000^(2i/C)) → (maxT, C), caller-owned.</summary>
    public static Tensor SinusoidalTable(int maxPositions, int C)
    {
        var t = Tensor.Zeros(maxPositions, C);
        var s = t.AsSpan();
        for (int pos = 0; pos < maxPositions; pos++)
            for (int i = 0; 2 * i < C; i++)
            {
                // In double, then rounded once: the table is data, not a hot loop.
                double angle = pos / Math.Pow(10000.0, 2.0 * i / C);
                s[pos * C + 2 * i] = (float)Math.Sin(angle);
                if (2 * i + 1 < C) s[pos * C + 2 * i + 1] = (float)Math.Cos(angle);
            }
        return t;
    }

    /// <summary>ALiBi head slopes. For H a power of two: m_h = 2^(−8h/H), h = 1..H. Otherwise (the paper's rule):
    /// the slopes of the nearest smaller power of two P, then every other slope of 2P for the H − P heads left.</summary>
    public static double[] AlibiSlopes(int H)
    {
        var slopes = new double[H];
        int p = 1;
        while (2 * p <= H) p *= 2;
        for (int h = 0; h < p; h++) slopes[h] = Math.Pow(2, -8.0 * (h + 1) / p);
        for (int h = p; h < H; h++) slopes[h] = Math.Pow(2, -8.0 * (2 * (h - p) + 1) / (2 * p));   // odd ones of 2P: 1, 3, 5 …
        return slopes;
    }

    /// <summary>ALiBi by distance: (H, maxT) with −m_h·d at [h, d], what the cached path adds to the score of the key
    /// d positions before the query (the same float product as <see cref="AlibiBias"/>). Caller-owned.</summary>
    public static Tensor AlibiDistances(double[] slopes, int maxPositions)
    {
        var t = Tensor.Zeros(slopes.Length, maxPositions);
        var s = t.AsSpan();
        for (int h = 0; h < slopes.Length; h++)
        {
            float m = (float)slopes[h];
            for (int d = 0; d < maxPositions; d++) s[h * maxPositions + d] = -m * d;
        }
        return t;
    }

    /// <summary>The ALiBi bias (H, T, S) for T queries that follow S − T cached keys: −m_h·((S − T + t) − s) for
    /// keys at or before the query (later keys are masked by causality anyway; they get 0). A constant on the
    /// active tape.</summary>
    public static unsafe Tensor AlibiBias(double[] slopes, int T, int S)
    {
        int H = slopes.Length;
        var bias = Tape.NewResult([H, T, S]);
        float* b = bias.Data;
        for (int h = 0; h < H; h++)
        {
            float m = (float)slopes[h];
            for (int t = 0; t < T; t++)
            {
                int query = S - T + t;
                float* row = b + ((long)h * T + t) * S;
                for (int s = 0; s < S; s++) row[s] = s <= query ? -m * (query - s) : 0f;
            }
        }
        return bias;
    }
}

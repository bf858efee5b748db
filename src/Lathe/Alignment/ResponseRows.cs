using Lathe.Data;

namespace Lathe.Alignment;

/// <summary>B prompt + response sequences laid out as (B, T) rows for the alignment objectives: inputs are the
/// sequence's tokens (then padding), targets the next token where it belongs to the response (else −100, the ignore
/// index), so a row's response log-probability is the sum over its scored targets. Also kept: each row's last token
/// position (where a reward or value head reads the sequence) and the flat indices of the scored rows (so the
/// lm_head runs only over response positions).</summary>
/// <remarks>A sequence of L tokens needs L ≤ T. The buffers are sized once and refilled in place, so a training step
/// allocates nothing here.</remarks>
public sealed class ResponseRows
{
    public ResponseRows(int b, int t)
    {
        if (b < 1 || t < 2) throw new ArgumentException($"response rows: B = {b} and T = {t} must be ≥ 1 and ≥ 2.");
        B = b; T = t;
        Inputs = new int[b * t];
        Targets = new int[b * t];
        Weights = new float[b * t];
        LastPosition = new int[b];
        Lengths = new int[b];
        _scored = new int[b * t];
        _scoredRow = new int[b * t];
    }

    public int B { get; }
    public int T { get; }
    /// <summary>Input ids (B, T); padding positions hold the pad id.</summary>
    public int[] Inputs { get; }
    /// <summary>Target ids (B, T): the response's next tokens, −100 elsewhere.</summary>
    public int[] Targets { get; }
    /// <summary>1 on scored targets (the response and its end-of-turn), 0 elsewhere.</summary>
    public float[] Weights { get; }
    /// <summary>Position of each row's last token (L − 1): where a reward or value head reads the whole sequence.</summary>
    public int[] LastPosition { get; }
    /// <summary>Tokens in each row's sequence (0 for an empty padding row).</summary>
    public int[] Lengths { get; }
    readonly int[] _scored, _scoredRow;
    int _scoredCount;

    /// <summary>Flat indices b·T + t of the scored targets, in row-major order.</summary>
    public ReadOnlySpan<int> Scored => _scored.AsSpan(0, _scoredCount);
    /// <summary>The row b of each scored target (parallel to <see cref="Scored"/>).</summary>
    public ReadOnlySpan<int> ScoredRow => _scoredRow.AsSpan(0, _scoredCount);

    /// <summary>Fills row <paramref name="b"/> with <paramref name="example"/> (its Trainable mask marks the response),
    /// or with padding when it is null. Call <see cref="Complete"/> after the last row.</summary>
    public void Set(int b, SftExample? example, int padId)
    {
        if ((uint)b >= (uint)B) throw new ArgumentOutOfRangeException(nameof(b));
        var inputs = Inputs.AsSpan(b * T, T);
        var targets = Targets.AsSpan(b * T, T);
        var weights = Weights.AsSpan(b * T, T);
        inputs.Fill(padId); targets.Fill(-100); weights.Clear();
        if (example is null) { Lengths[b] = 0; LastPosition[b] = 0; return; }
        int L = example.Ids.Length;
        if (L > T) throw new ArgumentException($"response rows: a sequence of {L} tokens does not fit rows of {T}.");
        if (L < 2) throw new ArgumentException("response rows: a sequence needs a prompt token and a response token.");
        example.Ids.CopyTo(inputs);
        for (int t = 0; t + 1 < L; t++)
            if (example.Trainable[t + 1]) { targets[t] = example.Ids[t + 1]; weights[t] = 1f; }
        Lengths[b] = L;
        LastPosition[b] = L - 1;
    }

    /// <summary>Indexes the scored targets after the rows are set.</summary>
    public void Complete()
    {
        int n = 0;
        for (int i = 0; i < B * T; i++)
            if (Weights[i] > 0) { _scored[n] = i; _scoredRow[n] = i / T; n++; }
        _scoredCount = n;
    }

    /// <summary>Scored targets in row <paramref name="b"/> (the response length in tokens).</summary>
    public int ResponseTokens(int b)
    {
        int n = 0;
        foreach (float w in Weights.AsSpan(b * T, T)) if (w > 0) n++;
        return n;
    }
}

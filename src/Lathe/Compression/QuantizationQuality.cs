using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Compression;

/// <summary>What quantization cost on held-out text, the figures llama.cpp's perplexity --kl-divergence prints:
/// perplexity of the reference and of the quantized model, KL(reference ‖ quantized) of the next-token distributions
/// per token (mean, median, 99th percentile, max), and how often both put the same token on top.</summary>
public sealed record QuantizationQualityReport(long Tokens, double PplBefore, double PplAfter, double MeanKl, double MedianKl,
    double Kl99, double MaxKl, double SameTopToken);

/// <summary>Scores a quantized model against its reference on one token stream, window by window.</summary>
public static class QuantizationQuality
{
    /// <summary>Both models read the same windows of <paramref name="window"/> tokens (stride <paramref name="window"/>,
    /// each position predicting the next token, the tail scored as one shorter window — as LossEvaluator scores
    /// perplexity), so every scored position gives one KL value and one loss per model.</summary>
    public static QuantizationQualityReport Measure(CausalLM reference, CausalLM quantized, ReadOnlySpan<int> ids, int window)
    {
        int V = reference.Config.VocabSize;
        if (quantized.Config.VocabSize != V) throw new ArgumentException($"quality: the models' vocabularies differ ({V} vs {quantized.Config.VocabSize}).");
        if (ids.Length < 2) throw new ArgumentException("quality: fewer than 2 tokens to score.");
        int T = Math.Min(window, ids.Length - 1);
        var kl = new List<double>(ids.Length);
        double nllBefore = 0, nllAfter = 0;
        long same = 0;
        var referenceLogits = new float[T * V];
        using var tape = new Tape();
        for (int pos = 0; pos < ids.Length - 1; pos += T)
        {
            int t = Math.Min(T, ids.Length - 1 - pos);
            var inputs = ids.Slice(pos, t);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                reference.Logits(inputs, 1, t).AsSpan().CopyTo(referenceLogits);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var q = quantized.Logits(inputs, 1, t).AsSpan();
                for (int i = 0; i < t; i++)
                {
                    var p = referenceLogits.AsSpan(i * V, V);
                    var r = q.Slice(i * V, V);
                    int target = ids[pos + i + 1];
                    double lp = LogSumExp(p), lq = LogSumExp(r);
                    nllBefore += lp - p[target];
                    nllAfter += lq - r[target];
                    // KL(P‖Q) = Σ P·(log P − log Q) with log P = p − lse(p)
                    double d = 0;
                    for (int v = 0; v < V; v++)
                    {
                        double logP = p[v] - lp;
                        d += Math.Exp(logP) * (logP - (r[v] - lq));
                    }
                    kl.Add(Math.Max(d, 0));
                    if (ArgMax(p) == ArgMax(r)) same++;
                }
            }
        }
        int n = kl.Count;
        kl.Sort();
        double mean = 0;
        foreach (double d in kl) mean += d;
        return new QuantizationQualityReport(n, Math.Exp(nllBefore / n), Math.Exp(nllAfter / n), mean / n,
            Percentile(kl, 0.5), Percentile(kl, 0.99), kl[^1], (double)same / n);
    }

    // Of sorted values, linear between the two nearest ranks.
    static double Percentile(List<double> sorted, double p)
    {
        double at = p * (sorted.Count - 1);
        int lo = (int)Math.Floor(at), hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (at - lo) * (sorted[hi] - sorted[lo]);
    }

    static double LogSumExp(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in x) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}

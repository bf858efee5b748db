namespace Lathe.Vision.Metrics;

/// <summary>Corpus BLEU (Papineni, Roukos, Ward and Zhu 2002, "BLEU: a method for automatic evaluation of machine
/// translation", §2): modified n-gram precisions pₙ = Σ_candidates Σ_ngrams min(count, max count in any reference) /
/// Σ_candidates Σ_ngrams count, pooled over the whole corpus for n = 1 … N; brevity penalty BP = 1 when the candidates'
/// total length c exceeds r, the sum of each candidate's closest reference length (ties → the shorter), else
/// exp(1 − r/c); BLEU = BP · exp(Σₙ (1/N) log pₙ), and 0 when any pₙ is 0 (no smoothing). Words are
/// <see cref="Tokenize"/>'s: lower-cased runs of letters, digits, hyphens and apostrophes.</summary>
public sealed class Bleu(int maxOrder = 4)
{
    readonly long[] _matches = new long[maxOrder], _totals = new long[maxOrder];
    long _candidateLength, _referenceLength;

    public int MaxOrder { get; } = maxOrder;

    /// <summary>Adds one candidate with its references (at least one).</summary>
    public void Add(string candidate, IReadOnlyList<string> references)
    {
        if (references.Count == 0) throw new ArgumentException("BLEU: a candidate needs at least one reference");
        var cand = Tokenize(candidate);
        var refs = references.Select(Tokenize).ToArray();
        _candidateLength += cand.Length;
        int best = refs[0].Length;
        foreach (var r in refs)
        {
            int d = Math.Abs(r.Length - cand.Length), bd = Math.Abs(best - cand.Length);
            if (d < bd || (d == bd && r.Length < best)) best = r.Length;
        }
        _referenceLength += best;
        for (int n = 1; n <= MaxOrder; n++)
        {
            var counts = NGrams(cand, n);
            var maxRef = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var r in refs)
                foreach (var (g, c) in NGrams(r, n))
                    maxRef[g] = Math.Max(maxRef.GetValueOrDefault(g), c);
            foreach (var (g, c) in counts)
            {
                _matches[n - 1] += Math.Min(c, maxRef.GetValueOrDefault(g));
                _totals[n - 1] += c;
            }
        }
    }

    /// <summary>Modified precision pₙ of the corpus so far (0 when there are no n-grams of that order).</summary>
    public double Precision(int n) => _totals[n - 1] == 0 ? 0 : (double)_matches[n - 1] / _totals[n - 1];

    /// <summary>The brevity penalty of the corpus so far.</summary>
    public double BrevityPenalty => _candidateLength == 0 ? 0 : _candidateLength > _referenceLength ? 1 : Math.Exp(1 - (double)_referenceLength / _candidateLength);

    /// <summary>Corpus BLEU in [0, 1].</summary>
    public double Score
    {
        get
        {
            double logSum = 0;
            for (int n = 1; n <= MaxOrder; n++)
            {
                double p = Precision(n);
                if (p == 0) return 0;
                logSum += Math.Log(p) / MaxOrder;
            }
            return BrevityPenalty * Math.Exp(logSum);
        }
    }

    /// <summary>Corpus BLEU of parallel lists (one reference each).</summary>
    public static double Corpus(IReadOnlyList<string> candidates, IReadOnlyList<string> references, int maxOrder = 4)
    {
        if (candidates.Count != references.Count) throw new ArgumentException($"BLEU: {candidates.Count} candidates for {references.Count} references");
        var b = new Bleu(maxOrder);
        for (int i = 0; i < candidates.Count; i++) b.Add(candidates[i], [references[i]]);
        return b.Score;
    }

    /// <summary>The words of <paramref name="text"/>: lower-cased maximal runs of letters, digits, '-' and '\''.</summary>
    public static string[] Tokenize(string text)
    {
        var words = new List<string>();
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool word = i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '-' || text[i] == '\'');
            if (word && start < 0) start = i;
            else if (!word && start >= 0) { words.Add(text[start..i].ToLowerInvariant()); start = -1; }
        }
        return words.ToArray();
    }

    static Dictionary<string, int> NGrams(string[] words, int n)
    {
        var d = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= words.Length; i++)
        {
            string g = string.Join(' ', words, i, n);
            d[g] = d.GetValueOrDefault(g) + 1;
        }
        return d;
    }
}

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Lathe.Evaluation.Tasks;

/// <summary>The per-document scores a task's metrics aggregate, and the metrics themselves, as lm-evaluation-harness
/// defines them.</summary>
public static partial class TaskMetrics
{
    /// <summary>Index of the largest value (the first, on ties), as numpy's argmax picks it.</summary>
    public static int ArgMax(IReadOnlyList<double> values)
    {
        int best = 0;
        for (int i = 1; i < values.Count; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>multiple choice: 1 when the most likely choice is the gold one.</summary>
    public static double Accuracy(IReadOnlyList<double> logLikelihoods, int gold) => ArgMax(logLikelihoods) == gold ? 1 : 0;

    /// <summary>multiple choice, normalised: each choice's log-likelihood divided by its length in characters (Unicode
    /// code points of the choice without the delimiter — lm-evaluation-harness's <c>completion_len</c>), then argmax.</summary>
    public static double NormalizedAccuracy(IReadOnlyList<double> logLikelihoods, IReadOnlyList<string> choices, int gold)
    {
        var normalized = new double[logLikelihoods.Count];
        for (int i = 0; i < normalized.Length; i++) normalized[i] = logLikelihoods[i] / Math.Max(1, CodePoints(choices[i]));
        return ArgMax(normalized) == gold ? 1 : 0;
    }

    /// <summary>Unicode code points in <paramref name="s"/> (Python's <c>len</c> of a str).</summary>
    public static int CodePoints(string s)
    {
        int n = 0;
        for (int i = 0; i < s.Length; i++, n++) if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
        return n;
    }

    /// <summary>generate_until: 1 when the answer equals the target after trimming whitespace and lower-casing.</summary>
    public static double ExactMatch(string answer, string target) =>
        string.Equals(answer.Trim().ToLowerInvariant(), target.Trim().ToLowerInvariant(), StringComparison.Ordinal) ? 1 : 0;

    /// <summary>generate_until: SQuAD's token F1 — both texts lower-cased, ASCII punctuation and the articles a/an/the removed,
    /// split on whitespace; F1 of the bag-of-tokens overlap (1 when both are empty).</summary>
    public static double F1(string answer, string target)
    {
        var a = SquadTokens(answer);
        var t = SquadTokens(target);
        if (a.Count == 0 || t.Count == 0) return a.Count == t.Count ? 1 : 0;
        var counts = new Dictionary<string, int>();
        foreach (var w in t) counts[w] = counts.GetValueOrDefault(w) + 1;
        int common = 0;
        foreach (var w in a)
            if (counts.TryGetValue(w, out int c) && c > 0) { common++; counts[w] = c - 1; }
        if (common == 0) return 0;
        double precision = (double)common / a.Count, recall = (double)common / t.Count;
        return 2 * precision * recall / (precision + recall);
    }

    [GeneratedRegex(@"\b(a|an|the)\b")]
    private static partial Regex Articles();

    // Python's string.punctuation, which SQuAD's normalisation strips.
    const string AsciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    static List<string> SquadTokens(string s)
    {
        var text = new StringBuilder();
        foreach (char c in s.ToLowerInvariant()) if (!AsciiPunctuation.Contains(c)) text.Append(c);
        return Articles().Replace(text.ToString(), " ").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    /// <summary>Words in a text as lm-evaluation-harness counts them for word perplexity: pieces of a split on runs of
    /// whitespace (Python's <c>re.split(r"\s+", text)</c>, empty pieces at the ends included).</summary>
    public static int Words(string text) => Regex.Split(text, @"\s+").Length;

    /// <summary>UTF-8 bytes of a text.</summary>
    public static int Bytes(string text) => Encoding.UTF8.GetByteCount(text);

    internal static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}

using System.Globalization;

namespace Lathe.Knowledge.Experiment;

/// <summary>Whether a model's answer is one of a question's acceptable answers: equal by <see cref="NameKey"/> (case,
/// accents, punctuation and spacing ignored), or, for a numeric relation, within 0.5% (a model that writes "551,700"
/// for 551,695 km² is right; one that writes "550,000" is not). Years and other non-numeric relations get no
/// tolerance: 1907 is not 1901.</summary>
public static class AnswerMatch
{
    /// <summary>Relative tolerance of a numeric answer: the claim checker's, so an answer the metric counts right is one
    /// the checked arm finds supported.</summary>
    public const double NumberTolerance = Claims.ObjectMatch.RelativeTolerance;

    public static bool Matches(string answer, IReadOnlyList<string> answers, bool numeric)
    {
        string key = NameKey.Of(answer);
        if (key.Length == 0) return false;
        double? number = numeric ? TryNumber(answer) : null;
        foreach (string gold in answers)
        {
            if (NameKey.Of(gold) == key) return true;
            if (number is double x && TryNumber(gold) is double g && Math.Abs(x - g) <= NumberTolerance * Math.Abs(g)) return true;
        }
        return false;
    }

    /// <summary>The text as a number: surrounding space and one final period dropped, thousands separators (commas,
    /// spaces, thin spaces) between digits removed; null when the rest is not a number.</summary>
    public static double? TryNumber(string text)
    {
        string s = text.Trim();
        if (s.EndsWith('.')) s = s[..^1];
        var digits = new System.Text.StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            bool separator = c is ',' or ' ' or '\u2009' or '\u202f';
            if (separator && i > 0 && i + 1 < s.Length && char.IsAsciiDigit(s[i - 1]) && char.IsAsciiDigit(s[i + 1])) continue;
            digits.Append(c);
        }
        return double.TryParse(digits.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v : null;
    }
}

using System.Text.RegularExpressions;

namespace Lathe.Knowledge.Claims;

/// <summary>Splits text into sentences: at a line break, or after '.', '!' or '?' followed by space and a capital
/// letter, digit or quote. A point inside a number ("55.845") never splits; an abbreviation followed by a capitalised
/// word ("St. Lucia") does — a known limit.</summary>
internal static partial class Sentences
{
    [GeneratedRegex(@"(?<=[.!?])\s+(?=[\p{Lu}\p{N}""“'])|\r?\n+")]
    private static partial Regex Boundary();

    /// <summary>Each sentence's start and length in <paramref name="text"/>, trimmed, empty ones dropped.</summary>
    public static IEnumerable<(int Start, int Length)> Split(string text)
    {
        int start = 0;
        foreach (Match m in Boundary().Matches(text))
        {
            if (Trim(text, start, m.Index) is { } s) yield return s;
            start = m.Index + m.Length;
        }
        if (Trim(text, start, text.Length) is { } last) yield return last;
    }

    static (int, int)? Trim(string text, int start, int end)
    {
        while (start < end && char.IsWhiteSpace(text[start])) start++;
        while (end > start && char.IsWhiteSpace(text[end - 1])) end--;
        return end > start ? (start, end - start) : null;
    }
}

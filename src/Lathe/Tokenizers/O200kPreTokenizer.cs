using System.Globalization;
using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>The split pattern of OpenAI's o200k_base encoding, by hand over code points. The pattern (tiktoken's
/// <c>pat_str</c>) is a backtracking regex; each alternative below reproduces its matching order exactly, first
/// alternative that matches at a position wins:
/// <code>
/// 1 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// 2 [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
/// 3 \p{N}{1,3}
/// 4  ?[^\s\p{L}\p{N}]+[\r\n/]*
/// 5 \s*[\r\n]+
/// 6 \s+(?!\S)
/// 7 \s+
/// </code>
/// "Upper" below means the class of 1's first run (Lu Lt Lm Lo M), "lower" the class of its second (Ll Lm Lo M);
/// Lm, Lo and marks are in both, which is what makes words like CamelCase split as "Camel" "Case".</summary>
public sealed class O200kPreTokenizer : IPreTokenizer
{
    public static readonly O200kPreTokenizer Instance = new();

    public const string Pattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
        + @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
        + @"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    [Flags]
    enum Cls : byte
    {
        None = 0,
        Upper = 1,     // Lu Lt Lm Lo M
        Lower = 2,     // Ll Lm Lo M
        Letter = 4,    // \p{L}
        Number = 8,    // \p{N}
        Space = 16,    // \s (Unicode White_Space)
        Newline = 32,  // \r \n
    }

    // The class of the code point at i (and its width in UTF-16 units).
    static Cls Classify(string text, int i, out int width)
    {
        char c = text[i];
        width = 1;
        if (c < 128)
        {
            if ((uint)(c - 'a') <= 'z' - 'a') return Cls.Lower | Cls.Letter;
            if ((uint)(c - 'A') <= 'Z' - 'A') return Cls.Upper | Cls.Letter;
            if ((uint)(c - '0') <= 9) return Cls.Number;
            if (c is '\r' or '\n') return Cls.Space | Cls.Newline;
            if (c == ' ' || (uint)(c - '\t') <= '\r' - '\t') return Cls.Space;
            return Cls.None;
        }
        UnicodeCategory cat;
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            width = 2;
            cat = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[i + 1]));
        }
        else
        {
            if (char.IsWhiteSpace(c)) return Cls.Space;
            cat = CharUnicodeInfo.GetUnicodeCategory(c);
        }
        return cat switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.TitlecaseLetter => Cls.Upper | Cls.Letter,
            UnicodeCategory.LowercaseLetter => Cls.Lower | Cls.Letter,
            UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Cls.Upper | Cls.Lower | Cls.Letter,
            UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => Cls.Upper | Cls.Lower,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Cls.Number,
            _ => Cls.None,
        };
    }

    // [^\r\n\p{L}\p{N}]: anything that is not a letter, a number or a newline (spaces and marks included).
    static bool IsPrefix(Cls k) => (k & (Cls.Letter | Cls.Number | Cls.Newline)) == 0;

    // End of the maximal run of code points having any bit of `want`, from j.
    static int RunOf(string text, int j, Cls want)
    {
        while (j < text.Length && (Classify(text, j, out int w) & want) != 0) j += w;
        return j;
    }

    // (?i:'s|'t|'re|'ve|'m|'ll|'d)? at j: its length (0 when absent). Case-insensitive matching follows Unicode simple
    // case folding, under which 's' also matches U+017F (ſ, long s).
    static int Contraction(string text, int j)
    {
        if (j + 1 >= text.Length || text[j] != '\'') return 0;
        char a = text[j + 1];
        if (a is 's' or 'S' or '\u017F' or 't' or 'T' or 'm' or 'M' or 'd' or 'D') return 2;
        if (j + 2 >= text.Length) return 0;
        char b = text[j + 2];
        bool re = a is 'r' or 'R' && b is 'e' or 'E', ve = a is 'v' or 'V' && b is 'e' or 'E', ll = a is 'l' or 'L' && b is 'l' or 'L';
        return re || ve || ll ? 3 : 0;
    }

    public void Split(string text, List<PreToken> output)
    {
        int i = 0;
        while (i < text.Length)
        {
            int end = Match(text, i);
            output.Add(new PreToken(i, end - i));
            i = end;
        }
    }

    int Match(string text, int i)
    {
        int n = text.Length;
        Cls k0 = Classify(text, i, out int w0);
        // Alternatives 1 and 2, with the optional prefix taken first, then not.
        for (int withPrefix = IsPrefix(k0) ? 1 : 0; withPrefix >= 0; withPrefix--)
        {
            int s = withPrefix == 1 ? i + w0 : i;
            if (s >= n) continue;
            int upperEnd = RunOf(text, s, Cls.Upper);
            // 1: upper* lower+ — the greedy upper run gives back code points until a lower run can start.
            int lowerStart = upperEnd;
            if (!(lowerStart < n && (Classify(text, lowerStart, out _) & Cls.Lower) != 0))
            {
                lowerStart = -1;
                for (int j = s; j < upperEnd;)   // the last code point of the upper run that is also lower
                {
                    Cls k = Classify(text, j, out int w);
                    if ((k & Cls.Lower) != 0) lowerStart = j;
                    j += w;
                }
            }
            if (lowerStart >= 0)
            {
                int end = RunOf(text, lowerStart, Cls.Lower);
                return end + Contraction(text, end);
            }
            // 2: upper+ lower*  (lower* is empty here, or 1 would have matched).
            if (upperEnd > s) return upperEnd + Contraction(text, upperEnd);
        }
        // 3: \p{N}{1,3}
        if ((k0 & Cls.Number) != 0)
        {
            int j = i + w0;
            for (int count = 1; count < 3 && j < n && (Classify(text, j, out int w) & Cls.Number) != 0; count++) j += w;
            return j;
        }
        // 4:  ?[^\s\p{L}\p{N}]+[\r\n/]*
        {
            int j = text[i] == ' ' ? i + 1 : i;
            if (j < n && (Classify(text, j, out _) & (Cls.Space | Cls.Letter | Cls.Number)) == 0)
            {
                while (j < n && (Classify(text, j, out int w) & (Cls.Space | Cls.Letter | Cls.Number)) == 0) j += w;
                while (j < n && text[j] is '\r' or '\n' or '/') j++;
                return j;
            }
        }
        // 5–7: whitespace, as in cl100k.
        return Cl100kPreTokenizer.MatchWhitespace(text, i, w0);
    }

    public void WriteJson(Utf8JsonWriter writer) => Splitting.WriteRegexSplit(writer, Pattern);
}

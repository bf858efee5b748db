using System.Text.Json;
using Kind = Lathe.Tokenizers.Gpt2PreTokenizer.Kind;

namespace Lathe.Tokenizers;

/// <summary>The case-splitting patterns of Mistral's Tekken (<c>tokenizer.ggml.pre = "tekken"</c>) and of GPT-4o / Llama 4
/// (<c>"gpt-4o"</c>, <c>"llama4"</c>) as llama.cpp runs them, by hand over code points. Their tokenizer.json patterns
/// name <c>\p{Lu}</c> and <c>\p{Ll}</c>, which llama.cpp's regex engine lacks, so it rewrites them with lookaheads:
/// <code>
/// 1 [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+C?
/// 2 [^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*C?
/// 3 \p{N}            (gpt-4o: \p{N}{1,3})
/// 4  ?[^\s\p{L}\p{N}]+[\r\n/]*
/// 5 \s*[\r\n]+
/// 6 \s+(?!\S)
/// 7 \s+
/// </code>
/// with C = <c>(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])</c> for gpt-4o and nothing for Tekken. So
/// case is judged on ASCII alone: "upper" is any letter but a–z, "lower" any letter but A–Z (a non-ASCII letter is
/// both), and combining marks are not letters — unlike <see cref="O200kPreTokenizer"/>, which follows the original
/// classes. First alternative that matches at a position wins, each with the regex's backtracking.</summary>
public sealed class CaseSplitPreTokenizer : IPreTokenizer
{
    /// <summary>Tekken: no contractions, single digits.</summary>
    public static readonly CaseSplitPreTokenizer Tekken = new(contractions: false, maxDigits: 1);
    /// <summary>GPT-4o and Llama 4: contractions after a word, digits in threes.</summary>
    public static readonly CaseSplitPreTokenizer Gpt4o = new(contractions: true, maxDigits: 3);

    readonly bool _contractions;
    readonly int _maxDigits;

    CaseSplitPreTokenizer(bool contractions, int maxDigits) { _contractions = contractions; _maxDigits = maxDigits; }

    /// <summary>The pattern as llama.cpp writes it.</summary>
    public string Pattern
    {
        get
        {
            string c = _contractions ? @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?" : "";
            return @"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+" + c
                + @"|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*" + c
                + (_maxDigits == 1 ? @"|\p{N}" : @"|\p{N}{1,3}") + @"| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        }
    }

    // Letters that are not a–z ("upper") and letters that are not A–Z ("lower").
    static bool IsUpper(string text, int j, out int width) =>
        Gpt2PreTokenizer.Classify(text, j, out width) == Kind.Letter && (uint)(text[j] - 'a') > 'z' - 'a';

    static bool IsLower(string text, int j, out int width) =>
        Gpt2PreTokenizer.Classify(text, j, out width) == Kind.Letter && (uint)(text[j] - 'A') > 'Z' - 'A';

    static int UpperRun(string text, int j)
    {
        while (j < text.Length && IsUpper(text, j, out int w)) j += w;
        return j;
    }

    static int LowerRun(string text, int j)
    {
        while (j < text.Length && IsLower(text, j, out int w)) j += w;
        return j;
    }

    // 's 't 're 've 'm 'll 'd in either case at j: its length, or 0.
    static int Contraction(string text, int j)
    {
        if (j + 1 >= text.Length || text[j] != '\'') return 0;
        char a = (char)(text[j + 1] | 0x20);
        if (text[j + 1] < 128 && a is 's' or 't' or 'm' or 'd') return 2;
        if (j + 2 >= text.Length || text[j + 1] >= 128 || text[j + 2] >= 128) return 0;
        char b = (char)(text[j + 2] | 0x20);
        return (a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? 3 : 0;
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
        Kind k0 = Gpt2PreTokenizer.Classify(text, i, out int w0);
        // 1 and 2. The optional prefix is anything but a letter, a number or a newline; without it, a match must start
        // with a letter, so at a prefix character only the with-prefix attempt can succeed.
        int s = k0 == Kind.Letter ? i : (k0 != Kind.Number && text[i] is not ('\r' or '\n') ? i + w0 : -1);
        if (s >= 0 && s < n && Gpt2PreTokenizer.Classify(text, s, out _) == Kind.Letter)
        {
            int upperEnd = UpperRun(text, s);
            // 1: upper* lower+ — the greedy upper run gives back letters until a lower one can start the lower run.
            int lowerStart = upperEnd < n && IsLower(text, upperEnd, out _) ? upperEnd : -1;
            if (lowerStart < 0)
                for (int j = s; j < upperEnd;)
                {
                    if (IsLower(text, j, out int w)) lowerStart = j;
                    j += w;
                }
            int end = lowerStart >= 0 ? LowerRun(text, lowerStart) : upperEnd;   // else 2: upper+ (lower* is empty)
            return _contractions ? end + Contraction(text, end) : end;
        }
        // 3: \p{N} or \p{N}{1,3}
        if (k0 == Kind.Number)
        {
            int j = i + w0;
            for (int count = 1; count < _maxDigits && j < n && Gpt2PreTokenizer.Classify(text, j, out int w) == Kind.Number; count++) j += w;
            return j;
        }
        // 4:  ?[^\s\p{L}\p{N}]+[\r\n/]*
        {
            int j = text[i] == ' ' && i + 1 < n ? i + 1 : i;
            if (Gpt2PreTokenizer.Classify(text, j, out _) == Kind.Other)
            {
                while (j < n && Gpt2PreTokenizer.Classify(text, j, out int w) == Kind.Other) j += w;
                while (j < n && text[j] is '\r' or '\n' or '/') j++;
                return j;
            }
        }
        // 5–7: whitespace, as in cl100k.
        return Cl100kPreTokenizer.MatchWhitespace(text, i, w0);
    }

    public void WriteJson(Utf8JsonWriter writer) => Splitting.WriteRegexSplit(writer, Pattern);
}

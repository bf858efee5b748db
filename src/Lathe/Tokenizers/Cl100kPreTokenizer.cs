using System.Text.Json;
using Kind = Lathe.Tokenizers.Gpt2PreTokenizer.Kind;

namespace Lathe.Tokenizers;

/// <summary>The split pattern of OpenAI's cl100k_base encoding, by hand over code points (like
/// <see cref="Gpt2PreTokenizer"/>), first alternative that matches at each position wins:
/// <c>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</c></summary>
public sealed class Cl100kPreTokenizer : IPreTokenizer
{
    public static readonly Cl100kPreTokenizer Instance = new();

    static bool IsNewline(char c) => c is '\r' or '\n';

    static int Contraction(string text, int i)
    {
        if (text[i] != '\'' || i + 1 >= text.Length) return 0;
        char a = char.ToLowerInvariant(text[i + 1]);
        if (a is 's' or 't' or 'm' or 'd') return 2;
        if (i + 2 >= text.Length) return 0;
        char b = char.ToLowerInvariant(text[i + 2]);
        return (a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? 3 : 0;
    }

    static int RunOf(string text, int j, Kind kind)
    {
        while (j < text.Length && Gpt2PreTokenizer.Classify(text, j, out int w) == kind) j += w;
        return j;
    }

    public void Split(string text, List<PreToken> output)
    {
        int i = 0, n = text.Length;
        while (i < n)
        {
            int end = Match(text, i, 3);
            output.Add(new PreToken(i, end - i));
            i = end;
        }
    }

    /// <summary>The end of the piece starting at <paramref name="i"/>; digit runs are cut every
    /// <paramref name="maxDigits"/> (3 here, <c>\p{N}{1,3}</c>; 1 for Qwen2's <c>\p{N}</c>, its only difference).</summary>
    internal static int Match(string text, int i, int maxDigits)
    {
        int n = text.Length;
        int c = Contraction(text, i);
        if (c > 0) return i + c;
        Kind k0 = Gpt2PreTokenizer.Classify(text, i, out int w0);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (k0 == Kind.Letter) return RunOf(text, i, Kind.Letter);
        if (k0 is Kind.Other or Kind.Space && !IsNewline(text[i]) && i + w0 < n && Gpt2PreTokenizer.Classify(text, i + w0, out _) == Kind.Letter)
            return RunOf(text, i + w0, Kind.Letter);
        // \p{N}{1,3}
        if (k0 == Kind.Number)
        {
            int j = i + w0;
            for (int count = 1; count < maxDigits && j < n && Gpt2PreTokenizer.Classify(text, j, out int w) == Kind.Number; count++) j += w;
            return j;
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        {
            int j = i;
            if (text[j] == ' ' && j + 1 < n) j++;
            if (Gpt2PreTokenizer.Classify(text, j, out _) == Kind.Other && (j == i || text[i] == ' '))
            {
                j = RunOf(text, j, Kind.Other);
                while (j < n && IsNewline(text[j])) j++;
                return j;
            }
        }
        return MatchWhitespace(text, i, w0);
    }

    /// <summary>The whitespace alternatives shared by the cl100k and o200k patterns at a whitespace code point i:
    /// <c>\s*[\r\n]+|\s+(?!\S)|\s+</c> (anything else at i is one code point of width <paramref name="w0"/>).</summary>
    internal static int MatchWhitespace(string text, int i, int w0)
    {
        int n = text.Length, runEnd = i, lastNewline = -1, lastStart = i;
        while (runEnd < n && Gpt2PreTokenizer.Classify(text, runEnd, out int w) == Kind.Space)
        {
            if (IsNewline(text[runEnd])) lastNewline = runEnd;
            lastStart = runEnd;
            runEnd += w;
        }
        // \s*[\r\n]+ : up to and including the run's last newline.
        if (lastNewline >= 0) return lastNewline + 1;
        // \s+(?!\S) leaves the last whitespace char before a non-space; \s+ takes a lone one.
        if (runEnd < n && lastStart > i) return lastStart;
        return runEnd > i ? runEnd : i + w0;
    }

    public void WriteJson(Utf8JsonWriter writer) => Splitting.WriteRegexSplit(writer, @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+");
}

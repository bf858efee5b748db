using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>GPT-2's pre-tokenizer, written by hand rather than with .NET's Regex (which has no possessive
/// quantifiers and matches \p{L} per UTF-16 unit, so it splits surrogate pairs). It reproduces, code point by code
/// point, the split pattern
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>
/// with Unicode letters (L*), numbers (N*) and White_Space, as tiktoken's "gpt2" encoding applies it.</summary>
public sealed class Gpt2PreTokenizer : IPreTokenizer
{
    public static readonly Gpt2PreTokenizer Instance = new();

    internal enum Kind : byte { Letter, Number, Space, Other }

    internal static Kind Classify(string text, int i, out int width)
    {
        char c = text[i];
        width = 1;
        if (c < 128)
        {
            if ((uint)((c | 0x20) - 'a') <= 'z' - 'a') return Kind.Letter;
            if ((uint)(c - '0') <= 9) return Kind.Number;
            if (c == ' ' || (uint)(c - '\t') <= '\r' - '\t') return Kind.Space;
            return Kind.Other;
        }
        UnicodeCategory cat;
        if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
        {
            width = 2;
            cat = CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(c, text[i + 1]));
        }
        else
        {
            if (char.IsWhiteSpace(c)) return Kind.Space;
            cat = CharUnicodeInfo.GetUnicodeCategory(c);
        }
        return cat switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
            _ => Kind.Other,
        };
    }

    /// <summary>Length of the contraction ('s 't 're 've 'm 'll 'd) at <paramref name="i"/>, or 0.</summary>
    static int Contraction(string text, int i)
    {
        if (text[i] != '\'' || i + 1 >= text.Length) return 0;
        char a = text[i + 1];
        if (a is 's' or 't' or 'm' or 'd') return 2;
        if (i + 2 >= text.Length) return 0;
        char b = text[i + 2];
        return (a, b) is ('r', 'e') or ('v', 'e') or ('l', 'l') ? 3 : 0;
    }

    /// <summary>Splits <paramref name="text"/> into pieces, in order.</summary>
    public void Split(string text, List<PreToken> output)
    {
        int i = 0, n = text.Length;
        while (i < n)
        {
            int start = i;
            int c = Contraction(text, i);
            if (c > 0) { output.Add(new PreToken(i, c)); i += c; continue; }
            // An optional single U+0020 before a run of letters, numbers or "other" characters.
            int j = i;
            if (text[j] == ' ' && j + 1 < n) j++;
            Kind kind = Classify(text, j, out int w);
            if (kind != Kind.Space && (j == i || text[i] == ' '))
            {
                j += w;
                while (j < n)
                {
                    Kind next = Classify(text, j, out int w2);
                    if (next != kind) break;
                    j += w2;
                }
                output.Add(new PreToken(start, j - start));
                i = j;
                continue;
            }
            // Whitespace: \s+(?!\S) takes the run but leaves its last character when a non-space follows
            // (that character then prefixes the next word); \s+ takes a lone whitespace character before one.
            j = i;
            int lastStart = i;
            while (j < n)
            {
                Kind k = Classify(text, j, out int w3);
                if (k != Kind.Space) break;
                lastStart = j;
                j += w3;
            }
            if (j < n && lastStart > i) j = lastStart;
            output.Add(new PreToken(start, j - start));
            i = j;
        }
    }

    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "ByteLevel");
        writer.WriteBoolean("add_prefix_space", false);
        writer.WriteBoolean("trim_offsets", true);
        writer.WriteBoolean("use_regex", true);
        writer.WriteEndObject();
    }
}

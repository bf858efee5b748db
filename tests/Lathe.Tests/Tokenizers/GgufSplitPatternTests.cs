using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>The hand-written split patterns against an independent oracle: .NET's backtracking Regex run the way
/// llama.cpp runs a pattern it has no hand-written matcher for (unicode_regex_split): every code point "collapsed" to
/// one char — ASCII as itself, other whitespace to \v, other letters, numbers, punctuation, marks and symbols to
/// 0xD2, 0xD1, 0xD3, 0xD4, 0xD5, the rest to 0xD0 — and \p{L} / \p{N} in the pattern rewritten to those chars plus
/// their ASCII ranges. The pieces must agree on llama.cpp's patterns for llama-bpe, qwen2, tekken and gpt-4o, over
/// hand-picked and seeded random strings of awkward characters.</summary>
public class GgufSplitPatternTests
{
    const string Llama3 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const string Qwen2 = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static readonly TheoryData<string> Patterns = new() { "llama-bpe", "qwen2", "tekken", "gpt-4o" };

    static (IPreTokenizer Split, string Pattern) For(string name) => name switch
    {
        "llama-bpe" => (Cl100kPreTokenizer.Instance, Llama3),
        "qwen2" => (Qwen2PreTokenizer.Instance, Qwen2),
        "tekken" => (CaseSplitPreTokenizer.Tekken, CaseSplitPreTokenizer.Tekken.Pattern),
        _ => (CaseSplitPreTokenizer.Gpt4o, CaseSplitPreTokenizer.Gpt4o.Pattern),
    };

    static char Collapse(int codePoint)
    {
        if (codePoint < 128) return (char)codePoint;
        string s = char.ConvertFromUtf32(codePoint);
        if (char.IsWhiteSpace(s, 0)) return '\v';
        return CharUnicodeInfo.GetUnicodeCategory(codePoint) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => '\xD2',
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => '\xD1',
            UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation
                or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
                or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation => '\xD3',
            UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => '\xD4',
            UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol => '\xD5',
            _ => '\xD0',
        };
    }

    // \p{L} and \p{N} become the collapsed char and the ASCII range (wrapped in [] outside a class), as llama.cpp does.
    static string CollapsePattern(string pattern)
    {
        var output = new StringBuilder();
        bool inside = false;
        for (int i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '[' && (i == 0 || pattern[i - 1] != '\\')) inside = true;
            else if (inside && pattern[i] == ']' && pattern[i - 1] != '\\') inside = false;
            if (pattern[i] == '\\' && i + 4 < pattern.Length && pattern[i + 1] == 'p' && pattern[i + 2] == '{' && pattern[i + 4] == '}')
            {
                string set = pattern[i + 3] switch { 'L' => @"\xD2A-Za-z", 'N' => @"\xD10-9", _ => throw new ArgumentException(pattern) };
                output.Append(inside ? set : "[" + set + "]");
                i += 4;
                continue;
            }
            output.Append(pattern[i]);
        }
        return output.ToString();
    }

    // The oracle's pieces as [start, end) offsets in the UTF-16 text; unmatched gaps are pieces too.
    static List<(int, int)> OraclePieces(string text, Regex regex)
    {
        var starts = new List<int>();   // code point index → UTF-16 offset
        var collapsed = new StringBuilder();
        for (int i = 0; i < text.Length; i += char.IsSurrogatePair(text, i) ? 2 : 1)
        {
            starts.Add(i);
            collapsed.Append(Collapse(char.ConvertToUtf32(text, i)));
        }
        starts.Add(text.Length);
        var pieces = new List<(int, int)>();
        int last = 0;
        foreach (Match m in regex.Matches(collapsed.ToString()))
        {
            if (m.Index > last) pieces.Add((starts[last], starts[m.Index]));
            pieces.Add((starts[m.Index], starts[m.Index + m.Length]));
            last = m.Index + m.Length;
        }
        if (last < starts.Count - 1) pieces.Add((starts[last], text.Length));
        return pieces;
    }

    static List<(int, int)> Pieces(IPreTokenizer split, string text)
    {
        var output = new List<PreToken>();
        split.Split(text, output);
        return output.Select(p => (p.Start, p.Start + p.Length)).ToList();
    }

    static readonly string[] Hand =
    [
        "Hello world, it's 2024!  Don't   stop\tnow\n\nnew paragraph", "DON'T I'LL WE'VE SHE'S 'S 'T 'Ll O'Neil rock'n'roll",
        "camelCaseWord HTTPServer XMLHttpRequest iPhone McDonald ÉCOLE élan ÆSIR ǅemal", "1234567890 ٣٤٥ ①② ½ Ⅻ 𝟙𝟚𝟛",
        "e\u0301 a\u0308 o\u0302\u0323 Z\u0351a\u0352", "👨‍👩‍👧 🏳️‍🌈 👍🏽 1️⃣ 🇫🇷", "line\r\nline\r\n\r\nx\n\r\n\ry",
        "   lead", "trail   ", " \u00a0\u3000\u2003x", "http://a.b/c//d?e=f", "a/\n/b", "'", " '", "x'", "'s", "Ǆ ǅ ǆ",
        "中文字符 日本語 한국어 ภาษาไทย العربية हिन्दी", "\u200d\u200b\ufeff\ue000 \U0001F600", "",
    ];

    [Theory, MemberData(nameof(Patterns))]
    public void Hand_picked_texts_split_as_the_collapsed_regex_does(string name)
    {
        var (split, pattern) = For(name);
        var regex = new Regex(CollapsePattern(pattern), RegexOptions.CultureInvariant);
        foreach (string text in Hand)
            Assert.True(OraclePieces(text, regex).SequenceEqual(Pieces(split, text)),
                $"{name}: {System.Text.Json.JsonSerializer.Serialize(text)}: regex [{Show(text, OraclePieces(text, regex))}], matcher [{Show(text, Pieces(split, text))}]");
    }

    /// <summary>Seeded random strings from an alphabet chosen to meet every alternative and boundary: cases, non-ASCII
    /// letters of each case, marks, digits of several scripts, apostrophes before contraction letters, every kind of
    /// whitespace, slashes, symbols, emoji and joiners.</summary>
    [Theory, MemberData(nameof(Patterns))]
    public void Random_texts_split_as_the_collapsed_regex_does(string name)
    {
        var (split, pattern) = For(name);
        var regex = new Regex(CollapsePattern(pattern), RegexOptions.CultureInvariant);
        string[] alphabet =
        [
            "a", "b", "s", "t", "l", "e", "r", "v", "m", "d", "A", "B", "S", "T", "L", "E", "R", "V", "M", "D", "é", "É", "ǅ",
            "中", "ß", "\u0301", "\u0308", "1", "7", "٣", "½", "Ⅻ", "'", "’", " ", " ", " ", "\t", "\n", "\r", "\u00a0", "\u3000",
            "\v", "\f", "/", ".", ",", "!", "-", "$", "+", "🐳", "\u200d", "\ufe0f", "\U0001D7D9", "\u0085", "\u001f", "_",
        ];
        var random = new Random(19);
        var text = new StringBuilder();
        for (int trial = 0; trial < 4000; trial++)
        {
            text.Clear();
            int length = random.Next(0, 16);
            for (int k = 0; k < length; k++) text.Append(alphabet[random.Next(alphabet.Length)]);
            string s = text.ToString();
            var expected = OraclePieces(s, regex);
            var actual = Pieces(split, s);
            Assert.True(expected.SequenceEqual(actual),
                $"{name}: {System.Text.Json.JsonSerializer.Serialize(s)}: regex [{Show(s, expected)}], matcher [{Show(s, actual)}]");
        }
    }

    static string Show(string text, List<(int Start, int End)> pieces) =>
        string.Join(" | ", pieces.Select(p => System.Text.Json.JsonSerializer.Serialize(text[p.Start..p.End])));
}

using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Lathe.Tokenizers;

/// <summary>The first two steps of SentencePiece's Unigram training: which characters are required (the most
/// frequent ones covering <c>character_coverage</c> of all characters), and the seed vocabulary (every required
/// character, plus the substrings that occur at least twice, branch on the right — are not always followed by the same
/// character, as the internal nodes of the suffix tree SentencePiece enumerates with its suffix array — and are valid
/// pieces, ranked by frequency × length). Counting is over the words weighted by their counts, which is the corpus
/// SentencePiece builds its suffix array over. A hash of substrings replaces the suffix array: pieces are at most
/// 16 characters and never cross a word, so the substrings of the unique words are few.</summary>
internal static class UnigramSeeds
{
    /// <summary>A seed piece with its raw score (frequency for a character, frequency × length for a substring).</summary>
    public readonly record struct Seed(string Piece, double Score);

    /// <summary>The characters (as strings, one code point each) covering <paramref name="coverage"/> of all
    /// character occurrences, most frequent first (ties by ordinal order), with their counts.</summary>
    public static List<(string Char, long Count)> RequiredCharacters(IReadOnlyList<(string Word, long Count)> words, double coverage)
    {
        var counts = new Dictionary<int, long>();
        long total = 0;
        foreach (var (word, count) in words)
            foreach (var rune in word.EnumerateRunes())
            {
                ref long c = ref CollectionsMarshal.GetValueRefOrAddDefault(counts, rune.Value, out _);
                c += count;
                total += count;
            }
        var sorted = counts.Select(kv => (Char: char.ConvertFromUtf32(kv.Key), Count: kv.Value))
            .OrderByDescending(c => c.Count).ThenBy(c => c.Char, StringComparer.Ordinal).ToList();
        // As SentencePiece: add characters while the coverage reached so far is below the target.
        var required = new List<(string, long)>();
        long accumulated = 0;
        foreach (var c in sorted)
        {
            if (total > 0 && (double)accumulated / total >= coverage) break;
            accumulated += c.Count;
            required.Add(c);
        }
        return required;
    }

    struct Stat
    {
        public long Frequency;
        public int Right;        // the first right context seen (a char)
        // Whether the substring branches: another right context was seen, or it ended a word (then the next word or a
        // line end follows, which varies).
        public bool Branches;
    }

    /// <summary>The seed pieces, best first: required characters, then up to <paramref name="seedSize"/> in total of
    /// the substrings of 2..<paramref name="maxPieceLength"/> characters.</summary>
    public static List<Seed> Make(IReadOnlyList<(string Word, long Count)> words, IReadOnlyList<(string Char, long Count)> required,
        HashSet<int> requiredRunes, int maxPieceLength, int seedSize)
    {
        var stats = new Dictionary<string, Stat>(StringComparer.Ordinal);
        var lookup = stats.GetAlternateLookup<ReadOnlySpan<char>>();
        var runeStarts = new List<int>();
        foreach (var (word, count) in words)
        {
            runeStarts.Clear();
            for (int i = 0; i < word.Length; i += char.IsSurrogatePair(word, i) ? 2 : 1) runeStarts.Add(i);
            int runes = runeStarts.Count;
            runeStarts.Add(word.Length);
            for (int a = 0; a < runes; a++)
            {
                int script = -2;
                for (int b = a; b < runes && b - a < maxPieceLength; b++)
                {
                    // Extend [a, b]; once the piece is invalid every longer one from a is too.
                    int rune = char.ConvertToUtf32(word, runeStarts[b]);
                    if (!requiredRunes.Contains(rune)) break;
                    if (!ExtendValid(rune, b - a, ref script)) break;
                    if (b == a) continue;   // single characters are seeded from the required set
                    var piece = word.AsSpan(runeStarts[a], runeStarts[b + 1] - runeStarts[a]);
                    int right = runeStarts[b + 1] < word.Length ? word[runeStarts[b + 1]] : -1;
                    ref Stat s = ref CollectionsMarshal.GetValueRefOrAddDefault(lookup, piece, out bool exists);
                    if (!exists) s.Right = right;
                    if (right < 0 || s.Right != right) s.Branches = true;
                    s.Frequency += count;
                }
            }
        }
        var seeds = new List<Seed>(Math.Min(seedSize, required.Count + stats.Count));
        foreach (var (c, n) in required) seeds.Add(new Seed(c, n));
        var substrings = new List<Seed>();
        foreach (var (piece, s) in stats)
        {
            // Measured on SOTU at 8k (held-out bytes/token): right-branching 4.985 (107k seeds; spm_train seeds 99k);
            // also requiring left-branching 4.985 (57k); every substring 4.983 (205k); word ends not as branches 4.962.
            if (s.Frequency >= 2 && s.Branches)
                substrings.Add(new Seed(piece, (double)s.Frequency * CountRunes(piece)));
        }
        substrings.Sort((x, y) => y.Score != x.Score ? y.Score.CompareTo(x.Score) : string.CompareOrdinal(x.Piece, y.Piece));
        for (int i = 0; i < substrings.Count && seeds.Count < seedSize; i++) seeds.Add(substrings[i]);
        return seeds;
    }

    static int CountRunes(string s)
    {
        int n = 0;
        for (int i = 0; i < s.Length; i += char.IsSurrogatePair(s, i) ? 2 : 1) n++;
        return n;
    }

    /// <summary>SentencePiece's piece validity, one character at a time: the whitespace mark ▁ only as the first
    /// character, no U+3000, and one script per piece (Han, Hiragana and Katakana count as one; digits and
    /// punctuation/symbols each count as their own script).</summary>
    public static bool ExtendValid(int rune, int position, ref int script)
    {
        if (rune == 0 || rune == 0x3000 || rune == 0x2047) return false;
        if (rune == 0x2581) return position == 0;
        int s = Script(rune);
        if (script != -2 && s != script) return false;   // -2: no script seen yet
        script = s;
        return true;
    }

    /// <summary>An approximation of the Unicode Script property (.NET has none): Number and Common (punctuation,
    /// symbols, separators) as their own classes, named ranges for the major scripts, else the 256-code-point block.</summary>
    public static int Script(int rune)
    {
        var category = CharUnicodeInfo.GetUnicodeCategory(rune);
        switch (category)
        {
            case UnicodeCategory.DecimalDigitNumber: return 1;
            case UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark: return 2; // Inherited
            case UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.LetterNumber:
                break;
            default: return 3; // Common
        }
        return rune switch
        {
            < 0x0250 or (>= 0x1E00 and < 0x1F00) or (>= 0x2C60 and < 0x2C80) or (>= 0xA720 and < 0xA800) or (>= 0xFF21 and < 0xFF5B) => 10, // Latin
            >= 0x0370 and < 0x0400 or >= 0x1F00 and < 0x2000 => 11, // Greek
            >= 0x0400 and < 0x0530 => 12, // Cyrillic
            >= 0x3040 and < 0x3100 or >= 0x3400 and < 0xA000 or >= 0xF900 and < 0xFB00 or >= 0x20000 and < 0x30000 => 13, // Han, kana
            >= 0xAC00 and < 0xD7B0 or >= 0x1100 and < 0x1200 or >= 0x3130 and < 0x3190 => 14, // Hangul
            _ => 100 + (rune >> 8),
        };
    }
}

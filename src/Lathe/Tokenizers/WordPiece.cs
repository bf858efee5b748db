using System.Globalization;
using System.Text;
using Lathe.Data.Unicode;

namespace Lathe.Tokenizers;

/// <summary>BERT's WordPiece (Wu et al. 2016; Devlin et al. 2019): each word is split greedily into the longest
/// vocabulary pieces from its start, pieces after the first carrying the "##" prefix; a word with an unmatchable
/// remainder, or longer than <see cref="MaxCharsPerWord"/>, becomes [UNK].</summary>
public sealed class WordPieceModel
{
    readonly Dictionary<string, int> _vocab;
    readonly string[] _tokens;

    public string Unknown { get; }
    public string Prefix { get; }
    public int MaxCharsPerWord { get; }
    public int VocabSize => _tokens.Length;
    public int UnknownId { get; }

    public WordPieceModel(IReadOnlyList<string> tokens, string unknown = "[UNK]", string prefix = "##", int maxCharsPerWord = 100, string source = "WordPiece vocab")
    {
        _tokens = tokens.ToArray();
        _vocab = new Dictionary<string, int>(_tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < _tokens.Length; i++) _vocab.TryAdd(_tokens[i], i);
        if (!_vocab.TryGetValue(unknown, out int unk)) throw new InvalidDataException($"{source}: the unknown token '{unknown}' is not in the vocabulary.");
        Unknown = unknown; UnknownId = unk; Prefix = prefix; MaxCharsPerWord = maxCharsPerWord;
    }

    /// <summary>A BERT vocab.txt: one token per line, id = line number (from 0).</summary>
    public static WordPieceModel FromVocabFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        var tokens = new List<string>();
        int line = 0;
        foreach (string raw in File.ReadLines(path, Encoding.UTF8))
        {
            line++;
            string token = raw.TrimEnd('\r');
            if (token.Length == 0) throw new InvalidDataException($"{path}: line {line} is empty (every line is one token).");
            tokens.Add(token);
        }
        if (tokens.Count == 0) throw new InvalidDataException($"{path}: the vocabulary is empty.");
        return new WordPieceModel(tokens, source: path);
    }

    public string IdToToken(int id) => _tokens[id];
    public bool TryTokenToId(string token, out int id) => _vocab.TryGetValue(token, out id);

    /// <summary>Appends the ids of one word.</summary>
    public void TokenizeWord(string word, List<int> output)
    {
        if (word.EnumerateRunes().Count() > MaxCharsPerWord) { output.Add(UnknownId); return; }
        int before = output.Count, start = 0;
        var lookup = _vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> buffer = stackalloc char[Prefix.Length + word.Length];
        Prefix.AsSpan().CopyTo(buffer);
        while (start < word.Length)
        {
            int end = word.Length, found = -1;
            while (end > start)
            {
                scoped ReadOnlySpan<char> piece;
                if (start == 0) piece = word.AsSpan(0, end);
                else
                {
                    word.AsSpan(start, end - start).CopyTo(buffer[Prefix.Length..]);
                    piece = buffer[..(Prefix.Length + end - start)];
                }
                if (lookup.TryGetValue(piece, out int id)) { found = id; break; }
                end--;
                if (end > start && char.IsLowSurrogate(word[end])) end--;   // never split a surrogate pair
            }
            if (found < 0)
            {
                output.RemoveRange(before, output.Count - before);
                output.Add(UnknownId);
                return;
            }
            output.Add(found);
            start = end;
        }
    }
}

/// <summary>BERT's basic tokenization before WordPiece: drop control characters and map whitespace to spaces, put
/// spaces around CJK ideographs, optionally lowercase and strip accents (NFD, then drop non-spacing marks), and split
/// on whitespace and on every punctuation character.</summary>
public sealed class BertTokenizer
{
    public WordPieceModel Model { get; }
    public bool Lowercase { get; }

    public BertTokenizer(WordPieceModel model, bool lowercase = true)
    {
        Model = model;
        Lowercase = lowercase;
    }

    static bool IsWhitespace(int cp) => cp is ' ' or '\t' or '\n' or '\r' || CharUnicodeInfo.GetUnicodeCategory(cp) == UnicodeCategory.SpaceSeparator;

    static bool IsControl(int cp)
    {
        if (cp is '\t' or '\n' or '\r') return false;
        var c = CharUnicodeInfo.GetUnicodeCategory(cp);
        return c is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    static bool IsPunctuation(int cp)
    {
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    static bool IsCjk(int cp) => cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
        or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    /// <summary>The words of <paramref name="text"/> after basic tokenization.</summary>
    public List<string> BasicTokenize(string text)
    {
        var cleaned = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            int cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || IsControl(cp)) continue;
            if (IsWhitespace(cp)) cleaned.Append(' ');
            else if (IsCjk(cp)) cleaned.Append(' ').Append(rune.ToString()).Append(' ');
            else cleaned.Append(rune.ToString());
        }
        var words = new List<string>();
        foreach (string word in cleaned.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string w = word;
            if (Lowercase)
            {
                w = w.ToLowerInvariant();
                var stripped = new StringBuilder(w.Length);
                foreach (var rune in Nfc.Decompose(w).EnumerateRunes())
                    if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) stripped.Append(rune.ToString());
                w = stripped.ToString();
            }
            var current = new StringBuilder();
            foreach (var rune in w.EnumerateRunes())
            {
                if (IsPunctuation(rune.Value))
                {
                    if (current.Length > 0) { words.Add(current.ToString()); current.Clear(); }
                    words.Add(rune.ToString());
                }
                else current.Append(rune.ToString());
            }
            if (current.Length > 0) words.Add(current.ToString());
        }
        return words;
    }

    /// <summary>The ids of <paramref name="text"/>, framed as [CLS] … [SEP] when <paramref name="addSpecial"/>.</summary>
    public List<int> Encode(string text, bool addSpecial = true)
    {
        var ids = new List<int>();
        if (addSpecial) ids.Add(Special("[CLS]"));
        foreach (string word in BasicTokenize(text)) Model.TokenizeWord(word, ids);
        if (addSpecial) ids.Add(Special("[SEP]"));
        return ids;
    }

    int Special(string token) => Model.TryTokenToId(token, out int id) ? id
        : throw new InvalidDataException($"WordPiece vocab: the special token '{token}' is not in the vocabulary.");

    /// <summary>Text from ids: pieces joined, "##" continuations glued to the previous piece, special tokens dropped.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            string t = Model.IdToToken(id);
            if (t is "[CLS]" or "[SEP]" or "[PAD]") continue;
            if (t.StartsWith(Model.Prefix, StringComparison.Ordinal)) sb.Append(t.AsSpan(Model.Prefix.Length));
            else { if (sb.Length > 0) sb.Append(' '); sb.Append(t); }
        }
        return sb.ToString();
    }
}

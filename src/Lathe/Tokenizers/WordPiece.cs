using System.Globalization;
using System.Text;
using Lathe.Tokenizers.Unicode;

namespace Lathe.Tokenizers;

/// <summary>BERT's WordPiece (Wu et al. 2016; Devlin et al. 2019): each word is split greedily into the longest
/// vocabulary pieces from its start, pieces after the first carrying the "##" prefix; a word with an unmatchable
/// remainder, or longer than <see cref="MaxCharsPerWord"/>, becomes [UNK].</summary>
public sealed class WordPieceModel : ITokenizerModel
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
        var tokens = t_tokens ??= [];
        tokens.Clear();
        Tokenize(word, new PreToken(0, word.Length), tokens);
        foreach (var t in tokens) output.Add(t.Id);
    }

    [ThreadStatic] static List<Token>? t_tokens;

    /// <summary>"WordPiece", as tokenizer.json names the model.</summary>
    public string Type => "WordPiece";

    /// <summary>Greedy longest-match-first over one word (a pre-token), with offsets: a word longer than
    /// <see cref="MaxCharsPerWord"/> code points, or one with a part no vocabulary entry matches, is one [UNK]
    /// spanning the word.</summary>
    public void Tokenize(string text, PreToken piece, List<Token> output)
    {
        var word = text.AsSpan(piece.Start, piece.Length);
        int runes = 0;
        foreach (var _ in word.EnumerateRunes()) runes++;
        if (runes > MaxCharsPerWord) { output.Add(new Token(UnknownId, piece.Start, piece.Start + piece.Length)); return; }
        int before = output.Count, start = 0;
        var lookup = _vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> buffer = stackalloc char[Prefix.Length + word.Length];
        Prefix.AsSpan().CopyTo(buffer);
        while (start < word.Length)
        {
            int end = word.Length, found = -1;
            while (end > start)
            {
                scoped ReadOnlySpan<char> candidate;
                if (start == 0) candidate = word[..end];
                else
                {
                    word[start..end].CopyTo(buffer[Prefix.Length..]);
                    candidate = buffer[..(Prefix.Length + end - start)];
                }
                if (lookup.TryGetValue(candidate, out int id)) { found = id; break; }
                end--;
                if (end > start && char.IsLowSurrogate(word[end])) end--;   // never split a surrogate pair
            }
            if (found < 0)
            {
                output.RemoveRange(before, output.Count - before);
                output.Add(new Token(UnknownId, piece.Start, piece.Start + piece.Length));
                return;
            }
            output.Add(new Token(found, piece.Start + start, piece.Start + end));
            start = end;
        }
    }

    string? ITokenizerModel.IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    /// <summary>The "model" object of tokenizer.json.</summary>
    public void WriteJson(System.Text.Json.Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "WordPiece");
        w.WriteString("unk_token", Unknown);
        w.WriteString("continuing_subword_prefix", Prefix);
        w.WriteNumber("max_input_chars_per_word", MaxCharsPerWord);
        w.WriteStartObject("vocab");
        for (int i = 0; i < _tokens.Length; i++) w.WriteNumber(_tokens[i], i);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Reads the "model" object of a WordPiece tokenizer.json.</summary>
    public static WordPieceModel FromJson(System.Text.Json.JsonElement model, string file)
    {
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != System.Text.Json.JsonValueKind.Object)
            throw new InvalidDataException($"{file}: model.vocab is missing or not an object.");
        var byId = new SortedDictionary<int, string>();
        foreach (var p in vocab.EnumerateObject())
        {
            if (p.Value.ValueKind != System.Text.Json.JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
                throw new InvalidDataException($"{file}: model.vocab['{p.Name}'] is not a token id.");
            if (!byId.TryAdd(id, p.Name)) throw new InvalidDataException($"{file}: model.vocab: id {id} is given twice.");
        }
        if (byId.Count == 0 || byId.Keys.Last() != byId.Count - 1)
            throw new InvalidDataException($"{file}: model.vocab: ids must be 0..{byId.Count - 1} without gaps.");
        string unk = model.TryGetProperty("unk_token", out var u) && u.ValueKind == System.Text.Json.JsonValueKind.String ? u.GetString()! : "[UNK]";
        string prefix = model.TryGetProperty("continuing_subword_prefix", out var pr) && pr.ValueKind == System.Text.Json.JsonValueKind.String ? pr.GetString()! : "##";
        int maxChars = model.TryGetProperty("max_input_chars_per_word", out var m) && m.TryGetInt32(out int mc) ? mc : 100;
        return new WordPieceModel(byId.Values.ToList(), unk, prefix, maxChars, $"{file}: model");
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

    /// <summary>The words of <paramref name="text"/> after basic tokenization.</summary>
    public List<string> BasicTokenize(string text)
    {
        var cleaned = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            int cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || BertText.IsControl(cp)) continue;
            if (BertText.IsWhitespace(cp)) cleaned.Append(' ');
            else if (BertText.IsCjk(cp)) cleaned.Append(' ').Append(rune.ToString()).Append(' ');
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
                if (BertText.IsPunctuation(rune.Value))
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

using System.Text;

namespace Lathe.Tokenizers;

/// <summary>ggml token types (<c>tokenizer.ggml.token_type</c>).</summary>
public enum GgmlTokenType { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

/// <summary>SentencePiece BPE as llama.cpp runs it for <c>tokenizer.ggml.model = "llama"</c>: spaces become ▁ (U+2581),
/// one ▁ is prefixed to the text, the text starts as one symbol per Unicode character, and the adjacent pair whose
/// concatenation is the vocabulary piece of highest score is merged (leftmost on ties) until no pair is a piece.
/// A final symbol that is not a piece falls back to its UTF-8 bytes as &lt;0xNN&gt; tokens. Decoding maps ▁ back to a
/// space and reassembles byte tokens into UTF-8.</summary>
public sealed class SentencePieceBpe : ITextEncoder
{
    const char Space = '\u2581';
    readonly string[] _pieces;
    readonly float[] _scores;
    readonly GgmlTokenType[] _types;
    readonly Dictionary<string, int> _ids;
    readonly int[] _byteTokens = new int[256];
    readonly byte[][] _decoded;   // id → bytes it decodes to (control tokens: none)

    public int VocabSize => _pieces.Length;
    public int UnknownId { get; }
    public int BosId { get; }
    public int EosId { get; }
    /// <summary>Whether <see cref="Encode(string, bool)"/> with special tokens starts with BOS (tokenizer.ggml.add_bos_token).</summary>
    public bool AddBos { get; }
    /// <summary>Whether a ▁ is put before the text (tokenizer.ggml.add_space_prefix, default true).</summary>
    public bool AddSpacePrefix { get; }
    /// <summary>EOS (ends generation; <see cref="ITextEncoder"/>'s document separator).</summary>
    public int EndOfTextId => EosId;

    public IReadOnlyList<string> Pieces => _pieces;
    public IReadOnlyList<float> Scores => _scores;
    public IReadOnlyList<GgmlTokenType> Types => _types;

    /// <summary>Builds the encoder; <paramref name="source"/> names the file in errors.</summary>
    public SentencePieceBpe(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<GgmlTokenType> types,
        int unknownId, int bosId, int eosId, bool addBos = true, bool addSpacePrefix = true, string source = "SentencePiece vocabulary")
    {
        if (pieces.Count == 0) throw new InvalidDataException($"{source}: the vocabulary is empty.");
        if (scores.Count != pieces.Count || types.Count != pieces.Count)
            throw new InvalidDataException($"{source}: {pieces.Count} tokens but {scores.Count} scores and {types.Count} token types.");
        foreach (var (name, id) in new[] { ("unknown", unknownId), ("bos", bosId), ("eos", eosId) })
            if (id >= pieces.Count) throw new InvalidDataException($"{source}: {name} token id {id} is outside the vocabulary of {pieces.Count}.");
        _pieces = pieces.ToArray();
        _scores = scores.ToArray();
        _types = types.ToArray();
        UnknownId = unknownId; BosId = bosId; EosId = eosId; AddBos = addBos; AddSpacePrefix = addSpacePrefix;
        _ids = new Dictionary<string, int>(_pieces.Length, StringComparer.Ordinal);
        for (int i = 0; i < _pieces.Length; i++) _ids.TryAdd(_pieces[i], i);   // llama.cpp: the first id of a text wins
        Array.Fill(_byteTokens, -1);
        _decoded = new byte[_pieces.Length][];
        for (int i = 0; i < _pieces.Length; i++)
        {
            if (_types[i] == GgmlTokenType.Byte)
            {
                if (!TryParseByte(_pieces[i], out byte b)) throw new InvalidDataException($"{source}: byte token {i} '{_pieces[i]}' is not of the form <0xNN>.");
                if (_byteTokens[b] < 0) _byteTokens[b] = i;
                _decoded[i] = [b];
            }
            else if (_types[i] is GgmlTokenType.Control or GgmlTokenType.Unknown or GgmlTokenType.Unused) _decoded[i] = [];
            else _decoded[i] = Encoding.UTF8.GetBytes(_pieces[i].Replace(Space, ' '));
        }
        // llama.cpp falls back to the one-character piece of a byte when there is no <0xNN> token.
        for (int b = 0; b < 256; b++)
            if (_byteTokens[b] < 0 && _ids.TryGetValue(((char)b).ToString(), out int single)) _byteTokens[b] = single;
    }

    static bool TryParseByte(string piece, out byte value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
            && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
    }

    /// <summary>The ids of <paramref name="text"/>; with <paramref name="addSpecial"/> BOS comes first when
    /// <see cref="AddBos"/> is set. Special-token text in <paramref name="text"/> is encoded as ordinary text.</summary>
    public List<int> Encode(string text, bool addSpecial = false)
    {
        var ids = new List<int>(text.Length / 2 + 2);
        if (addSpecial && AddBos) ids.Add(BosId);
        Encode(text, ids);
        return ids;
    }

    /// <summary>Appends the ids of <paramref name="text"/> (no BOS), with the ▁ prefix when <see cref="AddSpacePrefix"/>.</summary>
    public void Encode(string text, List<int> ids) => Encode(text, ids, AddSpacePrefix);

    /// <summary>Appends the ids of <paramref name="text"/>, a ▁ put before it when <paramref name="spacePrefix"/>
    /// (llama.cpp prefixes the text's first stretch and each one that follows a special token).</summary>
    public void Encode(string text, List<int> ids, bool spacePrefix)
    {
        if (text.Length == 0) return;
        string escaped = ((spacePrefix ? " " : "") + text).Replace(' ', Space);
        EncodeEscaped(escaped, ids);
    }

    // One symbol per Unicode scalar (a surrogate pair stays together); a linked list of live symbols; a max-heap of
    // candidate merges keyed (score desc, left position asc); stale candidates (a side merged away, or the two sides
    // no longer spanning the candidate's length) are skipped when popped — llama.cpp's llm_tokenizer_spm.
    void EncodeEscaped(string text, List<int> ids)
    {
        int n = 0;
        var start = new int[text.Length];
        var length = new int[text.Length];
        for (int i = 0; i < text.Length; n++)
        {
            int width = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            start[n] = i; length[n] = width;
            i += width;
        }
        var prev = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }
        var queue = new PriorityQueue<(int Left, int Right, int Size), (float NegScore, int Left)>();
        var lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int i = 1; i < n; i++) TryAdd(i - 1, i, text, start, length, lookup, _scores, queue);
        while (queue.TryDequeue(out var bigram, out _))
        {
            int l = bigram.Left, r = bigram.Right;
            if (length[l] == 0 || length[r] == 0 || length[l] + length[r] != bigram.Size) continue;
            length[l] += length[r];
            length[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            TryAdd(prev[l], l, text, start, length, lookup, _scores, queue);
            TryAdd(l, next[l], text, start, length, lookup, _scores, queue);
        }
        Span<byte> utf8 = stackalloc byte[8];
        for (int i = 0; i >= 0 && n > 0; i = next[i])
        {
            var symbol = text.AsSpan(start[i], length[i]);
            if (lookup.TryGetValue(symbol, out int id)) { ids.Add(id); continue; }
            // Only a single character can miss (merges make pieces): its UTF-8 bytes as byte tokens.
            int count = Encoding.UTF8.GetBytes(symbol, utf8);
            for (int b = 0; b < count; b++) ids.Add(_byteTokens[utf8[b]] >= 0 ? _byteTokens[utf8[b]] : UnknownId);
        }
    }

    // Queues the merge of two live neighbours when their concatenation is a piece, keyed by (−score, left position).
    static void TryAdd(int left, int right, string text, int[] start, int[] length,
        Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> lookup, float[] scores,
        PriorityQueue<(int Left, int Right, int Size), (float NegScore, int Left)> queue)
    {
        if (left < 0 || right < 0) return;
        int size = length[left] + length[right];
        if (!lookup.TryGetValue(text.AsSpan(start[left], size), out int id)) return;
        queue.Enqueue((left, right, size), (-scores[id], left));
    }

    /// <summary>The bytes the ids stand for: ▁ → space, &lt;0xNN&gt; → the byte, control tokens → nothing. Tokens can
    /// end inside a UTF-8 character, so streaming callers decode these bytes with a stateful decoder.</summary>
    public byte[] DecodeBytes(IEnumerable<int> ids)
    {
        var buffer = new MemoryStream();
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_pieces.Length) throw new ArgumentException($"token id {id} is outside the vocabulary of {_pieces.Length}.");
            buffer.Write(_decoded[id]);
        }
        return buffer.ToArray();
    }

    /// <summary>The text of some ids, without the space the encoder prefixed (when <see cref="AddSpacePrefix"/>).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        string text = Encoding.UTF8.GetString(DecodeBytes(ids));
        return AddSpacePrefix && text.StartsWith(' ') ? text[1..] : text;
    }
}

using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>Byte-level byte-pair encoding: a vocabulary of byte strings and a ranked list of merges. Encoding a
/// piece starts from one token per byte and repeatedly merges the adjacent pair of lowest rank (leftmost on ties)
/// until no pair has a merge — the rule of GPT-2, Hugging Face's BPE and tiktoken alike. Pieces up to 64 bytes use a
/// simple scan; longer ones a heap over a linked list, so a 100,000-byte run stays O(n log n).</summary>
public sealed class BpeModel : ITokenizerModel
{
    readonly byte[][] _bytes;                       // id → bytes
    readonly string[] _strings;                     // id → byte-level string (as tokenizer.json writes it)
    readonly Dictionary<string, int> _ids;          // byte-level string → id
    readonly int[] _byteToId = new int[256];
    readonly PairTable _merges;                      // (left, right) → (rank, merged id)
    readonly (int Left, int Right)[] _mergeList;    // by rank

    Dictionary<string, int>? _wholeTokens;            // Latin-1 string of a token's bytes → id, when WholePieceFirst

    /// <summary>tiktoken's rule (Hugging Face's <c>ignore_merges</c>): a piece that is itself a token is emitted as
    /// that token without merging.</summary>
    public bool WholePieceFirst
    {
        get => _wholeTokens is not null;
        init
        {
            if (!value) { _wholeTokens = null; return; }
            _wholeTokens = new Dictionary<string, int>(_bytes.Length, StringComparer.Ordinal);
            for (int i = 0; i < _bytes.Length; i++) _wholeTokens.TryAdd(System.Text.Encoding.Latin1.GetString(_bytes[i]), i);
        }
    }

    public string Type => "BPE";
    public int VocabSize => _bytes.Length;
    public int MergeCount => _mergeList.Length;
    public IReadOnlyList<(int Left, int Right)> Merges => _mergeList;

    /// <summary>Builds a model from token byte strings (id = index) and merges given as id pairs in rank order.
    /// Every single byte must be a token; each merge's result must be a token.</summary>
    public BpeModel(IReadOnlyList<byte[]> tokens, IReadOnlyList<(int Left, int Right)> merges, string source = "BPE model")
        : this(tokens, merges, null, source) { }

    /// <summary>As above, with an explicit priority per merge (lower merges first) instead of the list order: tiktoken's
    /// rule, where a pair may merge iff its concatenation is a token and the priority is that token's rank.</summary>
    public BpeModel(IReadOnlyList<byte[]> tokens, IReadOnlyList<(int Left, int Right)> merges, IReadOnlyList<int>? priorities, string source)
    {
        _bytes = new byte[tokens.Count][];
        _strings = new string[tokens.Count];
        _ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        Array.Fill(_byteToId, -1);
        for (int i = 0; i < tokens.Count; i++)
        {
            _bytes[i] = tokens[i];
            _strings[i] = ByteLevel.Encode(tokens[i]);
            if (!_ids.TryAdd(_strings[i], i)) throw new InvalidDataException($"{source}: token '{_strings[i]}' appears twice (ids {_ids[_strings[i]]} and {i}).");
            if (tokens[i].Length == 1) _byteToId[tokens[i][0]] = i;
        }
        for (int b = 0; b < 256; b++)
            if (_byteToId[b] < 0) throw new InvalidDataException($"{source}: byte 0x{b:X2} has no token; a byte-level vocabulary needs all 256.");
        _mergeList = merges.ToArray();
        _merges = new PairTable(merges.Count);
        for (int r = 0; r < merges.Count; r++)
        {
            var (l, rt) = merges[r];
            if ((uint)l >= (uint)tokens.Count || (uint)rt >= (uint)tokens.Count)
                throw new InvalidDataException($"{source}: merge {r} refers to a token id outside the vocabulary.");
            string joined = _strings[l] + _strings[rt];
            if (!_ids.TryGetValue(joined, out int merged))
                throw new InvalidDataException($"{source}: merge {r} ('{_strings[l]}' '{_strings[rt]}') makes '{joined}', which is not in the vocabulary.");
            _merges.TryAdd(l, rt, priorities is null ? r : priorities[r], merged);
        }
    }

    public ReadOnlySpan<byte> TokenBytes(int id) => _bytes[id];
    /// <summary>The id of the single-byte token for <paramref name="b"/>.</summary>
    public int ByteToken(byte b) => _byteToId[b];
    public string? IdToToken(int id) => (uint)id < (uint)_strings.Length ? _strings[id] : null;
    public bool TryTokenToId(string token, out int id) => _ids.TryGetValue(token, out id);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    bool TryMerge(int left, int right, out int rank, out int merged) => _merges.TryGet(left, right, out rank, out merged);

    /// <summary>Appends the ids of one piece of bytes.</summary>
    public void Encode(ReadOnlySpan<byte> piece, List<int> output)
    {
        if (piece.Length == 0) return;
        if (piece.Length == 1) { output.Add(_byteToId[piece[0]]); return; }
        if (_wholeTokens is not null && piece.Length <= 256)
        {
            Span<char> latin1 = stackalloc char[piece.Length];
            for (int i = 0; i < piece.Length; i++) latin1[i] = (char)piece[i];
            if (_wholeTokens.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(latin1, out int whole)) { output.Add(whole); return; }
        }
        if (piece.Length <= 64) EncodeShort(piece, output);
        else EncodeLong(piece, output);
    }

    internal void EncodeShort(ReadOnlySpan<byte> piece, List<int> output)
    {
        Span<int> ids = stackalloc int[piece.Length];
        Span<int> ranks = stackalloc int[piece.Length];   // ranks[i]: merge rank of (ids[i], ids[i+1]) or int.MaxValue
        Span<int> results = stackalloc int[piece.Length];
        int n = piece.Length;
        for (int i = 0; i < n; i++) ids[i] = _byteToId[piece[i]];
        for (int i = 0; i + 1 < n; i++)
            ranks[i] = TryMerge(ids[i], ids[i + 1], out int r, out results[i]) ? r : int.MaxValue;
        while (n > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < n; i++)
                if (ranks[i] < bestRank) { bestRank = ranks[i]; best = i; }
            if (best < 0) break;
            ids[best] = results[best];
            // Remove position best+1.
            for (int i = best + 1; i + 1 < n; i++) { ids[i] = ids[i + 1]; ranks[i] = ranks[i + 1]; results[i] = results[i + 1]; }
            n--;
            if (best + 1 < n) ranks[best] = TryMerge(ids[best], ids[best + 1], out int r1, out results[best]) ? r1 : int.MaxValue;
            else ranks[best] = int.MaxValue;
            if (best > 0) ranks[best - 1] = TryMerge(ids[best - 1], ids[best], out int r0, out results[best - 1]) ? r0 : int.MaxValue;
        }
        for (int i = 0; i < n; i++) output.Add(ids[i]);
    }

    // Long pieces: a doubly linked list of symbols and a min-heap of candidate merges keyed (rank, position);
    // stale heap entries (a side already merged away or changed) are skipped when popped.
    internal void EncodeLong(ReadOnlySpan<byte> piece, List<int> output)
    {
        int n = piece.Length;
        var ids = new int[n];
        var prev = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++) { ids[i] = _byteToId[piece[i]]; prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }
        var heap = new PriorityQueue<(int Pos, int Left, int Right, int Merged), long>();
        void Push(int pos)
        {
            int nx = next[pos];
            if (nx < 0) return;
            if (TryMerge(ids[pos], ids[nx], out int rank, out int merged))
                heap.Enqueue((pos, ids[pos], ids[nx], merged), ((long)rank << 32) | (uint)pos);
        }
        for (int i = 0; i + 1 < n; i++) Push(i);
        while (heap.TryDequeue(out var m, out _))
        {
            int pos = m.Pos, nx = next[pos];
            if (ids[pos] != m.Left || nx < 0 || ids[nx] != m.Right) continue;   // stale
            ids[pos] = m.Merged;
            ids[nx] = -1;
            next[pos] = next[nx];
            if (next[nx] >= 0) prev[next[nx]] = pos;
            Push(pos);
            if (prev[pos] >= 0) Push(prev[pos]);
        }
        for (int i = 0; i >= 0; i = next[i]) output.Add(ids[i]);
    }

    /// <summary>Not used for byte-level BPE (the tokenizer encodes bytes, see <see cref="Encode"/>); provided for
    /// the pipeline interface: tokenizes the UTF-8 bytes of the piece, offsets spanning the whole piece.</summary>
    public void Tokenize(string text, PreToken piece, List<Token> output)
    {
        var ids = new List<int>();
        Encode(System.Text.Encoding.UTF8.GetBytes(text.Substring(piece.Start, piece.Length)), ids);
        foreach (int id in ids) output.Add(new Token(id, piece.Start, piece.Start + piece.Length));
    }

    public void WriteJson(Utf8JsonWriter writer) => WriteJson(writer, null, VocabSize);

    /// <summary>The fields of a byte-level BPE "model" object before its vocab: type BPE, no dropout, unknown token,
    /// affixes, unk fusing, byte fallback or merge skipping.</summary>
    internal static void WriteByteLevelOptions(Utf8JsonWriter writer)
    {
        writer.WriteString("type", "BPE");
        writer.WriteNull("dropout");
        writer.WriteNull("unk_token");
        writer.WriteString("continuing_subword_prefix", "");
        writer.WriteString("end_of_word_suffix", "");
        writer.WriteBoolean("fuse_unk", false);
        writer.WriteBoolean("byte_fallback", false);
        writer.WriteBoolean("ignore_merges", false);
    }

    /// <summary>Writes the "model" object; <paramref name="specials"/> (id → text) are listed in the vocab too, as
    /// Hugging Face writes them, for ids up to <paramref name="vocabSize"/>.</summary>
    public void WriteJson(Utf8JsonWriter writer, IReadOnlyDictionary<int, string>? specials, int vocabSize)
    {
        writer.WriteStartObject();
        WriteByteLevelOptions(writer);
        writer.WriteStartObject("vocab");
        for (int id = 0; id < vocabSize; id++)
        {
            if (specials is not null && specials.TryGetValue(id, out string? special)) writer.WriteNumber(special, id);
            else if (id < _strings.Length) writer.WriteNumber(_strings[id], id);
        }
        writer.WriteEndObject();
        writer.WriteStartArray("merges");
        foreach (var (l, r) in _mergeList) writer.WriteStringValue(_strings[l] + " " + _strings[r]);
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}

using System.Runtime.InteropServices;
using System.Text;

namespace Lathe.Tokenizers;

/// <summary>A byte-level BPE tokenizer: special (added) tokens are matched first and never split; the rest of the
/// text is cut by the pre-tokenizer, each piece's UTF-8 bytes are merged by the BPE model. Decoding concatenates
/// the tokens' bytes, so decode(encode(x)) == x for any string, and for any bytes with <see cref="DecodeBytes"/>.
/// Encoding is thread-safe; each thread keeps a cache of recent pieces.</summary>
public sealed class Tokenizer : ITokenizer
{
    readonly (string Text, int Id)[] _specials;   // longest first, so a longer special wins over its prefix
    readonly Dictionary<int, string> _specialById;
    readonly ThreadLocal<Dictionary<string, int[]>> _cache = new(() => new Dictionary<string, int[]>(StringComparer.Ordinal));
    const int CacheLimit = 200_000;

    public BpeModel Model { get; }
    public IPreTokenizer PreTokenizer { get; }
    public IReadOnlyList<(string Text, int Id)> SpecialTokens => _specials;

    public int VocabSize { get; }
    public int EndOfTextId { get; }

    public Tokenizer(BpeModel model, IPreTokenizer preTokenizer, IEnumerable<(string Text, int Id)> specialTokens, string? endOfText = "<|endoftext|>")
    {
        Model = model;
        PreTokenizer = preTokenizer;
        _specials = specialTokens.OrderByDescending(s => s.Text.Length).ThenBy(s => s.Id).ToArray();
        _specialById = _specials.ToDictionary(s => s.Id, s => s.Text);
        VocabSize = Math.Max(model.VocabSize, _specials.Length == 0 ? 0 : _specials.Max(s => s.Id) + 1);
        EndOfTextId = endOfText is not null && _specials.FirstOrDefault(s => s.Text == endOfText) is { Text: not null } eot ? eot.Id : -1;
    }

    /// <summary>The ids of <paramref name="text"/>; special tokens in the text are recognised when
    /// <paramref name="allowSpecial"/> is set, else encoded as ordinary text.</summary>
    public List<int> Encode(string text, bool allowSpecial = true)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        Encode(text, ids, allowSpecial);
        return ids;
    }

    public void Encode(string text, List<int> ids) => Encode(text, ids, allowSpecial: true);

    public void Encode(string text, List<int> ids, bool allowSpecial)
    {
        int start = 0;
        while (allowSpecial && NextSpecial(text, start, out int at, out int which))
        {
            EncodeOrdinary(text, start, at - start, ids);
            ids.Add(_specials[which].Id);
            start = at + _specials[which].Text.Length;
        }
        EncodeOrdinary(text, start, text.Length - start, ids);
    }

    /// <summary>The earliest special token at or after <paramref name="start"/> (longest first on a tie).</summary>
    bool NextSpecial(string text, int start, out int at, out int which)
    {
        at = -1; which = -1;
        for (int s = 0; s < _specials.Length; s++)
        {
            int i = text.IndexOf(_specials[s].Text, start, StringComparison.Ordinal);
            if (i >= 0 && (at < 0 || i < at)) { at = i; which = s; }
        }
        return at >= 0;
    }

    /// <summary>The tokens of <paramref name="text"/> with their [Start, End) spans in it, in UTF-16 units. A token that
    /// holds only some bytes of a character spans the whole character (as Hugging Face tokenizers reports it).</summary>
    public List<Token> EncodeWithOffsets(string text, bool allowSpecial = true)
    {
        var tokens = new List<Token>();
        var ids = new List<int>();
        var pieces = new List<PreToken>();
        int start = 0;
        while (true)
        {
            int at = -1, which = -1;
            bool special = allowSpecial && NextSpecial(text, start, out at, out which);
            int end = special ? at : text.Length;
            if (end > start)
            {
                string segment = text.Substring(start, end - start);
                pieces.Clear();
                PreTokenizer.Split(segment, pieces);
                foreach (var piece in pieces)
                {
                    ids.Clear();
                    EncodeOrdinary(segment, piece.Start, piece.Length, ids);
                    AddOffsets(segment, piece, start, ids, tokens);
                }
            }
            if (!special) break;
            tokens.Add(new Token(_specials[which].Id, at, at + _specials[which].Text.Length));
            start = at + _specials[which].Text.Length;
        }
        return tokens;
    }

    // Walks the piece's UTF-8 bytes token by token, mapping each token's first and last byte to the char holding it.
    void AddOffsets(string segment, PreToken piece, int segmentStart, List<int> ids, List<Token> output)
    {
        var byteToChar = new List<int>();
        for (int c = piece.Start; c < piece.Start + piece.Length; c++)
        {
            int width = char.IsHighSurrogate(segment[c]) && c + 1 < piece.Start + piece.Length && char.IsLowSurrogate(segment[c + 1]) ? 2 : 1;
            int bytes = Encoding.UTF8.GetByteCount(segment.AsSpan(c, width));
            for (int b = 0; b < bytes; b++) byteToChar.Add(c);
            c += width - 1;
        }
        int pos = 0;
        foreach (int id in ids)
        {
            int length = Model.TokenBytes(id).Length;
            int first = byteToChar[pos], last = byteToChar[pos + length - 1];
            int lastWidth = char.IsHighSurrogate(segment[last]) ? 2 : 1;
            output.Add(new Token(id, segmentStart + first, segmentStart + last + lastWidth));
            pos += length;
        }
    }

    [ThreadStatic] static List<PreToken>? t_pieces;
    [ThreadStatic] static byte[]? t_bytes;

    void EncodeOrdinary(string text, int start, int length, List<int> ids)
    {
        if (length <= 0) return;
        string segment = start == 0 && length == text.Length ? text : text.Substring(start, length);
        var pieces = t_pieces ??= new List<PreToken>();
        pieces.Clear();
        PreTokenizer.Split(segment, pieces);
        var cache = _cache.Value!;
        var lookup = cache.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var piece in pieces)
        {
            var chars = segment.AsSpan(piece.Start, piece.Length);
            if (lookup.TryGetValue(chars, out int[]? cached)) { ids.AddRange(cached); continue; }
            int maxBytes = Encoding.UTF8.GetMaxByteCount(chars.Length);
            if (t_bytes is null || t_bytes.Length < maxBytes) t_bytes = new byte[Math.Max(maxBytes, 256)];
            int byteCount = Encoding.UTF8.GetBytes(chars, t_bytes);
            int before = ids.Count;
            Model.Encode(t_bytes.AsSpan(0, byteCount), ids);
            if (piece.Length <= 64)
            {
                if (cache.Count >= CacheLimit) cache.Clear();
                cache[chars.ToString()] = CollectionsMarshal.AsSpan(ids)[before..].ToArray();
            }
        }
    }

    /// <summary>Encodes raw bytes: valid UTF-8 runs as text, and each byte of an invalid sequence as its own
    /// byte token, so decode gives the input back byte for byte. Returns how many invalid bytes there were.</summary>
    public int EncodeBytes(ReadOnlySpan<byte> bytes, List<int> ids, bool allowSpecial = true)
    {
        int invalid = 0;
        var chars = new char[Math.Min(bytes.Length, 1 << 20) + 4];
        var text = new StringBuilder();
        while (!bytes.IsEmpty)
        {
            var status = System.Text.Unicode.Utf8.ToUtf16(bytes, chars, out int read, out int written, replaceInvalidSequences: false, isFinalBlock: true);
            text.Append(chars, 0, written);
            bytes = bytes[read..];
            if (status == System.Buffers.OperationStatus.InvalidData)
            {
                if (text.Length > 0) { Encode(text.ToString(), ids, allowSpecial); text.Clear(); }
                ids.Add(Model.ByteToken(bytes[0]));
                bytes = bytes[1..];
                invalid++;
            }
        }
        if (text.Length > 0) Encode(text.ToString(), ids, allowSpecial);
        return invalid;
    }

    /// <summary><see cref="EncodeBytes"/> over a long input in pieces of about <paramref name="chunkBytes"/>, reporting
    /// progress. A piece ends at a lone newline between two ASCII non-space bytes ("a\nB"): every split pattern cuts
    /// there on its own and no piece or special token spans it, so the ids equal encoding the whole at once.</summary>
    public int EncodeBytesInChunks(ReadOnlySpan<byte> bytes, List<int> ids, int chunkBytes, IProgress<double>? progress = null)
    {
        static bool Plain(byte b) => b is > 0x20 and < 0x7F;
        int invalid = 0, start = 0;
        while (start < bytes.Length)
        {
            int end = Math.Min(bytes.Length, start + Math.Max(chunkBytes, 1));
            while (end < bytes.Length && !(end - start >= 2 && bytes[end - 1] == (byte)'\n' && Plain(bytes[end - 2]) && Plain(bytes[end]))) end++;
            invalid += EncodeBytes(bytes[start..end], ids);
            start = end;
            progress?.Report((double)start / bytes.Length);
        }
        return invalid;
    }

    /// <summary>The bytes of some ids (special tokens contribute their text's UTF-8).</summary>
    public byte[] DecodeBytes(IEnumerable<int> ids)
    {
        var buffer = new MemoryStream();
        foreach (int id in ids)
        {
            if (_specialById.TryGetValue(id, out string? special)) buffer.Write(Encoding.UTF8.GetBytes(special));
            else if ((uint)id < (uint)Model.VocabSize) buffer.Write(Model.TokenBytes(id));
            else throw new ArgumentException($"token id {id} is outside the vocabulary of {VocabSize}.");
        }
        return buffer.ToArray();
    }

    /// <summary>Writes this tokenizer as a Hugging Face tokenizer.json.</summary>
    public void Save(string path) => TokenizerJson.Save(this, path);

    /// <summary>The text of some ids; byte sequences that are not valid UTF-8 become U+FFFD.</summary>
    public string Decode(IEnumerable<int> ids) => Encoding.UTF8.GetString(DecodeBytes(ids));
}

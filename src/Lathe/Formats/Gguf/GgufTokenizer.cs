using System.Text;
using Lathe.Tokenizers;

namespace Lathe.Formats;

/// <summary>The tokenizer stored in a GGUF file's <c>tokenizer.ggml.*</c> keys, as llama.cpp runs it: "gpt2" (byte-level
/// BPE: tokens, merges, token types) becomes a <see cref="Tokenizer"/> whose split pattern is the one llama.cpp uses
/// for <c>tokenizer.ggml.pre</c> (<see cref="GgufPreTokenizers"/>: gpt-2, llama-bpe, qwen2, tekken, gpt-4o, …),
/// "llama" (SentencePiece: tokens, scores, token types with &lt;0xNN&gt; byte tokens; Llama 2, Mistral, Gemma, Phi-3) a
/// <see cref="SentencePieceBpe"/>. Exactly one of <see cref="Bpe"/> and <see cref="SentencePiece"/> is set. Also
/// carries BOS/EOS, the ids that end generation (<see cref="GgufSpecialTokens"/>) and <c>tokenizer.chat_template</c>.
/// As an <see cref="ITokenizer"/> it encodes one input as llama.cpp's tokenize with add_special (BOS first and EOS
/// last when the file asks).</summary>
public sealed class GgufTokenizer : ITokenizer
{
    public Tokenizer? Bpe { get; }
    public SentencePieceBpe? SentencePiece { get; }
    /// <summary>"gpt2" or "llama" (tokenizer.ggml.model).</summary>
    public string ModelName { get; }
    /// <summary>tokenizer.ggml.pre of a "gpt2" vocabulary (null for SentencePiece, where llama.cpp ignores it).</summary>
    public string? PreTokenizerName { get; private init; }
    public int VocabSize { get; }
    public int BosId { get; }
    public int EosId { get; }
    /// <summary>Padding (tokenizer.ggml.padding_token_id), or -1.</summary>
    public int PadId { get; private set; } = -1;
    /// <summary>End of sequence: what separates documents (-1 when the file names none).</summary>
    public int EndOfTextId => EosId;
    /// <summary>Whether encoding with special tokens puts BOS first (tokenizer.ggml.add_bos_token, else llama.cpp's
    /// default for the vocabulary: SentencePiece, llama-bpe and tekken yes, other BPE no).</summary>
    public bool AddBos { get; }
    /// <summary>Whether encoding with special tokens puts EOS last (tokenizer.ggml.add_eos_token, default no).</summary>
    public bool AddEos { get; private init; }
    /// <summary>The model's Jinja chat template (tokenizer.chat_template), or null.</summary>
    public string? ChatTemplate { get; }
    /// <summary>End of turn (tokenizer.ggml.eot_token_id, else found by its text as llama.cpp does: &lt;|eot_id|&gt;,
    /// &lt;|im_end|&gt;, &lt;|end|&gt;, &lt;end_of_turn&gt;, …), or -1.</summary>
    public int EotId { get; private set; } = -1;
    /// <summary>End of message (tokenizer.ggml.eom_token_id or &lt;|eom_id|&gt;), or -1.</summary>
    public int EomId { get; private set; } = -1;
    /// <summary>Every id that ends generation in llama.cpp (its EOG set: EOS, EOT, EOM, the FIM pad/repo/separator
    /// tokens and the known end-of-turn texts), ascending.</summary>
    public IReadOnlyList<int> EndOfGenerationIds { get; private set; } = [];
    readonly Dictionary<string, int> _specialIds = new(StringComparer.Ordinal);
    (string Text, int Id)[] _allSpecials = [];   // longest first
    // llama.cpp's special-token cache: control, user-defined and unknown tokens, longest UTF-8 first; each is cut out
    // of the text before tokenizing (control and unknown ones only when parsing special tokens).
    (string Text, int Id, bool ControlOrUnknown, bool StripRight)[] _partition = [];

    /// <summary>The id of a control or user-defined token by its text (e.g. "&lt;|im_end|&gt;"), or null.</summary>
    public int? SpecialId(string text) => _specialIds.TryGetValue(text, out int id) ? id : null;

    /// <summary>Control and user-defined tokens (longest text first), as chat templates write them.</summary>
    public IReadOnlyList<(string Text, int Id)> SpecialTokens => _allSpecials;

    GgufTokenizer(string model, Tokenizer? bpe, SentencePieceBpe? spm, int vocab, int bos, int eos, bool addBos, string? template)
    {
        ModelName = model; Bpe = bpe; SentencePiece = spm; VocabSize = vocab; BosId = bos; EosId = eos; AddBos = addBos; ChatTemplate = template;
    }

    // Completes construction: the special-token index, the partition order, end of turn and of generation.
    GgufTokenizer WithSpecials(string[] tokens, GgufSpecialTokens specials, int pad)
    {
        PadId = pad;
        var types = specials.Types;
        for (int i = 0; i < tokens.Length; i++)
            if (types[i] is GgmlTokenType.Control or GgmlTokenType.UserDefined) _specialIds.TryAdd(tokens[i], i);
        var all = new List<(string Text, int Id)>();
        var partition = new List<(string Text, int Id, bool ControlOrUnknown, bool StripRight)>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i].Length == 0) continue;
            if (types[i] is GgmlTokenType.Control or GgmlTokenType.UserDefined) all.Add((tokens[i], i));
            if (GgufSpecialTokens.IsSpecial(types[i]))
                partition.Add((tokens[i], i, types[i] != GgmlTokenType.UserDefined, specials.StripRight[i]));
        }
        _allSpecials = all.OrderByDescending(s => s.Text.Length).ThenBy(s => s.Id).ToArray();
        _partition = partition.OrderByDescending(s => Encoding.UTF8.GetByteCount(s.Text)).ThenBy(s => s.Id).ToArray();
        EotId = specials.EotId;
        EomId = specials.EomId;
        EndOfGenerationIds = specials.EndOfGeneration;
        return this;
    }

    /// <summary>One stretch of the input: text to tokenize [Start, Start + Length), or a special token (Id ≥ 0).</summary>
    readonly record struct Fragment(int Start, int Length, int Id);

    /// <summary>llama.cpp's tokenizer_st_partition: for each special token in turn, longest first, every occurrence in
    /// the text fragments left so far becomes that token (spaces right of it dropped when it strips them).</summary>
    List<Fragment> Partition(string text, bool parseSpecial)
    {
        var fragments = new List<Fragment>();
        if (text.Length > 0) fragments.Add(new Fragment(0, text.Length, -1));
        var pieces = new List<Fragment>();
        foreach (var (special, id, controlOrUnknown, stripRight) in _partition)
        {
            if (controlOrUnknown && !parseSpecial) continue;
            for (int f = 0; f < fragments.Count; f++)
            {
                var (start, length, fragmentId) = fragments[f];
                int at = fragmentId >= 0 ? -1 : text.IndexOf(special, start, length, StringComparison.Ordinal);
                if (at < 0) continue;
                pieces.Clear();
                while (true)
                {
                    if (at < 0) { pieces.Add(new Fragment(start, length, -1)); break; }
                    if (at > start) pieces.Add(new Fragment(start, at - start, -1));
                    pieces.Add(new Fragment(at, special.Length, id));
                    int end = start + length;
                    start = at + special.Length;
                    if (stripRight) while (start < end && text[start] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r') start++;
                    length = end - start;
                    if (length == 0) break;
                    at = text.IndexOf(special, start, length, StringComparison.Ordinal);
                }
                fragments.RemoveAt(f);
                fragments.InsertRange(f, pieces);
                f += pieces.Count - 1;
            }
        }
        return fragments;
    }

    /// <summary>Ids of <paramref name="text"/>, as llama.cpp's tokenize: <paramref name="addSpecial"/> puts BOS first
    /// and EOS last when the file asks for them; <paramref name="parseSpecial"/> recognises control tokens written in
    /// the text (as chat templates write them); user-defined tokens are always recognised. Each stretch of text between
    /// special tokens is tokenized on its own (SentencePiece: with the ▁ prefix when it starts the text or follows a
    /// special token).</summary>
    public List<int> Encode(string text, bool addSpecial = false, bool parseSpecial = false)
    {
        var ids = new List<int>();
        if (addSpecial && AddBos && BosId >= 0) ids.Add(BosId);
        bool afterSpecial = true;
        foreach (var (start, length, id) in Partition(text, parseSpecial))
        {
            if (id >= 0) { ids.Add(id); afterSpecial = true; continue; }
            string piece = text.Substring(start, length);
            if (Bpe is not null) Bpe.Encode(piece, ids, allowSpecial: false);
            else SentencePiece!.Encode(piece, ids, SentencePiece.AddSpacePrefix && afterSpecial);
            afterSpecial = false;
        }
        if (addSpecial && AddEos && EosId >= 0) ids.Add(EosId);
        return ids;
    }

    /// <summary>One input as llama.cpp tokenizes it with add_special: BOS first and EOS last when the file asks;
    /// <paramref name="allowSpecial"/> parses control tokens written in the text.</summary>
    List<int> ITokenizer.Encode(string text, bool allowSpecial) => Encode(text, addSpecial: true, parseSpecial: allowSpecial);

    /// <summary>Appends the ids of <paramref name="text"/> (no BOS; control-token text is ordinary text).</summary>
    public void Encode(string text, List<int> ids) => ids.AddRange(Encode(text));

    /// <summary>The tokens of <paramref name="text"/> (as <see cref="ITokenizer.Encode"/>: BOS first when the file asks,
    /// with an empty span at 0) with their [Start, End) spans in UTF-16 units. A token holding only some bytes of a
    /// character spans the whole character; SentencePiece's ▁ prefix belongs to no character, so the first token of a
    /// stretch starts at the stretch.</summary>
    public List<Token> EncodeWithOffsets(string text, bool allowSpecial = true)
    {
        var tokens = new List<Token>();
        if (AddBos && BosId >= 0) tokens.Add(new Token(BosId, 0, 0));
        var ids = new List<int>();
        bool afterSpecial = true;
        foreach (var (start, length, id) in Partition(text, allowSpecial))
        {
            if (id >= 0) { tokens.Add(new Token(id, start, start + length)); afterSpecial = true; continue; }
            string piece = text.Substring(start, length);
            if (Bpe is not null)
                foreach (var t in Bpe.EncodeWithOffsets(piece, allowSpecial: false)) tokens.Add(new Token(t.Id, t.Start + start, t.End + start));
            else
            {
                bool prefix = SentencePiece!.AddSpacePrefix && afterSpecial;
                ids.Clear();
                SentencePiece.Encode(piece, ids, prefix);
                AddSentencePieceOffsets(piece, start, prefix, ids, tokens);
            }
            afterSpecial = false;
        }
        if (AddEos && EosId >= 0) tokens.Add(new Token(EosId, text.Length, text.Length));
        return tokens;
    }

    // SentencePiece tokens of one stretch: their bytes (▁ as a space, <0xNN> as the byte) laid end to end are the
    // stretch's UTF-8 with the prefixed space first, so each token's byte range maps back to the characters holding it.
    void AddSentencePieceOffsets(string piece, int pieceStart, bool prefix, List<int> ids, List<Token> output)
    {
        var byteToChar = new List<int>();
        if (prefix) byteToChar.Add(-1);   // the ▁ the encoder put before the stretch
        for (int c = 0; c < piece.Length; c++)
        {
            int width = char.IsHighSurrogate(piece[c]) && c + 1 < piece.Length && char.IsLowSurrogate(piece[c + 1]) ? 2 : 1;
            int count = Encoding.UTF8.GetByteCount(piece.AsSpan(c, width));
            for (int b = 0; b < count; b++) byteToChar.Add(c);
            c += width - 1;
        }
        int position = 0;
        foreach (int id in ids)
        {
            int length = id == SentencePiece!.UnknownId
                // The unknown token stands for one whole character the vocabulary lacks.
                ? byteToChar.Count(b => b == byteToChar[Math.Min(position, byteToChar.Count - 1)])
                : SentencePiece.DecodeBytes([id]).Length;
            int first = Math.Min(position, byteToChar.Count - 1), last = Math.Min(position + length, byteToChar.Count) - 1;
            int startChar = byteToChar[first] < 0 ? 0 : byteToChar[first];
            int endChar = last < 0 || byteToChar[last] < 0 ? 0 : byteToChar[last] + (char.IsHighSurrogate(piece[byteToChar[last]]) ? 2 : 1);
            output.Add(new Token(id, pieceStart + startChar, pieceStart + Math.Max(startChar, endChar)));
            position += length;
        }
    }

    /// <summary>Writes a "gpt2" (byte-level BPE) vocabulary with GPT-2's split pattern as tokenizer.json: tokens, merges,
    /// and the control and user-defined tokens as added tokens. A "llama" (SentencePiece) vocabulary, or another split
    /// pattern (llama-bpe, qwen2, …: their Split + ignore_merges form is not written yet), is
    /// <see cref="NotSupportedException"/>, so it stays in its GGUF file.</summary>
    public void Save(string path)
    {
        if (Bpe is null || _bpeTokens is null || _bpeMerges is null)
            throw new NotSupportedException($"{path}: a SentencePiece (tokenizer.ggml.model 'llama') tokenizer cannot be written as tokenizer.json yet; it stays in the GGUF file.");
        if (Bpe.PreTokenizer is not Gpt2PreTokenizer)
            throw new NotSupportedException($"{path}: a '{PreTokenizerName}' tokenizer cannot be written as tokenizer.json yet (only gpt-2's split pattern); it stays in the GGUF file.");
        TokenizerJson.SaveGgufBpe(path, _bpeTokens, _bpeMerges, Bpe.SpecialTokens);
    }

    // "gpt2" vocabularies: the tokens and merges as stored (byte-level text), for Save.
    string[]? _bpeTokens, _bpeMerges;

    /// <summary>The bytes some ids decode to (control tokens contribute nothing).</summary>
    public byte[] DecodeBytes(IEnumerable<int> ids)
    {
        if (SentencePiece is not null) return SentencePiece.DecodeBytes(ids);
        var buffer = new MemoryStream();
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)VocabSize) throw new ArgumentException($"token id {id} is outside the vocabulary of {VocabSize}.");
            if (_specialBytes.TryGetValue(id, out var special)) buffer.Write(special);
            else buffer.Write(Bpe!.Model.TokenBytes(id));
        }
        return buffer.ToArray();
    }

    public string Decode(IEnumerable<int> ids) => SentencePiece is not null ? SentencePiece.Decode(ids) : Encoding.UTF8.GetString(DecodeBytes(ids));

    // gpt2 vocabularies: what the special tokens decode to (control tokens nothing, user-defined ones their text).
    IReadOnlyDictionary<int, byte[]> _specialBytes = new Dictionary<int, byte[]>();

    /// <summary>Reads the tokenizer of an open GGUF file; a missing or malformed key is a one-line error naming it.</summary>
    public static GgufTokenizer Read(GgufFile file)
    {
        string model = Str(file, "tokenizer.ggml.model") ?? throw new InvalidDataException($"{file.Path}: metadata 'tokenizer.ggml.model' is missing.");
        string[] tokens = Strings(file, "tokenizer.ggml.tokens");
        var types = new GgmlTokenType[tokens.Length];
        if (file.Metadata.ContainsKey("tokenizer.ggml.token_type"))
        {
            var raw = Numbers(file, "tokenizer.ggml.token_type", tokens.Length);
            for (int i = 0; i < types.Length; i++)
            {
                if (raw[i] is < 0 or > 6) throw new InvalidDataException($"{file.Path}: tokenizer.ggml.token_type[{i}] = {raw[i]} is not a token type (0..6).");
                types[i] = (GgmlTokenType)(int)raw[i];
            }
        }
        else Array.Fill(types, GgmlTokenType.Normal);
        string? template = Str(file, "tokenizer.chat_template");
        int bos = Id(file, "tokenizer.ggml.bos_token_id", tokens.Length), eos = Id(file, "tokenizer.ggml.eos_token_id", tokens.Length);
        int pad = Id(file, "tokenizer.ggml.padding_token_id", tokens.Length);
        bool addEos = Bool(file, "tokenizer.ggml.add_eos_token") ?? false;
        switch (model)
        {
            case "llama":
            {
                float[] scores = Numbers(file, "tokenizer.ggml.scores", tokens.Length).Select(d => (float)d).ToArray();
                int unk = Id(file, "tokenizer.ggml.unknown_token_id", tokens.Length);
                bool addBos = Bool(file, "tokenizer.ggml.add_bos_token") ?? true;
                bool addSpace = Bool(file, "tokenizer.ggml.add_space_prefix") ?? true;
                if (eos < 0) eos = 2;   // llama.cpp's SentencePiece defaults: unk 0, bos 1, eos 2
                var specials = Specials(file, tokens, types, eos < tokens.Length ? eos : -1);
                // Decoding follows llama.cpp's token attributes (a control-looking piece made control decodes to nothing).
                var spm = new SentencePieceBpe(tokens, scores, specials.Types, unk < 0 ? 0 : unk, bos < 0 ? 1 : bos, eos, addBos, addSpace, file.Path);
                return new GgufTokenizer(model, null, spm, tokens.Length, spm.BosId, spm.EosId, addBos, template) { AddEos = addEos }
                    .WithSpecials(tokens, specials, pad);
            }
            case "gpt2":
            {
                string? pre = Str(file, "tokenizer.ggml.pre");
                var rules = GgufPreTokenizers.For(pre, file.Path);
                var specials = Specials(file, tokens, types, eos);
                var effective = specials.Types;
                var bytes = new byte[tokens.Length][];
                var added = new List<(string Text, int Id)>();
                var control = new HashSet<int>();
                var specialBytes = new Dictionary<int, byte[]>();
                for (int i = 0; i < tokens.Length; i++)
                {
                    if (effective[i] is GgmlTokenType.Control or GgmlTokenType.UserDefined or GgmlTokenType.Unknown or GgmlTokenType.Unused)
                    {
                        // Not byte-level text: kept out of BPE (its bytes are its UTF-8, reachable by no merge).
                        bytes[i] = Encoding.UTF8.GetBytes("\0special\0" + i);
                        added.Add((tokens[i], i));
                        if (effective[i] != GgmlTokenType.UserDefined) control.Add(i);
                        specialBytes[i] = effective[i] == GgmlTokenType.UserDefined ? Encoding.UTF8.GetBytes(tokens[i]) : [];
                        continue;
                    }
                    bytes[i] = ByteLevel.Decode(tokens[i])
                        ?? throw new InvalidDataException($"{file.Path}: tokenizer.ggml.tokens[{i}] '{tokens[i]}' is not a byte-level token.");
                }
                var ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
                for (int i = 0; i < tokens.Length; i++) if (!control.Contains(i)) ids.TryAdd(tokens[i], i);
                string[] mergeTexts = Strings(file, "tokenizer.ggml.merges");
                var merges = new List<(int, int)>(mergeTexts.Length);
                for (int m = 0; m < mergeTexts.Length; m++)
                {
                    string text = mergeTexts[m];
                    int space = text.IndexOf(' ', 1);
                    if (space < 0 || !ids.TryGetValue(text[..space], out int left) || !ids.TryGetValue(text[(space + 1)..], out int right))
                        throw new InvalidDataException($"{file.Path}: tokenizer.ggml.merges[{m}] '{text}' is not two tokens of the vocabulary.");
                    merges.Add((left, right));
                }
                BpeModel bpe;
                // ignore_merges (llama-bpe, tekken): a piece that is a token is that token, merges or not.
                try { bpe = new BpeModel(bytes, merges, file.Path + " tokenizer.ggml") { WholePieceFirst = rules.IgnoreMerges }; }
                catch (InvalidDataException e) { throw new InvalidDataException(e.Message); }
                string? eosText = eos >= 0 && control.Contains(eos) ? tokens[eos] : null;
                var tokenizer = new Tokenizer(bpe, rules.PreTokenizer, added, eosText);
                bool addBos = Bool(file, "tokenizer.ggml.add_bos_token") ?? rules.AddBos;
                return new GgufTokenizer(model, tokenizer, null, tokens.Length, bos, eos, addBos, template)
                    { _specialBytes = specialBytes, _bpeTokens = tokens, _bpeMerges = mergeTexts, PreTokenizerName = pre, AddEos = addEos }
                    .WithSpecials(tokens, specials, pad);
            }
            default:
                throw new InvalidDataException($"{file.Path}: tokenizer.ggml.model '{model}' is not supported (gpt2, llama).");
        }
    }

    // llama.cpp's end-of-turn / end-of-generation detection and per-token overrides, from the file's ids and name.
    static GgufSpecialTokens Specials(GgufFile file, string[] tokens, GgmlTokenType[] types, int eos) =>
        new(tokens, types, Str(file, "general.name"), eos,
            Id(file, "tokenizer.ggml.eot_token_id", tokens.Length), Id(file, "tokenizer.ggml.eom_token_id", tokens.Length),
            Id(file, "tokenizer.ggml.fim_pad_token_id", tokens.Length), Id(file, "tokenizer.ggml.fim_rep_token_id", tokens.Length),
            Id(file, "tokenizer.ggml.fim_sep_token_id", tokens.Length));

    static string? Str(GgufFile f, string key) => f.Metadata.TryGetValue(key, out var v) ? v as string
        ?? throw new InvalidDataException($"{f.Path}: metadata '{key}' is not a string.") : null;

    static bool? Bool(GgufFile f, string key) => f.Metadata.TryGetValue(key, out var v) ? v as bool?
        ?? throw new InvalidDataException($"{f.Path}: metadata '{key}' is not a bool.") : null;

    static string[] Strings(GgufFile f, string key)
    {
        if (!f.Metadata.TryGetValue(key, out var v)) throw new InvalidDataException($"{f.Path}: metadata '{key}' is missing.");
        if (v is not object[] items) throw new InvalidDataException($"{f.Path}: metadata '{key}' is not an array.");
        var result = new string[items.Length];
        for (int i = 0; i < items.Length; i++)
            result[i] = items[i] as string ?? throw new InvalidDataException($"{f.Path}: {key}[{i}] is not a string.");
        return result;
    }

    static double[] Numbers(GgufFile f, string key, int count)
    {
        if (!f.Metadata.TryGetValue(key, out var v)) throw new InvalidDataException($"{f.Path}: metadata '{key}' is missing.");
        if (v is not object[] items) throw new InvalidDataException($"{f.Path}: metadata '{key}' is not an array.");
        if (items.Length != count) throw new InvalidDataException($"{f.Path}: {key} has {items.Length} entries for {count} tokens.");
        var result = new double[items.Length];
        for (int i = 0; i < items.Length; i++)
            result[i] = items[i] switch
            {
                float x => x, double x => x, int x => x, uint x => x, long x => x, ulong x => x, short x => x, ushort x => x, sbyte x => x, byte x => x,
                _ => throw new InvalidDataException($"{f.Path}: {key}[{i}] is not a number."),
            };
        return result;
    }

    /// <summary>A token id key, or -1 when absent; present but outside the vocabulary is an error.</summary>
    static int Id(GgufFile f, string key, int vocab)
    {
        if (!f.Metadata.TryGetValue(key, out var v)) return -1;
        long id = v switch
        {
            uint u => u, int i => i, ulong ul => (long)Math.Min(ul, long.MaxValue), long l => l, ushort us => us, short s => s, byte b => b, sbyte sb => sb,
            _ => throw new InvalidDataException($"{f.Path}: metadata '{key}' is not an integer."),
        };
        if (id < 0 || id >= vocab) throw new InvalidDataException($"{f.Path}: {key} = {id} is outside the vocabulary of {vocab}.");
        return (int)id;
    }
}

using System.Text.Json;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tokenizers;

// tokenizer.json for pipeline tokenizers (WordPiece, Unigram, …): every stage read and written by its Hugging Face
// "type", so a file round-trips and loads in HF tokenizers.
public static partial class TokenizerJson
{
    /// <summary>Loads any supported tokenizer.json: byte-level BPE as <see cref="Tokenizer"/>, anything else as a
    /// <see cref="PipelineTokenizer"/>. A malformed file or an unsupported stage is a one-line error naming the field.</summary>
    public static ITokenizer LoadAny(string path)
    {
        using var doc = Parse(path);
        var root = doc.RootElement;
        var model = Field(root, "model", JsonValueKind.Object, path);
        string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "BPE";
        if (type == "BPE") return Load(path);
        var specials = AddedTokens(root, path);
        ITokenizerModel m = type switch
        {
            "WordPiece" => WordPieceModel.FromJson(model, path),
            "Unigram" => UnigramModel.FromJson(model, path),
            _ => throw new InvalidDataException($"{path}: model.type: '{type}' is not one of BPE, WordPiece, Unigram."),
        };
        int? IdOf(string token) => specials.FirstOrDefault(s => s.Item1 == token) is { Item1: not null } s ? s.Item2
            : m.TryTokenToId(token, out int id) ? id : null;
        var normalizer = Optional(root, "normalizer") is { } n ? ReadNormalizer(n, path, "normalizer") : null;
        var pre = Optional(root, "pre_tokenizer") is { } p ? ReadPreTokenizer(p, path, "pre_tokenizer") : new WhitespaceSplitPreTokenizer();
        var post = Optional(root, "post_processor") is { } pp ? TemplateProcessor.FromJson(pp, path, IdOf) : null;
        var decoder = Optional(root, "decoder") is { } d ? ReadDecoder(d, path, "decoder") : null;
        return new PipelineTokenizer(normalizer, pre, m, post, decoder, specials);
    }

    /// <summary>Writes a pipeline tokenizer as tokenizer.json.</summary>
    public static void Save(PipelineTokenizer tokenizer, string path) => AtomicFile.Write(path, stream =>
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        WriteAddedTokens(w, tokenizer.SpecialTokens, normalized: false);
        w.WritePropertyName("normalizer");
        if (tokenizer.Normalizer is null) w.WriteNullValue(); else tokenizer.Normalizer.WriteJson(w);
        w.WritePropertyName("pre_tokenizer");
        tokenizer.PreTokenizer.WriteJson(w);
        w.WritePropertyName("post_processor");
        if (tokenizer.PostProcessor is null) w.WriteNullValue(); else tokenizer.PostProcessor.WriteJson(w);
        w.WritePropertyName("decoder");
        if (tokenizer.Decoder is null) w.WriteNullValue(); else tokenizer.Decoder.WriteJson(w);
        w.WritePropertyName("model");
        tokenizer.Model.WriteJson(w);
        w.WriteEndObject();
    });

    static void WriteAddedTokens(Utf8JsonWriter w, IEnumerable<(string Text, int Id)> specials, bool normalized)
    {
        w.WriteStartArray("added_tokens");
        foreach (var (text, id) in specials.OrderBy(s => s.Id))
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("content", text);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", normalized);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    static JsonDocument Parse(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        byte[] bytes = File.ReadAllBytes(path);
        Lathe.IO.Utf8Validation.Require(bytes, path);
        try { return JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true }); }
        // The parser's message quotes the bad token, which can span lines; the error stays one line.
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message.ReplaceLineEndings(" ")})."); }
    }

    static JsonElement? Optional(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    static List<(string, int)> AddedTokens(JsonElement root, string path)
    {
        var specials = new List<(string, int)>();
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var a in added.EnumerateArray())
            {
                if (a.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: added_tokens entry {specials.Count} is not an object.");
                if (!a.TryGetProperty("id", out var idEl) || idEl.ValueKind != JsonValueKind.Number || !idEl.TryGetInt32(out int id) || id < 0)
                    throw new InvalidDataException($"{path}: added_tokens entry without a valid 'id'.");
                if (!a.TryGetProperty("content", out var c) || c.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{path}: added_tokens entry {id} without 'content'.");
                // Two added tokens with one id would make decoding ambiguous (and Tokenizer indexes them by id).
                if (specials.Any(s => s.Item2 == id)) throw new InvalidDataException($"{path}: added_tokens: id {id} appears twice.");
                specials.Add((c.GetString()!, id));
            }
        return specials;
    }

    static List<JsonElement> Items(JsonElement e, string field, string path, string where) =>
        e.TryGetProperty(field, out var list) && list.ValueKind == JsonValueKind.Array ? [.. list.EnumerateArray()]
            : throw new InvalidDataException($"{path}: {where}.{field} is missing or not an array.");

    static INormalizer ReadNormalizer(JsonElement e, string path, string where)
    {
        string type = JsonFields.Str(e, "type", path, where);
        return type switch
        {
            "NFC" => new NfcNormalizer(),
            "NFD" => new NfdNormalizer(),
            "Lowercase" => new LowercaseNormalizer(),
            "StripAccents" => new StripAccentsNormalizer(),
            "BertNormalizer" => new BertNormalizer(JsonFields.Bool(e, "clean_text", true), JsonFields.Bool(e, "handle_chinese_chars", true),
                e.TryGetProperty("strip_accents", out var sa) && sa.ValueKind is JsonValueKind.True or JsonValueKind.False ? sa.GetBoolean() : null,
                JsonFields.Bool(e, "lowercase", true)),
            "Sequence" => new SequenceNormalizer(Items(e, "normalizers", path, where).Select((n, i) => ReadNormalizer(n, path, $"{where}.normalizers[{i}]")).ToList()),
            _ => throw new InvalidDataException($"{path}: {where}.type: '{type}' is not supported (NFC, NFD, Lowercase, StripAccents, BertNormalizer, Sequence)."),
        };
    }

    static IPreTokenizer ReadPreTokenizer(JsonElement e, string path, string where)
    {
        string type = JsonFields.Str(e, "type", path, where);
        return type switch
        {
            "Whitespace" => new WhitespacePreTokenizer(),
            "WhitespaceSplit" => new WhitespaceSplitPreTokenizer(),
            "BertPreTokenizer" => new BertPreTokenizer(),
            "Punctuation" => new PunctuationPreTokenizer(),
            "Digits" => new DigitsPreTokenizer(JsonFields.Bool(e, "individual_digits", false)),
            "Metaspace" => new MetaspacePreTokenizer(Replacement(e, path, where),
                e.TryGetProperty("prepend_scheme", out var ps) && ps.ValueKind == JsonValueKind.String ? PrependScheme(ps.GetString()!, path, where)
                    : JsonFields.Bool(e, "add_prefix_space", true) ? "always" : "never",
                JsonFields.Bool(e, "split", true)),
            "Sequence" => new SequencePreTokenizer(Items(e, "pretokenizers", path, where).Select((p, i) => ReadPreTokenizer(p, path, $"{where}.pretokenizers[{i}]")).ToList()),
            _ => throw new InvalidDataException($"{path}: {where}.type: '{type}' is not supported here (Whitespace, WhitespaceSplit, BertPreTokenizer, Punctuation, Digits, Metaspace, Sequence; ByteLevel goes with a BPE model)."),
        };
    }

    static string PrependScheme(string scheme, string path, string where) => scheme is "always" or "first" or "never" ? scheme
        : throw new InvalidDataException($"{path}: {where}.prepend_scheme: '{scheme}' is not always, first or never.");

    static char Replacement(JsonElement e, string path, string where)
    {
        string r = e.TryGetProperty("replacement", out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "▁";
        return r.Length == 1 ? r[0] : throw new InvalidDataException($"{path}: {where}.replacement must be one char.");
    }

    static ChainDecoder ReadDecoder(JsonElement e, string path, string where)
    {
        string type = JsonFields.Str(e, "type", path, where);
        return type switch
        {
            "WordPiece" => new WordPieceDecoder(e.TryGetProperty("prefix", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "##", JsonFields.Bool(e, "cleanup", true)),
            "Metaspace" => new MetaspaceDecoder(Replacement(e, path, where),
                e.TryGetProperty("prepend_scheme", out var ps) && ps.ValueKind == JsonValueKind.String ? ps.GetString()!
                    : JsonFields.Bool(e, "add_prefix_space", true) ? "always" : "never", JsonFields.Bool(e, "split", true)),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(JsonFields.Str(e, "content", path, where) is { Length: 1 } c ? c[0] : throw new InvalidDataException($"{path}: {where}.content must be one char."),
                e.TryGetProperty("start", out var s) ? s.GetInt32() : 0, e.TryGetProperty("stop", out var st) ? st.GetInt32() : 0),
            "Replace" => new ReplaceDecoder(
                e.TryGetProperty("pattern", out var pat) && pat.TryGetProperty("String", out var ps2) && ps2.ValueKind == JsonValueKind.String ? ps2.GetString()!
                    : throw new InvalidDataException($"{path}: {where}.pattern.String is missing (regex patterns are not supported)."),
                JsonFields.Str(e, "content", path, where)),
            "Sequence" => new SequenceDecoder(Items(e, "decoders", path, where).Select((d, i) => ReadDecoder(d, path, $"{where}.decoders[{i}]")).ToList()),
            _ => throw new InvalidDataException($"{path}: {where}.type: '{type}' is not supported (WordPiece, Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence)."),
        };
    }
}

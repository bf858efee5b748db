using System.Text;
using System.Text.Json;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tokenizers;

/// <summary>Reads and writes Hugging Face <c>tokenizer.json</c> for byte-level BPE tokenizers (GPT-2 style: a
/// ByteLevel pre-tokenizer and decoder, a BPE model with vocab and merges, added special tokens). Merges are read in
/// both forms the library has used ("left right" strings and [left, right] pairs) and written as strings.</summary>
public static partial class TokenizerJson
{
    public static void Save(Tokenizer tokenizer, string path)
    {
        AtomicFile.Write(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            WriteByteLevelFrame(w, tokenizer.SpecialTokens, normalized: true, tokenizer.PreTokenizer);
            w.WritePropertyName("model");
            tokenizer.Model.WriteJson(w, tokenizer.SpecialTokens.ToDictionary(s => s.Id, s => s.Text), tokenizer.VocabSize);
            w.WriteEndObject();
        });
    }

    // What every byte-level BPE tokenizer.json holds before its "model": the object opened, version, no truncation or
    // padding, the added tokens, no normalizer, the pre-tokenizer, no post-processor, the byte-level decoder.
    static void WriteByteLevelFrame(Utf8JsonWriter w, IEnumerable<(string Text, int Id)> added, bool normalized, IPreTokenizer preTokenizer)
    {
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        WriteAddedTokens(w, added, normalized);
        w.WriteNull("normalizer");
        w.WritePropertyName("pre_tokenizer");
        preTokenizer.WriteJson(w);
        w.WriteNull("post_processor");
        w.WriteStartObject("decoder");
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", true);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", true);
        w.WriteEndObject();
    }

    /// <summary>Loads a byte-level BPE tokenizer.json; anything else, or a malformed file, gives
    /// <see cref="InvalidDataException"/> naming the file and the field.</summary>
    public static Tokenizer Load(string path)
    {
        var doc = Parse(path);
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object.");
            var model = Field(root, "model", JsonValueKind.Object, path);
            string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "BPE";
            if (type != "BPE") throw new InvalidDataException($"{path}: model.type '{type}' is not supported (byte-level BPE only in this version).");
            if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object && !HasByteLevel(pre))
                throw new InvalidDataException($"{path}: pre_tokenizer.type '{(pre.TryGetProperty("type", out var pt) ? pt.ToString() : "?")}' is not supported (ByteLevel expected).");
            if (root.TryGetProperty("pre_tokenizer", out var pre2) && pre2.ValueKind == JsonValueKind.Object &&
                pre2.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.True)
                throw new InvalidDataException($"{path}: pre_tokenizer.add_prefix_space = true is not supported.");
            if (root.TryGetProperty("normalizer", out var norm) && norm.ValueKind == JsonValueKind.Object)
                throw new InvalidDataException($"{path}: normalizer.type '{(norm.TryGetProperty("type", out var nt) ? nt.ToString() : "?")}' is not supported with byte-level BPE in this version.");

            var specials = AddedTokens(root, path);
            var specialIds = specials.Select(s => s.Item2).ToHashSet();

            var vocabEl = Field(model, "vocab", JsonValueKind.Object, path, "model.");
            var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
            int maxId = -1;
            foreach (var p in vocabEl.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0) throw new InvalidDataException($"{path}: model.vocab['{p.Name}'] is not a non-negative integer id.");
                vocab[p.Name] = id;
                maxId = Math.Max(maxId, id);
            }
            int modelSize = maxId + 1;
            while (modelSize > 0 && specialIds.Contains(modelSize - 1)) modelSize--;   // trailing specials live outside the model
            var tokens = new byte[modelSize][];
            foreach (var (text, id) in vocab)
            {
                if (id >= modelSize) continue;
                tokens[id] = specialIds.Contains(id) ? Encoding.UTF8.GetBytes(text)
                    : ByteLevel.Decode(text) ?? throw new InvalidDataException($"{path}: model.vocab['{text}'] is not a byte-level token.");
            }
            for (int i = 0; i < modelSize; i++)
                if (tokens[i] is null) throw new InvalidDataException($"{path}: model.vocab has no token with id {i}.");

            var merges = new List<(int, int)>();
            var mergesEl = Field(model, "merges", JsonValueKind.Array, path, "model.");
            int index = 0;
            foreach (var m in mergesEl.EnumerateArray())
            {
                string? left, right;
                if (m.ValueKind == JsonValueKind.String)
                {
                    string s = m.GetString()!;
                    int space = s.IndexOf(' ');
                    left = space > 0 ? s[..space] : null;
                    right = space > 0 ? s[(space + 1)..] : null;
                }
                else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
                {
                    left = m[0].GetString();
                    right = m[1].GetString();
                }
                else left = right = null;
                if (left is null || right is null || !vocab.TryGetValue(left, out int l) || !vocab.TryGetValue(right, out int r))
                    throw new InvalidDataException($"{path}: model.merges[{index}] is not a pair of vocabulary tokens.");
                merges.Add((l, r));
                index++;
            }
            var bpe = new BpeModel(tokens, merges, path);
            return new Tokenizer(bpe, Gpt2PreTokenizer.Instance, specials);
        }
    }

    static bool HasByteLevel(JsonElement pre)
    {
        if (pre.ValueKind != JsonValueKind.Object) return false;
        string? type = pre.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (type == "ByteLevel") return true;
        if (type == "Sequence" && pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array)
            return list.EnumerateArray().Any(HasByteLevel);
        return false;
    }

    static JsonElement Field(JsonElement obj, string name, JsonValueKind kind, string path, string prefix = "")
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind != kind)
            throw new InvalidDataException($"{path}: field '{prefix}{name}' is missing or not a{(kind == JsonValueKind.Array ? "n array" : "n object")}.");
        return v;
    }
}

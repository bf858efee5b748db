using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.IO;

namespace Lathe.Training;

/// <summary>INTERIM — stands in for the byte-level BPE tokenizer (branch tok-bpe) until it lands in main, and
/// is deleted then. Token id = UTF-8 byte value (vocabulary 256, no merges). Its tokenizer.json is a valid
/// Hugging Face byte-level BPE with an empty merge list, so other tools read the same ids.</summary>
public static class InterimByteTokenizer
{
    public const int VocabSize = 256;

    public static int[] Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    /// <summary>Decodes ids to text (invalid UTF-8 sequences become U+FFFD).</summary>
    public static string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new byte[ids.Length];
        for (int i = 0; i < ids.Length; i++) bytes[i] = (byte)ids[i];
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Writes tokenizer.json (HF format: ByteLevel pre-tokenizer/decoder, BPE model of the 256 byte symbols).</summary>
    public static void Save(string path)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[Lathe.Tokenizers.ByteLevel.ByteToChar((byte)b).ToString()] = b;
        var byteLevel = () => new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var root = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = new JsonArray(), ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel(), ["post_processor"] = byteLevel(), ["decoder"] = byteLevel(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["vocab"] = vocab, ["merges"] = new JsonArray(),
            },
        };
        AtomicFile.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) + "\n");
    }

    /// <summary>Checks that <paramref name="path"/> is this tokenizer's tokenizer.json (one-line error otherwise).</summary>
    public static void RequireCompatible(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"tokenizer: {path} not found");
        JsonNode? model;
        try { model = JsonNode.Parse(File.ReadAllText(path))?["model"]; }
        catch (JsonException) { throw new InvalidDataException($"tokenizer: {path} is not valid JSON"); }
        if (model?["type"]?.GetValue<string>() != "BPE" || model["merges"] is not JsonArray { Count: 0 } || model["vocab"] is not JsonObject { Count: 256 })
            throw new InvalidDataException($"tokenizer: {path}: only the interim byte-level tokenizer (256 symbols, no merges) is supported until the BPE encoder lands");
    }
}

using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.IO;

namespace Lathe.Data;

/// <summary>manifest.json beside a folder of token shards: what made them (tokenizer fingerprint, vocabulary size,
/// special ids, source) and what they hold (files, split, token counts), so a trainer can take the vocabulary
/// from the folder and refuse shards that another tokenizer made.</summary>
public sealed record ShardManifest
{
    /// <summary>The file name inside the data folder.</summary>
    public const string FileName = "manifest.json";
    /// <summary>The format tag written in <see cref="Format"/>.</summary>
    public const string CurrentFormat = "lathe-shards/1";

    /// <summary>Format tag ("lathe-shards/1").</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = CurrentFormat;
    /// <summary>The tokenizer's vocabulary size (every id in the shards is below it).</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    /// <summary>The document separator written before each document (-1: none).</summary>
    [JsonPropertyName("end_of_text_id")] public int EndOfTextId { get; init; } = -1;
    /// <summary>The tokenizer's special (added) tokens.</summary>
    [JsonPropertyName("special_tokens")] public List<ManifestSpecialToken> SpecialTokens { get; init; } = [];
    /// <summary>The tokenizer.json beside the shards: file name, SHA-256 of its bytes, and what it was made from.</summary>
    [JsonPropertyName("tokenizer")] public ManifestTokenizer Tokenizer { get; init; } = new();
    /// <summary>The corpus the shards were made from, as given.</summary>
    [JsonPropertyName("source")] public string Source { get; init; } = "";
    /// <summary>Tokens in training shards.</summary>
    [JsonPropertyName("train_tokens")] public long TrainTokens { get; init; }
    /// <summary>Tokens in validation shards.</summary>
    [JsonPropertyName("val_tokens")] public long ValidationTokens { get; init; }
    /// <summary>The shard files (names relative to the folder).</summary>
    [JsonPropertyName("shards")] public List<ManifestShard> Shards { get; init; } = [];

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes manifest.json into <paramref name="dir"/> atomically.</summary>
    public void Save(string dir) => AtomicFile.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Json) + "\n");

    /// <summary>Reads a manifest; bad JSON or a missing field is one line naming the file.</summary>
    public static ShardManifest Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data: {path} not found", path);
        ShardManifest? m;
        try { m = JsonSerializer.Deserialize<ShardManifest>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"data: {path}: not a shard manifest ({e.Message.Split('\n')[0]})"); }
        if (m is null) throw new InvalidDataException($"data: {path}: empty manifest");
        if (m.Format != CurrentFormat) throw new InvalidDataException($"data: {path}: format '{m.Format}', expected '{CurrentFormat}'");
        if (m.VocabSize <= 0) throw new InvalidDataException($"data: {path}: vocab_size {m.VocabSize} must be positive");
        if (string.IsNullOrEmpty(m.Tokenizer.Sha256)) throw new InvalidDataException($"data: {path}: tokenizer.sha256 is missing");
        foreach (var s in m.Shards)
            if (string.IsNullOrEmpty(s.File) || s.File != Path.GetFileName(s.File) || s.Tokens < 0)
                throw new InvalidDataException($"data: {path}: shard entry '{s.File}' ({s.Tokens} tokens) is not a plain file name with a token count");
        return m;
    }

    /// <summary>The fingerprint of a tokenizer.json: SHA-256 of its bytes, lower-case hex.</summary>
    public static string Fingerprint(string tokenizerPath)
    {
        using var f = File.OpenRead(tokenizerPath);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    /// <summary>Checks the folder against this manifest: <paramref name="tokenizerPath"/> (the folder's tokenizer.json,
    /// null when absent) has the fingerprint the shards were made with, and every shard file is listed with its
    /// token count. Throws <see cref="InvalidDataException"/> with one line naming the file at fault.</summary>
    public void Check(string manifestPath, string? tokenizerPath, IEnumerable<string> shardFiles)
    {
        string dir = Path.GetDirectoryName(manifestPath) ?? ".";
        if (tokenizerPath is null)
            throw new InvalidDataException($"data: {Path.Combine(dir, Tokenizer.File)} is missing; {manifestPath} says the shards were made with tokenizer sha256 {Short(Tokenizer.Sha256)}");
        CheckTokenizer(manifestPath, tokenizerPath);
        var listed = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var s in Shards) listed[s.File] = s.Tokens;
        foreach (var f in shardFiles)
        {
            string name = Path.GetFileName(f);
            if (!listed.TryGetValue(name, out long tokens))
                throw new InvalidDataException($"data: {f} is not listed in {manifestPath} (made by another run or tokenizer?); remove it or re-run data prepare");
            using var shard = TokenShard.Open(f);
            if (shard.Count != tokens)
                throw new InvalidDataException($"data: {f}: {shard.Count} tokens but {manifestPath} lists {tokens}");
        }
    }

    /// <summary>Checks that <paramref name="tokenizerPath"/> is the tokenizer the shards were made with (same SHA-256).</summary>
    public void CheckTokenizer(string manifestPath, string tokenizerPath)
    {
        string actual = Fingerprint(tokenizerPath);
        if (actual != Tokenizer.Sha256)
            throw new InvalidDataException($"data: {tokenizerPath} (sha256 {Short(actual)}) is not the tokenizer the shards were made with ({manifestPath}: sha256 {Short(Tokenizer.Sha256)})");
    }

    static string Short(string sha) => sha.Length > 12 ? sha[..12] + "…" : sha;
}

/// <summary>A special token of the manifest's tokenizer.</summary>
public sealed record ManifestSpecialToken
{
    [JsonPropertyName("text")] public string Text { get; init; } = "";
    [JsonPropertyName("id")] public int Id { get; init; }
}

/// <summary>The tokenizer entry of a manifest.</summary>
public sealed record ManifestTokenizer
{
    /// <summary>File name inside the data folder (tokenizer.json).</summary>
    [JsonPropertyName("file")] public string File { get; init; } = ShardFolder.TokenizerFile;
    /// <summary>SHA-256 of the file's bytes, lower-case hex.</summary>
    [JsonPropertyName("sha256")] public string Sha256 { get; init; } = "";
    /// <summary>What the tokenizer was loaded from (a path, or "gpt2").</summary>
    [JsonPropertyName("source")] public string Source { get; init; } = "";
}

/// <summary>One shard file of a manifest.</summary>
public sealed record ManifestShard
{
    [JsonPropertyName("file")] public string File { get; init; } = "";
    /// <summary>"train" or "val" (by <see cref="ShardFolder.IsValidationName"/>).</summary>
    [JsonPropertyName("split")] public string Split { get; init; } = "train";
    [JsonPropertyName("tokens")] public long Tokens { get; init; }
}

using System.Text.Json;
using Lathe.Formats;

namespace Lathe.Inference;

/// <summary>Reads the pooling a model's files state, where they state one:
/// <list type="bullet">
/// <item>a sentence-transformers folder: <c>modules.json</c> names the Pooling module's folder (else <c>1_Pooling</c>),
/// whose <c>config.json</c> sets one <c>pooling_mode_*</c> flag (or <c>pooling_mode</c>: "mean", "cls", …);</item>
/// <item>a GGUF file: <c>&lt;general.architecture&gt;.pooling_type</c>, llama.cpp's enum (1 mean, 2 cls, 3 last).</item>
/// </list></summary>
internal static class EmbeddingPoolingConvention
{
    const string ModulesFile = "modules.json", DefaultPoolingFolder = "1_Pooling", PoolingModuleType = "sentence_transformers.models.Pooling";

    /// <summary>The stated pooling of the model loaded from <paramref name="source"/> (a folder, or a .gguf file when
    /// <paramref name="format"/> is "gguf"), or null when nothing states one.</summary>
    public static EmbeddingPooling? Read(string source, string format)
    {
        if (format == "gguf") return File.Exists(source) ? FromGguf(source) : null;
        if (!Directory.Exists(source)) return null;
        string? folder = PoolingFolder(source);
        string config = Path.Combine(folder ?? Path.Combine(source, DefaultPoolingFolder), Checkpoint.ConfigFile);
        return File.Exists(config) ? FromSentenceTransformers(config) : null;
    }

    // modules.json: [{"idx", "name", "path", "type"}, …]; the Pooling module's path, or null when the file is absent.
    static string? PoolingFolder(string dir)
    {
        string path = Path.Combine(dir, ModulesFile);
        if (!File.Exists(path)) return null;
        using var doc = Parse(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{path}: expected a JSON array of modules.");
        foreach (var module in doc.RootElement.EnumerateArray())
            if (module.ValueKind == JsonValueKind.Object
                && module.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == PoolingModuleType)
                return module.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String
                    ? Path.Combine(dir, p.GetString()!)
                    : throw new InvalidDataException($"{path}: the Pooling module has no \"path\".");
        return null;
    }

    static EmbeddingPooling FromSentenceTransformers(string path)
    {
        using var doc = Parse(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: not a JSON object.");
        var chosen = new List<(string Field, EmbeddingPooling? Pooling)>();
        foreach (var (field, pooling) in Flags)
            if (root.TryGetProperty(field, out var v))
            {
                if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw new InvalidDataException($"{path}: {field}: expected true or false.");
                if (v.ValueKind == JsonValueKind.True) chosen.Add((field, pooling));
            }
        if (chosen.Count == 0 && root.TryGetProperty("pooling_mode", out var mode) && mode.ValueKind == JsonValueKind.String)
        {
            string name = mode.GetString()!;
            string field = name switch
            {
                "lasttoken" => "pooling_mode_lasttoken",
                "cls" => "pooling_mode_cls_token",
                _ when name.EndsWith("_tokens", StringComparison.Ordinal) => "pooling_mode_" + name,
                _ => $"pooling_mode_{name}_tokens",
            };
            var match = Flags.FirstOrDefault(f => f.Field == field);
            if (match.Field is null) throw new InvalidDataException($"{path}: pooling_mode: '{name}' is not a sentence-transformers pooling mode.");
            chosen.Add(match);
        }
        if (chosen.Count == 0) throw new InvalidDataException($"{path}: no pooling_mode_* is true.");
        if (chosen.Count > 1)
            throw new InvalidDataException($"{path}: {string.Join(" and ", chosen.Select(c => c.Field))} are both true; concatenated poolings are not supported.");
        return chosen[0].Pooling
            ?? throw new InvalidDataException($"{path}: {chosen[0].Field} is not supported (mean, cls, lasttoken, max, weightedmean).");
    }

    // sentence-transformers' flags. mean_sqrt_len_tokens is the mean times √T, the mean's direction exactly, so after the
    // L2 normalisation every Lathe embedding ends with it equals the mean.
    static readonly (string Field, EmbeddingPooling? Pooling)[] Flags =
    [
        ("pooling_mode_cls_token", EmbeddingPooling.Cls),
        ("pooling_mode_mean_tokens", EmbeddingPooling.Mean),
        ("pooling_mode_max_tokens", EmbeddingPooling.Max),
        ("pooling_mode_mean_sqrt_len_tokens", EmbeddingPooling.Mean),
        ("pooling_mode_weightedmean_tokens", EmbeddingPooling.WeightedMean),
        ("pooling_mode_lasttoken", EmbeddingPooling.LastToken),
    ];

    static EmbeddingPooling? FromGguf(string path)
    {
        using var file = GgufFile.Open(path);
        if (!file.Metadata.TryGetValue("general.architecture", out var a) || a is not string arch) return null;
        string key = arch + ".pooling_type";
        if (!file.Metadata.TryGetValue(key, out var value)) return null;
        long type = value switch
        {
            uint u => u, int i => i, ulong ul => (long)ul, long l => l, ushort us => us, short s => s, byte b => b, sbyte sb => sb,
            _ => throw new InvalidDataException($"{path}: {key}: expected an integer."),
        };
        return type switch
        {
            -1 or 0 => null,   // unspecified / none: the file states no sentence pooling
            1 => EmbeddingPooling.Mean,
            2 => EmbeddingPooling.Cls,
            3 => EmbeddingPooling.LastToken,
            _ => throw new InvalidDataException($"{path}: {key}: {type} is not a pooling Lathe computes (1 mean, 2 cls, 3 last; 4 is a reranker's head)."),
        };
    }

    static JsonDocument Parse(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})."); }
    }
}

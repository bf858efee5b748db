using Lathe.Models;

namespace Lathe.Formats;

/// <summary>Typed, range-checked reads of GGUF metadata shared by the architecture mappings; every failure is one line
/// naming the file and the key.</summary>
internal static class GgufMetadata
{
    public static bool HasTensor(GgufFile file, string name)
    {
        foreach (var t in file.Tensors) if (t.Name == name) return true;
        return false;
    }

    /// <summary>An integer metadata value of any GGUF integer type, range-checked to a positive int.</summary>
    public static int Int(GgufFile file, string key)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) throw new InvalidDataException($"{file.Path}: metadata '{key}' is missing.");
        long n = v switch
        {
            byte b => b, sbyte sb => sb, ushort us => us, short s => s, uint u => u, int i => i,
            ulong ul => ul > int.MaxValue ? -1 : (long)ul, long l => l,
            _ => throw new InvalidDataException($"{file.Path}: metadata '{key}' is a {v.GetType().Name}, not an integer."),
        };
        if (n <= 0 || n > int.MaxValue) throw new InvalidDataException($"{file.Path}: metadata '{key}' = {v} is out of range.");
        return (int)n;
    }

    /// <summary><see cref="Int"/> when the key is present, else <paramref name="fallback"/>.</summary>
    public static int Int(GgufFile file, string key, int fallback) => file.Metadata.ContainsKey(key) ? Int(file, key) : fallback;

    /// <summary>A positive finite float metadata value, or <paramref name="fallback"/> when absent.</summary>
    public static double Real(GgufFile file, string key, double fallback)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) return fallback;
        double d = v switch
        {
            float f => f, double x => x,
            _ => throw new InvalidDataException($"{file.Path}: metadata '{key}' is a {v.GetType().Name}, not a float."),
        };
        if (!(d > 0) || double.IsInfinity(d)) throw new InvalidDataException($"{file.Path}: metadata '{key}' = {d} must be positive.");
        return d;
    }

    /// <summary>A string metadata value, or null when absent.</summary>
    public static string? String(GgufFile file, string key)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) return null;
        return v as string ?? throw new InvalidDataException($"{file.Path}: metadata '{key}' is a {v.GetType().Name}, not a string.");
    }

    /// <summary>The vocabulary size: <c>ARCH.vocab_size</c>, else the tokenizer's token list, else token_embd's rows.</summary>
    public static int VocabSize(GgufFile file, string arch)
    {
        if (file.Metadata.ContainsKey(arch + ".vocab_size")) return Int(file, arch + ".vocab_size");
        if (file.Metadata.TryGetValue("tokenizer.ggml.tokens", out var tokens) && tokens is object[] list) return list.Length;
        if (HasTensor(file, "token_embd.weight")) return (int)file.Get("token_embd.weight").Dims[^1];
        throw new InvalidDataException($"{file.Path}: tensor 'token_embd.weight' is missing.");
    }

    /// <summary>attention.key_length / value_length: the head width when it is not embedding_length / head_count (pruned
    /// heads); null when absent or equal to that. Keys and values of different widths are not supported.</summary>
    public static int? HeadDim(GgufFile file, string arch, int embd, int heads)
    {
        string kKey = arch + ".attention.key_length", vKey = arch + ".attention.value_length";
        int? k = file.Metadata.ContainsKey(kKey) ? Int(file, kKey) : null, v = file.Metadata.ContainsKey(vKey) ? Int(file, vKey) : null;
        if (k is null && v is null) return null;
        if (k is null || v is null || k != v || k <= 0)
            throw new InvalidDataException($"{file.Path}: {kKey} {k?.ToString() ?? "missing"} and {vKey} {v?.ToString() ?? "missing"} must be equal and positive.");
        return heads > 0 && embd % heads == 0 && k == embd / heads ? null : k;
    }

    /// <summary><see cref="ModelConfig.Validate"/> with the file named in its one-line error.</summary>
    public static ModelConfig Validated(GgufFile file, ModelConfig config)
    {
        try { return config.Validate(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{file.Path}: {e.Message}"); }
    }
}

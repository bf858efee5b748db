using Lathe.Formats;

namespace Lathe.Compression;

/// <summary>One of llama.cpp's quantization presets (its <c>llama_ftype</c>): the name its quantize tool takes, the
/// <c>general.file_type</c> it writes (LLAMA_FTYPE_MOSTLY_*) and the base type of the 2-D weights, which
/// <see cref="QuantizationMix"/> raises for some tensors.</summary>
public sealed record QuantizationPreset(string Name, uint FileType, GgmlType BaseType)
{
    /// <summary>Whether the base type is a block quantization (llama.cpp's ggml_is_quantized): only then do the mix
    /// rules and the fallbacks apply; F32/F16/BF16 presets store every weight in their one type.</summary>
    public bool IsQuantized => BaseType is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16);
}

/// <summary>The presets Lathe writes, with llama.cpp's names and file_type numbers (include/llama.h).</summary>
public static class QuantizationPresets
{
    /// <summary>Every preset; q3_k, q4_k and q5_k are llama.cpp's aliases of the _m mixes (tools/quantize).</summary>
    public static readonly IReadOnlyList<QuantizationPreset> All =
    [
        new("f32", 0, GgmlType.F32), new("f16", 1, GgmlType.F16), new("q8_0", 7, GgmlType.Q8_0), new("q4_0", 2, GgmlType.Q4_0),
        new("bf16", 32, GgmlType.BF16),
        new("q2_k", 10, GgmlType.Q2_K),
        new("q3_k_s", 11, GgmlType.Q3_K), new("q3_k_m", 12, GgmlType.Q3_K), new("q3_k_l", 13, GgmlType.Q3_K),
        new("q4_k_s", 14, GgmlType.Q4_K), new("q4_k_m", 15, GgmlType.Q4_K),
        new("q5_k_s", 16, GgmlType.Q5_K), new("q5_k_m", 17, GgmlType.Q5_K),
        new("q6_k", 18, GgmlType.Q6_K),
    ];

    static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["q3_k"] = "q3_k_m", ["q4_k"] = "q4_k_m", ["q5_k"] = "q5_k_m",
    };

    /// <summary>The accepted names, for error messages and help.</summary>
    public static string Names => string.Join(", ", All.Select(p => p.Name).Concat(Aliases.Keys.Select(a => $"{a} (= {Aliases[a]})")));

    /// <summary>The preset named <paramref name="name"/> (case-insensitive), or an ArgumentException listing them.</summary>
    public static QuantizationPreset Parse(string name, string what = "--type")
    {
        string key = name.ToLowerInvariant();
        if (Aliases.TryGetValue(key, out var target)) key = target;
        return All.FirstOrDefault(p => p.Name == key)
            ?? throw new ArgumentException($"quantize: {what} '{name}' is not one of {Names}.");
    }
}

using Lathe.Models;

namespace Lathe.Formats;

/// <summary>The GGUF architectures Lathe reads, by their <c>general.architecture</c> name. A new architecture is one
/// <see cref="IGgufArchitecture"/> file and one line here.</summary>
internal static class GgufArchitectures
{
    static readonly IGgufArchitecture[] All =
    [
        new GgufLlama(),
        new GgufGpt2(),
        new GgufGemma(),
        new GgufGemma2(),
        new GgufQwen2(),
        new GgufPhi3(),
    ];

    /// <summary>The names, for error messages.</summary>
    public static string Names => string.Join(", ", All.Select(a => a.Name));

    /// <summary>The mapping of the file's <c>general.architecture</c>; an unknown one is refused by name.</summary>
    public static IGgufArchitecture Of(GgufFile file)
    {
        string arch = file.Metadata.TryGetValue("general.architecture", out var a) && a is string s ? s
            : throw new InvalidDataException($"{file.Path}: metadata 'general.architecture' is missing.");
        foreach (var candidate in All)
            if (candidate.Name == arch) return candidate;
        throw new InvalidDataException($"{file.Path}: general.architecture '{arch}' is not supported ({Names}).");
    }

    /// <summary>The architecture whose tensor plan fits a Lathe model: its model_type, except that a llama config with
    /// q/k/v biases is Qwen2's (unpermuted q/k rows, bias tensors).</summary>
    public static IGgufArchitecture Of(ModelConfig config) =>
        config.ModelType == "llama" && config.AttentionQkvBias ? OfModelType("qwen2") : OfModelType(config.ModelType);

    /// <summary>The architecture named <paramref name="modelType"/>.</summary>
    public static IGgufArchitecture OfModelType(string modelType)
    {
        foreach (var candidate in All)
            if (candidate.Name == modelType) return candidate;
        throw new ArgumentException($"GGUF: model_type '{modelType}' has no llama.cpp architecture here ({Names}).", nameof(modelType));
    }
}

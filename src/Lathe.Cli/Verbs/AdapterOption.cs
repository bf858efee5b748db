using System.CommandLine;
using Lathe.Inference;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>The --adapter option of the verbs that decode: a fine-tuned adapter attached to the loaded base.</summary>
internal static class AdapterOption
{
    public static Option<string?> Create() => new("--adapter")
    {
        Description = "A fine-tuned adapter for the base: PEFT folder (LoRA, prefix, prompt, bottleneck), a finetune run folder, or llama.cpp's LoRA .gguf.",
    };

    /// <summary>The adapter at <paramref name="path"/> attached to the loaded model, or null without one.</summary>
    public static ITuningMethod? Attach(LoadedModel loaded, string? path, string verb)
    {
        if (path is null) return null;
        var method = AdapterFiles.Attach(loaded.Model, path);
        Console.Error.WriteLine($"{verb}: adapter {method.Name} from {path}");
        return method;
    }
}

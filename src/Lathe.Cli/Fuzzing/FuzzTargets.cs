using Lathe.Cli.Fuzzing.Targets;

namespace Lathe.Cli.Fuzzing;

/// <summary>Every format `lathe bench fuzz --format` knows, in the order `--format all` runs them.</summary>
internal static class FuzzTargets
{
    public static readonly string[] Names =
        ["gguf", "safetensors", "tokenizer", "tiktoken", "config", "shards", "chat", "preferences", "mail", "peft", "task", "ntriples"];

    /// <summary>A fresh target for <paramref name="name"/> (seeds not yet made).</summary>
    public static FuzzTarget Create(string name) => name switch
    {
        "gguf" => new GgufTarget(),
        "safetensors" => CheckpointTarget.Safetensors(),
        "tokenizer" => new TokenizerTarget(),
        "tiktoken" => new TiktokenTarget(),
        "config" => CheckpointTarget.Config(),
        "shards" => new ShardsTarget(),
        "chat" => JsonlTarget.Chat(),
        "preferences" => JsonlTarget.Preferences(),
        "mail" => new MailTarget(),
        "peft" => new PeftTarget(),
        "task" => new TaskTarget(),
        "ntriples" => new NTriplesTarget(),
        _ => throw new UserInputException($"bench fuzz: --format '{name}' is not one of {string.Join(", ", Names)} or all"),
    };
}

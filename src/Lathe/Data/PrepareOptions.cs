namespace Lathe.Data;

/// <summary>Settings of the data stage (clean → dedup → shard).</summary>
public sealed record PrepareOptions
{
    /// <summary>Cleaning rules.</summary>
    public CleaningOptions Cleaning { get; init; } = CleaningOptions.Default;
    /// <summary>Drop exact duplicates (normalised-text hash).</summary>
    public bool ExactDedup { get; init; } = true;
    /// <summary>Drop near duplicates (MinHash/LSH).</summary>
    public bool NearDedup { get; init; } = true;
    /// <summary>Jaccard threshold for near duplicates.</summary>
    public double NearDuplicateThreshold { get; init; } = 0.8;
    /// <summary>MinHash signature length.</summary>
    public int NumHashes { get; init; } = 128;
    /// <summary>Words per shingle.</summary>
    public int ShingleWords { get; init; } = 5;
    /// <summary>Seed of the MinHash family and of the train/val split.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Fraction of documents held out for validation (chosen by document hash, not position).</summary>
    public double ValidationFraction { get; init; } = 0.05;
    /// <summary>Tokens per shard.</summary>
    public int TokensPerShard { get; init; } = 10_000_000;
    /// <summary>Worker threads for cleaning and tokenizing (results never depend on it).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Shard name prefix: `{Name}_train_000000.bin`.</summary>
    public string Name { get; init; } = "corpus";
    /// <summary>A tokenizer.json to copy byte for byte beside the shards; null writes the encoder itself (it must then
    /// be an <see cref="Lathe.Tokenizers.ITokenizer"/>, e.g. GPT-2's vocabulary) as tokenizer.json.</summary>
    public string? TokenizerFile { get; init; }
    /// <summary>What the tokenizer was loaded from, for the manifest ("gpt2", a path).</summary>
    public string TokenizerSource { get; init; } = "";
    /// <summary>The corpus as given, for the manifest.</summary>
    public string SourceName { get; init; } = "";
    /// <summary>Receives a one-line progress report now and then (the CLI prints it on stderr).</summary>
    public Action<string>? Progress { get; init; }
}

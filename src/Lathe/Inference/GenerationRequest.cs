namespace Lathe.Inference;

/// <summary>What a client asks the <see cref="InferenceEngine"/> for: a tokenized prompt continued by
/// <see cref="Choices"/> independent samples. Everything HTTP-shaped (messages, templates, tools) has been turned into
/// ids, options and processors by the caller; the engine only decodes.</summary>
public sealed record GenerationRequest
{
    /// <summary>The prompt's ids (chat template already applied, BOS included when the model wants it).</summary>
    public required int[] Prompt { get; init; }

    /// <summary>Most tokens to generate per choice. The engine clamps nothing silently: a prompt that leaves no room in
    /// the context, or a value above <see cref="EngineOptions.MaxOutputTokens"/>, is refused at submission.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>The sampler's settings. Choice i draws from seed <c>Sampling.Seed + i</c>, so the same request gives the
    /// same output whatever else the engine is running.</summary>
    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>How many continuations (OpenAI's <c>n</c>). They share the prompt's cached keys and values.</summary>
    public int Choices { get; init; } = 1;

    /// <summary>Strings that end a choice (not included in its text). OpenAI allows a client 4; the engine takes up to
    /// 16, so a caller can add the chat template's end-of-turn text beside them.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Extra ids that end a choice, beside the model's stop ids (end of turn of the chat template).</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];

    /// <summary>-1: no log-probabilities. 0: the chosen token's. k ≥ 1: also the k most likely tokens' (at most 20).
    /// Log-probabilities are those of the model's distribution (log-softmax of the raw logits), as OpenAI reports them.</summary>
    public int TopLogprobs { get; init; } = -1;

    /// <summary>Makes one logits processor per choice (a JSON-schema grammar, a tool-call constraint), or null.</summary>
    public Func<ILogitsProcessor>? Constraint { get; init; }

    /// <summary>The adapter to run with (a name given to the engine's <see cref="IAdapterSet"/>), or null for the base.</summary>
    public string? Adapter { get; init; }
}

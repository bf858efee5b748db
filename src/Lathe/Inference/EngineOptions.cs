namespace Lathe.Inference;

/// <summary>How an <see cref="InferenceEngine"/> shares one model among many requests.</summary>
public sealed record EngineOptions
{
    /// <summary>Most sequences (choices) decoding at once; more wait in the queue.</summary>
    public int Parallel { get; init; } = 16;

    /// <summary>Most requests waiting for a slot; one more is refused (<see cref="EngineBusyException"/>, HTTP 429).</summary>
    public int QueueCapacity { get; init; } = 256;

    /// <summary>Tokens one sequence may hold (prompt + output); 0 = the model's context (max_position_embeddings).</summary>
    public int ContextLength { get; init; }

    /// <summary>Most prompt tokens per request; 0 = the context.</summary>
    public int MaxPromptTokens { get; init; }

    /// <summary>Most tokens one choice may generate; 0 = the context.</summary>
    public int MaxOutputTokens { get; init; }

    /// <summary>Tokens the shared KV pool holds, all sequences together; 0 = <see cref="Parallel"/> × the context.
    /// Cached prefixes of finished requests live in what is left over and are evicted least-recently-used first.</summary>
    public int KvTokens { get; init; }

    /// <summary>Prompt tokens one step may process beside the decoding sequences (chunked prefill): a long prompt is
    /// split over steps so that the streams already running keep their pace.</summary>
    /// <remarks>A step also stays within <c>Ops.BatchInvariantRows</c> rows (decoding rows included) whenever it can, so a
    /// sequence's numbers never depend on what shares its step.</remarks>
    public int PrefillChunk { get; init; } = 128;

    /// <summary>Whether full blocks of finished prompts (and replies) are kept for reuse by later requests that start
    /// with the same tokens: a repeated system prompt or chat history is not recomputed.</summary>
    public bool PrefixCaching { get; init; } = true;

    /// <summary>Tokens a draft model proposes per step when the engine has one (speculative decoding).</summary>
    public int DraftTokens { get; init; } = 4;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (Parallel < 1) throw new ArgumentException($"parallel {Parallel} must be ≥ 1.");
        if (QueueCapacity < 0) throw new ArgumentException($"queue capacity {QueueCapacity} must be ≥ 0.");
        if (ContextLength < 0) throw new ArgumentException($"context length {ContextLength} must be ≥ 0.");
        if (MaxPromptTokens < 0) throw new ArgumentException($"max prompt tokens {MaxPromptTokens} must be ≥ 0.");
        if (MaxOutputTokens < 0) throw new ArgumentException($"max output tokens {MaxOutputTokens} must be ≥ 0.");
        if (KvTokens < 0) throw new ArgumentException($"kv tokens {KvTokens} must be ≥ 0.");
        if (PrefillChunk < 1) throw new ArgumentException($"prefill chunk {PrefillChunk} must be ≥ 1.");
        if (DraftTokens < 1 || DraftTokens > 16) throw new ArgumentException($"draft tokens {DraftTokens} must be in 1…16.");
    }
}

/// <summary>The engine's queue is full: try again later (HTTP 429).</summary>
public sealed class EngineBusyException(string message) : Exception(message);

/// <summary>A snapshot of what the engine is doing, for /metrics and /health.</summary>
public sealed record EngineStats
{
    public int Queued { get; init; }
    public int RunningSequences { get; init; }
    public int KvBlocks { get; init; }
    public int KvBlocksFree { get; init; }
    /// <summary>Blocks held only by the prefix cache (free to evict).</summary>
    public int KvBlocksCached { get; init; }
    public int KvBlockSize { get; init; }
    public long Requests { get; init; }
    public long PromptTokens { get; init; }
    /// <summary>Prompt tokens whose keys and values came from the prefix cache instead of being computed.</summary>
    public long CachedPromptTokens { get; init; }
    public long GeneratedTokens { get; init; }
    public long Steps { get; init; }
    /// <summary>Draft tokens proposed and accepted (speculative decoding), 0 without a draft.</summary>
    public long DraftProposed { get; init; }
    public long DraftAccepted { get; init; }
    /// <summary>The draft's KV pool (0 without a draft): every block is free again once no request runs.</summary>
    public int DraftKvBlocks { get; init; }
    public int DraftKvBlocksFree { get; init; }
}

/// <summary>One engine step, as the <see cref="InferenceEngine.StepCompleted"/> event reports it.</summary>
public readonly record struct StepInfo(int Sequences, int Rows, int PrefillRows, double Seconds);

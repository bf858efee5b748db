namespace Lathe.Server;

/// <summary>How <see cref="LatheServer"/> listens and what it lets in.</summary>
public sealed record ServerOptions
{
    /// <summary>The address to bind: 127.0.0.1 unless told otherwise (0.0.0.0 or :: opens it to the network).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The TCP port; 0 picks a free one (<see cref="LatheServer.Address"/> tells which).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every route but /health and the playground page (/) needs <c>Authorization: Bearer</c> this key.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Largest request body accepted; a larger one is answered 413.</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>The one browser origin allowed to call the API cross-origin, or null for none (no CORS headers).</summary>
    public string? CorsOrigin { get; init; }

    /// <summary>The base model's id in /v1/models and requests' <c>model</c>; null derives it from the model's path.</summary>
    public string? ModelName { get; init; }

    /// <summary>The chat template family (ChatTemplate.Names), or null to detect it from the model's Jinja template.</summary>
    public string? Template { get; init; }

    /// <summary>Ground chat completions in a knowledge graph (<c>serve --kg</c>), or null.</summary>
    public KnowledgeGroundingOptions? Knowledge { get; init; }

    /// <summary>How long a graceful stop waits for running requests before it cuts them off.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host)) throw new ArgumentException("host: must not be empty.");
        if (Port is < 0 or > 65535) throw new ArgumentException($"port {Port} must be in 0…65535.");
        if (ApiKey is { } key && (key.Length == 0 || key.Any(char.IsWhiteSpace))) throw new ArgumentException("api key: must be non-empty without spaces.");
        if (MaxBodyBytes < 1024) throw new ArgumentException($"max body {MaxBodyBytes} bytes must be at least 1024.");
        if (CorsOrigin is { } origin && !(Uri.TryCreate(origin, UriKind.Absolute, out var u) && u.Scheme is "http" or "https") && origin != "*")
            throw new ArgumentException($"cors origin '{origin}' must be an http(s) origin such as http://localhost:3000, or *.");
        if (ModelName is { } name && string.IsNullOrWhiteSpace(name)) throw new ArgumentException("model name: must not be empty.");
        if (Knowledge is { FactBudgetTokens: < 0 } k) throw new ArgumentException($"kg budget {k.FactBudgetTokens} tokens must be ≥ 0.");
        if (ShutdownTimeout < TimeSpan.Zero) throw new ArgumentException("shutdown timeout must be ≥ 0.");
    }
}

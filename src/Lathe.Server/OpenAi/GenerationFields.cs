using System.Globalization;
using Lathe.Inference;

namespace Lathe.Server.OpenAi;

/// <summary>The fields /v1/chat/completions and /v1/completions share: model, streaming, length, choices, stops and the
/// sampler. Defaults are OpenAI's (temperature 1, top_p 1, no penalties) and the extra samplers vLLM and llama.cpp
/// accept (top_k, min_p, repetition_penalty) are off unless given.</summary>
internal sealed record GenerationFields
{
    public string? Model { get; init; }
    public bool Stream { get; init; }
    /// <summary>stream_options.include_usage: a last chunk with empty choices carries the usage.</summary>
    public bool IncludeUsage { get; init; }
    /// <summary>The requested most tokens per choice, or null to let the context decide.</summary>
    public int? MaxTokens { get; init; }
    public int N { get; init; } = 1;
    public string[] Stop { get; init; } = [];
    public required SamplingOptions Sampling { get; init; }
    /// <summary>Whether the client gave a seed (the reply then repeats for the same request).</summary>
    public bool Seeded { get; init; }

    /// <summary>Most choices per request, as OpenAI allows.</summary>
    public const int MaxChoices = 128;
    /// <summary>Most stop strings, as OpenAI allows.</summary>
    public const int MaxStops = 4;

    /// <summary>Reads the shared fields. <paramref name="maxTokenFields"/> are the names of the length field, the first
    /// present wins (chat: max_completion_tokens, then max_tokens); <paramref name="minMaxTokens"/> is 0 where OpenAI
    /// allows a request that generates nothing (completions with echo).</summary>
    public static GenerationFields Parse(JsonFields f, int vocabSize, string[] maxTokenFields, int minMaxTokens = 1)
    {
        bool stream = f.Bool("stream") ?? false;
        bool includeUsage = false;
        if (f.Object("stream_options") is { } so)
        {
            if (!stream) throw ApiException.BadField("stream_options", "is only allowed when stream is true.");
            includeUsage = so.Bool("include_usage") ?? false;
        }
        int? maxTokens = null;
        foreach (string name in maxTokenFields)
            if (f.Int(name, minMaxTokens, int.MaxValue) is int m) { maxTokens = m; break; }

        long? seed = f.Integer("seed", long.MinValue, long.MaxValue);
        var sampling = new SamplingOptions
        {
            Temperature = (float)(f.Number("temperature", 0, 2) ?? 1),
            // top_p 0 keeps only the most likely token; the sampler's nucleus needs a positive mass to do that.
            TopP = Math.Max((float)(f.Number("top_p", 0, 1) ?? 1), 1e-9f),
            // vLLM writes "off" as -1, llama.cpp as 0.
            TopK = Math.Max(f.Int("top_k", -1, int.MaxValue) ?? 0, 0),
            MinP = (float)(f.Number("min_p", 0, 1) ?? 0),
            RepetitionPenalty = Positive(f, "repetition_penalty") ?? 1,
            FrequencyPenalty = (float)(f.Number("frequency_penalty", -2, 2) ?? 0),
            PresencePenalty = (float)(f.Number("presence_penalty", -2, 2) ?? 0),
            LogitBias = LogitBias(f, vocabSize),
            // Without a seed every request draws afresh, as OpenAI's do.
            Seed = seed is long s ? unchecked((ulong)s) : unchecked((ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue)),
        };
        if (sampling.MinP >= 1) throw ApiException.BadField("min_p", "must be below 1.");
        return new GenerationFields
        {
            Model = f.String("model"),
            Stream = stream,
            IncludeUsage = includeUsage,
            MaxTokens = maxTokens,
            N = f.Int("n", 1, MaxChoices) ?? 1,
            Stop = Stops(f),
            Sampling = sampling,
            Seeded = seed is not null,
        };
    }

    static float? Positive(JsonFields f, string name)
    {
        if (f.Number(name, 0, 1e6) is not double x) return null;
        if (x <= 0) throw ApiException.BadField(name, $"{x} must be greater than 0.");
        return (float)x;
    }

    // stop: one string or an array of up to four.
    static string[] Stops(JsonFields f)
    {
        if (!f.TryGet("stop", out var v)) return [];
        if (v.ValueKind == System.Text.Json.JsonValueKind.String) return NonEmpty([v.GetString()!], "stop");
        if (v.ValueKind != System.Text.Json.JsonValueKind.Array)
            throw ApiException.BadField("stop", $"expected a string or an array of strings, got {JsonFields.Describe(v)}.");
        int n = v.GetArrayLength();
        if (n > MaxStops) throw ApiException.BadField("stop", $"has {n} strings; at most {MaxStops} are allowed.");
        var stops = new string[n];
        int i = 0;
        foreach (var item in v.EnumerateArray()) { stops[i] = JsonFields.AsString(item, $"stop[{i}]"); i++; }
        return NonEmpty(stops, "stop");
    }

    static string[] NonEmpty(string[] stops, string path)
    {
        for (int i = 0; i < stops.Length; i++)
            if (stops[i].Length == 0) throw ApiException.BadField(stops.Length == 1 && path == "stop" ? path : $"{path}[{i}]", "must not be empty.");
        return stops;
    }

    // logit_bias: {"token id": bias in [-100, 100]}.
    static Dictionary<int, float>? LogitBias(JsonFields f, int vocabSize)
    {
        if (!f.TryGet("logit_bias", out var obj)) return null;
        if (obj.ValueKind != System.Text.Json.JsonValueKind.Object)
            throw ApiException.BadField("logit_bias", $"expected an object mapping token ids to biases, got {JsonFields.Describe(obj)}.");
        var result = new Dictionary<int, float>();
        foreach (var p in obj.EnumerateObject())
        {
            string path = $"logit_bias.{p.Name}";
            if (!int.TryParse(p.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id) || id >= vocabSize)
                throw ApiException.BadField(path, $"'{p.Name}' is not a token id (keys are ids 0…{vocabSize - 1} written as strings).");
            result[id] = (float)JsonFields.AsNumber(p.Value, path, -100, 100);
        }
        return result.Count > 0 ? result : null;
    }
}

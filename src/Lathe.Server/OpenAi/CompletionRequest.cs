using System.Text.Json;

namespace Lathe.Server.OpenAi;

/// <summary>One prompt of a completions request: text to tokenize, or token ids as given.</summary>
internal sealed record CompletionPrompt(string? Text, int[]? Ids);

/// <summary>A parsed POST /v1/completions body. Several prompts give <c>n</c> choices each, indexed prompt by prompt
/// (choice index = prompt × n + j), as OpenAI numbers them.</summary>
internal sealed record CompletionRequest
{
    public required GenerationFields Generation { get; init; }
    public required IReadOnlyList<CompletionPrompt> Prompts { get; init; }
    /// <summary>-1: none; k in 0…5: the chosen tokens' log-probabilities and the k most likely at each step.</summary>
    public int Logprobs { get; init; } = -1;
    public bool Echo { get; init; }

    /// <summary>Most top log-probabilities per token the legacy endpoint returns.</summary>
    public const int MaxLogprobs = 5;

    /// <summary>OpenAI's default length for this endpoint.</summary>
    public const int DefaultMaxTokens = 16;

    public static CompletionRequest Parse(JsonElement body, int vocabSize)
    {
        var f = JsonFields.Body(body);
        var generation = GenerationFields.Parse(f, vocabSize, ["max_tokens"], minMaxTokens: 0);
        if (f.String("suffix") is { Length: > 0 }) throw ApiException.BadField("suffix", "is not supported (insertion needs a fill-in-the-middle model).");
        if (f.Int("best_of", 1, GenerationFields.MaxChoices) is int bestOf && bestOf != generation.N)
            throw ApiException.BadField("best_of", $"{bestOf} is not supported; only best_of equal to n ({generation.N}) is.");
        int logprobs = f.Int("logprobs", 0, MaxLogprobs) ?? -1;
        bool echo = f.Bool("echo") ?? false;
        if (echo && logprobs >= 0) throw ApiException.BadField("echo", "with logprobs is not supported (the prompt's log-probabilities are not computed).");
        return new CompletionRequest
        {
            Generation = generation with { MaxTokens = generation.MaxTokens ?? DefaultMaxTokens },
            Prompts = ReadPrompts(f.Required("prompt"), vocabSize),
            Logprobs = logprobs,
            Echo = echo,
        };
    }

    // prompt: a string, an array of strings, an array of token ids, or an array of arrays of token ids.
    static List<CompletionPrompt> ReadPrompts(JsonElement p, int vocabSize)
    {
        const string Shape = "expected a string, an array of strings, an array of token ids or an array of arrays of token ids";
        if (p.ValueKind == JsonValueKind.String) return [new CompletionPrompt(p.GetString(), null)];
        if (p.ValueKind != JsonValueKind.Array) throw ApiException.BadField("prompt", $"{Shape}, got {JsonFields.Describe(p)}.");
        if (p.GetArrayLength() == 0) throw ApiException.BadField("prompt", "must not be an empty array.");
        var first = p[0].ValueKind;
        if (first == JsonValueKind.Number) return [new CompletionPrompt(null, Ids(p, "prompt", vocabSize))];
        var prompts = new List<CompletionPrompt>();
        int i = 0;
        foreach (var item in p.EnumerateArray())
        {
            string path = $"prompt[{i++}]";
            if (item.ValueKind != first) throw ApiException.BadField(path, $"{Shape}; the items mix {JsonFields.Describe(p[0])} and {JsonFields.Describe(item)}.");
            prompts.Add(first switch
            {
                JsonValueKind.String => new CompletionPrompt(item.GetString(), null),
                JsonValueKind.Array => new CompletionPrompt(null, Ids(item, path, vocabSize)),
                _ => throw ApiException.BadField(path, $"{Shape}, got {JsonFields.Describe(item)}."),
            });
        }
        return prompts;
    }

    /// <summary>Token ids below <paramref name="vocabSize"/> (an empty array is refused).</summary>
    public static int[] Ids(JsonElement array, string path, int vocabSize)
    {
        if (array.GetArrayLength() == 0) throw ApiException.BadField(path, "must not be empty.");
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            ids[i] = (int)JsonFields.AsInteger(item, $"{path}[{i}]", 0, vocabSize - 1);
            i++;
        }
        return ids;
    }
}

using System.Text.Json;

namespace Lathe.Server.OpenAi;

/// <summary>A parsed POST /v1/embeddings body: inputs as text or token ids, the output encoding and an optional
/// shortened dimension.</summary>
internal sealed record EmbeddingRequest
{
    public string? Model { get; init; }
    /// <summary>Each input: text to tokenize, or token ids as given.</summary>
    public required IReadOnlyList<CompletionPrompt> Inputs { get; init; }
    /// <summary>"float" or "base64" (little-endian float32 values, as OpenAI encodes them).</summary>
    public string EncodingFormat { get; init; } = "float";
    /// <summary>Keep the first this many dimensions and normalise again (OpenAI's <c>dimensions</c>), or null for all.</summary>
    public int? Dimensions { get; init; }

    /// <summary>Most inputs per request, as OpenAI allows.</summary>
    public const int MaxInputs = 2048;

    public static EmbeddingRequest Parse(JsonElement body, int vocabSize)
    {
        var f = JsonFields.Body(body);
        string format = f.String("encoding_format") ?? "float";
        if (format is not ("float" or "base64"))
            throw ApiException.BadField("encoding_format", $"'{format}' is not an encoding; expected float or base64.");
        return new EmbeddingRequest
        {
            Model = f.String("model"),
            Inputs = ReadInputs(f.Required("input"), vocabSize),
            EncodingFormat = format,
            Dimensions = f.Int("dimensions", 1, int.MaxValue),
        };
    }

    static List<CompletionPrompt> ReadInputs(JsonElement input, int vocabSize)
    {
        const string Shape = "expected a string, an array of strings, an array of token ids or an array of arrays of token ids";
        if (input.ValueKind == JsonValueKind.String) return [Text(input.GetString()!, "input")];
        if (input.ValueKind != JsonValueKind.Array) throw ApiException.BadField("input", $"{Shape}, got {JsonFields.Describe(input)}.");
        int n = input.GetArrayLength();
        if (n == 0) throw ApiException.BadField("input", "must not be an empty array.");
        if (n > MaxInputs) throw ApiException.BadField("input", $"has {n} items; at most {MaxInputs} are allowed.");
        var first = input[0].ValueKind;
        if (first == JsonValueKind.Number) return [new CompletionPrompt(null, CompletionRequest.Ids(input, "input", vocabSize))];
        var inputs = new List<CompletionPrompt>(n);
        int i = 0;
        foreach (var item in input.EnumerateArray())
        {
            string path = $"input[{i++}]";
            if (item.ValueKind != first) throw ApiException.BadField(path, $"{Shape}; the items mix {JsonFields.Describe(input[0])} and {JsonFields.Describe(item)}.");
            inputs.Add(first switch
            {
                JsonValueKind.String => Text(item.GetString()!, path),
                JsonValueKind.Array => new CompletionPrompt(null, CompletionRequest.Ids(item, path, vocabSize)),
                _ => throw ApiException.BadField(path, $"{Shape}, got {JsonFields.Describe(item)}."),
            });
        }
        return inputs;
    }

    static CompletionPrompt Text(string text, string path) =>
        text.Length > 0 ? new CompletionPrompt(text, null) : throw ApiException.BadField(path, "must not be an empty string.");
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;
using Microsoft.Extensions.AI;
using LatheMessage = Lathe.Formats.ChatMessage;

namespace Lathe.Extensions.AI;

/// <summary>Turns Microsoft.Extensions.AI messages and <see cref="ChatOptions"/> into the engine's
/// <see cref="GenerationRequest"/>: the conversation rendered with the model's <see cref="ChatTemplate"/> and tokenized,
/// the options mapped to the sampler and limits as OpenAI's API defines them (temperature 1, top-p 1, no top-k or
/// min-p unless given).</summary>
internal sealed class ChatRequestMapper(InferenceEngine engine, ChatTemplate template, string modelId)
{
    // The template's end of turn: a token id where the tokenizer has it as one special token, else text to stop on.
    readonly int? _endOfTurnId = template.EndOfTurn.Count == 1 ? engine.Model.SpecialId(template.EndOfTurn[0]) : null;

    /// <summary>The request for <paramref name="messages"/> under <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">A message or option is out of range (one line naming it).</exception>
    /// <exception cref="NotSupportedException">Tools, a JSON response format, or non-text content.</exception>
    public GenerationRequest Map(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        options ??= new ChatOptions();
        if (options.Tools is { Count: > 0 })
            throw new NotSupportedException("ChatOptions.Tools: tool calls are not supported by the Lathe chat client yet.");
        if (options.ResponseFormat is ChatResponseFormatJson)
            throw new NotSupportedException("ChatOptions.ResponseFormat: JSON output (json_object / json_schema) is not supported by the Lathe chat client yet.");
        string? adapter = ModelNames.Adapter(engine, modelId, options.ModelId, "ChatOptions.ModelId");

        int[] prompt = engine.Model.Encode(template.Render(Conversation(messages, options.Instructions)));
        int context = engine.ContextLength;
        if (prompt.Length >= context)
            throw new ArgumentException($"messages: the prompt takes {prompt.Length} tokens, leaving no room in the context of {context}.");
        if (options.MaxOutputTokens is int max && (max < 1 || prompt.Length + max > context))
            throw new ArgumentException(max < 1 ? $"ChatOptions.MaxOutputTokens: {max} must be ≥ 1."
                : $"ChatOptions.MaxOutputTokens: the prompt's {prompt.Length} tokens + {max} exceed the context of {context}.");
        int room = context - prompt.Length;
        if (engine.Options.MaxOutputTokens > 0) room = Math.Min(room, engine.Options.MaxOutputTokens);
        int maxTokens = options.MaxOutputTokens ?? room;   // OpenAI's default: what the context leaves

        var stops = new List<string>(options.StopSequences ?? []);
        if (stops.Count > 4) throw new ArgumentException($"ChatOptions.StopSequences: at most 4, got {stops.Count}.");
        if (stops.Exists(string.IsNullOrEmpty)) throw new ArgumentException("ChatOptions.StopSequences: a stop sequence is empty.");
        // The reply ends at the template's end of turn: as a token when the tokenizer has one, else as text.
        if (_endOfTurnId is null) stops.AddRange(template.EndOfTurn);

        return new GenerationRequest
        {
            Prompt = prompt,
            MaxTokens = maxTokens,
            Sampling = Sampling(options),
            StopStrings = stops,
            StopTokens = _endOfTurnId is int id ? [id] : [],
            Adapter = adapter,
        };
    }

    // ChatOptions → the sampler, with OpenAI's defaults for what is not given. No seed: a fresh one, so that calls
    // differ as they do with OpenAI; the same seed gives the same reply.
    static SamplingOptions Sampling(ChatOptions o) => new()
    {
        Temperature = o.Temperature ?? 1f,
        // As the server reads top_p and top_k: 0 keeps only the most likely token (the nucleus needs a positive mass);
        // a negative top-k is off, as vLLM writes it.
        TopP = o.TopP is float p ? (p == 0 ? 1e-9f : p) : 1f,
        TopK = Math.Max(o.TopK ?? 0, 0),
        MinP = Extra(o, "min_p") ?? 0f,
        RepetitionPenalty = Extra(o, "repetition_penalty") ?? 1f,
        FrequencyPenalty = o.FrequencyPenalty ?? 0f,
        PresencePenalty = o.PresencePenalty ?? 0f,
        Seed = o.Seed is long seed ? unchecked((ulong)seed) : (ulong)Random.Shared.NextInt64(),
    };

    // Samplers OpenAI lacks, accepted as vLLM and llama.cpp accept them: AdditionalProperties["min_p"] etc.
    static float? Extra(ChatOptions o, string key)
    {
        if (o.AdditionalProperties is null || !o.AdditionalProperties.TryGetValue(key, out object? value) || value is null) return null;
        return value switch
        {
            float f => f,
            double d => (float)d,
            int i => i,
            long l => l,
            decimal m => (float)m,
            string s when float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float f) => f,
            JsonElement { ValueKind: JsonValueKind.Number } e => e.GetSingle(),
            _ => throw new ArgumentException($"ChatOptions.AdditionalProperties[\"{key}\"]: expected a number."),
        };
    }

    // The messages as the template renders them. Instructions join the system message (a first one of their own when
    // the conversation has none).
    static List<LatheMessage> Conversation(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, string? instructions)
    {
        var result = new List<LatheMessage>();
        int index = 0;
        foreach (var m in messages)
        {
            ArgumentNullException.ThrowIfNull(m, $"messages[{index}]");
            string role = m.Role.Value;
            if (role == ChatRole.Tool.Value) throw new NotSupportedException($"messages[{index}]: tool messages are not supported by the Lathe chat client yet.");
            if (role != ChatRole.System.Value && role != ChatRole.User.Value && role != ChatRole.Assistant.Value)
                throw new ArgumentException($"messages[{index}].Role: '{role}' is not one of system, user, assistant.");
            result.Add(new LatheMessage(role, Text(m, index)));
            index++;
        }
        if (!string.IsNullOrEmpty(instructions))
        {
            if (result.Count > 0 && result[0].Role == "system") result[0] = result[0] with { Content = instructions + "\n\n" + result[0].Content };
            else result.Insert(0, new LatheMessage("system", instructions));
        }
        if (result.Count == 0) throw new ArgumentException("messages: the conversation is empty.");
        return result;
    }

    // A message's text: its text parts in order. Usage and reasoning notes are not part of what was said; anything
    // else (images, audio, function calls) is refused rather than silently dropped.
    static string Text(Microsoft.Extensions.AI.ChatMessage m, int index)
    {
        var text = new StringBuilder();
        foreach (var content in m.Contents)
            switch (content)
            {
                case TextContent t: text.Append(t.Text); break;
                case UsageContent or TextReasoningContent: break;
                case FunctionCallContent or FunctionResultContent:
                    throw new NotSupportedException($"messages[{index}]: function calls and results are not supported by the Lathe chat client yet.");
                default:
                    throw new NotSupportedException($"messages[{index}]: {content.GetType().Name} is not supported (Lathe models read text).");
            }
        return text.ToString();
    }
}

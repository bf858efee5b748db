using Lathe.Formats;
using Lathe.Inference;
using Lathe.Inference.Constraints;
using Lathe.Inference.ToolCalls;

namespace Lathe.Server.OpenAi;

/// <summary>A function call in a reply, as OpenAI returns it (arguments are JSON text).</summary>
internal sealed record ToolCallOutput(string Id, string Name, string Arguments);

/// <summary>A finished reply split into what the client sees: text content and tool calls.</summary>
internal sealed record ChatReply(string? Content, IReadOnlyList<ToolCallOutput> ToolCalls);

/// <summary>The one place where a chat request's <c>response_format</c> and <c>tools</c> meet the engine: how the
/// conversation (tool calls and results included) reaches the chat template, which logits constraint the reply decodes
/// under (Lathe.Inference.Constraints: a JSON-schema grammar, any JSON object, or the tool-call grammar), and how the
/// reply's text becomes content and tool calls (Hermes-style <c>&lt;tool_call&gt;</c> blocks, docs/CONSTRAINED_DECODING.md).</summary>
internal static class ConstraintBinding
{
    /// <summary>The conversation as the chat template renders it: an assistant's earlier calls and the tool results
    /// that answer them included.</summary>
    public static List<ChatMessage> TemplateMessages(IReadOnlyList<ChatInputMessage> messages)
    {
        var result = new List<ChatMessage>(messages.Count);
        foreach (var m in messages)
            result.Add(new ChatMessage(m.Role, m.Content ?? "")
            {
                ToolCalls = m.ToolCalls?.Select(c => new ChatToolCall(c.Name, c.Arguments, c.Id)).ToList(),
                ToolCallId = m.ToolCallId,
            });
        return result;
    }

    /// <summary>The tools the template describes to the model, or null when the reply cannot call any.</summary>
    public static IReadOnlyList<ChatTool>? Tools(ChatConstraints c) =>
        c.UsesTools ? c.Tools.Select(t => new ChatTool(t.Name, t.Description, t.Parameters?.GetRawText())).ToList() : null;

    /// <summary>The logits constraint the reply decodes under (one processor per choice), or null for free text. A schema
    /// the compiler does not support is a 400 naming its path.</summary>
    public static Func<ILogitsProcessor>? Constraint(ChatConstraints c, LoadedModel model, IReadOnlyCollection<int> stopTokens)
    {
        if (c.UsesTools)
        {
            if (c.ResponseFormat != "text")
                throw ApiException.BadField("response_format", $"'{c.ResponseFormat}' cannot be combined with tools here; send tool_choice \"none\" or drop the tools.");
            var choice = c.ToolChoice switch
            {
                "required" => ToolChoice.Required,
                "function" => new ToolChoice(ToolChoiceMode.Function, c.ToolChoiceName),
                _ => ToolChoice.Auto,
            };
            return Bad(() => ToolCallConstraint.Create(model.Tokenizer, Tools(c)!, choice, c.ParallelToolCalls, stopTokens));
        }
        return c.ResponseFormat switch
        {
            "json_object" => JsonSchemaConstraint.JsonObject(model.Tokenizer, stopTokens),
            "json_schema" when c.Schema is { } schema =>
                Bad(() => JsonSchemaConstraint.Create(model.Tokenizer, schema, stopTokens, "response_format.json_schema.schema")),
            "json_schema" => JsonSchemaConstraint.JsonObject(model.Tokenizer, stopTokens),
            _ => null,
        };
    }

    // The compilers' one-line ArgumentExceptions name the field: they become 400s with that field as param.
    static Func<ILogitsProcessor>? Bad(Func<Func<ILogitsProcessor>?> compile)
    {
        try { return compile(); }
        catch (ArgumentException e)
        {
            int colon = e.Message.IndexOf(": ", StringComparison.Ordinal);
            throw colon > 0 ? ApiException.BadField(e.Message[..colon], e.Message[(colon + 2)..]) : ApiException.BadField("response_format", e.Message);
        }
    }

    /// <summary>Whether a streamed reply's text must be held until the choice ends (its tool calls are parsed from the
    /// whole text) instead of being sent as it comes.</summary>
    public static bool HoldsText(ChatConstraints c) => c.UsesTools;

    /// <summary>The finished text of choice <paramref name="choice"/> as content and tool calls; tool call ids derive
    /// from <paramref name="seed"/> so the same request gives the same ids.</summary>
    public static ChatReply Reply(string text, ChatConstraints c, ulong seed, int choice)
    {
        if (!c.UsesTools) return new ChatReply(text, []);
        var parsed = ToolCallParser.Parse(text, seed, choice);
        return new ChatReply(parsed.Content, parsed.ToolCalls.Select(t => new ToolCallOutput(t.Id, t.Name, t.ArgumentsJson)).ToList());
    }
}

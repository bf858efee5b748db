using Lathe.Formats;
using Lathe.Inference;

namespace Lathe.Server.OpenAi;

/// <summary>A function call in a reply, as OpenAI returns it (arguments are JSON text).</summary>
internal sealed record ToolCallOutput(string Id, string Name, string Arguments);

/// <summary>A finished reply split into what the client sees: text content and tool calls.</summary>
internal sealed record ChatReply(string? Content, IReadOnlyList<ToolCallOutput> ToolCalls);

/// <summary>The one place where a chat request's <c>response_format</c> and <c>tools</c> meet the engine: how the
/// conversation (tool calls and results included) reaches the chat template, which logits constraint the reply decodes
/// under, and how the reply's text becomes content and tool calls. Everything else in the server is independent of
/// constrained decoding, so wiring Lathe.Inference.Constraints in is a change to this file only.</summary>
/// <remarks>Until that wiring lands the structured formats and tool calls are refused with a 400 naming the field;
/// their request shapes are already checked by <see cref="ChatConstraints"/>.</remarks>
internal static class ConstraintBinding
{
    /// <summary>The conversation as the chat template renders it.</summary>
    public static List<ChatMessage> TemplateMessages(IReadOnlyList<ChatInputMessage> messages)
    {
        var result = new List<ChatMessage>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.ToolCalls is not null)
                throw ApiException.BadField($"messages[{i}].tool_calls", "tool calls are not supported yet.");
            result.Add(new ChatMessage(m.Role, m.Content ?? ""));
        }
        return result;
    }

    /// <summary>The logits constraint the reply decodes under (one processor per choice), or null for free text.</summary>
    public static Func<ILogitsProcessor>? Constraint(ChatConstraints c, LoadedModel model, IReadOnlyCollection<int> stopTokens)
    {
        if (c.ResponseFormat != "text")
            throw ApiException.BadField("response_format", $"type '{c.ResponseFormat}' is not supported yet.");
        if (c.UsesTools)
            throw ApiException.BadField("tools", "tool calls are not supported yet.");
        _ = model;
        _ = stopTokens;
        return null;
    }

    /// <summary>Whether a streamed reply's text must be held until the choice ends (its tool calls are parsed from the
    /// whole text) instead of being sent as it comes.</summary>
    public static bool HoldsText(ChatConstraints c) => c.UsesTools;

    /// <summary>The finished text of choice <paramref name="choice"/> as content and tool calls; tool call ids derive
    /// from <paramref name="seed"/> so the same request gives the same ids.</summary>
    public static ChatReply Reply(string text, ChatConstraints c, ulong seed, int choice)
    {
        _ = c;
        _ = seed;
        _ = choice;
        return new ChatReply(text, []);
    }
}

using System.Text.Json;
using Lathe.Inference;

namespace Lathe.Server.OpenAi;

/// <summary>The chat endpoint's objects: <c>chat.completion</c> (a whole reply) and <c>chat.completion.chunk</c> (one
/// streamed piece of one choice, or the final usage chunk).</summary>
internal static class ChatJson
{
    /// <summary>Starts a chunk up to its choices array (the caller writes the choices, then <see cref="EndChunk"/>).</summary>
    public static void BeginChunk(Utf8JsonWriter w, string id, long created, string model)
    {
        OpenAiJson.WriteHead(w, id, "chat.completion.chunk", created, model);
        w.WriteStartArray("choices");
    }

    /// <summary>Closes a chunk; with include_usage every chunk but the last has <c>"usage": null</c>.</summary>
    public static void EndChunk(Utf8JsonWriter w, bool includeUsage, Usage? usage = null)
    {
        w.WriteEndArray();
        if (usage is { } u) OpenAiJson.WriteUsage(w, u);
        else if (includeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    }

    /// <summary>One choice of a chunk. <paramref name="role"/> opens the choice; <paramref name="content"/> is its new
    /// text (null: none); <paramref name="logprob"/> the token's log-probabilities; <paramref name="toolCalls"/> the
    /// calls the reply made; <paramref name="finish"/> ends it ("tool_calls" when <paramref name="calledTools"/>).</summary>
    public static void WriteChunkChoice(Utf8JsonWriter w, int index, bool role, string? content, GenerationEvent? logprob,
        TokenText tokens, FinishReason? finish = null, IReadOnlyList<ToolCallOutput>? toolCalls = null, bool calledTools = false)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("delta");
        if (role) w.WriteString("role", "assistant");
        if (content is not null) w.WriteString("content", content);
        if (toolCalls is { Count: > 0 })
        {
            w.WriteStartArray("tool_calls");
            for (int i = 0; i < toolCalls.Count; i++) WriteToolCall(w, toolCalls[i], i);
            w.WriteEndArray();
        }
        w.WriteEndObject();
        if (logprob is { } e)
        {
            w.WriteStartObject("logprobs");
            w.WriteStartArray("content");
            OpenAiJson.WriteChatLogprob(w, e, tokens);
            w.WriteEndArray();
            w.WriteNull("refusal");
            w.WriteEndObject();
        }
        else w.WriteNull("logprobs");
        OpenAiJson.WriteFinish(w, finish, calledTools);
        w.WriteEndObject();
    }

    /// <summary>One choice of a whole reply: message, logprobs and finish_reason.</summary>
    public static void WriteChoice(Utf8JsonWriter w, int index, ChatReply reply, IReadOnlyList<GenerationEvent>? logprobs,
        TokenText tokens, FinishReason finish)
    {
        w.WriteStartObject();
        w.WriteNumber("index", index);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        if (reply.Content is null) w.WriteNull("content"); else w.WriteString("content", reply.Content);
        w.WriteNull("refusal");
        if (reply.ToolCalls.Count > 0)
        {
            w.WriteStartArray("tool_calls");
            foreach (var call in reply.ToolCalls) WriteToolCall(w, call, null);
            w.WriteEndArray();
        }
        w.WriteEndObject();
        if (logprobs is not null)
        {
            w.WriteStartObject("logprobs");
            w.WriteStartArray("content");
            foreach (var e in logprobs) OpenAiJson.WriteChatLogprob(w, e, tokens);
            w.WriteEndArray();
            w.WriteNull("refusal");
            w.WriteEndObject();
        }
        else w.WriteNull("logprobs");
        OpenAiJson.WriteFinish(w, finish, reply.ToolCalls.Count > 0);
        w.WriteEndObject();
    }

    // {"index"?, "id", "type":"function", "function":{"name","arguments"}}; streamed calls carry their index.
    static void WriteToolCall(Utf8JsonWriter w, ToolCallOutput call, int? index)
    {
        w.WriteStartObject();
        if (index is int i) w.WriteNumber("index", i);
        w.WriteString("id", call.Id);
        w.WriteString("type", "function");
        w.WriteStartObject("function");
        w.WriteString("name", call.Name);
        w.WriteString("arguments", call.Arguments);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}

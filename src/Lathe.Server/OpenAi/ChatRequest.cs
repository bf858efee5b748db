using System.Text;
using System.Text.Json;

namespace Lathe.Server.OpenAi;

/// <summary>A message as the client sent it. <see cref="Content"/> is the text (parts joined); an assistant message
/// may carry <see cref="ToolCalls"/> instead, a tool message answers <see cref="ToolCallId"/>.</summary>
internal sealed record ChatInputMessage(string Role, string? Content, string? Name = null, string? ToolCallId = null,
    IReadOnlyList<ToolCallInput>? ToolCalls = null);

/// <summary>A function call an assistant made earlier in the conversation.</summary>
internal sealed record ToolCallInput(string Id, string Name, string Arguments);

/// <summary>A parsed POST /v1/chat/completions body.</summary>
internal sealed record ChatRequest
{
    public required GenerationFields Generation { get; init; }
    public required IReadOnlyList<ChatInputMessage> Messages { get; init; }
    /// <summary>-1: no log-probabilities; 0: the chosen tokens'; k: also the k most likely (logprobs + top_logprobs).</summary>
    public int TopLogprobs { get; init; } = -1;
    public required ChatConstraints Constraints { get; init; }

    /// <summary>The roles a message may have ("developer" is OpenAI's newer name for system).</summary>
    public static readonly string[] Roles = ["system", "developer", "user", "assistant", "tool"];

    /// <summary>Most top log-probabilities per token, as OpenAI allows.</summary>
    public const int MaxTopLogprobs = 20;

    public static ChatRequest Parse(JsonElement body, int vocabSize)
    {
        var f = JsonFields.Body(body);
        var generation = GenerationFields.Parse(f, vocabSize, ["max_completion_tokens", "max_tokens"]);
        bool logprobs = f.Bool("logprobs") ?? false;
        int? top = f.Int("top_logprobs", 0, MaxTopLogprobs);
        if (top is not null && !logprobs) throw ApiException.BadField("top_logprobs", "needs logprobs set to true.");
        return new ChatRequest
        {
            Generation = generation,
            Messages = ReadMessages(f),
            TopLogprobs = logprobs ? top ?? 0 : -1,
            Constraints = ChatConstraints.Parse(f),
        };
    }

    static List<ChatInputMessage> ReadMessages(JsonFields f)
    {
        var array = f.Array("messages") ?? throw ApiException.BadField("messages", "is required.");
        if (array.GetArrayLength() == 0) throw ApiException.BadField("messages", "must hold at least one message.");
        var messages = new List<ChatInputMessage>();
        int i = 0;
        foreach (var item in array.EnumerateArray()) messages.Add(Message(JsonFields.Of(item, $"messages[{i++}]")));
        return messages;
    }

    static ChatInputMessage Message(JsonFields m)
    {
        string role = m.RequiredString("role");
        if (Array.IndexOf(Roles, role) < 0)
            throw ApiException.BadField(m.PathOf("role"), $"'{role}' is not a role; expected one of {string.Join(", ", Roles)}.");
        string? content = m.TryGet("content", out var c) ? Content(c, m.PathOf("content")) : null;
        string? name = m.String("name");
        if (role == "assistant")
        {
            var calls = ToolCalls(m);
            if (content is null && calls is null) throw ApiException.BadField(m.PathOf("content"), "is required (an assistant message holds content or tool_calls).");
            return new ChatInputMessage(role, content, name, ToolCalls: calls);
        }
        if (content is null) throw ApiException.BadField(m.PathOf("content"), "is required.");
        if (role == "tool") return new ChatInputMessage(role, content, name, ToolCallId: m.RequiredString("tool_call_id"));
        return new ChatInputMessage(role == "developer" ? "system" : role, content, name);
    }

    // A string, or an array of {"type":"text","text":…} parts (joined by newlines, as vLLM joins them).
    static string Content(JsonElement c, string path)
    {
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind != JsonValueKind.Array) throw ApiException.BadField(path, $"expected a string or an array of text parts, got {JsonFields.Describe(c)}.");
        var text = new StringBuilder();
        int i = 0;
        foreach (var item in c.EnumerateArray())
        {
            var part = JsonFields.Of(item, $"{path}[{i}]");
            string type = part.RequiredString("type");
            if (type != "text") throw ApiException.BadField(part.PathOf("type"), $"'{type}' parts are not supported; this server reads text parts only.");
            if (i > 0) text.Append('\n');
            text.Append(part.RequiredString("text"));
            i++;
        }
        return text.ToString();
    }

    // tool_calls: [{"id", "type":"function", "function":{"name","arguments"}}].
    static List<ToolCallInput>? ToolCalls(JsonFields m)
    {
        if (m.Array("tool_calls") is not { } array) return null;
        var calls = new List<ToolCallInput>();
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var call = JsonFields.Of(item, $"{m.PathOf("tool_calls")}[{i++}]");
            string type = call.String("type") ?? "function";
            if (type != "function") throw ApiException.BadField(call.PathOf("type"), $"'{type}' is not a tool call type; expected function.");
            var function = call.Object("function") ?? throw ApiException.BadField(call.PathOf("function"), "is required.");
            calls.Add(new ToolCallInput(call.RequiredString("id"), function.RequiredString("name"), function.RequiredString("arguments")));
        }
        return calls.Count > 0 ? calls : null;
    }
}

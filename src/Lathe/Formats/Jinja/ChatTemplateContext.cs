using System.Text.Json;

namespace Lathe.Formats.Jinja;

/// <summary>The variables a chat template is rendered with, as Hugging Face's apply_chat_template passes them:
/// <c>messages</c> (role, content; an assistant's <c>tool_calls</c> as OpenAI writes them with the arguments as a JSON
/// object, a tool message's <c>tool_call_id</c>), <c>tools</c> (OpenAI function schemas, None when there are none),
/// <c>documents</c> (None), <c>add_generation_prompt</c>, <c>bos_token</c>, <c>eos_token</c>.</summary>
internal static class ChatTemplateContext
{
    public static Dictionary<string, object?> Build(IReadOnlyList<ChatMessage> messages, IReadOnlyList<ChatTool>? tools,
        bool addGenerationPrompt, string? bosToken, string? eosToken)
    {
        var list = new List<object?>(messages.Count);
        foreach (var m in messages) list.Add(Message(m));
        return new()
        {
            ["messages"] = list,
            ["tools"] = tools is { Count: > 0 } ? tools.Select(Tool).ToList<object?>() : null,
            ["documents"] = null,
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = bosToken ?? "",
            ["eos_token"] = eosToken ?? "",
        };
    }

    static PyDict Message(ChatMessage m)
    {
        var d = new PyDict();
        d.Set("role", m.Role);
        d.Set("content", m.Content);
        if (m.ToolCalls is { Count: > 0 } calls)
        {
            var list = new List<object?>(calls.Count);
            foreach (var call in calls)
            {
                var c = new PyDict();
                if (call.Id is not null) c.Set("id", call.Id);
                c.Set("type", "function");
                var f = new PyDict();
                f.Set("name", call.Name);
                f.Set("arguments", Json(call.ArgumentsJson, fallbackToText: true));
                c.Set("function", f);
                list.Add(c);
            }
            d.Set("tool_calls", list);
        }
        if (m.ToolCallId is not null) d.Set("tool_call_id", m.ToolCallId);
        return d;
    }

    static object? Tool(ChatTool t)
    {
        var f = new PyDict();
        f.Set("name", t.Name);
        if (t.Description is not null) f.Set("description", t.Description);
        f.Set("parameters", t.ParametersJson is null ? new PyDict() : Json(t.ParametersJson, fallbackToText: false));
        var d = new PyDict();
        d.Set("type", "function");
        d.Set("function", f);
        return d;
    }

    // Templates read tool-call arguments as an object (Hugging Face's convention); text that is not JSON stays text.
    static object? Json(string text, bool fallbackToText)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return PyJsonValues.FromJson(doc.RootElement);
        }
        catch (JsonException) when (fallbackToText) { return text; }
        catch (JsonException e) { throw new ArgumentException($"tool parameters are not JSON: {e.Message}"); }
    }
}

using System.Text;
using System.Text.Json;

namespace Lathe.Formats;

/// <summary>A function the model may call (OpenAI's <c>tools[i].function</c>): its name, what it does, and the JSON
/// Schema of its arguments as JSON text (null: it takes none).</summary>
public sealed record ChatTool(string Name, string? Description = null, string? ParametersJson = null);

/// <summary>A call an assistant message made: the function's name, its arguments as JSON text, and the call's id.</summary>
public sealed record ChatToolCall(string Name, string ArgumentsJson, string? Id = null);

/// <summary>How tools, tool calls and tool results are written into a conversation, the same for every template
/// family: the Hermes format that Qwen 2.5 and Hermes 2 Pro models are trained on. The tools' signatures go in a
/// <c>&lt;tools&gt;</c> block at the end of the system message (one is added when there is none), each assistant call is
/// <c>&lt;tool_call&gt;{"name": …, "arguments": {…}}&lt;/tool_call&gt;</c> after the message's text, and the results
/// of a run of tool messages become one user turn of <c>&lt;tool_response&gt;…&lt;/tool_response&gt;</c> blocks.</summary>
/// <remarks>The family's writer then lays the plain messages out as usual, so a family needs no tool code of its own.
/// JSON is written as Python's <c>json.dumps</c> writes it (", " and ": " separators, non-ASCII kept), which is what
/// the Jinja templates of those models produce with <c>tojson</c>.</remarks>
public static class HermesTools
{
    /// <summary>The opening and closing tags of a call in the model's output.</summary>
    public const string CallOpen = "<tool_call>", CallClose = "</tool_call>";

    /// <summary>The messages with tools, calls and results written into plain system/user/assistant text.</summary>
    public static IReadOnlyList<ChatMessage> Flatten(IReadOnlyList<ChatMessage> messages, IReadOnlyList<ChatTool>? tools)
    {
        bool anyTools = tools is { Count: > 0 };
        if (!anyTools && !messages.Any(m => m.Role == "tool" || m.ToolCalls is { Count: > 0 })) return messages;
        var flat = new List<ChatMessage>(messages.Count + 1);
        int start = 0;
        if (anyTools)
        {
            string block = ToolsBlock(tools!);
            if (messages.Count > 0 && messages[0].Role == "system")
            {
                flat.Add(new("system", string.IsNullOrWhiteSpace(messages[0].Content) ? block : messages[0].Content + "\n\n" + block));
                start = 1;
            }
            else flat.Add(new("system", block));
        }
        for (int i = start; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role == "tool")
            {
                var results = new StringBuilder();
                for (; i < messages.Count && messages[i].Role == "tool"; i++)
                    results.Append(results.Length > 0 ? "\n" : "").Append("<tool_response>\n").Append(messages[i].Content).Append("\n</tool_response>");
                i--;
                flat.Add(new("user", results.ToString()));
            }
            else if (m.ToolCalls is { Count: > 0 } calls)
            {
                var parts = new List<string>();
                if (!string.IsNullOrEmpty(m.Content)) parts.Add(m.Content);
                foreach (var call in calls) parts.Add(CallText(call.Name, call.ArgumentsJson));
                flat.Add(new(m.Role, string.Join("\n", parts)));
            }
            else flat.Add(new(m.Role, m.Content));
        }
        return flat;
    }

    /// <summary>One call as the model writes it: <c>&lt;tool_call&gt;\n{"name": "f", "arguments": {...}}\n&lt;/tool_call&gt;</c>.</summary>
    public static string CallText(string name, string argumentsJson)
    {
        var s = new StringBuilder(CallOpen).Append("\n{\"name\": ");
        JsonText.WriteString(name, s);
        s.Append(", \"arguments\": ").Append(Reformat(argumentsJson)).Append("}\n").Append(CallClose);
        return s.ToString();
    }

    static string ToolsBlock(IReadOnlyList<ChatTool> tools)
    {
        var s = new StringBuilder("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n")
            .Append("You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        foreach (var tool in tools)
        {
            s.Append("\n{\"type\": \"function\", \"function\": {\"name\": ");
            JsonText.WriteString(tool.Name, s);
            if (tool.Description is not null) { s.Append(", \"description\": "); JsonText.WriteString(tool.Description, s); }
            if (tool.ParametersJson is not null) s.Append(", \"parameters\": ").Append(Reformat(tool.ParametersJson));
            s.Append("}}");
        }
        s.Append("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n")
            .Append("<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
        return s.ToString();
    }

    // JSON text in json.dumps's spelling; text that is not JSON is kept as given.
    static string Reformat(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var s = new StringBuilder();
            JsonText.Write(doc.RootElement, s, ", ", ": ");
            return s.ToString();
        }
        catch (JsonException) { return json; }
    }
}

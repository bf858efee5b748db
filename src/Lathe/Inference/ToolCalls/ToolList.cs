using System.Text.Json;
using System.Text.RegularExpressions;
using Lathe.Formats;

namespace Lathe.Inference.ToolCalls;

/// <summary>Reads OpenAI's <c>tools</c> array into <see cref="ChatTool"/>s, checking every field.</summary>
public static partial class ToolList
{
    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();

    /// <summary>Each element must be {"type": "function", "function": {"name", "description"?, "parameters"?,
    /// "strict"?}}; names follow OpenAI's rule (1–64 of letters, digits, '_', '-') and are distinct.</summary>
    /// <exception cref="ArgumentException">One line naming the field, e.g. "tools[1].function.name: …".</exception>
    public static IReadOnlyList<ChatTool> Parse(JsonElement tools, string path = "tools")
    {
        if (tools.ValueKind != JsonValueKind.Array) throw new ArgumentException($"{path}: must be an array.");
        var list = new List<ChatTool>();
        int i = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            string at = $"{path}[{i++}]";
            if (tool.ValueKind != JsonValueKind.Object) throw new ArgumentException($"{at}: must be an object.");
            if (!tool.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "function")
                throw new ArgumentException($"{at}.type: must be \"function\".");
            if (!tool.TryGetProperty("function", out var f) || f.ValueKind != JsonValueKind.Object) throw new ArgumentException($"{at}.function: must be an object.");
            if (!f.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || !FunctionName().IsMatch(name.GetString()!))
                throw new ArgumentException($"{at}.function.name: must be 1–64 letters, digits, '_' or '-'.");
            string? description = null;
            if (f.TryGetProperty("description", out var d) && d.ValueKind != JsonValueKind.Null)
                description = d.ValueKind == JsonValueKind.String ? d.GetString() : throw new ArgumentException($"{at}.function.description: must be a string.");
            string? parameters = null;
            if (f.TryGetProperty("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
                parameters = p.ValueKind == JsonValueKind.Object ? p.GetRawText() : throw new ArgumentException($"{at}.function.parameters: must be a JSON Schema object.");
            if (list.Any(t => t.Name == name.GetString())) throw new ArgumentException($"{at}.function.name: '{name.GetString()}' is given twice.");
            list.Add(new ChatTool(name.GetString()!, description, parameters));
        }
        return list;
    }
}

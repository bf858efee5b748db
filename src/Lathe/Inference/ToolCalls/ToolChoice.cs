using System.Text.Json;
using System.Text.RegularExpressions;
using Lathe.Formats;

namespace Lathe.Inference.ToolCalls;

/// <summary>OpenAI's <c>tool_choice</c>: none (no calls), auto (the model decides), required (at least one call), or
/// one named function.</summary>
public enum ToolChoiceMode { None, Auto, Required, Function }

/// <summary>A parsed <c>tool_choice</c>; <see cref="FunctionName"/> is set for <see cref="ToolChoiceMode.Function"/>.</summary>
public sealed record ToolChoice(ToolChoiceMode Mode, string? FunctionName = null)
{
    public static ToolChoice None { get; } = new(ToolChoiceMode.None);
    public static ToolChoice Auto { get; } = new(ToolChoiceMode.Auto);
    public static ToolChoice Required { get; } = new(ToolChoiceMode.Required);

    /// <summary>The request's <c>tool_choice</c> (absent: auto when there are tools, none otherwise): "none", "auto",
    /// "required" or {"type": "function", "function": {"name": …}} naming one of <paramref name="tools"/>.</summary>
    /// <exception cref="ArgumentException">One line naming the field.</exception>
    public static ToolChoice Parse(JsonElement? choice, IReadOnlyList<ChatTool> tools, string path = "tool_choice")
    {
        if (choice is not { } c || c.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return tools.Count > 0 ? Auto : None;
        if (c.ValueKind == JsonValueKind.String)
        {
            var mode = c.GetString() switch
            {
                "none" => None,
                "auto" => Auto,
                "required" => Required,
                var other => throw new ArgumentException($"{path}: '{other}' is not one of none, auto, required (or a function object)."),
            };
            if (mode.Mode != ToolChoiceMode.None && tools.Count == 0) throw new ArgumentException($"{path}: '{c.GetString()}' needs tools, and none were given.");
            return mode;
        }
        if (c.ValueKind != JsonValueKind.Object) throw new ArgumentException($"{path}: must be a string or an object.");
        if (!c.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "function")
            throw new ArgumentException($"{path}.type: must be \"function\".");
        if (!c.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
            || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            throw new ArgumentException($"{path}.function.name: a function name is required.");
        string n = name.GetString()!;
        if (!tools.Any(t => t.Name == n)) throw new ArgumentException($"{path}.function.name: '{n}' is not one of the tools.");
        return new(ToolChoiceMode.Function, n);
    }
}

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

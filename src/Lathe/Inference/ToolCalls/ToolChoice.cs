using System.Text.Json;
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

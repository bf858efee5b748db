using System.Text.Json;

namespace Lathe.Server.OpenAi;

/// <summary>A function the model may call: its name, description and JSON-schema parameters.</summary>
internal sealed record ToolDefinition(string Name, string? Description, JsonElement? Parameters, bool Strict);

/// <summary>What shapes a chat reply beyond free text, as the request states it: <c>response_format</c> (text,
/// json_object, json_schema) and <c>tools</c> / <c>tool_choice</c> / <c>parallel_tool_calls</c>. Parsing checks the
/// shapes and names the field at fault; <see cref="ConstraintBinding"/> turns them into a logits constraint. Schemas are
/// cloned, so they outlive the request's JSON document.</summary>
internal sealed record ChatConstraints
{
    /// <summary>"text", "json_object" or "json_schema".</summary>
    public string ResponseFormat { get; init; } = "text";
    public string? SchemaName { get; init; }
    public JsonElement? Schema { get; init; }
    public bool SchemaStrict { get; init; }
    public IReadOnlyList<ToolDefinition> Tools { get; init; } = [];
    /// <summary>"none", "auto", "required" or "function" (then <see cref="ToolChoiceName"/> names it).</summary>
    public string ToolChoice { get; init; } = "auto";
    public string? ToolChoiceName { get; init; }
    public bool ParallelToolCalls { get; init; } = true;

    /// <summary>Whether tools take part in this reply (given, and tool_choice is not "none").</summary>
    public bool UsesTools => Tools.Count > 0 && ToolChoice != "none";

    public static readonly string[] Formats = ["text", "json_object", "json_schema"];

    public static ChatConstraints Parse(JsonFields f)
    {
        var c = new ChatConstraints();
        if (f.Object("response_format") is { } rf)
        {
            string type = rf.RequiredString("type");
            if (Array.IndexOf(Formats, type) < 0)
                throw ApiException.BadField(rf.PathOf("type"), $"'{type}' is not a response format; expected one of {string.Join(", ", Formats)}.");
            c = c with { ResponseFormat = type };
            if (type == "json_schema")
            {
                var js = rf.Object("json_schema") ?? throw ApiException.BadField(rf.PathOf("json_schema"), "is required when type is json_schema.");
                string name = js.RequiredString("name");
                CheckName(name, js.PathOf("name"));
                JsonElement? schema = js.TryGet("schema", out var s) ? s : null;
                if (schema is { } sv && sv.ValueKind != JsonValueKind.Object)
                    throw ApiException.BadField(js.PathOf("schema"), $"expected a JSON Schema object, got {JsonFields.Describe(sv)}.");
                c = c with { SchemaName = name, Schema = schema?.Clone(), SchemaStrict = js.Bool("strict") ?? false };
            }
        }
        var tools = ReadTools(f);
        c = c with { Tools = tools, ParallelToolCalls = f.Bool("parallel_tool_calls") ?? true };
        if (f.TryGet("tool_choice", out var choice)) c = ToolChoiceOf(c, choice);
        else if (tools.Count == 0) c = c with { ToolChoice = "none" };
        return c;
    }

    static List<ToolDefinition> ReadTools(JsonFields f)
    {
        var tools = new List<ToolDefinition>();
        if (f.Array("tools") is not { } array) return tools;
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var tool = JsonFields.Of(item, $"tools[{i++}]");
            string type = tool.RequiredString("type");
            if (type != "function") throw ApiException.BadField(tool.PathOf("type"), $"'{type}' is not a tool type; expected function.");
            var fn = tool.Object("function") ?? throw ApiException.BadField(tool.PathOf("function"), "is required.");
            string name = fn.RequiredString("name");
            CheckName(name, fn.PathOf("name"));
            if (tools.Exists(t => t.Name == name)) throw ApiException.BadField(fn.PathOf("name"), $"'{name}' names two tools.");
            JsonElement? parameters = fn.TryGet("parameters", out var p) ? p : null;
            if (parameters is { } pv && pv.ValueKind != JsonValueKind.Object)
                throw ApiException.BadField(fn.PathOf("parameters"), $"expected a JSON Schema object, got {JsonFields.Describe(pv)}.");
            tools.Add(new ToolDefinition(name, fn.String("description"), parameters?.Clone(), fn.Bool("strict") ?? false));
        }
        return tools;
    }

    // tool_choice: "none" | "auto" | "required" | {"type":"function","function":{"name":…}}.
    static ChatConstraints ToolChoiceOf(ChatConstraints c, JsonElement choice)
    {
        if (choice.ValueKind == JsonValueKind.String)
        {
            string mode = choice.GetString()!;
            if (mode is not ("none" or "auto" or "required"))
                throw ApiException.BadField("tool_choice", $"'{mode}' is not a tool choice; expected none, auto, required or a function object.");
            if (mode != "none" && c.Tools.Count == 0) throw ApiException.BadField("tool_choice", $"'{mode}' needs tools.");
            return c with { ToolChoice = mode };
        }
        var obj = JsonFields.Of(choice, "tool_choice");
        string type = obj.RequiredString("type");
        if (type != "function") throw ApiException.BadField("tool_choice.type", $"'{type}' is not a tool choice type; expected function.");
        var fn = obj.Object("function") ?? throw ApiException.BadField("tool_choice.function", "is required.");
        string name = fn.RequiredString("name");
        if (!c.Tools.Any(t => t.Name == name)) throw ApiException.BadField("tool_choice.function.name", $"'{name}' is not one of the tools.");
        return c with { ToolChoice = "function", ToolChoiceName = name };
    }

    // OpenAI's rule for function and schema names: a-z, A-Z, 0-9, underscores and dashes, at most 64.
    static void CheckName(string name, string path)
    {
        if (name.Length is 0 or > 64 || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-'))
            throw ApiException.BadField(path, $"'{name}' must be 1–64 characters of a-z, A-Z, 0-9, underscores and dashes.");
    }
}

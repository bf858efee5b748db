using System.Text.Json;
using Lathe.Formats;

namespace Lathe.Data;

/// <summary>One training conversation and where it came from ("file:line", for messages about it).</summary>
public sealed record ChatConversation(string Source, IReadOnlyList<ChatMessage> Messages);

/// <summary>Fine-tuning data as JSON Lines (optionally .gz), one conversation per non-blank line, in either shape:
/// OpenAI's chat form <c>{"messages":[{"role":"system|user|assistant","content":"…"}, …]}</c> (multi-turn; the last
/// message must be the assistant's) or a pair <c>{"prompt":"…","completion":"…"}</c> (a user message and the
/// assistant's reply). Any bad line is a one-line error naming the file and line: a skipped line would be a silently
/// different training set.</summary>
public static class ChatJsonl
{
    static readonly string[] Roles = ["system", "user", "assistant"];

    /// <summary>Every conversation of <paramref name="path"/>, in file order.</summary>
    /// <exception cref="InvalidDataException">A malformed line, or a file without conversations.</exception>
    public static List<ChatConversation> Read(string path)
    {
        var conversations = new List<ChatConversation>();
        foreach (var (where, text) in Lines(path)) conversations.Add(new ChatConversation(where, Parse(text, where)));
        if (conversations.Count == 0) throw new InvalidDataException($"data: {path}: no conversations");
        return conversations;
    }

    /// <summary>The non-blank lines of a JSONL (optionally .gz) file, each with its "file:line" (shared with the other
    /// chat-shaped readers, e.g. alignment's preference pairs and prompt sets).</summary>
    internal static IEnumerable<(string Where, string Text)> Lines(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data: {path}: no such file", path);
        using var stream = CorpusFiles.Open(path);
        using var reader = new StreamReader(stream, detectEncodingFromByteOrderMarks: true);
        long line = 0;
        while (reader.ReadLine() is { } text)
        {
            line++;
            if (!string.IsNullOrWhiteSpace(text)) yield return ($"{path}:{line}", text);
        }
    }

    /// <summary>The messages of one JSON line; <paramref name="where"/> prefixes any error ("file:line").</summary>
    public static IReadOnlyList<ChatMessage> Parse(string json, string where)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(where, "expected a JSON object");
            if (root.TryGetProperty("messages", out var list)) return Messages(list, where);
            if (root.TryGetProperty("prompt", out _) || root.TryGetProperty("completion", out _))
                return [new ChatMessage("user", Text(root, "prompt", where)), new ChatMessage("assistant", Text(root, "completion", where))];
            throw Bad(where, "missing field \"messages\" (or \"prompt\" and \"completion\")");
        }
        catch (JsonException e)
        {
            throw Bad(where, $"invalid JSON ({e.Message.Split('.')[0]})");
        }
    }

    static List<ChatMessage> Messages(JsonElement list, string where)
    {
        var messages = MessageList(list, where, "messages");
        if (!messages.Exists(m => m.Role == "assistant")) throw Bad(where, "no assistant turn (nothing to learn)");
        if (messages[^1].Role != "assistant") throw Bad(where, $"the last message must be the assistant's, not the {messages[^1].Role}'s");
        return messages;
    }

    /// <summary>A non-empty array of {role, content} messages held by <paramref name="field"/>; errors name the field
    /// and index ("prompt[1].content"). Which roles may come last is the caller's rule.</summary>
    internal static List<ChatMessage> MessageList(JsonElement list, string where, string field)
    {
        if (list.ValueKind != JsonValueKind.Array) throw Bad(where, $"\"{field}\" must be an array");
        if (list.GetArrayLength() == 0) throw Bad(where, $"empty conversation (\"{field}\" is [])");
        var messages = new List<ChatMessage>(list.GetArrayLength());
        int i = 0;
        foreach (var m in list.EnumerateArray())
        {
            string at = $"{field}[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw Bad(where, $"{at} must be an object");
            string role = Text(m, "role", where, at);
            if (Array.IndexOf(Roles, role) < 0) throw Bad(where, $"{at}: unknown role '{role}' (expected system, user or assistant)");
            messages.Add(new ChatMessage(role, Text(m, "content", where, at)));
        }
        return messages;
    }

    internal static string Text(JsonElement obj, string field, string where, string? at = null)
    {
        string name = at is null ? $"\"{field}\"" : $"{at}.{field}";
        if (!obj.TryGetProperty(field, out var v)) throw Bad(where, $"missing field {name}");
        if (v.ValueKind != JsonValueKind.String) throw Bad(where, $"{name} must be a string");
        return v.GetString()!;
    }

    internal static InvalidDataException Bad(string where, string what) => new($"data: {where}: {what}");
}

using System.Text.Json;
using Lathe.Data;
using Lathe.Formats;

namespace Lathe.Alignment;

/// <summary>A prompt for on-policy methods (PPO, rejection sampling, RLAIF) and the held-out evaluation: the messages
/// the policy answers, the prompt's kind (fact, arith, format, unsafe, benign in the shipped data; any label or none in
/// a user's file) and, where the prompt has one, the answer a reply is checked against.</summary>
public sealed record AlignmentPrompt(IReadOnlyList<ChatMessage> Prompt, string? Kind, string? Answer)
{
    /// <summary>Where the prompt was read ("file:line"), for messages about it; null when made in memory.</summary>
    public string? Source { get; init; }
}

/// <summary>Prompt sets as JSON Lines (optionally .gz): <c>{"prompt": …, "kind"?: "…", "answer"?: "…"}</c> per line,
/// the prompt a string (one user message) or a list of chat messages ending with the user's, as TRL's prompt-only
/// datasets allow. Preference-pair files load too (their chosen and rejected replies are ignored), so a pair set's
/// prompts can drive on-policy methods. Any bad line is a one-line error naming the file, line and field.</summary>
public static class PromptSet
{
    /// <summary>Every prompt of <paramref name="path"/>, in file order.</summary>
    /// <exception cref="InvalidDataException">Bad JSON, a missing or mistyped field, or a file without prompts.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    public static List<AlignmentPrompt> Load(string path)
    {
        var prompts = new List<AlignmentPrompt>();
        foreach (var (where, text) in ChatJsonl.Lines(path))
        {
            using var doc = ParseObject(text, where);
            var root = doc.RootElement;
            prompts.Add(new AlignmentPrompt(Prompt(root, where), OptionalText(root, "kind", where), Answer(root, where)) { Source = where });
        }
        if (prompts.Count == 0) throw new InvalidDataException($"data: {path}: no prompts");
        return prompts;
    }

    /// <summary>One JSON object line; bad JSON or another value is a one-line error at <paramref name="where"/>.</summary>
    internal static JsonDocument ParseObject(string text, string where)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException e) { throw ChatJsonl.Bad(where, $"invalid JSON ({e.Message.Split('.')[0]})"); }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw ChatJsonl.Bad(where, "expected a JSON object");
        }
        return doc;
    }

    /// <summary>The "prompt" field: a non-empty string (→ one user message) or a message list whose last message is the
    /// user's (what the policy answers next).</summary>
    internal static IReadOnlyList<ChatMessage> Prompt(JsonElement root, string where)
    {
        if (!root.TryGetProperty("prompt", out var prompt)) throw ChatJsonl.Bad(where, "missing field \"prompt\"");
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                string text = prompt.GetString()!;
                if (string.IsNullOrWhiteSpace(text)) throw ChatJsonl.Bad(where, "\"prompt\" is empty");
                return [new ChatMessage("user", text)];
            case JsonValueKind.Array:
                var messages = ChatJsonl.MessageList(prompt, where, "prompt");
                if (messages[^1].Role != "user") throw ChatJsonl.Bad(where, $"the prompt's last message must be the user's, not the {messages[^1].Role}'s");
                return messages;
            default:
                throw ChatJsonl.Bad(where, "\"prompt\" must be a string or a list of messages");
        }
    }

    /// <summary>An optional string field (absent or null → null).</summary>
    internal static string? OptionalText(JsonElement root, string field, string where)
    {
        if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) throw ChatJsonl.Bad(where, $"\"{field}\" must be a string");
        return v.GetString();
    }

    // The expected answer: a string, or a number written as in the file ("42"), since arithmetic answers are numbers.
    static string? Answer(JsonElement root, string where)
    {
        if (root.TryGetProperty("answer", out var v) && v.ValueKind == JsonValueKind.Number) return v.GetRawText();
        string? answer = OptionalText(root, "answer", where);
        if (answer is not null && string.IsNullOrWhiteSpace(answer)) throw ChatJsonl.Bad(where, "\"answer\" is empty");
        return answer;
    }
}

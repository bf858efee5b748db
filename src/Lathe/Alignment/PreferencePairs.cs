using System.Text.Json;
using Lathe.Data;
using Lathe.Formats;

namespace Lathe.Alignment;

/// <summary>One preference: a prompt (chat messages ending with the user's), the reply preferred and the reply
/// rejected, and the pair's kind (a label for per-kind metrics, or null).</summary>
public sealed record PreferencePair(IReadOnlyList<ChatMessage> Prompt, string Chosen, string Rejected, string? Kind)
{
    /// <summary>Where the pair was read ("file:line"), for messages about it; null when made in memory.</summary>
    public string? Source { get; init; }
}

/// <summary>Preference pairs as JSON Lines (optionally .gz) in TRL's preference shape:
/// <c>{"prompt": …, "chosen": …, "rejected": …, "kind"?: "…"}</c>. The prompt is a string (one user message) or a list
/// of chat messages ending with the user's; chosen and rejected are strings or message lists whose last message is
/// the assistant's reply (any messages before it must repeat the prompt, as in TRL's conversational form). Any bad line
/// is a one-line error naming the file, line and field: a skipped pair would silently change what is learned.</summary>
public static class PreferencePairs
{
    /// <summary>Every pair of <paramref name="path"/>, in file order.</summary>
    /// <exception cref="InvalidDataException">Bad JSON, a missing or mistyped field, an empty response, chosen identical
    /// to rejected, or a file without pairs.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    public static List<PreferencePair> Load(string path)
    {
        var pairs = new List<PreferencePair>();
        foreach (var (where, text) in ChatJsonl.Lines(path))
        {
            using var doc = PromptSet.ParseObject(text, where);
            var root = doc.RootElement;
            var prompt = PromptSet.Prompt(root, where);
            string chosen = Response(root, "chosen", prompt, where);
            string rejected = Response(root, "rejected", prompt, where);
            // Identical replies carry no preference, and DPO/Bradley–Terry would learn nothing from them but noise.
            if (chosen == rejected) throw ChatJsonl.Bad(where, "\"chosen\" and \"rejected\" are the same response");
            pairs.Add(new PreferencePair(prompt, chosen, rejected, PromptSet.OptionalText(root, "kind", where)) { Source = where });
        }
        if (pairs.Count == 0) throw new InvalidDataException($"data: {path}: no preference pairs");
        return pairs;
    }

    // A reply: a string, or messages whose last is the assistant's (earlier ones, if any, must be the prompt).
    static string Response(JsonElement root, string field, IReadOnlyList<ChatMessage> prompt, string where)
    {
        if (!root.TryGetProperty(field, out var value)) throw ChatJsonl.Bad(where, $"missing field \"{field}\"");
        string reply;
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                reply = value.GetString()!;
                break;
            case JsonValueKind.Array:
                var messages = ChatJsonl.MessageList(value, where, field);
                if (messages[^1].Role != "assistant") throw ChatJsonl.Bad(where, $"\"{field}\": the last message must be the assistant's reply, not the {messages[^1].Role}'s");
                if (messages.Count > 1 && !messages.Take(messages.Count - 1).SequenceEqual(prompt))
                    throw ChatJsonl.Bad(where, $"\"{field}\": the messages before the reply are not the prompt");
                reply = messages[^1].Content;
                break;
            default:
                throw ChatJsonl.Bad(where, $"\"{field}\" must be a string or a list of messages");
        }
        if (string.IsNullOrWhiteSpace(reply)) throw ChatJsonl.Bad(where, $"\"{field}\" is an empty response");
        return reply;
    }
}

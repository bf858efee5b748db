using System.Text.Json;
using Lathe.Inference;

namespace Lathe.Server.OpenAi;

/// <summary>The legacy completions endpoint's <c>text_completion</c> objects (whole and streamed alike) and their
/// log-probability layout: parallel arrays tokens / token_logprobs / top_logprobs / text_offset.</summary>
internal static class CompletionJson
{
    /// <summary>Starts a response or chunk up to its choices array.</summary>
    public static void Begin(Utf8JsonWriter w, string id, long created, string model)
    {
        OpenAiJson.WriteHead(w, id, "text_completion", created, model);
        w.WriteStartArray("choices");
    }

    /// <summary>Closes it, with the usage when given (else <c>"usage": null</c> in a stream that will report it).</summary>
    public static void End(Utf8JsonWriter w, bool includeUsage, Usage? usage = null)
    {
        w.WriteEndArray();
        if (usage is { } u) OpenAiJson.WriteUsage(w, u);
        else if (includeUsage) w.WriteNull("usage");
        w.WriteEndObject();
    }

    /// <summary>One choice: its text, and the log-probabilities of <paramref name="tokens"/> (null: none asked) whose
    /// text starts at the paired offsets.</summary>
    public static void WriteChoice(Utf8JsonWriter w, int index, string text, IReadOnlyList<(GenerationEvent Event, int Offset)>? tokens,
        TokenText tokenText, FinishReason? finish)
    {
        w.WriteStartObject();
        w.WriteString("text", text);
        w.WriteNumber("index", index);
        if (tokens is null) w.WriteNull("logprobs");
        else
        {
            w.WriteStartObject("logprobs");
            w.WriteStartArray("tokens");
            foreach (var (e, _) in tokens) w.WriteStringValue(tokenText.Text(e.Token));
            w.WriteEndArray();
            w.WriteStartArray("token_logprobs");
            foreach (var (e, _) in tokens) w.WriteNumberValue(Finite(e.Logprob ?? float.NaN));
            w.WriteEndArray();
            w.WriteStartArray("top_logprobs");
            foreach (var (e, _) in tokens) WriteTop(w, e, tokenText);
            w.WriteEndArray();
            w.WriteStartArray("text_offset");
            foreach (var (_, offset) in tokens) w.WriteNumberValue(offset);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        OpenAiJson.WriteFinish(w, finish);
        w.WriteEndObject();
    }

    // {token text: logprob} for the most likely tokens and the chosen one, as the legacy API reports "up to logprobs + 1"
    // entries. Two ids with the same text would repeat a key; the first (more likely) is kept. At most six entries, so
    // the repeat check scans instead of allocating a set per token.
    static void WriteTop(Utf8JsonWriter w, GenerationEvent e, TokenText tokenText)
    {
        w.WriteStartObject();
        var top = e.TopLogprobs ?? [];
        for (int i = 0; i < top.Length; i++)
            if (!SeenBefore(top, i, tokenText.Text(top[i].Token), tokenText)) w.WriteNumber(tokenText.Text(top[i].Token), Finite(top[i].Logprob));
        string chosen = tokenText.Text(e.Token);
        if (!SeenBefore(top, top.Length, chosen, tokenText)) w.WriteNumber(chosen, Finite(e.Logprob ?? float.NaN));
        w.WriteEndObject();
    }

    static bool SeenBefore(TokenLogprob[] top, int end, string text, TokenText tokenText)
    {
        for (int j = 0; j < end; j++) if (tokenText.Text(top[j].Token) == text) return true;
        return false;
    }

    static float Finite(float logprob) => float.IsFinite(logprob) ? logprob : -9999f;
}

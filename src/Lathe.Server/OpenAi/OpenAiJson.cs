using System.Text.Json;
using Lathe.Inference;

namespace Lathe.Server.OpenAi;

/// <summary>Token counts of a request as <c>usage</c> reports them.</summary>
internal readonly record struct Usage(int PromptTokens, int CompletionTokens, int CachedTokens)
{
    public static Usage operator +(Usage a, Usage b) =>
        new(a.PromptTokens + b.PromptTokens, a.CompletionTokens + b.CompletionTokens, a.CachedTokens + b.CachedTokens);
}

/// <summary>The pieces of OpenAI's response objects both generation endpoints write: the common head, usage, finish
/// reasons and log-probability entries.</summary>
internal static class OpenAiJson
{
    /// <summary>How responses are written: non-ASCII text as UTF-8 rather than \u escapes (smaller, readable). The
    /// relaxed encoder's only difference, unescaped HTML characters, is safe for application/json and event streams,
    /// which no browser renders as HTML.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>"chatcmpl-…" / "cmpl-…" with 24 random characters, as OpenAI's ids look.</summary>
    public static string NewId(string prefix)
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        Span<char> s = stackalloc char[24];
        for (int i = 0; i < s.Length; i++) s[i] = Alphabet[Random.Shared.Next(Alphabet.Length)];
        return prefix + new string(s);
    }

    public static long UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>Starts a response object: id, object, created and model.</summary>
    public static void WriteHead(Utf8JsonWriter w, string id, string objectType, long created, string model)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("object", objectType);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    /// <summary>The <c>usage</c> object (with prompt_tokens_details.cached_tokens).</summary>
    public static void WriteUsage(Utf8JsonWriter w, Usage u)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", u.PromptTokens);
        w.WriteNumber("completion_tokens", u.CompletionTokens);
        w.WriteNumber("total_tokens", u.PromptTokens + u.CompletionTokens);
        w.WriteStartObject("prompt_tokens_details");
        w.WriteNumber("cached_tokens", u.CachedTokens);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>finish_reason: null while running, "stop" or "length" after (a cancelled choice is never written: its
    /// client is gone).</summary>
    public static void WriteFinish(Utf8JsonWriter w, FinishReason? finish, bool toolCalls = false)
    {
        if (finish is null) { w.WriteNull("finish_reason"); return; }
        w.WriteString("finish_reason", toolCalls ? "tool_calls" : finish == FinishReason.Length ? "length" : "stop");
    }

    /// <summary>A log-probability as a JSON number; OpenAI writes -9999 for a probability that underflows.</summary>
    public static void WriteLogprob(Utf8JsonWriter w, string name, float logprob) =>
        w.WriteNumber(name, float.IsFinite(logprob) ? logprob : -9999f);

    /// <summary>One chat <c>logprobs.content</c> entry: token, logprob, bytes and top_logprobs.</summary>
    public static void WriteChatLogprob(Utf8JsonWriter w, GenerationEvent e, TokenText tokens)
    {
        w.WriteStartObject();
        WriteTokenEntry(w, e.Token, e.Logprob ?? float.NaN, tokens);
        w.WriteStartArray("top_logprobs");
        if (e.TopLogprobs is { } top)
            foreach (var t in top)
            {
                w.WriteStartObject();
                WriteTokenEntry(w, t.Token, t.Logprob, tokens);
                w.WriteEndObject();
            }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    static void WriteTokenEntry(Utf8JsonWriter w, int token, float logprob, TokenText tokens)
    {
        w.WriteString("token", tokens.Text(token));
        WriteLogprob(w, "logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (byte b in tokens.Bytes(token)) w.WriteNumberValue(b);
        w.WriteEndArray();
    }
}

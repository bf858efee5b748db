using System.Text;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Tensors;

namespace Lathe.Inference.ToolCalls;

/// <summary>A call the model made: its id (OpenAI's "call_…"), the function's name and its arguments as JSON text.</summary>
public sealed record ToolCall(string Id, string Name, string ArgumentsJson);

/// <summary>A reply split into its text (null when there is none) and its tool calls. When <see cref="ToolCalls"/> is
/// not empty the finish reason is "tool_calls".</summary>
public sealed record ParsedReply(string? Content, IReadOnlyList<ToolCall> ToolCalls);

/// <summary>Reads the <see cref="HermesTools"/> calls out of generated text.</summary>
public static class ToolCallParser
{
    const string IdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>Splits <paramref name="text"/> into content and calls. A block is <c>&lt;tool_call&gt;</c> JSON
    /// <c>&lt;/tool_call&gt;</c> (a missing closing tag at the very end is tolerated, as when max_tokens cut the reply)
    /// whose JSON is an object with a string "name" and an object "arguments" (or a string holding the arguments'
    /// JSON); a block that is not stays in the content as text. The rest of the text, trimmed, is the content.</summary>
    /// <param name="seed">The request's seed: call ids are drawn from it, so the same request gives the same ids.</param>
    /// <param name="choice">The choice's index (each choice draws its own ids).</param>
    public static ParsedReply Parse(string text, ulong seed, int choice = 0)
    {
        var calls = new List<ToolCall>();
        var content = new StringBuilder();
        var rng = new Philox(seed, (ulong)choice << 32);
        int at = 0;
        while (at < text.Length)
        {
            int open = text.IndexOf(HermesTools.CallOpen, at, StringComparison.Ordinal);
            if (open < 0) { content.Append(text, at, text.Length - at); break; }
            content.Append(text, at, open - at);
            int bodyStart = open + HermesTools.CallOpen.Length;
            int close = text.IndexOf(HermesTools.CallClose, bodyStart, StringComparison.Ordinal);
            int bodyEnd = close < 0 ? text.Length : close;
            int next = close < 0 ? text.Length : close + HermesTools.CallClose.Length;
            if (TryCall(text[bodyStart..bodyEnd], out string name, out string arguments)) calls.Add(new ToolCall(NewId(rng), name, arguments));
            else content.Append(text, open, next - open);
            at = next;
        }
        string rest = content.ToString().Trim();
        return new ParsedReply(rest.Length == 0 ? null : rest, calls);
    }

    static bool TryCall(string body, out string name, out string arguments)
    {
        name = arguments = "";
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("name", out var n) || n.ValueKind != JsonValueKind.String) return false;
            if (!root.TryGetProperty("arguments", out var a)) return false;
            if (a.ValueKind == JsonValueKind.String)
            {
                // Some models write the arguments as a JSON string, as the OpenAI API carries them.
                using var inner = JsonDocument.Parse(a.GetString()!);
                if (inner.RootElement.ValueKind != JsonValueKind.Object) return false;
                arguments = inner.RootElement.GetRawText();
            }
            else if (a.ValueKind == JsonValueKind.Object) arguments = a.GetRawText();
            else return false;
            name = n.GetString()!;
            return true;
        }
        catch (JsonException) { return false; }
    }

    static string NewId(Philox rng)
    {
        Span<char> id = stackalloc char[24];
        for (int i = 0; i < id.Length; i++) id[i] = IdAlphabet[(int)(rng.NextUInt() % (uint)IdAlphabet.Length)];
        return "call_" + new string(id);
    }
}

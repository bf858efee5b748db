using System.Runtime.CompilerServices;
using Lathe.Models;

namespace Lathe.Inference;

/// <summary>A conversation with a decoder: the history is rendered through a <see cref="ChatTemplate"/> each turn and
/// the generator's cache keeps the unchanged prefix, so a turn costs only its new tokens. When the history outgrows
/// the context, the oldest exchanges are dropped (a system message is kept).</summary>
public sealed class ChatSession : IDisposable
{
    readonly Generator _generator;
    readonly ChatTemplate _template;
    readonly Func<string, int[]> _encode;
    readonly Func<int, byte[]> _tokenBytes;
    readonly IReadOnlySet<int> _stopTokens;
    readonly int _context;
    readonly List<ChatMessage> _messages = [];
    readonly string? _system;

    /// <param name="encode">Text → token ids (adding BOS if the model wants it).</param>
    /// <param name="tokenBytes">A token's UTF-8 bytes.</param>
    /// <param name="stopTokens">End-of-sequence and end-of-turn token ids.</param>
    public ChatSession(CausalLM model, ChatTemplate template, Func<string, int[]> encode, Func<int, byte[]> tokenBytes,
        IReadOnlySet<int> stopTokens, string? systemPrompt = null)
    {
        _generator = new Generator(model);
        _template = template;
        _encode = encode;
        _tokenBytes = tokenBytes;
        _stopTokens = stopTokens;
        _context = model.Config.MaxPositions;
        _system = systemPrompt;
        Reset();
    }

    public IReadOnlyList<ChatMessage> Messages => _messages;
    public StopReason Reason => _generator.Reason;
    /// <summary>Prompt tokens the last turn ran through the model (the rest of the history came from the cache).</summary>
    public int PromptTokensProcessed => _generator.PromptTokensProcessed;

    /// <summary>Forgets the conversation (keeping the system prompt).</summary>
    public void Reset()
    {
        _messages.Clear();
        if (!string.IsNullOrEmpty(_system)) _messages.Add(new ChatMessage("system", _system));
    }

    /// <summary>Adds the user's message and streams the assistant's reply; the reply joins the history.</summary>
    public async IAsyncEnumerable<string> ReplyAsync(string user, int maxTokens, SamplingOptions options,
        [EnumeratorCancellation] CancellationToken cancel = default)
    {
        _messages.Add(new ChatMessage("user", user));
        int[] prompt = FitPrompt(maxTokens);
        var streamer = new TextStreamer(_tokenBytes, _template.EndOfTurn);
        await foreach (var piece in _generator.GenerateAsync(prompt, maxTokens, options, streamer, _stopTokens, cancel).ConfigureAwait(false))
            if (piece.Text.Length > 0) yield return piece.Text;
        _messages.Add(new ChatMessage("assistant", streamer.Text.Trim()));
    }

    // The rendered history, dropping the oldest exchanges until it leaves room for the reply.
    int[] FitPrompt(int maxTokens)
    {
        while (true)
        {
            int[] ids = _encode(_template.Render(_messages));
            if (ids.Length + maxTokens <= _context) return ids;
            int first = _messages.Count > 0 && _messages[0].Role == "system" ? 1 : 0;
            if (_messages.Count - first <= 1)
                throw new ArgumentException($"chat: the message needs {ids.Length} tokens + {maxTokens} to generate, more than the context of {_context}.");
            _messages.RemoveAt(first);   // oldest user (or assistant) message
        }
    }

    public void Dispose() => _generator.Dispose();
}

using System.Runtime.CompilerServices;
using Lathe.Formats;

namespace Lathe.Inference;

/// <summary>A conversation with a decoder: the history is rendered through a <see cref="ChatTemplate"/> each turn and
/// the generator's cache keeps the unchanged prefix, so a turn costs only its new tokens. When the history outgrows
/// the context, the oldest exchanges are dropped (a system message is kept), as llama.cpp's context shift does; a reply
/// gets the room the context leaves, at most the tokens asked for (<see cref="LastFit"/> says what was dropped and
/// capped). Replies stop at the model's stop ids and at the template's end-of-turn markers (as tokens when the tokenizer
/// has them, and as text).</summary>
public sealed class ChatSession : IDisposable
{
    readonly Generator _generator;
    readonly ChatTemplate _template;
    readonly LoadedModel _model;
    readonly HashSet<int> _stopTokens;
    readonly int _context;
    readonly List<ChatMessage> _messages = [];
    readonly string? _system;

    /// <param name="model">A decoder with its tokenizer (prompts go through <see cref="LoadedModel.Encode"/>); the
    /// session does not own it.</param>
    /// <param name="template">How the history is rendered.</param>
    /// <param name="systemPrompt">A system message kept first through resets and trimming.</param>
    public ChatSession(LoadedModel model, ChatTemplate template, string? systemPrompt = null, Lathe.Tensors.Tensor? promptRows = null)
    {
        _generator = new Generator(model.Decoder, promptRows);
        _model = model;
        _template = template;
        _stopTokens = new HashSet<int>(model.StopIds);
        foreach (string end in template.EndOfTurn)
            if (model.SpecialId(end) is int id) _stopTokens.Add(id);
        _context = model.Model.Config.MaxPositions;
        _system = systemPrompt;
        Reset();
    }

    public IReadOnlyList<ChatMessage> Messages => _messages;
    /// <summary>The ids that end a reply: the model's stop ids and the template's end-of-turn tokens.</summary>
    public IReadOnlySet<int> StopTokens => _stopTokens;
    public StopReason Reason => _generator.Reason;
    /// <summary>How the last turn was fitted into the context.</summary>
    public TurnFit LastFit { get; private set; } = new(0, 0, 0);
    /// <summary>Prompt tokens the last turn ran through the model (the rest of the history came from the cache).</summary>
    public int PromptTokensProcessed => _generator.PromptTokensProcessed;

    /// <summary>Forgets the conversation (keeping the system prompt).</summary>
    public void Reset()
    {
        _messages.Clear();
        if (!string.IsNullOrEmpty(_system)) _messages.Add(new ChatMessage("system", _system));
    }

    /// <summary>Adds the user's message and streams the assistant's reply; the reply joins the history.
    /// <paramref name="processor"/>, when given, constrains the reply (a knowledge-graph answer constraint).</summary>
    public async IAsyncEnumerable<string> ReplyAsync(string user, int maxTokens, SamplingOptions options,
        [EnumeratorCancellation] CancellationToken cancel = default, ILogitsProcessor? processor = null)
    {
        _messages.Add(new ChatMessage("user", user));
        if (maxTokens < 1) throw new ArgumentException($"chat: max tokens {maxTokens} must be ≥ 1.");
        var (prompt, replyTokens) = FitPrompt(maxTokens);
        var streamer = new TextStreamer(_model.Tokenizer, _template.EndOfTurn);
        await foreach (var piece in _generator.GenerateAsync(prompt, replyTokens, options, streamer, _stopTokens, cancel, processor).ConfigureAwait(false))
            if (piece.Text.Length > 0) yield return piece.Text;
        _messages.Add(new ChatMessage("assistant", streamer.Text.Trim()));
    }

    // The rendered history and the reply's length. A reply is first given min(maxTokens, context / 2) tokens of room —
    // so a long --max-tokens does not push the whole history out — and the oldest messages (after a system message) are
    // dropped until that fits; the reply may then run to the end of the context, at most maxTokens. Only a message
    // that cannot fit with even one token of reply is an error.
    (int[] Prompt, int ReplyTokens) FitPrompt(int maxTokens)
    {
        int reserve = Math.Max(1, Math.Min(maxTokens, _context / 2));
        int first = _messages.Count > 0 && _messages[0].Role == "system" ? 1 : 0;
        // Try dropping 0, 1, 2, … of the oldest messages; the history changes only once a way to fit is found, so a
        // refused message costs the conversation nothing.
        for (int dropped = 0; first + dropped < _messages.Count; dropped++)
        {
            var kept = _messages.Take(first).Concat(_messages.Skip(first + dropped)).ToList();
            int[] ids = _model.Encode(_template.Render(kept));
            bool onlyThisMessage = kept.Count - first == 1;
            if (ids.Length + reserve > _context && !(onlyThisMessage && ids.Length < _context)) continue;
            _messages.RemoveRange(first, dropped);
            int reply = Math.Min(maxTokens, _context - ids.Length);
            LastFit = new TurnFit(dropped, reply, maxTokens);
            return (ids, reply);
        }
        int alone = _model.Encode(_template.Render([.. _messages.Take(first), _messages[^1]])).Length;
        _messages.RemoveAt(_messages.Count - 1);   // the refused message does not stay in the history
        throw new ArgumentException($"chat: the message takes {alone} tokens with the template, more than the context of {_context} leaves for a reply.");
    }

    public void Dispose() => _generator.Dispose();
}

/// <summary>How a chat turn fitted the context: <paramref name="DroppedMessages"/> oldest messages left the history for
/// it, and the reply may take <paramref name="ReplyTokens"/> tokens of the <paramref name="RequestedTokens"/> asked for.</summary>
public sealed record TurnFit(int DroppedMessages, int ReplyTokens, int RequestedTokens)
{
    /// <summary>True when the context, not the request, limits the reply.</summary>
    public bool ReplyCapped => ReplyTokens < RequestedTokens;
}

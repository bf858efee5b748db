using System.Runtime.CompilerServices;
using Lathe.Formats;

namespace Lathe.Inference;

/// <summary>A conversation with a decoder: the history is rendered through a <see cref="ChatTemplate"/> each turn and
/// the generator's cache keeps the unchanged prefix, so a turn costs only its new tokens. When the history outgrows
/// the context, the oldest exchanges are dropped (a system message is kept). Replies stop at the model's stop ids and at
/// the template's end-of-turn markers (as tokens when the tokenizer has them, and as text).</summary>
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
        int[] prompt = FitPrompt(maxTokens);
        var streamer = new TextStreamer(_model.Tokenizer, _template.EndOfTurn);
        await foreach (var piece in _generator.GenerateAsync(prompt, maxTokens, options, streamer, _stopTokens, cancel, processor).ConfigureAwait(false))
            if (piece.Text.Length > 0) yield return piece.Text;
        _messages.Add(new ChatMessage("assistant", streamer.Text.Trim()));
    }

    // The rendered history, dropping the oldest exchanges until it leaves room for the reply.
    int[] FitPrompt(int maxTokens)
    {
        while (true)
        {
            int[] ids = _model.Encode(_template.Render(_messages));
            if (ids.Length + maxTokens <= _context) return ids;
            int first = _messages.Count > 0 && _messages[0].Role == "system" ? 1 : 0;
            if (_messages.Count - first <= 1)
                throw new ArgumentException($"chat: the message needs {ids.Length} tokens + {maxTokens} to generate, more than the context of {_context}.");
            _messages.RemoveAt(first);   // oldest user (or assistant) message
        }
    }

    public void Dispose() => _generator.Dispose();
}

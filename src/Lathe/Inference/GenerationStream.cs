using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Lathe.Inference;

/// <summary>The events of one submitted request, in the order the engine produced them (choices interleaved). Read it
/// once. Leaving the enumeration early, or cancelling the token given to <see cref="InferenceEngine.Submit"/>, cancels
/// the request: its sequences are freed at the engine's next step.</summary>
public sealed class GenerationStream : IAsyncEnumerable<GenerationEvent>
{
    readonly Channel<GenerationEvent> _events = Channel.CreateUnbounded<GenerationEvent>(new() { SingleReader = true, SingleWriter = true });
    volatile bool _cancelled;
    volatile int _cachedPromptTokens;

    internal GenerationStream(int promptTokens, int choices)
    {
        PromptTokens = promptTokens;
        Choices = choices;
    }

    /// <summary>Tokens in the prompt.</summary>
    public int PromptTokens { get; }

    /// <summary>Choices the request asked for.</summary>
    public int Choices { get; }

    /// <summary>Prompt tokens whose keys and values came from the prefix cache; known once the first event arrived.</summary>
    public int CachedPromptTokens { get => _cachedPromptTokens; internal set => _cachedPromptTokens = value; }

    internal bool Cancelled => _cancelled;
    internal void Cancel() => _cancelled = true;
    internal void Write(GenerationEvent e) => _events.Writer.TryWrite(e);
    internal void Complete(Exception? error = null) => _events.Writer.TryComplete(error);

    public async IAsyncEnumerator<GenerationEvent> GetAsyncEnumerator(CancellationToken cancel = default)
    {
        bool finished = false;
        try
        {
            await foreach (var e in _events.Reader.ReadAllAsync(cancel).ConfigureAwait(false)) yield return e;
            finished = true;
        }
        finally
        {
            if (!finished) Cancel();   // the reader went away: stop decoding for it
        }
    }

    /// <summary>Reads the whole stream: per choice, its text, tokens and finish reason.</summary>
    public async Task<GenerationResult[]> CollectAsync(CancellationToken cancel = default)
    {
        var results = new GenerationResult[Choices];
        for (int i = 0; i < Choices; i++) results[i] = new GenerationResult();
        await foreach (var e in this.WithCancellation(cancel).ConfigureAwait(false))
        {
            var r = results[e.Choice];
            r.Text.Append(e.Text);
            if (e.Token >= 0) { r.Tokens.Add(e.Token); r.Events.Add(e); }
            if (e.Finish is { } f) { r.Finish = f; r.StopToken = e.StopToken; }
        }
        return results;
    }
}

/// <summary>One choice of a finished request (<see cref="GenerationStream.CollectAsync"/>).</summary>
public sealed class GenerationResult
{
    public System.Text.StringBuilder Text { get; } = new();
    public List<int> Tokens { get; } = [];
    /// <summary>The token events (with log-probabilities when asked for).</summary>
    public List<GenerationEvent> Events { get; } = [];
    public FinishReason Finish { get; set; }
    /// <summary>The stop token that ended the choice, when one did.</summary>
    public int? StopToken { get; set; }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Lathe.Inference;
using Lathe.Server.Metrics;
using Lathe.Server.OpenAi;

namespace Lathe.Server.Endpoints;

/// <summary>A token as a log-probability report needs it: its event and where its text starts in the choice's text.</summary>
internal readonly record struct TokenRecord(GenerationEvent Event, int TextOffset);

/// <summary>What one choice has produced so far.</summary>
internal sealed class ChoiceResult
{
    public readonly StringBuilder Text = new();
    public int Tokens;
    public FinishReason? Finish;
    /// <summary>The tokens with their log-probabilities, when the request asked for them and the response is whole.</summary>
    public List<TokenRecord>? Logprobs;
    public long LastTokenAt;
}

/// <summary>One submitted request's events read in order, with each choice's text, token count and finish kept, and the
/// latency metrics taken as the events arrive: time to first token from the request's arrival, and the gap between
/// consecutive tokens of each choice.</summary>
internal sealed class GenerationRun
{
    readonly GenerationStream _stream;
    readonly ServerMetrics _metrics;
    readonly long _start;
    bool _first = true;

    /// <param name="keepLogprobs">Keep every token's event for a whole (non-streamed) response's log-probabilities.</param>
    /// <param name="startTimestamp">The request's arrival (<see cref="Stopwatch.GetTimestamp"/>).</param>
    public GenerationRun(GenerationStream stream, int choices, bool keepLogprobs, ServerMetrics metrics, long startTimestamp)
    {
        _stream = stream;
        _metrics = metrics;
        _start = startTimestamp;
        Choices = new ChoiceResult[choices];
        for (int i = 0; i < choices; i++) Choices[i] = new ChoiceResult { Logprobs = keepLogprobs ? [] : null };
    }

    public ChoiceResult[] Choices { get; }

    /// <summary>The request's usage once its events are read.</summary>
    public Usage Usage
    {
        get
        {
            int completion = 0;
            foreach (var c in Choices) completion += c.Tokens;
            return new Usage(_stream.PromptTokens, completion, _stream.CachedPromptTokens);
        }
    }

    public async IAsyncEnumerable<GenerationEvent> ReadAsync([EnumeratorCancellation] CancellationToken cancel)
    {
        await foreach (var e in _stream.WithCancellation(cancel).ConfigureAwait(false))
        {
            var choice = Choices[e.Choice];
            if (e.Token >= 0)
            {
                long now = Stopwatch.GetTimestamp();
                if (_first) { _metrics.TimeToFirstToken.Observe(Stopwatch.GetElapsedTime(_start, now).TotalSeconds); _first = false; }
                else if (choice.LastTokenAt != 0) _metrics.InterTokenLatency.Observe(Stopwatch.GetElapsedTime(choice.LastTokenAt, now).TotalSeconds);
                choice.LastTokenAt = now;
                choice.Tokens++;
                choice.Logprobs?.Add(new TokenRecord(e, choice.Text.Length));
            }
            choice.Text.Append(e.Text);
            if (e.Finish is { } finish) choice.Finish = finish;
            yield return e;
        }
    }

    /// <summary>Reads every event (a whole response).</summary>
    public async Task ReadAllAsync(CancellationToken cancel)
    {
        await foreach (var _ in ReadAsync(cancel).ConfigureAwait(false)) { }
    }

    /// <summary>Submits <paramref name="request"/>, turning the engine's refusals into API errors: a full queue is 429,
    /// a request out of its limits (its message names the field) is 400.</summary>
    public static GenerationStream Submit(InferenceEngine engine, GenerationRequest request, CancellationToken cancel)
    {
        try { return engine.Submit(request, cancel); }
        catch (EngineBusyException e) { throw new ApiException(429, e.Message, code: "rate_limit_exceeded", type: "requests"); }
        catch (ArgumentException e) { throw new ApiException(400, e.Message, FieldOf(e.Message)); }
    }

    /// <summary>The field a one-line message starts with ("max_tokens: …"), or null.</summary>
    public static string? FieldOf(string message)
    {
        int colon = message.IndexOf(':');
        if (colon <= 0) return null;
        for (int i = 0; i < colon; i++)
            if (!(char.IsAsciiLetterOrDigit(message[i]) || message[i] is '_' or '.' or '[' or ']')) return null;
        return message[..colon];
    }

    /// <summary>The length a request without max_tokens gets: what the context leaves after the prompt, within the
    /// engine's per-choice limit.</summary>
    public static int DefaultMaxTokens(InferenceEngine engine, int promptTokens)
    {
        int room = engine.ContextLength - promptTokens;
        if (engine.Options.MaxOutputTokens > 0) room = Math.Min(room, engine.Options.MaxOutputTokens);
        return Math.Max(room, 1);   // no room: the engine refuses the prompt with its own message
    }
}

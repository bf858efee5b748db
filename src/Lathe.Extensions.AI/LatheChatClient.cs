using System.Runtime.CompilerServices;
using System.Text;
using Lathe.Formats;
using Lathe.Inference;
using Microsoft.Extensions.AI;

namespace Lathe.Extensions.AI;

/// <summary>An <see cref="IChatClient"/> over a Lathe <see cref="InferenceEngine"/> in this process: the messages are
/// rendered with the model's chat template, decoded by the engine (batched with whatever else it runs) and returned as
/// a <see cref="ChatResponse"/> with exact <see cref="UsageDetails"/> and finish reason, or streamed token by token.</summary>
/// <remarks>
/// <para>Options: Temperature, TopP, TopK, MaxOutputTokens (default: what the context leaves), StopSequences (at most 4),
/// Seed (the same seed gives the same reply; none draws a fresh one), FrequencyPenalty, PresencePenalty, Instructions
/// (joined to the system message), ModelId (the base model's id, or an adapter's name to run with it), and
/// AdditionalProperties "min_p" / "repetition_penalty" (as vLLM and llama.cpp accept them). Tools and a JSON
/// ResponseFormat throw <see cref="NotSupportedException"/> until constrained decoding is wired in.</para>
/// <para>The client keeps no conversation state (ConversationId is ignored) and does not own the engine.</para>
/// </remarks>
public sealed class LatheChatClient : IChatClient
{
    readonly InferenceEngine _engine;
    readonly ChatRequestMapper _mapper;
    readonly ChatClientMetadata _metadata;

    /// <param name="engine">The engine to decode with (not owned: dispose it yourself).</param>
    /// <param name="template">How conversations are laid out; null: the model's own chat template
    /// (<see cref="ModelChatTemplate.For"/>: a GGUF's Jinja program, else its family, ChatML when it has none).</param>
    /// <param name="modelId">The base model's id in responses and ChatOptions.ModelId; null: the name of the folder or
    /// file the model was loaded from.</param>
    public LatheChatClient(InferenceEngine engine, ChatTemplate? template = null, string? modelId = null)
    {
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        ModelId = modelId ?? ModelNames.DefaultId(engine.Model);
        Template = template ?? ModelChatTemplate.For(engine.Model);
        _mapper = new ChatRequestMapper(engine, Template, ModelId);
        _metadata = new ChatClientMetadata("lathe", providerUri: null, defaultModelId: ModelId);
    }

    /// <summary>The base model's id.</summary>
    public string ModelId { get; }

    /// <summary>The chat template conversations are rendered with.</summary>
    public ChatTemplate Template { get; }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var request = _mapper.Map(messages, options);
        var stream = _engine.Submit(request, cancellationToken);
        var text = new StringBuilder();
        int tokens = 0;
        FinishReason? finish = null;
        await foreach (var e in stream.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (e.Finish == FinishReason.Cancelled) ThrowCancelled(cancellationToken);
            text.Append(e.Text);
            if (e.Token >= 0) tokens++;
            finish ??= e.Finish;
        }
        string id = NewId();
        var message = new Microsoft.Extensions.AI.ChatMessage(ChatRole.Assistant, text.ToString()) { MessageId = id };
        return new ChatResponse(message)
        {
            ResponseId = id,
            ModelId = ModelIdOf(request),
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = Reason(finish),
            Usage = Usage(stream, tokens),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<Microsoft.Extensions.AI.ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = _mapper.Map(messages, options);
        var stream = _engine.Submit(request, cancellationToken);
        string id = NewId(), model = ModelIdOf(request);
        var created = DateTimeOffset.UtcNow;
        int tokens = 0;
        ChatResponseUpdate Update(IList<AIContent> contents) => new(ChatRole.Assistant, contents)
        {
            ResponseId = id, MessageId = id, ModelId = model, CreatedAt = created,
        };
        await foreach (var e in stream.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (e.Finish == FinishReason.Cancelled) ThrowCancelled(cancellationToken);
            if (e.Token >= 0) tokens++;
            if (e.Finish is { } finish)
            {
                // The last update: text held back until the end (a partial stop string that was not one), the finish
                // reason and the usage, as OpenAI's final chunk carries them.
                var last = new List<AIContent>();
                if (e.Text.Length > 0) last.Add(new TextContent(e.Text));
                last.Add(new UsageContent(Usage(stream, tokens)));
                var update = Update(last);
                update.FinishReason = Reason(finish);
                yield return update;
            }
            else if (e.Text.Length > 0) yield return Update([new TextContent(e.Text)]);
        }
    }

    // A choice ends cancelled when the caller's token was cancelled, or when the engine was shut down under it.
    static void ThrowCancelled(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        throw new OperationCanceledException("the inference engine stopped before the reply was complete.");
    }

    string ModelIdOf(GenerationRequest request) => request.Adapter ?? ModelId;

    static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N");

    // Cancelled never gets here (it throws).
    static ChatFinishReason? Reason(FinishReason? finish) => finish switch
    {
        FinishReason.Stop => ChatFinishReason.Stop,
        FinishReason.Length => ChatFinishReason.Length,
        _ => null,
    };

    static UsageDetails Usage(GenerationStream stream, int outputTokens) => new()
    {
        InputTokenCount = stream.PromptTokens,
        OutputTokenCount = outputTokens,
        TotalTokenCount = stream.PromptTokens + outputTokens,
        CachedInputTokenCount = stream.CachedPromptTokens,
    };

    /// <summary><see cref="ChatClientMetadata"/> (provider "lathe", the base model's id), the engine, or this client.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(ChatClientMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(_engine)) return _engine;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Nothing to release: the engine is the caller's.</summary>
    public void Dispose() { }
}

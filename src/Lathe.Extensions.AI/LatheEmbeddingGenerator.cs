using Lathe.Inference;
using Microsoft.Extensions.AI;

namespace Lathe.Extensions.AI;

/// <summary>An <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> over a Lathe <see cref="InferenceEngine"/> in this
/// process: each text is tokenized as the model tokenizes one input (BERT's [CLS] … [SEP], a decoder's BOS when it
/// wants one) and embedded by <see cref="InferenceEngine.EmbedAsync"/> — pooled final hidden states of the base model,
/// L2-normalised (<see cref="Embedder"/>). Inputs longer than the context are refused, not truncated.</summary>
public sealed class LatheEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    readonly InferenceEngine _engine;
    readonly EmbeddingGeneratorMetadata _metadata;

    /// <param name="engine">The engine to embed with (not owned: dispose it yourself).</param>
    /// <param name="modelId">The model's id in embeddings and EmbeddingGenerationOptions.ModelId; null: the name of the
    /// folder or file the model was loaded from.</param>
    public LatheEmbeddingGenerator(InferenceEngine engine, string? modelId = null)
    {
        _engine = engine ?? throw new ArgumentNullException(nameof(engine));
        ModelId = modelId ?? ModelNames.DefaultId(engine.Model);
        Dimensions = engine.Model.Model.Config.Embd;
        _metadata = new EmbeddingGeneratorMetadata("lathe", providerUri: null, defaultModelId: ModelId, defaultModelDimensions: Dimensions);
    }

    /// <summary>The model's id.</summary>
    public string ModelId { get; }

    /// <summary>Floats per embedding: the model's hidden size.</summary>
    public int Dimensions { get; }

    /// <exception cref="ArgumentException">An input is empty or too long, <c>options.ModelId</c> is not this model's, or
    /// <c>options.Dimensions</c> differs from the model's hidden size (Lathe does not shorten embeddings).</exception>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.ModelId is { } model && model != ModelId)
            throw new ArgumentException($"EmbeddingGenerationOptions.ModelId: '{model}' is not this generator's model '{ModelId}' (embeddings come from the base model).");
        if (options?.Dimensions is int dims && dims != Dimensions)
            throw new ArgumentException($"EmbeddingGenerationOptions.Dimensions: {dims}, but the model's embeddings have {Dimensions}.");
        var inputs = new List<int[]>();
        int index = 0;
        foreach (string text in values)
        {
            if (text is null) throw new ArgumentException($"values[{index}]: null.");
            // Raw text: special-token markup inside what is embedded is not interpreted.
            inputs.Add(_engine.Model.Encode(text, parseSpecial: false));
            index++;
        }
        var result = new GeneratedEmbeddings<Embedding<float>>(inputs.Count);
        if (inputs.Count == 0) return result;
        float[][] vectors = await _engine.EmbedAsync(inputs, cancellationToken).ConfigureAwait(false);
        var created = DateTimeOffset.UtcNow;
        long tokens = 0;
        for (int i = 0; i < vectors.Length; i++)
        {
            result.Add(new Embedding<float>(vectors[i]) { ModelId = ModelId, CreatedAt = created });
            tokens += inputs[i].Length;
        }
        result.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
        return result;
    }

    /// <summary><see cref="EmbeddingGeneratorMetadata"/> (provider "lathe", the model's id and dimensions), the engine,
    /// or this generator.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return _metadata;
        if (serviceType.IsInstanceOfType(_engine)) return _engine;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Nothing to release: the engine is the caller's.</summary>
    public void Dispose() { }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

/// <summary>Why generation stopped.</summary>
public enum StopReason { MaxTokens, StopToken, StopString, Context, Cancelled }

/// <summary>One streamed step: the token chosen and the text that became final with it (possibly empty while a
/// character or a possible stop string is incomplete).</summary>
public readonly record struct GeneratedPiece(int TokenId, string Text);

/// <summary>Decoding with a (paged) KV cache: the prompt is processed in one batched pass, then each new token costs one
/// single-position forward. The cache is kept between calls: a prompt that starts with the tokens already cached
/// (a chat history growing turn by turn) only processes what is new.</summary>
public sealed class Generator : IDisposable
{
    readonly ICachedDecoder _model;
    readonly CausalLM? _decoder;
    readonly Tensor? _promptRows;      // (P, C): prompt tuning's trained rows, in the cache before every prompt
    readonly int _rowCount;            // P, or 0
    readonly Tensor[] _pair = new Tensor[2];
    readonly PagedKvCache _cache;
    readonly int _sequence;
    readonly Tape _tape = new();
    readonly List<int> _cached = [];   // the tokens whose keys and values are in the cache, in order
    float[] _last = [];

    public StopReason Reason { get; private set; }

    /// <summary>Prompt tokens the last call actually ran through the model (the rest came from the cache).</summary>
    public int PromptTokensProcessed { get; private set; }

    /// <param name="model">The decoder.</param>
    /// <param name="promptRows">Prompt tuning's trained rows (P, C) (<c>PromptTuning.Rows</c>), or null: the first
    /// prefill puts them before the prompt, at positions 0 … P−1, and they stay cached for later prompts. They count
    /// against the context: a prompt may then hold MaxPositions − P tokens. The generator reads them, never owns them.</param>
    public Generator(CausalLM model, Tensor? promptRows = null)
    {
        if (promptRows is not null && (promptRows.Rank != 2 || promptRows.Dim(1) != model.Config.Embd || promptRows.Dim(0) < 1 || promptRows.Dim(0) >= model.Config.MaxPositions))
            throw new ArgumentException($"generate: prompt rows {Tensor.ShapeString(promptRows.Shape)} must be (P, {model.Config.Embd}) with 1 ≤ P < {model.Config.MaxPositions}.");
        _model = model;
        _decoder = model;
        _promptRows = promptRows;
        _rowCount = promptRows?.Dim(0) ?? 0;
        _cache = new PagedKvCache(model.Config);   // one sequence of the full context
        _sequence = _cache.AddSequence();
    }

    /// <summary>A generator over an encoder-decoder's decoder: the encoder runs once over <paramref name="encoderIds"/> and
    /// its cross-attention keys and values are stored as the sequence's memory; prompts are then decoder prompts
    /// (usually just <see cref="ModelConfig.DecoderStartTokenId"/>), sampled, stopped and streamed as for a decoder-only
    /// model. The cache holds up to <see cref="ModelConfig.MaxPositions"/> decoder tokens.</summary>
    public Generator(T5Model model, ReadOnlySpan<int> encoderIds)
    {
        var c = model.Config;
        if (encoderIds.IsEmpty) throw new ArgumentException("generate: the encoder input is empty.");
        int blockSize = PagedKvCache.DefaultBlockSize, Te = encoderIds.Length;
        _model = model;
        _cache = new PagedKvCache(c.DecoderLayers, c.Heads, c.DKv, c.MaxPositions, (c.MaxPositions + blockSize - 1) / blockSize, blockSize);
        try
        {
            _cache.EnableMemory(Te, (Te + blockSize - 1) / blockSize);
            _sequence = _cache.AddSequence();
            _tape.Reset();
            using (_tape.Activate())
            using (Tape.NoGrad())
            {
                var memory = Ops.Reshape(model.Encode(encoderIds, default, 1, Te), Te, c.Embd);   // (Te, C)
                for (int l = 0; l < c.DecoderLayers; l++)
                {
                    var (k, v) = model.CrossAttentionMemory(memory, l);
                    _cache.StoreMemory(_sequence, l, k, v);
                }
            }
        }
        catch { _cache.Dispose(); _tape.Dispose(); throw; }
    }

    /// <summary>Continues <paramref name="prompt"/> by up to <paramref name="maxTokens"/> tokens, stopping early at a
    /// token in <paramref name="stopTokens"/> (not yielded) or at the end of the model's context.</summary>
    public IEnumerable<int> Generate(int[] prompt, int maxTokens, SamplingOptions options, IReadOnlySet<int>? stopTokens = null)
    {
        var sampler = Start(prompt, maxTokens, options);
        var history = new List<int>(prompt);
        for (int n = 0; n < maxTokens; n++)
        {
            int next = Choose(sampler, history, stopTokens);
            if (next < 0) yield break;
            yield return next;
            if (n + 1 == maxTokens) yield break;
            if (!Advance(next)) yield break;
        }
    }

    /// <summary>Streams the continuation as tokens and final text; the model runs on the thread pool between
    /// items, and <paramref name="cancel"/> stops it after the current token (<see cref="Reason"/> = Cancelled).
    /// <paramref name="processor"/> (a grammar or knowledge-graph constraint) masks each step's logits and is told
    /// every token kept; the text ends when it reports <see cref="ILogitsProcessor.IsComplete"/> (Reason = StopToken).</summary>
    public async IAsyncEnumerable<GeneratedPiece> GenerateAsync(int[] prompt, int maxTokens, SamplingOptions options,
        TextStreamer text, IReadOnlySet<int>? stopTokens = null, [EnumeratorCancellation] CancellationToken cancel = default,
        ILogitsProcessor? processor = null)
    {
        var sampler = await Task.Run(() => Start(prompt, maxTokens, options), CancellationToken.None).ConfigureAwait(false);
        var history = new List<int>(prompt);
        for (int n = 0; n < maxTokens; n++)
        {
            if (cancel.IsCancellationRequested) { Reason = StopReason.Cancelled; break; }
            int next = Choose(sampler, history, stopTokens, processor);
            if (next < 0) break;
            string piece = text.Push(next);
            if (text.Stopped) { Reason = StopReason.StopString; yield return new GeneratedPiece(next, piece); yield break; }
            yield return new GeneratedPiece(next, piece);
            if (processor is { IsComplete: true }) { Reason = StopReason.StopToken; break; }
            if (n + 1 == maxTokens) break;
            if (cancel.IsCancellationRequested) { Reason = StopReason.Cancelled; break; }
            if (!await Task.Run(() => Advance(next), CancellationToken.None).ConfigureAwait(false)) break;
        }
        string rest = text.Flush();
        if (rest.Length > 0) yield return new GeneratedPiece(-1, rest);
    }

    SamplerChain Start(int[] prompt, int maxTokens, SamplingOptions options)
    {
        if (prompt.Length == 0) throw new ArgumentException("generate: the prompt is empty.");
        if (prompt.Length > _cache.MaxLength - _rowCount)
            throw new ArgumentException(_rowCount == 0 ? $"generate: the prompt has {prompt.Length} tokens; the model's context is {_cache.MaxLength}."
                : $"generate: the prompt has {prompt.Length} tokens; the model's context is {_cache.MaxLength}, of which the {_rowCount} prompt-tuning rows take {_rowCount}.");
        if (maxTokens < 0) throw new ArgumentException($"generate: max tokens {maxTokens} must be ≥ 0.");
        var sampler = new SamplerChain(options);
        if (_last.Length != _model.Config.VocabSize) _last = new float[_model.Config.VocabSize];
        // Reuse the cached prefix; at least the last prompt token is run again, for its logits.
        int keep = 0, limit = Math.Min(_cached.Count, prompt.Length - 1);
        while (keep < limit && _cached[keep] == prompt[keep]) keep++;
        // The prompt-tuning rows stay cached before the tokens (when nothing is kept they are run again with the prompt).
        _cache.Truncate(_sequence, keep == 0 ? 0 : _rowCount + keep);
        _cached.RemoveRange(keep, _cached.Count - keep);
        PromptTokensProcessed = prompt.Length - keep;
        Forward(prompt.AsSpan(keep));
        Reason = StopReason.MaxTokens;
        return sampler;
    }

    // The next token, or -1 when it is a stop token.
    int Choose(SamplerChain sampler, List<int> history, IReadOnlySet<int>? stopTokens, ILogitsProcessor? processor = null)
    {
        int next = sampler.Sample(_last, CollectionsMarshal.AsSpan(history), processor);
        if (stopTokens is not null && stopTokens.Contains(next)) { Reason = StopReason.StopToken; return -1; }
        processor?.Accept(next);
        history.Add(next);
        return next;
    }

    // Feeds the chosen token; false when the context is full.
    bool Advance(int token)
    {
        if (_cache.Length(_sequence) >= _cache.MaxLength) { Reason = StopReason.Context; return false; }
        Forward([token]);
        return true;
    }

    /// <summary>Prompt tokens per forward pass. The tape keeps every intermediate of a pass, so activation memory grows
    /// with the tokens in one pass; 128 rows still run the batched (GEMM) kernels at full speed.</summary>
    public const int PromptChunk = 128;

    // Runs the new tokens through the model (a long prompt in chunks) and keeps the logits of the last one.
    unsafe void Forward(ReadOnlySpan<int> tokens)
    {
        for (int start = 0; start < tokens.Length; start += PromptChunk)
        {
            var chunk = tokens.Slice(start, Math.Min(PromptChunk, tokens.Length - start));
            _tape.Reset();
            using (_tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = _promptRows is not null && _cache.Length(_sequence) == 0
                    ? WithPromptRows(chunk)
                    : _cache.Forward(_model, chunk, _sequence);           // (1, V): the lm_head on the last position only
                if (start + chunk.Length == tokens.Length)
                    new ReadOnlySpan<float>(Ops.Contiguous(logits).Data, _last.Length).CopyTo(_last);
            }
        }
        foreach (int t in tokens) _cached.Add(t);
    }

    // The first prefill of a prompt-tuned sequence: the P rows, then the chunk's token embeddings, as one cached step.
    Tensor WithPromptRows(ReadOnlySpan<int> chunk)
    {
        int P = _rowCount, C = _decoder!.Config.Embd;
        _cache.Schedule([_sequence], [P + chunk.Length]);
        _pair[0] = Ops.Reshape(_promptRows!, 1, P, C);                    // (1,P,C)
        _pair[1] = _decoder.Embed(chunk, 1, chunk.Length);                 // (1,n,C)
        var embeddings = Ops.Concat(_pair, 1);                             // (1,P+n,C)
        Array.Clear(_pair);
        return _decoder.Forward(embeddings, _cache);                       // (1, V)
    }

    public void Dispose()
    {
        _cache.Dispose();
        _tape.Dispose();
    }
}

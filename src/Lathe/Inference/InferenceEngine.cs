using System.Diagnostics;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

/// <summary>One model shared by many concurrent requests: continuous batching over a paged KV cache. A single loop
/// thread owns the model and the cache. Between steps it admits queued requests (when their worst-case KV blocks fit
/// and a slot is free), drops cancelled ones, and then runs one forward pass holding every decoding sequence's next
/// token plus chunks of the prompts being prefilled (chunked prefill), each sequence at its own position. Sequences
/// finish independently and free their blocks at once. Full blocks of finished prompts and replies stay in a
/// <see cref="PrefixCache"/>, so a request that repeats a prefix starts after it. Several choices of one request
/// (<see cref="GenerationRequest.Choices"/>) fork the prompt's sequence after its prefill and share its blocks.</summary>
/// <remarks>Admission reserves each request's worst case (prompt + max tokens, per choice) against the pool, so a
/// running sequence never runs out of blocks and nothing is ever preempted; the prefix cache only holds blocks no
/// reservation needs, evicting them when a step needs room. The model holds no per-request state; adapters (one base,
/// several adapters) are switched per group of sequences, one forward per adapter in use.</remarks>
public sealed partial class InferenceEngine : IDisposable
{
    readonly CausalLM? _decoder;
    readonly PagedKvCache? _cache;
    readonly PrefixCache? _prefixes;
    readonly HashSet<int> _stopTokens;
    readonly Thread _loop;
    readonly object _gate = new();
    readonly Queue<Pending> _queue = new();
    readonly Queue<EmbeddingJob> _embeddings = new();
    readonly List<Slot> _running = [];
    readonly SemaphoreSlim _wake = new(0);
    readonly Tape _tape = new();
    volatile bool _stopping;
    int _reservedBlocks;
    long _requests, _promptTokens, _cachedPromptTokens, _generatedTokens, _steps;

    /// <param name="model">The model (a decoder for generation; any model for embeddings). The engine does not own it.</param>
    /// <param name="options">Limits and batching settings.</param>
    /// <param name="adapters">Adapters loaded over <paramref name="model"/>, selected per request by name.</param>
    /// <param name="draft">A small decoder with the model's tokenizer: every decoding sequence is then decoded
    /// speculatively (<see cref="EngineOptions.DraftTokens"/> proposals a step). The engine does not own it.</param>
    public InferenceEngine(LoadedModel model, EngineOptions? options = null, IAdapterSet? adapters = null, LoadedModel? draft = null)
    {
        Model = model;
        Options = options ?? new EngineOptions();
        Options.Validate();
        if (draft is not null) CheckDraft(model, draft);   // before any pool is allocated
        Adapters = adapters;
        _decoder = model.Model as CausalLM;
        int modelContext = model.Model.Config.MaxPositions;
        ContextLength = Options.ContextLength > 0 ? Math.Min(Options.ContextLength, modelContext) : modelContext;
        _stopTokens = new HashSet<int>(model.StopIds);
        foreach (string end in EndOfTurn(model))
            if (model.SpecialId(end) is int id) _stopTokens.Add(id);
        if (_decoder is not null)
        {
            int blockSize = PagedKvCache.DefaultBlockSize;
            int tokens = Options.KvTokens > 0 ? Options.KvTokens : Options.Parallel * ContextLength;
            int blocks = Math.Max((tokens + blockSize - 1) / blockSize, (ContextLength + blockSize - 1) / blockSize + 1);
            _cache = new PagedKvCache(_decoder.Config.Layers, _decoder.Config.KvHeads, _decoder.Config.HeadDim, ContextLength, blocks, blockSize);
            if (Options.PrefixCaching) _prefixes = new PrefixCache(_cache);
        }
        if (draft is not null) UseDraft(draft);
        _loop = new Thread(Run) { IsBackground = true, Name = "lathe-engine" };
        _loop.Start();
    }

    // The end-of-turn markers of the model's template family; none when the family is not one Lathe knows (the caller
    // then names a template and passes its end-of-turn ids as the request's stop tokens).
    static IReadOnlyList<string> EndOfTurn(LoadedModel model)
    {
        try { return ModelChatTemplate.For(model).EndOfTurn; }
        catch (InvalidDataException) { return []; }
    }

    public LoadedModel Model { get; }
    public EngineOptions Options { get; }
    public IAdapterSet? Adapters { get; }

    /// <summary>Tokens one sequence may hold (prompt + output).</summary>
    public int ContextLength { get; }

    /// <summary>Ids that end a choice for every request: the model's stop ids and its chat template's end-of-turn ids.</summary>
    public IReadOnlySet<int> StopTokens => _stopTokens;

    /// <summary>Raised on the engine's thread after every step (for metrics); keep handlers short.</summary>
    public event Action<StepInfo>? StepCompleted;

    /// <summary>Queues <paramref name="request"/>. Throws <see cref="ArgumentException"/> (one line naming the field) for
    /// a request outside the limits and <see cref="EngineBusyException"/> when the queue is full.</summary>
    public GenerationStream Submit(GenerationRequest request, CancellationToken cancel = default)
    {
        Validate(request);
        var stream = new GenerationStream(request.Prompt.Length, request.Choices);
        var pending = new Pending(request, stream, BlocksNeeded(request));
        lock (_gate)
        {
            if (_stopping) throw new ObjectDisposedException(nameof(InferenceEngine));
            // The queue's limit counts requests waiting; with room to run at once (nothing waiting, a slot free) even a
            // zero-length queue takes the request.
            if (_queue.Count >= Options.QueueCapacity && !(_queue.Count == 0 && _running.Count + request.Choices <= Options.Parallel))
                throw new EngineBusyException($"the server is busy: {_queue.Count} requests are waiting (the queue holds {Options.QueueCapacity}); retry later.");
            _queue.Enqueue(pending);
            _requests++;
        }
        if (cancel.CanBeCanceled) pending.Registration = cancel.Register(() => { stream.Cancel(); _wake.Release(); });
        _wake.Release();
        return stream;
    }

    void Validate(GenerationRequest r)
    {
        if (_decoder is null)
            throw new ArgumentException($"model: '{Model.Model.Config.ModelType}' is not a decoder (causal LM); it serves embeddings only.");
        if (r.Prompt.Length == 0) throw new ArgumentException("prompt: it is empty.");
        int vocab = _decoder.Config.VocabSize;
        foreach (int t in r.Prompt)
            if ((uint)t >= (uint)vocab) throw new ArgumentException($"prompt: token id {t} is outside the vocabulary of {vocab}.");
        int maxPrompt = Options.MaxPromptTokens > 0 ? Math.Min(Options.MaxPromptTokens, ContextLength - 1) : ContextLength - 1;
        if (r.Prompt.Length > maxPrompt)
            throw new ArgumentException($"prompt: {r.Prompt.Length} tokens is more than this server accepts ({maxPrompt}; the context is {ContextLength}).");
        if (r.MaxTokens < 1) throw new ArgumentException($"max_tokens: {r.MaxTokens} must be ≥ 1.");
        int maxOutput = Options.MaxOutputTokens > 0 ? Options.MaxOutputTokens : ContextLength;
        if (r.MaxTokens > maxOutput) throw new ArgumentException($"max_tokens: {r.MaxTokens} is more than this server allows ({maxOutput}).");
        if (r.Prompt.Length + r.MaxTokens > ContextLength)
            throw new ArgumentException($"max_tokens: the prompt's {r.Prompt.Length} tokens + {r.MaxTokens} exceed the context of {ContextLength}; lower max_tokens.");
        if (r.Choices < 1 || r.Choices > Options.Parallel) throw new ArgumentException($"n: {r.Choices} must be between 1 and {Options.Parallel} (this server's parallel sequences).");
        // OpenAI's limit of 4 is the API's to check; callers add the template's end-of-turn text beside the user's.
        if (r.StopStrings.Count > 16) throw new ArgumentException($"stop: at most 16 sequences, got {r.StopStrings.Count}.");
        if (r.TopLogprobs < -1 || r.TopLogprobs > 20) throw new ArgumentException($"top_logprobs: {r.TopLogprobs} must be between 0 and 20.");
        try { r.Sampling.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"sampling: {e.Message}"); }
        if (r.Adapter is not null && (Adapters is null || !Adapters.Names.Contains(r.Adapter)))
            throw new ArgumentException($"model: no adapter named '{r.Adapter}' is loaded.");
        if (BlocksNeeded(r) > _cache!.Blocks)
            throw new ArgumentException($"max_tokens: {r.Choices} × ({r.Prompt.Length} + {r.MaxTokens}) tokens need more KV cache than this server has ({_cache.Blocks * _cache.BlockSize} tokens).");
    }

    // A request's worst case in blocks: the prompt's full blocks once (the choices fork and share them), and per choice
    // the prompt's last partial block (copied on its first write) and the output.
    int BlocksNeeded(GenerationRequest r)
    {
        int size = PagedKvCache.DefaultBlockSize, p = r.Prompt.Length;
        return p / size + r.Choices * ((p % size + r.MaxTokens + size - 1) / size);
    }

    /// <summary>What the engine is doing now.</summary>
    public EngineStats Stats
    {
        get
        {
            lock (_gate)
            {
                return new EngineStats
                {
                    Queued = _queue.Count,
                    RunningSequences = _running.Count,
                    KvBlocks = _cache?.Blocks ?? 0,
                    KvBlocksFree = _cache?.FreeBlocks ?? 0,
                    KvBlocksCached = _prefixes?.IdleBlocks ?? 0,
                    KvBlockSize = _cache?.BlockSize ?? 0,
                    Requests = _requests,
                    PromptTokens = _promptTokens,
                    CachedPromptTokens = _cachedPromptTokens,
                    GeneratedTokens = _generatedTokens,
                    Steps = _steps,
                    DraftProposed = _draftProposed,
                    DraftAccepted = _draftAccepted,
                    DraftKvBlocks = _draftCache?.Blocks ?? 0,
                    DraftKvBlocksFree = _draftCache?.FreeBlocks ?? 0,
                };
            }
        }
    }

    /// <summary>Empties the prefix cache (its blocks return to the pool once no running sequence holds them).</summary>
    public void ClearPrefixCache()
    {
        lock (_gate) _prefixes?.Clear();
    }

    // ── The loop ─────────────────────────────────────────────────────────────────────────────────────────────────

    void Run()
    {
        while (!_stopping)
        {
            bool busy, embeddings;
            RunEmbeddings();
            lock (_gate)
            {
                DropCancelled();
                Admit();
                busy = _running.Count > 0;
                embeddings = _embeddings.Count > 0;
            }
            if (!busy) { if (!embeddings) _wake.Wait(); continue; }
            var clock = Stopwatch.StartNew();
            try
            {
                var (sequences, rows, prefill) = Step();
                StepCompleted?.Invoke(new StepInfo(sequences, rows, prefill, clock.Elapsed.TotalSeconds));
            }
            catch (Exception e)
            {
                // A failure inside the model is a bug, not the client's: the requests of the step end with the error
                // (their streams throw it) and the engine goes on serving the others.
                lock (_gate) FailRunning(e);
            }
        }
    }

    void FailRunning(Exception error)
    {
        foreach (var s in _running.ToArray())
        {
            _running.Remove(s);
            _cache!.Free(s.Sequence);
            FreeDraft(s);
            if (--s.Owner.Live == 0) Finish(s.Owner, error);
        }
    }

    // Queued requests join while a slot and their worst-case blocks are free, first come first served.
    void Admit()
    {
        while (_queue.Count > 0)
        {
            var p = _queue.Peek();
            if (p.Stream.Cancelled) { _queue.Dequeue(); Finish(p); continue; }
            if (_running.Count + p.Request.Choices > Options.Parallel || _reservedBlocks + p.Blocks > _cache!.Blocks) return;
            _queue.Dequeue();
            _reservedBlocks += p.Blocks;
            var r = p.Request;
            int sequence, cached = 0;
            if (_prefixes is not null)
            {
                var blocks = new List<int>();
                // At least the last prompt token runs again: its logits choose the first token.
                cached = _prefixes.Match(r.Adapter, r.Prompt.AsSpan(0, r.Prompt.Length - 1), blocks);
                sequence = cached > 0 ? _cache.AddSequence(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(blocks), cached) : _cache.AddSequence();
            }
            else sequence = _cache.AddSequence();
            p.Stream.CachedPromptTokens = cached;
            _promptTokens += r.Prompt.Length;
            _cachedPromptTokens += cached;
            p.Live = 1;
            p.Admitted = true;
            _running.Add(new Slot(p, 0, sequence, cached, this));
        }
    }

    void DropCancelled()
    {
        for (int i = _running.Count - 1; i >= 0; i--)
            if (_running[i].Owner.Stream.Cancelled) End(_running[i], FinishReason.Cancelled);
        if (_queue.Count > 0 && _queue.Any(p => p.Stream.Cancelled))
        {
            var keep = _queue.Where(p => !p.Stream.Cancelled).ToList();
            foreach (var p in _queue.Where(p => p.Stream.Cancelled)) Finish(p);
            _queue.Clear();
            foreach (var p in keep) _queue.Enqueue(p);
        }
    }

    // A request whose every choice has ended: its stream closes and its reservation returns.
    void Finish(Pending p, Exception? error = null)
    {
        if (p.Done) return;
        p.Done = true;
        p.Registration.Dispose();
        if (p.Admitted) _reservedBlocks -= p.Blocks;
        p.Stream.Complete(error);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
        }
        _wake.Release();
        _loop.Join();
        lock (_gate)
        {
            foreach (var s in _running.ToArray()) End(s, FinishReason.Cancelled);
            while (_queue.Count > 0) Finish(_queue.Dequeue(), new ObjectDisposedException(nameof(InferenceEngine)));
            while (_embeddings.Count > 0) _embeddings.Dequeue().Result.TrySetException(new ObjectDisposedException(nameof(InferenceEngine)));
            _prefixes?.Clear();
        }
        _cache?.Dispose();
        _draftCache?.Dispose();
        _speculative?.Dispose();
        _tape.Dispose();
        _wake.Dispose();
    }

    sealed class Pending(GenerationRequest request, GenerationStream stream, int blocks)
    {
        public readonly GenerationRequest Request = request;
        public readonly GenerationStream Stream = stream;
        public readonly int Blocks = blocks;
        public CancellationTokenRegistration Registration;
        public int Live;          // choices still running
        public bool Admitted;     // its blocks are reserved
        public bool Done;
    }
}

using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

// PLACEHOLDER (branch h15-server only): a sequential stand-in with the integrator's public API, so that the HTTP server
// and its integration tests can be written before the real continuous-batching engine lands on main. It runs one
// request at a time, its choices one after another, with no prefix cache. On merge, main's InferenceEngine.cs replaces
// this file entirely.

/// <summary>Serves one model to many requests (placeholder: one at a time).</summary>
public sealed class InferenceEngine : IDisposable
{
    readonly System.Collections.Concurrent.BlockingCollection<Job> _queue = new();
    readonly SemaphoreSlim _modelLock = new(1, 1);
    readonly CancellationTokenSource _stop = new();
    readonly Task _worker;
    readonly PagedKvCache _cache;
    readonly HashSet<int> _stopTokens;
    int _queued, _running;
    long _requests, _promptTokens, _generatedTokens, _steps;

    public InferenceEngine(LoadedModel model, EngineOptions? options = null, IAdapterSet? adapters = null)
    {
        options ??= new EngineOptions();
        options.Validate();
        Model = model;
        Options = options;
        Adapters = adapters;
        var config = model.Decoder.Config;
        ContextLength = options.ContextLength > 0 ? Math.Min(options.ContextLength, config.MaxPositions) : config.MaxPositions;
        _stopTokens = new HashSet<int>(model.StopIds);
        try
        {
            foreach (string end in ChatTemplate.Detect(model.ChatTemplate).EndOfTurn)
                if (model.SpecialId(end) is int id) _stopTokens.Add(id);
        }
        catch (InvalidDataException) { }
        int blocks = 2 * ((ContextLength + PagedKvCache.DefaultBlockSize - 1) / PagedKvCache.DefaultBlockSize);
        _cache = new PagedKvCache(config, blocks);
        // A thread of its own: decoding is long CPU-bound work that must not hold a thread-pool thread.
        _worker = Task.Factory.StartNew(Work, TaskCreationOptions.LongRunning);
    }

    public LoadedModel Model { get; }
    public EngineOptions Options { get; }
    public IAdapterSet? Adapters { get; }
    public int ContextLength { get; }
    public IReadOnlySet<int> StopTokens => _stopTokens;
    public event Action<StepInfo>? StepCompleted;

    public EngineStats Stats => new()
    {
        Queued = Volatile.Read(ref _queued), RunningSequences = Volatile.Read(ref _running),
        KvBlocks = _cache.Blocks, KvBlocksFree = _cache.FreeBlocks, KvBlockSize = _cache.BlockSize,
        Requests = Interlocked.Read(ref _requests), PromptTokens = Interlocked.Read(ref _promptTokens),
        GeneratedTokens = Interlocked.Read(ref _generatedTokens), Steps = Interlocked.Read(ref _steps),
    };

    public GenerationStream Submit(GenerationRequest request, CancellationToken cancel = default)
    {
        int V = Model.Decoder.Config.VocabSize;
        if (request.Prompt.Length == 0) throw new ArgumentException("prompt: is empty.");
        foreach (int id in request.Prompt)
            if ((uint)id >= (uint)V) throw new ArgumentException($"prompt: token id {id} is not below the vocabulary size {V}.");
        int maxPrompt = Options.MaxPromptTokens > 0 ? Math.Min(Options.MaxPromptTokens, ContextLength - 1) : ContextLength - 1;
        if (request.Prompt.Length > maxPrompt)
            throw new ArgumentException($"prompt: {request.Prompt.Length} tokens is more than the {maxPrompt} this server takes (context {ContextLength}).");
        int maxOut = Options.MaxOutputTokens > 0 ? Options.MaxOutputTokens : ContextLength;
        if (request.MaxTokens < 1 || request.MaxTokens > maxOut)
            throw new ArgumentException($"max_tokens: {request.MaxTokens} must be in 1…{maxOut}.");
        if (request.Choices < 1) throw new ArgumentException($"n: {request.Choices} must be ≥ 1.");
        if (request.TopLogprobs > 20) throw new ArgumentException($"top_logprobs: {request.TopLogprobs} must be ≤ 20.");
        if (request.Adapter is { } name && (Adapters is null || !Adapters.Names.Contains(name)))
            throw new ArgumentException($"model: no adapter named '{name}'.");
        request.Sampling.Validate();
        if (Interlocked.Increment(ref _queued) > Options.QueueCapacity + 1)
        {
            Interlocked.Decrement(ref _queued);
            throw new EngineBusyException($"the queue is full ({Options.QueueCapacity} requests waiting); try again later.");
        }
        var job = new Job(request, Channel.CreateUnbounded<GenerationEvent>(), cancel);
        _queue.Add(job);
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _promptTokens, request.Prompt.Length);
        return new GenerationStream(request.Prompt.Length, job.Events.Reader, cancel);
    }

    public async Task<float[][]> EmbedAsync(IReadOnlyList<int[]> inputs, CancellationToken cancel = default)
    {
        var decoder = Model.Decoder;
        for (int i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Length == 0) throw new ArgumentException($"input[{i}]: is empty.");
            if (inputs[i].Length > ContextLength) throw new ArgumentException($"input[{i}]: {inputs[i].Length} tokens is more than the context {ContextLength}.");
            foreach (int id in inputs[i])
                if ((uint)id >= (uint)decoder.Config.VocabSize) throw new ArgumentException($"input[{i}]: token id {id} is not below the vocabulary size {decoder.Config.VocabSize}.");
        }
        await _modelLock.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            return await Task.Run(() =>
            {
                var result = new float[inputs.Count][];
                using var tape = new Tape();
                for (int i = 0; i < inputs.Count; i++)
                {
                    tape.Reset();
                    using (tape.Activate())
                    using (Tape.NoGrad())
                    {
                        int T = inputs[i].Length, C = decoder.Config.Embd;
                        var hidden = Ops.Contiguous(decoder.Hidden(decoder.Embed(inputs[i], 1, T), 1, T));   // (T, C)
                        float[] data = new float[T * C];
                        unsafe { new ReadOnlySpan<float>(hidden.Data, T * C).CopyTo(data); }
                        var v = new float[C];
                        for (int t = 0; t < T; t++) for (int c = 0; c < C; c++) v[c] += data[t * C + c] / T;
                        double norm = 0;
                        foreach (float x in v) norm += x * x;
                        float scale = norm > 0 ? (float)(1 / Math.Sqrt(norm)) : 0;
                        for (int c = 0; c < C; c++) v[c] *= scale;
                        result[i] = v;
                    }
                }
                return result;
            }, cancel).ConfigureAwait(false);
        }
        finally { _modelLock.Release(); }
    }

    sealed record Job(GenerationRequest Request, Channel<GenerationEvent> Events, CancellationToken Cancel);

    void Work()
    {
        try
        {
            foreach (var job in _queue.GetConsumingEnumerable(_stop.Token))
            {
                Interlocked.Decrement(ref _queued);
                _modelLock.Wait(_stop.Token);
                try { Run(job); }
                catch (Exception e) { job.Events.Writer.TryComplete(e); }
                finally { _modelLock.Release(); job.Events.Writer.TryComplete(); }
            }
        }
        catch (OperationCanceledException) { }
    }

    void Run(Job job)
    {
        var r = job.Request;
        var decoder = Model.Decoder;
        int V = decoder.Config.VocabSize;
        Adapters?.Use(r.Adapter);
        var stops = new HashSet<int>(_stopTokens);
        foreach (int t in r.StopTokens) stops.Add(t);
        var logits = new float[V];
        var masked = new float[V];
        using var tape = new Tape();
        for (int choice = 0; choice < r.Choices && !job.Cancel.IsCancellationRequested; choice++)
        {
            int seq = _cache.AddSequence();
            Interlocked.Increment(ref _running);
            try
            {
                Step(tape, decoder, r.Prompt, seq, logits);
                var sampler = new SamplerChain(r.Sampling with { Seed = r.Sampling.Seed + (ulong)choice });
                var processor = r.Constraint?.Invoke();
                var streamer = new TextStreamer(Model.Tokenizer, r.StopStrings);
                var history = new List<int>(r.Prompt);
                FinishReason finish = FinishReason.Length;
                for (int n = 0; n < r.MaxTokens; n++)
                {
                    if (job.Cancel.IsCancellationRequested) { finish = FinishReason.Cancelled; break; }
                    logits.CopyTo(masked);
                    processor?.Process(masked);
                    int next = sampler.Sample(masked, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
                    if (stops.Contains(next)) { finish = FinishReason.Stop; break; }
                    history.Add(next);
                    processor?.Accept(next);
                    Interlocked.Increment(ref _generatedTokens);
                    var e = new GenerationEvent(choice, next, streamer.Push(next));
                    if (r.TopLogprobs >= 0) e = WithLogprobs(e, logits, next, r.TopLogprobs);
                    job.Events.Writer.TryWrite(e);
                    if (streamer.Stopped || processor?.IsComplete == true) { finish = FinishReason.Stop; break; }
                    if (n + 1 == r.MaxTokens) break;
                    if (_cache.Length(seq) >= ContextLength) break;
                    Step(tape, decoder, [next], seq, logits);
                }
                job.Events.Writer.TryWrite(new GenerationEvent(choice, -1, streamer.Flush(), finish));
            }
            finally
            {
                _cache.Free(seq);
                Interlocked.Decrement(ref _running);
            }
        }
    }

    void Step(Tape tape, CausalLM decoder, ReadOnlySpan<int> ids, int seq, float[] logits)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var last = Ops.Contiguous(_cache.Forward(decoder, ids, seq));
            unsafe { new ReadOnlySpan<float>(last.Data, logits.Length).CopyTo(logits); }
        }
        Interlocked.Increment(ref _steps);
        StepCompleted?.Invoke(new StepInfo(1, ids.Length, ids.Length > 1 ? ids.Length : 0, watch.Elapsed.TotalSeconds));
    }

    static GenerationEvent WithLogprobs(GenerationEvent e, float[] logits, int token, int top)
    {
        float max = float.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        float logZ = max + (float)Math.Log(sum);
        TokenLogprob[]? best = null;
        if (top > 0)
        {
            var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(top);
            best = order.Select(i => new TokenLogprob(i, logits[i] - logZ)).ToArray();
        }
        return e with { Logprob = logits[token] - logZ, TopLogprobs = best };
    }

    public void Dispose()
    {
        _stop.Cancel();
        _queue.CompleteAdding();
        try { _worker.Wait(); } catch (AggregateException) { }
        _cache.Dispose();
    }
}

/// <summary>The events of one submitted request (placeholder).</summary>
public sealed class GenerationStream : IAsyncEnumerable<GenerationEvent>
{
    readonly ChannelReader<GenerationEvent> _events;
    readonly CancellationToken _cancel;

    internal GenerationStream(int promptTokens, ChannelReader<GenerationEvent> events, CancellationToken cancel)
    {
        PromptTokens = promptTokens;
        _events = events;
        _cancel = cancel;
    }

    public int PromptTokens { get; }
    public int CachedPromptTokens => 0;

    public async IAsyncEnumerator<GenerationEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(_cancel, cancellationToken);
        await foreach (var e in _events.ReadAllAsync(both.Token).ConfigureAwait(false)) yield return e;
    }
}

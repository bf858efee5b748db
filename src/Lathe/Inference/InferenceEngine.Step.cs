using System.Runtime.InteropServices;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

// One engine step: the batch is laid out, the model runs once per adapter in use, and every sequence whose prompt is
// complete chooses its next token.
public sealed partial class InferenceEngine
{
    // The step's layout, reused from step to step.
    readonly List<Slot> _batch = [];
    readonly List<int> _ids = [], _sequences = [], _counts = [];
    readonly List<string?> _groups = [];
    readonly List<Slot> _choosers = [];
    readonly List<int> _rows = [];
    int[] _chosen = [];

    (int Sequences, int Rows, int PrefillRows) Step()
    {
        lock (_gate)
        {
            _groups.Clear();
            foreach (var s in _running)
                if (!_groups.Contains(s.Owner.Request.Adapter)) _groups.Add(s.Owner.Request.Adapter);
        }
        int sequences = 0, rows = 0, prefill = 0;
        foreach (string? adapter in _groups)
        {
            var (s, r, p) = _speculative is null ? StepGroup(adapter) : StepGroupSpeculative(adapter);
            sequences += s; rows += r; prefill += p;
        }
        lock (_gate) _steps++;
        return (sequences, rows, prefill);
    }

    unsafe (int, int, int) StepGroup(string? adapter)
    {
        int prefillRows = 0;
        lock (_gate)
        {
            _batch.Clear(); _ids.Clear(); _sequences.Clear(); _counts.Clear();
            // Rows per step stay within the batch-invariant bound when they can (a sequence's bits then never depend
            // on what shares its step): decoding rows first, prompt chunks in what is left.
            int decoding = 0;
            foreach (var s in _running) if (s.Next >= 0 && s.Owner.Request.Adapter == adapter) decoding++;
            int budget = Math.Min(Options.PrefillChunk, Math.Max(Ops.BatchInvariantRows - decoding, 1));
            foreach (var s in _running)
            {
                if (s.Owner.Request.Adapter != adapter || s.Owner.Stream.Cancelled) continue;
                if (s.Next >= 0) Add(s, [s.Next]);
                else if (s.Position < s.Prompt.Length && budget > 0)
                {
                    int n = Math.Min(budget, s.Prompt.Length - s.Position);
                    Add(s, s.Prompt.AsSpan(s.Position, n));
                    budget -= n;
                    prefillRows += n;
                }
            }
            if (_batch.Count == 0) return (0, 0, 0);
            MakeRoom();
        }
        Adapters?.Use(adapter);
        int V = _decoder!.Config.VocabSize;
        _tape.Reset();
        using (_tape.Activate())
        using (Tape.NoGrad())
        {
            var logits = Ops.Contiguous(_cache!.Forward(_decoder, CollectionsMarshal.AsSpan(_ids), CollectionsMarshal.AsSpan(_sequences),
                CollectionsMarshal.AsSpan(_counts)));   // (sequences, V): each sequence's last row
            float* data = logits.Data;
            lock (_gate)
            {
                // Which slots choose a token now, and from which row: decoding ones, prompts just completed, their forks.
                _choosers.Clear(); _rows.Clear();
                for (int i = 0; i < _batch.Count; i++)
                {
                    var s = _batch[i];
                    if (s.Next >= 0) { s.Next = -1; _choosers.Add(s); _rows.Add(i); continue; }
                    s.Position += _counts[i];
                    if (s.Position < s.Prompt.Length) continue;
                    foreach (var chooser in PromptDone(s)) { _choosers.Add(chooser); _rows.Add(i); }
                }
            }
            // Sampling is per slot (own sampler, history and constraint), so the slots draw in parallel; what they
            // draw is applied in order afterwards.
            if (_chosen.Length < _choosers.Count) _chosen = new int[Math.Max(_choosers.Count, 2 * _chosen.Length)];
            if (_choosers.Count >= 4)
                Parallel.For(0, _choosers.Count, j => _chosen[j] = Draw(_choosers[j], new ReadOnlySpan<float>(data + (long)_rows[j] * V, V)));
            else
                for (int j = 0; j < _choosers.Count; j++) _chosen[j] = Draw(_choosers[j], new ReadOnlySpan<float>(data + (long)_rows[j] * V, V));
            lock (_gate)
                for (int j = 0; j < _choosers.Count; j++)
                    Apply(_choosers[j], _chosen[j], new ReadOnlySpan<float>(data + (long)_rows[j] * V, V));
        }
        return (_batch.Count, _ids.Count, prefillRows);
    }

    void Add(Slot s, ReadOnlySpan<int> ids)
    {
        _batch.Add(s);
        _sequences.Add(s.Sequence);
        _counts.Add(ids.Length);
        foreach (int t in ids) _ids.Add(t);
    }

    // Frees cached prefixes until the step's new tokens surely fit (at most one new block per sequence per 16 tokens,
    // plus one for a copy-on-write of a shared last block).
    void MakeRoom()
    {
        if (_prefixes is null) return;
        int needed = 0;
        foreach (int n in _counts) needed += n / _cache!.BlockSize + 2;
        while (_cache!.FreeBlocks < needed && _prefixes.EvictOne()) { }
    }

    // The prompt is in the cache: its full blocks join the prefix cache and the request's other choices fork from it.
    // Returns the slots that now choose their first token from the prompt's last logits.
    Slot[] PromptDone(Slot s)
    {
        var owner = s.Owner;
        _prefixes?.Insert(owner.Request.Adapter, s.Prompt, _cache!.BlockTable(s.Sequence));
        var slots = new Slot[owner.Request.Choices];
        slots[0] = s;
        for (int c = 1; c < slots.Length; c++)
        {
            slots[c] = new Slot(owner, c, _cache!.Fork(s.Sequence), s.Prompt.Length, this);
            owner.Live++;
            _running.Add(slots[c]);
        }
        return slots;
    }

    // The slot's next token from its logits row (any thread: touches only the slot's own state).
    static int Draw(Slot s, ReadOnlySpan<float> row) => s.Sampler.Sample(row, CollectionsMarshal.AsSpan(s.History), s.Processor);

    // Reports the drawn token, or ends the choice (a stop token is not reported).
    void Apply(Slot s, int token, ReadOnlySpan<float> row)
    {
        var request = s.Owner.Request;
        if (_stopTokens.Contains(token) || s.ExtraStops?.Contains(token) == true) { End(s, FinishReason.Stop, token); return; }
        s.Processor?.Accept(token);
        s.History.Add(token);
        s.Generated++;
        _generatedTokens++;
        string text = s.Streamer.Push(token);
        var e = new GenerationEvent(s.Choice, token, text);
        if (request.TopLogprobs >= 0) e = Logprobs.Describe(e, row, token, request.TopLogprobs);
        s.Owner.Stream.Write(e);
        if (s.Streamer.Stopped || s.Processor?.IsComplete == true) End(s, FinishReason.Stop);
        else if (s.Generated >= request.MaxTokens) End(s, FinishReason.Length);
        else s.Next = token;
    }

    // Ends one choice: held-back text and the finish reason go out, full blocks join the prefix cache, the sequence's
    // blocks are freed; the request's stream closes with its last choice.
    void End(Slot s, FinishReason reason, int stopToken = -1)
    {
        if (!_running.Remove(s)) return;
        string rest = reason == FinishReason.Cancelled ? "" : s.Streamer.Flush();
        s.Owner.Stream.Write(new GenerationEvent(s.Choice, -1, rest, reason) { StopToken = stopToken >= 0 ? stopToken : null });
        // A speculative slot's cache may hold emitted tokens dropped after a stop: only the reported ones are cached.
        int cached = Math.Min(_cache!.Length(s.Sequence), s.History.Count);
        if (reason != FinishReason.Cancelled) _prefixes?.Insert(s.Owner.Request.Adapter, CollectionsMarshal.AsSpan(s.History)[..cached], _cache.BlockTable(s.Sequence));
        _cache.Free(s.Sequence);
        FreeDraft(s);
        if (--s.Owner.Live == 0) Finish(s.Owner);
    }

    /// <summary>One choice being decoded: its sequence in the cache, its sampler, text and constraint.</summary>
    sealed class Slot
    {
        public readonly Pending Owner;
        public readonly int Choice, Sequence;
        public readonly int[] Prompt;
        public int Position;               // prompt tokens in the cache
        public int Next = -1;              // the token chosen last step, to be fed this step
        public int Generated;
        public readonly List<int> History; // prompt + generated (the penalties read it)
        public readonly SamplerChain Sampler;
        public readonly TextStreamer Streamer;
        public readonly ILogitsProcessor? Processor;
        public readonly HashSet<int>? ExtraStops;
        public SpeculativeSequence? Speculative;   // with a draft, once the first token is chosen

        public Slot(Pending owner, int choice, int sequence, int position, InferenceEngine engine)
        {
            var r = owner.Request;
            Owner = owner;
            Choice = choice;
            Sequence = sequence;
            Prompt = r.Prompt;
            Position = position;
            History = new List<int>(r.Prompt.Length + r.MaxTokens);
            History.AddRange(r.Prompt);
            Sampler = new SamplerChain(r.Sampling with { Seed = r.Sampling.Seed + (ulong)choice });
            Streamer = new TextStreamer(engine.Model.Tokenizer, r.StopStrings);
            Processor = r.Constraint?.Invoke();
            ExtraStops = r.StopTokens.Count > 0 ? new HashSet<int>(r.StopTokens) : null;
        }
    }
}

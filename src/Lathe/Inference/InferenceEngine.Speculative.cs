using System.Runtime.InteropServices;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

// The engine's step with a draft model (speculative decoding). A slot prefills its prompt as without a draft and draws
// its first token from the prompt's last logits; from then on it is a SpeculativeSequence: each step the draft proposes
// up to k tokens for every such slot (batched draft passes), ONE target pass holds their verify rows together with the
// prefill chunks of the other slots, and each slot emits its 1 … k + 1 verified tokens through the same reporting as
// a plain step (text, stop strings and tokens, max_tokens, log-probabilities). Greedy output is the target's greedy
// output; sampled output follows the target's distribution with the speculative sequence's own draws.
public sealed partial class InferenceEngine
{
    CausalLM? _draft;
    PagedKvCache? _draftCache;
    SpeculativeDecoder? _speculative;
    long _draftProposed, _draftAccepted;
    readonly List<Slot> _specSlots = [], _prefillSlots = [];
    readonly List<SpeculativeSequence> _specs = [];
    readonly List<int> _prefillCounts = [];

    /// <summary>The draft model, or null.</summary>
    public LoadedModel? Draft { get; private set; }

    // One-line errors naming the draft, before the engine allocates anything.
    void CheckDraft(LoadedModel model, LoadedModel draft)
    {
        if (model.Model is not CausalLM)
            throw new ArgumentException($"draft: the model '{model.Model.Config.ModelType}' is not a decoder; a draft needs one.");
        if (draft.Model is not CausalLM)
            throw new ArgumentException($"draft: '{draft.Model.Config.ModelType}' is not a decoder (causal LM).");
        SpeculativeDecoder.CheckVocabularies(model, draft);
    }

    // The draft's own pool, as many blocks as the target's (the draft's layers, heads and context). Choices do not
    // share their prompt's blocks here (each catches up on its own), so the pool can be short where the target's
    // reservations are not: a slot without room then takes a plain step (see DraftRoom), never an error.
    void UseDraft(LoadedModel draft)
    {
        Draft = draft;
        _draft = (CausalLM)draft.Model;
        var c = _draft.Config;
        int maxLength = Math.Min(ContextLength, c.MaxPositions);
        _draftCache = new PagedKvCache(c.Layers, c.KvHeads, c.HeadDim, maxLength, _cache!.Blocks, _cache.BlockSize);
        _speculative = new SpeculativeDecoder(_decoder!, _draft);
    }

    void FreeDraft(Slot s)
    {
        if (s.Speculative is null) return;
        _draftCache!.Free(s.Speculative.DraftSequence);
        s.Speculative = null;
    }

    unsafe (int, int, int) StepGroupSpeculative(string? adapter)
    {
        int prefillRows = 0;
        lock (_gate)
        {
            _specSlots.Clear(); _specs.Clear(); _prefillSlots.Clear(); _prefillCounts.Clear();
            int budget = Options.PrefillChunk, draftFree = _draftCache!.FreeBlocks;
            foreach (var s in _running)
            {
                if (s.Owner.Request.Adapter != adapter || s.Owner.Stream.Cancelled) continue;
                if (s.Speculative is { } spec)
                {
                    // No more proposals than the choice may still emit − 1: a step never runs past max_tokens.
                    spec.DraftTokens = DraftRoom(spec, Math.Min(Options.DraftTokens, s.Owner.Request.MaxTokens - s.Generated - 1), ref draftFree);
                    _specSlots.Add(s);
                    _specs.Add(spec);
                }
                else if (s.Position < s.Prompt.Length && budget > 0)
                {
                    int n = Math.Min(budget, s.Prompt.Length - s.Position);
                    _prefillSlots.Add(s);
                    _prefillCounts.Add(n);
                    budget -= n;
                    prefillRows += n;
                }
            }
            if (_specSlots.Count == 0 && _prefillSlots.Count == 0) return (0, 0, 0);
        }
        // The draft passes (the draft has no adapters: it only proposes, the target with its adapter decides).
        _speculative!.Propose(_cache!, _draftCache!, _specs);
        lock (_gate)
        {
            _batch.Clear(); _ids.Clear(); _sequences.Clear(); _counts.Clear();
            for (int i = 0; i < _specSlots.Count; i++)
            {
                SpeculativeDecoder.AddVerifyRows(_specs[i], _ids, _sequences, _counts);
                _batch.Add(_specSlots[i]);
            }
            for (int i = 0; i < _prefillSlots.Count; i++)
            {
                var s = _prefillSlots[i];
                Add(s, s.Prompt.AsSpan(s.Position, _prefillCounts[i]));
            }
            MakeRoom();
        }
        Adapters?.Use(adapter);
        int V = _decoder!.Config.VocabSize;
        _tape.Reset();
        using (_tape.Activate())
        using (Tape.NoGrad())
        {
            var logits = Ops.Contiguous(_cache!.Forward(_decoder, CollectionsMarshal.AsSpan(_ids), CollectionsMarshal.AsSpan(_sequences),
                CollectionsMarshal.AsSpan(_counts), lastOnly: false));   // (rows, V): every row of every sequence
            float* data = logits.Data;
            lock (_gate)
            {
                int row = 0;
                for (int i = 0; i < _specSlots.Count; row += _counts[i], i++)
                    ApplyVerified(_specSlots[i], _specs[i], new ReadOnlySpan<float>(data + (long)row * V, _counts[i] * V), V);
                _choosers.Clear(); _rows.Clear();
                for (int i = _specSlots.Count; i < _batch.Count; row += _counts[i], i++)
                {
                    var s = _batch[i];
                    s.Position += _counts[i];
                    if (s.Position < s.Prompt.Length) continue;
                    foreach (var chooser in PromptDone(s)) { _choosers.Add(chooser); _rows.Add(row + _counts[i] - 1); }
                }
            }
            // The first token of a completed prompt is drawn as without a draft; the slot then turns speculative.
            if (_chosen.Length < _choosers.Count) _chosen = new int[Math.Max(_choosers.Count, 2 * _chosen.Length)];
            for (int j = 0; j < _choosers.Count; j++) _chosen[j] = Draw(_choosers[j], new ReadOnlySpan<float>(data + (long)_rows[j] * V, V));
            lock (_gate)
                for (int j = 0; j < _choosers.Count; j++)
                {
                    var s = _choosers[j];
                    Apply(s, _chosen[j], new ReadOnlySpan<float>(data + (long)_rows[j] * V, V));
                    if (s.Next >= 0) { s.Speculative = Speculate(s); s.Next = -1; }
                }
        }
        return (_batch.Count, _ids.Count, prefillRows);
    }

    // k, or 0 when the draft's pool cannot hold the sequence's tokens and k − 1 proposals (what the draft caches by the
    // end of Propose); the blocks granted are taken from `free`.
    int DraftRoom(SpeculativeSequence spec, int k, ref int free)
    {
        if (k <= 0) return 0;
        int size = _draftCache!.BlockSize;
        int need = (spec.Tokens.Count + k - 1 + size - 1) / size - (_draftCache.Length(spec.DraftSequence) + size - 1) / size;
        if (need > free) return 0;
        free -= need;
        return k;
    }

    // The slot's speculative sequence: the target caches its prompt, its first token is the one not yet fed; the draft's
    // sequence starts empty and catches up in its first proposal pass.
    SpeculativeSequence Speculate(Slot s)
    {
        var r = s.Owner.Request;
        IReadOnlySet<int> stops = _stopTokens;
        if (s.ExtraStops is not null) stops = new HashSet<int>(_stopTokens.Concat(s.ExtraStops));
        return new SpeculativeSequence(s.Sequence, _draftCache!.AddSequence(), s.History, r.Sampling with { Seed = r.Sampling.Seed + (ulong)s.Choice },
            s.Processor, stops);
    }

    // Verifies one slot's proposals against its target rows and reports the emitted tokens in order; what follows a
    // stop (token, string, complete constraint) or max_tokens is dropped with the slot.
    void ApplyVerified(Slot s, SpeculativeSequence spec, ReadOnlySpan<float> rows, int V)
    {
        long proposed = spec.Proposed, accepted = spec.Accepted;
        SpeculativeDecoder.Verify(_cache!, _draftCache!, spec, rows);
        _draftProposed += spec.Proposed - proposed;
        _draftAccepted += spec.Accepted - accepted;
        var emitted = spec.Emitted;
        for (int j = 0; j < emitted.Length; j++)
            if (!Report(s, emitted[j], rows.Slice(j * V, V), j == emitted.Length - 1)) return;
    }

    // Apply's counterpart for a verified token: the speculative sequence has already told the constraint (of all the
    // step's tokens, so only the last may find it complete), and the next token to feed is the sequence's own. False
    // once the choice has ended.
    bool Report(Slot s, int token, ReadOnlySpan<float> row, bool last)
    {
        var request = s.Owner.Request;
        if (_stopTokens.Contains(token) || s.ExtraStops?.Contains(token) == true) { End(s, FinishReason.Stop, token); return false; }
        s.History.Add(token);
        s.Generated++;
        _generatedTokens++;
        string text = s.Streamer.Push(token);
        var e = new GenerationEvent(s.Choice, token, text);
        if (request.TopLogprobs >= 0) e = Logprobs.Describe(e, row, token, request.TopLogprobs);
        s.Owner.Stream.Write(e);
        if (s.Streamer.Stopped || (last && s.Processor?.IsComplete == true)) { End(s, FinishReason.Stop); return false; }
        if (s.Generated >= request.MaxTokens) { End(s, FinishReason.Length); return false; }
        return true;
    }
}

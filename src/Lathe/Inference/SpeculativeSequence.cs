using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Lathe.Tensors;

namespace Lathe.Inference;

/// <summary>One sequence decoded speculatively: its tokens, its place in the target's and the draft's KV caches, its
/// samplers, and what the last step emitted. <see cref="SpeculativeDecoder"/> advances many of them in one batched step.</summary>
/// <remarks>The invariant between steps: the target's cache holds every token of <see cref="Tokens"/> but the last (the
/// one the next step feeds first), and the draft's cache holds a prefix of them (it catches up with the rest — a whole
/// prompt the first time — in the next step's first draft pass). A caller that prefilled the prompt in the target
/// and sampled the first token itself (a server's chunked prefill) constructs the sequence with prompt + that token.</remarks>
public sealed class SpeculativeSequence
{
    readonly List<int> _tokens;
    readonly SamplerChain _targetSampler, _draftSampler;
    readonly Philox _rng;                 // proposals and acceptance draws; the samplers' own streams are unused here
    readonly List<int> _emitted = [];
    int[] _proposal = new int[16];
    float[] _q = [];                      // (k, Vd): the draft's distribution at each proposal (sampled decoding)
    int _qWidth;                          // Vd of _q
    float[] _p = [], _row = [];           // (Vt): the target's distribution, and one row of processed logits
    float[] _softmax = [];                // (Vd): scratch for the draft's confidence (greedy)
    // During a step the proposals follow the tokens in _tokens (so that every penalty history is a prefix of one list);
    // _count is the number of real tokens.
    int _count;

    /// <param name="targetSequence">The sequence's id in the target's <see cref="PagedKvCache"/>, holding every token of
    /// <paramref name="tokens"/> but the last.</param>
    /// <param name="draftSequence">Its id in the draft's cache, holding a prefix of <paramref name="tokens"/> (often none).</param>
    /// <param name="tokens">The sequence so far (prompt, and any tokens already generated); at least one.</param>
    /// <param name="sampling">The sampler's settings; the draft proposes with the same stages (greedy at temperature 0).</param>
    /// <param name="processor">A logits mask (grammar, JSON schema) applied to the target's logits, or null. The step
    /// tells it every token it emits (<see cref="ILogitsProcessor.Accept"/>): the caller must not tell it again.</param>
    /// <param name="stopTokens">Tokens after which the sequence emits nothing more (end of sequence, end of turn).</param>
    public SpeculativeSequence(int targetSequence, int draftSequence, IEnumerable<int> tokens, SamplingOptions sampling,
        ILogitsProcessor? processor = null, IReadOnlySet<int>? stopTokens = null)
    {
        _tokens = [.. tokens];
        if (_tokens.Count == 0) throw new ArgumentException("speculative: the sequence has no tokens (give at least the prompt).");
        TargetSequence = targetSequence;
        DraftSequence = draftSequence;
        Sampling = sampling;
        Processor = processor;
        StopTokens = stopTokens;
        _targetSampler = new SamplerChain(sampling);
        _draftSampler = new SamplerChain(sampling);
        _rng = new Philox(sampling.Seed);
    }

    public int TargetSequence { get; }
    public int DraftSequence { get; }
    public SamplingOptions Sampling { get; }
    public ILogitsProcessor? Processor { get; }
    public IReadOnlySet<int>? StopTokens { get; }

    /// <summary>Every token so far, prompt first; the last one is not in the target's cache yet.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    /// <summary>Draft tokens to propose at the next step (0: a plain one-token step). The step lowers it where the
    /// target's or the draft's context has no room; a caller lowers it to the tokens the sequence may still emit − 1.</summary>
    public int DraftTokens
    {
        get;
        set => field = value is >= 0 and <= 16 ? value : throw new ArgumentException($"speculative: draft tokens {value} must be in 0…16.");
    } = 4;

    /// <summary>The draft stops proposing for this step when its most likely next token has a probability below this
    /// (llama.cpp's draft p-min): a proposal it is unsure of is likely rejected, and every proposal costs the target a
    /// row. 0 (the default) always proposes <see cref="DraftTokens"/>. The rule stays exact: whether to propose depends
    /// on the draft alone, and a position without a proposal is drawn from the target. Greedy: the draft's softmax at
    /// temperature 1; sampled: its distribution after the sampling stages.</summary>
    public float MinDraftProbability
    {
        get;
        set => field = value is >= 0 and <= 1 ? value : throw new ArgumentException($"speculative: draft p-min {value} must be in [0, 1].");
    }

    /// <summary>The tokens the last step emitted, in order (1 … k + 1): the draft tokens the target accepted, then the
    /// target's own (a correction, or the bonus token after k accepted), unless a stop token or a complete constraint
    /// ended the list first.</summary>
    public ReadOnlySpan<int> Emitted => CollectionsMarshal.AsSpan(_emitted);

    /// <summary>True once the last emitted token is a stop token or the processor reports its output complete.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Draft tokens proposed and accepted over all steps (the acceptance rate is their ratio).</summary>
    public long Proposed { get; private set; }
    public long Accepted { get; private set; }

    /// <summary>Proposals drawn in the step in progress (0 between steps).</summary>
    internal int Proposals { get; private set; }

    /// <summary>How many proposals this step makes (the step sets it from <see cref="DraftTokens"/> and the room left).</summary>
    internal int Planned { get; set; }

    bool Greedy => Sampling.Temperature == 0;

    /// <summary>Tokens the draft has not seen yet, given its cache holds <paramref name="draftLength"/> of them.</summary>
    internal ReadOnlySpan<int> DraftBacklog(int draftLength) => CollectionsMarshal.AsSpan(_tokens)[draftLength.._tokens.Count];

    /// <summary>Starts a step: no proposals yet.</summary>
    internal void Begin()
    {
        _count = _tokens.Count;
        Proposals = 0;
        _emitted.Clear();
    }

    /// <summary>The last proposal (what the next draft pass feeds).</summary>
    internal int LastProposal => _proposal[Proposals - 1];

    /// <summary>The rows the target verifies this step: the last token, then the proposals.</summary>
    internal void AddVerifyIds(List<int> ids)
    {
        ids.Add(_tokens[_count - 1]);
        for (int i = 0; i < Proposals; i++) ids.Add(_proposal[i]);
    }

    /// <summary>Draws the next proposal from the draft's logits (Vd) for the position after the tokens and the
    /// proposals so far; false (and no proposal) when the draft's confidence is below <see cref="MinDraftProbability"/>.</summary>
    internal bool Propose(ReadOnlySpan<float> logits)
    {
        int j = Proposals, Vd = logits.Length;
        var history = CollectionsMarshal.AsSpan(_tokens);          // the tokens and proposals 0 … j − 1
        int token;
        if (Greedy)
        {
            if (MinDraftProbability > 0 && TopProbability(logits) < MinDraftProbability) return false;
            token = _draftSampler.Sample(logits, history);
        }
        else
        {
            if (_qWidth != Vd) { _qWidth = Vd; _q = []; }
            if (_q.Length < (j + 1) * Vd) Array.Resize(ref _q, (j + 1) * Vd);
            var q = _q.AsSpan(j * Vd, Vd);
            _draftSampler.Probabilities(logits, history, q);
            if (MinDraftProbability > 0 && TensorPrimitives.Max(q) < MinDraftProbability) return false;
            token = SpeculativeSampling.Draw(q, _rng.NextFloat());
        }
        _proposal[j] = token;
        _tokens.Add(token);
        Proposals = j + 1;
        return true;
    }

    // The largest softmax probability of the logits: 1 / Σ exp(l − max).
    float TopProbability(ReadOnlySpan<float> logits)
    {
        if (_softmax.Length != logits.Length) _softmax = new float[logits.Length];
        float max = TensorPrimitives.Max(logits);
        TensorPrimitives.Subtract(logits, max, _softmax);
        TensorPrimitives.Exp(_softmax, _softmax);
        return 1f / TensorPrimitives.Sum(_softmax);
    }

    /// <summary>Verifies the proposals against the target's logits <paramref name="rows"/> ((k + 1) × Vt: row i predicts
    /// the token after proposal i − 1), fills <see cref="Emitted"/> and appends it to <see cref="Tokens"/>. Returns how
    /// many tokens the draft's cache may keep (the old tokens and the proposals that were emitted, but never the last
    /// emitted token, which the next step feeds first).</summary>
    internal int Verify(ReadOnlySpan<float> rows, int Vt)
    {
        int k = Proposals;
        if (rows.Length != (k + 1) * Vt) throw new ArgumentException($"speculative: {rows.Length} logits for {k + 1} rows of {Vt}.");
        _emitted.Clear();
        Stopped = false;
        if (_p.Length != Vt) { _p = new float[Vt]; _row = new float[Vt]; }
        var all = CollectionsMarshal.AsSpan(_tokens);
        for (int i = 0; i <= k; i++)
        {
            var logits = rows.Slice(i * Vt, Vt);
            if (Processor is not null) { logits.CopyTo(_row); Processor.Process(_row); logits = _row; }
            var history = all[..(_count + i)];                   // the tokens and proposals 0 … i − 1
            int token;
            bool accepted;
            if (Greedy)
            {
                // The target's own choice here; the proposal stands if it is the same token.
                token = _targetSampler.Sample(logits, history);
                accepted = i < k && token == _proposal[i];
            }
            else
            {
                _targetSampler.Probabilities(logits, history, _p);
                if (i < k)
                {
                    int x = _proposal[i];
                    var q = _q.AsSpan(i * _qWidth, _qWidth);
                    accepted = SpeculativeSampling.Accept(x < Vt ? _p[x] : 0f, q[x], _rng.NextFloat());
                    token = accepted ? x : SpeculativeSampling.DrawResidual(_p, q, _rng.NextFloat());
                }
                else
                {
                    accepted = false;
                    token = SpeculativeSampling.Draw(_p, _rng.NextFloat());   // the bonus token after k accepted
                }
            }
            _emitted.Add(token);
            if (accepted) Accepted++;
            Processor?.Accept(token);
            if ((StopTokens?.Contains(token) ?? false) || (Processor?.IsComplete ?? false)) { Stopped = true; break; }
            if (!accepted) break;
        }
        Proposed += k;
        _tokens.RemoveRange(_count, k);
        _tokens.AddRange(_emitted);
        // The draft's cache holds the old tokens and proposals 0 … k − 2 (the last proposal was never fed to it; or
        // 0 … k − 1 when the draft declined a proposal after the last — the caller cuts the cache to what this returns).
        int keep = 0, limit = Math.Min(k - 1, _emitted.Count - 1);
        while (keep < limit && _proposal[keep] == _emitted[keep]) keep++;
        Proposals = 0;
        _count = _tokens.Count;
        return _count - _emitted.Count + keep;
    }
}

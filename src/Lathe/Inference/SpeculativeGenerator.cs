using System.Runtime.CompilerServices;
using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

/// <summary><see cref="Generator"/>'s counterpart with a draft model: one sequence decoded by
/// <see cref="SpeculativeDecoder"/> steps, each emitting 1 … k + 1 tokens. Greedy output is the target's greedy output;
/// sampled output follows the target's distribution (with other draws than <see cref="Generator"/>'s, so the same seed
/// gives other text).</summary>
public sealed class SpeculativeGenerator : IDisposable
{
    readonly CausalLM _target;
    readonly PagedKvCache _targetCache, _draftCache;
    readonly SpeculativeDecoder _decoder;
    readonly Tape _tape = new();
    readonly SpeculativeSequence[] _one = new SpeculativeSequence[1];
    readonly int[] _emitted = new int[17];   // at most k + 1 tokens a step
    int _targetSequence = -1, _draftSequence = -1;

    /// <param name="target">The model whose output counts.</param>
    /// <param name="draft">The proposer, with the target's tokenizer (check with <see cref="SpeculativeDecoder.CheckVocabularies"/>).</param>
    /// <param name="draftTokens">Tokens the draft proposes per step (1 … 16).</param>
    /// <param name="minDraftProbability">The draft stops a step's proposals below this confidence
    /// (<see cref="SpeculativeSequence.MinDraftProbability"/>; 0: always k).</param>
    public SpeculativeGenerator(CausalLM target, CausalLM draft, int draftTokens = 4, float minDraftProbability = 0)
    {
        if (draftTokens is < 1 or > 16) throw new ArgumentException($"generate: draft tokens {draftTokens} must be in 1…16.");
        if (!(minDraftProbability is >= 0 and <= 1)) throw new ArgumentException($"generate: draft p-min {minDraftProbability} must be in [0, 1].");
        _target = target;
        DraftTokens = draftTokens;
        MinDraftProbability = minDraftProbability;
        _targetCache = new PagedKvCache(target.Config);
        _draftCache = new PagedKvCache(draft.Config);
        _decoder = new SpeculativeDecoder(target, draft);
    }

    public int DraftTokens { get; }
    public float MinDraftProbability { get; }

    public StopReason Reason { get; private set; }

    /// <summary>Draft tokens proposed and accepted by the last call.</summary>
    public long Proposed { get; private set; }
    public long Accepted { get; private set; }

    /// <summary>Target passes the last call ran after the prompt (each emitted 1 … k + 1 tokens).</summary>
    public int Steps { get; private set; }

    /// <summary>Accepted / proposed (0 before any proposal).</summary>
    public double AcceptanceRate => Proposed == 0 ? 0 : (double)Accepted / Proposed;

    /// <summary>Continues <paramref name="prompt"/> by up to <paramref name="maxTokens"/> tokens, stopping early at a
    /// token in <paramref name="stopTokens"/> (not yielded) or at the end of the target's context.</summary>
    public IEnumerable<int> Generate(int[] prompt, int maxTokens, SamplingOptions options, IReadOnlySet<int>? stopTokens = null)
    {
        var sequence = Start(prompt, maxTokens, options, stopTokens);
        for (int produced = 0; produced < maxTokens;)
        {
            if (!Advance(sequence, maxTokens - produced)) yield break;
            for (int i = 0, n = Take(sequence); i < n; i++)
            {
                int token = _emitted[i];
                if (stopTokens is not null && stopTokens.Contains(token)) { Reason = StopReason.StopToken; yield break; }
                yield return token;
                if (++produced == maxTokens) yield break;
            }
        }
    }

    /// <summary>Streams the continuation as tokens and final text (as <see cref="Generator.GenerateAsync"/>): the models
    /// run on the thread pool between steps, and <paramref name="cancel"/> stops after the current step.</summary>
    public async IAsyncEnumerable<GeneratedPiece> GenerateAsync(int[] prompt, int maxTokens, SamplingOptions options,
        TextStreamer text, IReadOnlySet<int>? stopTokens = null, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        var sequence = await Task.Run(() => Start(prompt, maxTokens, options, stopTokens), CancellationToken.None).ConfigureAwait(false);
        for (int produced = 0; produced < maxTokens;)
        {
            if (cancel.IsCancellationRequested) { Reason = StopReason.Cancelled; break; }
            int left = maxTokens - produced;
            if (!await Task.Run(() => Advance(sequence, left), CancellationToken.None).ConfigureAwait(false)) break;
            bool done = false;
            for (int i = 0, n = Take(sequence); i < n; i++)
            {
                int token = _emitted[i];
                if (stopTokens is not null && stopTokens.Contains(token)) { Reason = StopReason.StopToken; done = true; break; }
                string piece = text.Push(token);
                if (text.Stopped) { Reason = StopReason.StopString; yield return new GeneratedPiece(token, piece); yield break; }
                yield return new GeneratedPiece(token, piece);
                if (++produced == maxTokens) { done = true; break; }
            }
            if (done) break;
        }
        string rest = text.Flush();
        if (rest.Length > 0) yield return new GeneratedPiece(-1, rest);
    }

    SpeculativeSequence Start(int[] prompt, int maxTokens, SamplingOptions options, IReadOnlySet<int>? stopTokens)
    {
        if (prompt.Length == 0) throw new ArgumentException("generate: the prompt is empty.");
        if (prompt.Length > _targetCache.MaxLength)
            throw new ArgumentException($"generate: the prompt has {prompt.Length} tokens; the model's context is {_targetCache.MaxLength}.");
        if (maxTokens < 0) throw new ArgumentException($"generate: max tokens {maxTokens} must be ≥ 0.");
        if (_targetSequence >= 0) { _targetCache.Free(_targetSequence); _draftCache.Free(_draftSequence); }
        _targetSequence = _targetCache.AddSequence();
        _draftSequence = _draftCache.AddSequence();
        // The target caches every prompt token but the last, which the first step feeds with the draft's proposals; the
        // draft catches up with the whole prompt in that step.
        var head = prompt.AsSpan(0, prompt.Length - 1);
        for (int start = 0; start < head.Length; start += Generator.PromptChunk)
        {
            var chunk = head.Slice(start, Math.Min(Generator.PromptChunk, head.Length - start));
            _tape.Reset();
            using (_tape.Activate())
            using (Tape.NoGrad())
                _targetCache.Forward(_target, chunk, _targetSequence);
        }
        Reason = StopReason.MaxTokens;
        Proposed = Accepted = 0;
        Steps = 0;
        return new SpeculativeSequence(_targetSequence, _draftSequence, prompt, options, stopTokens: stopTokens) { MinDraftProbability = MinDraftProbability };
    }

    // One step proposing at most left − 1 tokens (so it emits no more than are wanted); false when the context is full.
    bool Advance(SpeculativeSequence sequence, int left)
    {
        if (sequence.Tokens.Count > _targetCache.MaxLength) { Reason = StopReason.Context; return false; }
        sequence.DraftTokens = Math.Min(DraftTokens, left - 1);
        _one[0] = sequence;
        _decoder.Step(_targetCache, _draftCache, _one);
        Steps++;
        Proposed = sequence.Proposed;
        Accepted = sequence.Accepted;
        return true;
    }

    // The step's tokens, copied out of the sequence (an iterator cannot hold its span across a yield).
    int Take(SpeculativeSequence sequence)
    {
        sequence.Emitted.CopyTo(_emitted);
        return sequence.Emitted.Length;
    }

    public void Dispose()
    {
        _decoder.Dispose();
        _targetCache.Dispose();
        _draftCache.Dispose();
        _tape.Dispose();
    }
}

using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

/// <summary>Beam-search settings. <see cref="LengthPenalty"/> is the exponent α of the length normalisation
/// score = Σ log p / (generated length)^α (α = 0: raw sum, favouring short outputs; α &gt; 0 favours longer ones).</summary>
public sealed record BeamSearchOptions
{
    public int Beams { get; init; } = 4;
    public float LengthPenalty { get; init; } = 1f;
    /// <summary>true: stop as soon as <see cref="Beams"/> hypotheses have finished. false: stop when no running beam
    /// can still beat the worst finished one (its score can only fall as it grows, for α ≥ 0).</summary>
    public bool EarlyStopping { get; init; }

    public void Validate()
    {
        if (Beams < 1) throw new ArgumentException($"beams {Beams} must be ≥ 1.");
        if (!float.IsFinite(LengthPenalty)) throw new ArgumentException($"length penalty {LengthPenalty} must be finite.");
    }
}

/// <summary>One finished hypothesis: the generated tokens (stop token excluded), the sum of their log-probabilities
/// and the length-normalised score beams are ranked by.</summary>
public sealed record BeamHypothesis(int[] Tokens, double LogProb, double Score, bool Finished);

/// <summary>Beam search over a decoder with a paged KV cache of one sequence per beam: the prompt is processed once;
/// each step scores W·V continuations, keeps the best 2W candidates (so stop tokens cannot starve the beam), finishes
/// hypotheses that pick a stop token (only from the top W, as is usual) and forks each survivor's sequence from its
/// parent's (forks share the prefix's blocks; only a partly filled last block is copied when written). The surviving
/// beams then advance together in one batched step. Deterministic: ties break toward the lower (beam, token) index.</summary>
public sealed class BeamSearch : IDisposable
{
    readonly CausalLM _model;
    readonly BeamSearchOptions _options;
    readonly PagedKvCache _cache;
    readonly Tape _tape = new();
    readonly int _capacity;

    /// <param name="capacity">Tokens per hypothesis (prompt included) the cache holds; default the model's context.</param>
    public BeamSearch(CausalLM model, BeamSearchOptions options, int? capacity = null)
    {
        options.Validate();
        _model = model;
        _options = options;
        _capacity = capacity ?? model.Config.MaxPositions;
        if (_capacity <= 0 || _capacity > model.Config.MaxPositions)
            throw new ArgumentException($"beam search: capacity {_capacity} must be in 1..{model.Config.MaxPositions} (the model's context).");
        var c = model.Config;
        // Every beam may own a full sequence, and a fork writing into its shared last block copies it while the parent
        // still holds the original: W blocks more than W full sequences.
        int perSequence = (_capacity + PagedKvCache.DefaultBlockSize - 1) / PagedKvCache.DefaultBlockSize;
        _cache = new PagedKvCache(c.Layers, c.KvHeads, c.HeadDim, _capacity, options.Beams * (perSequence + 1));
    }

    /// <summary>Every hypothesis kept, best first (finished ones, then — if the budget ran out — the running ones).</summary>
    public unsafe IReadOnlyList<BeamHypothesis> Search(int[] prompt, int maxTokens, IReadOnlySet<int>? stopTokens = null)
    {
        int W = _options.Beams, V = _model.Config.VocabSize;
        if (prompt.Length == 0) throw new ArgumentException("beam search: the prompt is empty.");
        if (prompt.Length + maxTokens > _capacity + 1)
            maxTokens = _capacity + 1 - prompt.Length;   // the last token needs no forward pass
        if (maxTokens < 0) throw new ArgumentException($"beam search: the prompt has {prompt.Length} tokens; the context is {_capacity}.");

        var logProbs = new float[W * V];
        var beams = new int[W];                      // the cache sequence of each running beam
        var forked = new int[W];
        var ones = new int[W];
        Array.Fill(ones, 1);
        var tokens = new List<int>[W];
        var score = new double[W];
        int alive = 1;                               // at step 0 every row holds the same prefix: expand row 0 only
        tokens[0] = [];
        var finished = new List<BeamHypothesis>();
        var candidates = new (double Score, int Beam, int Token)[2 * W];
        var parents = new int[W];
        var nextTokens = new List<int>[W];
        var nextScore = new double[W];
        var step = new int[W];

        // Prompt: once, into the first beam's sequence; the others fork from it as they are chosen.
        beams[0] = _cache.AddSequence();
        int live = 1;                                // cache sequences held by `beams`
        try
        {
            Forward(prompt, beams.AsSpan(0, 1), [prompt.Length], logProbs);
            for (int length = 1; length <= maxTokens; length++)
            {
                int count = TopCandidates(logProbs, alive, V, score, candidates);
                int kept = 0;
                for (int c = 0; c < count && kept < W; c++)
                {
                    var (s, beam, token) = candidates[c];
                    if (stopTokens is not null && stopTokens.Contains(token))
                    {
                        if (c < W) finished.Add(new BeamHypothesis(tokens[beam].ToArray(), s, Normalise(s, length - 1), true));
                        continue;
                    }
                    parents[kept] = beam;
                    nextTokens[kept] = new List<int>(tokens[beam]) { token };
                    nextScore[kept] = s;
                    step[kept] = token;
                    kept++;
                }
                if (kept == 0 || Done(finished, nextScore, kept, length)) { alive = kept; CopyBack(); break; }
                // Each survivor continues its parent's prefix: fork, then drop the old beams (shared blocks stay).
                for (int b = 0; b < kept; b++) forked[b] = _cache.Fork(beams[parents[b]]);
                for (int b = 0; b < live; b++) _cache.Free(beams[b]);
                forked.AsSpan(0, kept).CopyTo(beams);
                live = kept;
                CopyBack();
                if (length == maxTokens) break;
                Forward(step.AsSpan(0, kept), beams.AsSpan(0, kept), ones.AsSpan(0, kept), logProbs);

                void CopyBack()
                {
                    for (int b = 0; b < kept; b++) { tokens[b] = nextTokens[b]; score[b] = nextScore[b]; }
                    alive = kept;
                }
            }
        }
        finally
        {
            for (int b = 0; b < live; b++) _cache.Free(beams[b]);
        }
        var result = new List<BeamHypothesis>(finished);
        if (finished.Count < W || !_options.EarlyStopping)
            for (int b = 0; b < alive; b++)
                result.Add(new BeamHypothesis(tokens[b].ToArray(), score[b], Normalise(score[b], tokens[b].Count), false));
        // Best first; a finished hypothesis wins a tie over a running one, then the earlier-found one.
        var order = Enumerable.Range(0, result.Count).OrderByDescending(i => result[i].Score).ThenBy(i => result[i].Finished ? 0 : 1).ThenBy(i => i);
        return order.Select(i => result[i]).Take(Math.Max(W, 1)).ToList();
    }

    double Normalise(double logProb, int length) =>
        _options.LengthPenalty == 0 ? logProb : logProb / Math.Pow(Math.Max(length, 1), _options.LengthPenalty);

    bool Done(List<BeamHypothesis> finished, double[] running, int kept, int length)
    {
        if (finished.Count < _options.Beams) return false;
        if (_options.EarlyStopping) return true;
        double worst = double.PositiveInfinity;
        foreach (var h in finished) worst = Math.Min(worst, h.Score);
        // Hypotheses only lose log-probability as they grow; with α ≥ 0 the best a running beam can still reach is
        // bounded by its score normalised at the current length (the usual heuristic).
        double best = double.NegativeInfinity;
        for (int b = 0; b < kept; b++) best = Math.Max(best, Normalise(running[b], length));
        return best <= worst;
    }

    // The best 2W (score, beam, token) over alive beams, best first; ties toward lower beam then token.
    static int TopCandidates(float[] logProbs, int alive, int V, double[] score, (double Score, int Beam, int Token)[] top)
    {
        int count = 0, cap = top.Length;
        for (int b = 0; b < alive; b++)
            for (int v = 0; v < V; v++)
            {
                double s = score[b] + logProbs[b * V + v];
                if (count == cap && !(s > top[cap - 1].Score)) continue;
                int i = count < cap ? count++ : cap - 1;
                while (i > 0 && s > top[i - 1].Score) { top[i] = top[i - 1]; i--; }
                top[i] = (s, b, v);
            }
        return count;
    }

    // Runs counts[i] ids of each sequence in one step and writes each sequence's last-position log-softmax into
    // logProbs (sequences, V).
    unsafe void Forward(ReadOnlySpan<int> ids, ReadOnlySpan<int> sequences, ReadOnlySpan<int> counts, float[] logProbs)
    {
        int V = _model.Config.VocabSize;
        _tape.Reset();
        using (_tape.Activate())
        using (Tape.NoGrad())
        {
            var logits = Ops.Contiguous(_cache.Forward(_model, ids, sequences, counts));   // (sequences, V)
            for (int b = 0; b < sequences.Length; b++)
            {
                var row = new ReadOnlySpan<float>(logits.Data + (long)b * V, V);
                float max = float.NegativeInfinity;
                foreach (float x in row) max = Math.Max(max, x);
                double sum = 0;
                foreach (float x in row) sum += Math.Exp(x - max);
                float logZ = max + (float)Math.Log(sum);
                var dst = logProbs.AsSpan(b * V, V);
                for (int v = 0; v < V; v++) dst[v] = row[v] - logZ;
            }
        }
    }

    public void Dispose()
    {
        _cache.Dispose();
        _tape.Dispose();
    }
}

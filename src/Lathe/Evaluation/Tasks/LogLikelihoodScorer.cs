using System.Numerics.Tensors;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Distributed;
using Tensor = Lathe.Tensors.Tensor;

namespace Lathe.Evaluation.Tasks;

/// <summary>A log-likelihood request as lm-evaluation-harness has it: how likely <see cref="Continuation"/> is after
/// <see cref="Context"/> (token ids; the context has at least one token).</summary>
public sealed record LogLikelihoodRequest(int[] Context, int[] Continuation);

/// <summary>The answer to one request: the sum of the continuation tokens' log-probabilities (nats), and whether
/// greedy decoding from the context would have produced the continuation exactly.</summary>
public readonly record struct LogLikelihood(double Value, bool IsGreedy);

/// <summary>Scores log-likelihood requests on a causal model, batched and deduplicated: requests that share a context
/// (a multiple-choice question's choices) run the context once and fork its cached keys and values for each
/// continuation; identical requests are scored once. The result of a request does not depend on which others share
/// its batch except through the engine's batch-invariant kernels.</summary>
public sealed class LogLikelihoodScorer : IDisposable
{
    readonly CausalLM _model;
    readonly int _batchTokens, _context;
    readonly bool _packed;
    readonly Tape _tape = new();
    PagedKvCache? _cache;
    float[] _row = [];

    /// <param name="batchTokens">Tokens run per forward pass (contexts of several requests, or continuations).</param>
    public LogLikelihoodScorer(CausalLM model, int batchTokens = 512)
    {
        if (batchTokens < 1) throw new ArgumentException($"batch tokens {batchTokens} must be positive.");
        _model = model;
        _batchTokens = batchTokens;
        _context = model.Config.MaxPositions;
        // Packed rows need positions that restart per segment; ALiBi's bias is by row distance, so those models score
        // every request through the cache instead.
        _packed = model.Config.PositionEmbeddingType != "alibi";
    }

    /// <summary>The log-likelihoods of <paramref name="requests"/>, in order. A context longer than the model's window
    /// loses its oldest tokens (as lm-evaluation-harness truncates from the left).</summary>
    /// <exception cref="ArgumentException">An empty context or continuation, or a continuation longer than the window.</exception>
    /// <remarks>With a <paramref name="world"/> of K ranks the passes a single process would run are dealt round-robin
    /// (pass p to rank p mod K) and every rank gets every result: each pass holds exactly the requests it holds in one
    /// process, so every score has the same bits as there. Every rank must call this with the same requests.</remarks>
    public LogLikelihood[] Score(IReadOnlyList<LogLikelihoodRequest> requests, Action<int>? progress = null, Communicator? world = null)
    {
        int rank = world?.Rank ?? 0, ranks = world?.Size ?? 1, pass = 0;
        var mine = ranks > 1 ? new List<int>() : null;   // the requests this rank scored
        var results = new LogLikelihood[requests.Count];
        // Groups by context, in order of first appearance; each group's distinct continuations, with the requests
        // that asked for them.
        var groups = new List<(int[] Context, List<(int[] Continuation, List<int> Requests)> Continuations)>();
        var byContext = new Dictionary<string, int>();
        for (int i = 0; i < requests.Count; i++)
        {
            var (context, continuation) = Fit(requests[i], i);
            string key = string.Join(',', context);
            if (!byContext.TryGetValue(key, out int g)) { g = groups.Count; byContext[key] = g; groups.Add((context, [])); }
            var list = groups[g].Continuations;
            int c = list.FindIndex(x => x.Continuation.AsSpan().SequenceEqual(continuation));
            if (c < 0) list.Add((continuation, [i]));
            else list[c].Requests.Add(i);
        }
        int done = 0;
        // A context with one continuation runs as one packed sequence (the model's own full forward pass, no cache); a
        // context several continuations share runs once, and its cached keys and values are forked for each of them.
        var single = groups.Where(g => g.Continuations.Count == 1).ToList();
        var shared = groups.Where(g => g.Continuations.Count > 1).ToList();
        if (!_packed) { shared = groups; single = []; }
        for (int start = 0; start < single.Count;)
        {
            bool ours = pass++ % ranks == rank;
            int end = ScoreDense(single, start, ours ? results : null);
            if (!ours) { start = end; continue; }
            for (int g = start; g < end; g++)
            {
                done += single[g].Continuations[0].Requests.Count;
                mine?.AddRange(single[g].Continuations[0].Requests);
            }
            progress?.Invoke(done);
            start = end;
        }
        for (int start = 0; start < shared.Count;)
        {
            int end = start, tokens = 0;
            while (end < shared.Count && (end == start || tokens + shared[end].Context.Length <= _batchTokens)) tokens += shared[end++].Context.Length;
            if (pass++ % ranks == rank)
            {
                ScoreGroups(shared, start, end, results);
                foreach (var g in shared.Skip(start).Take(end - start))
                {
                    done += g.Continuations.Sum(c => c.Requests.Count);
                    foreach (var c in g.Continuations) mine?.AddRange(c.Requests);
                }
                progress?.Invoke(done);
            }
            start = end;
        }
        if (mine is not null) RankedScoring.Gather(world!, results, mine);
        return results;
    }

    // Packs requests from `start` into rows of the model's window (each request its own segment: positions restart and
    // attention stays inside it), about batch-tokens tokens a pass; the LM head runs only on the rows that predict a
    // continuation token. Returns the first request not scored. Null results: only packs (another rank's pass).
    int ScoreDense(List<(int[] Context, List<(int[] Continuation, List<int> Requests)> Continuations)> groups, int start, LogLikelihood[]? results)
    {
        int T = _context, rowsPerPass = Math.Max(1, _batchTokens / T);
        var placed = new List<(int Group, int Row, int Offset)>();
        int row = 0, used = 0, g = start;
        for (; g < groups.Count; g++)
        {
            int length = groups[g].Context.Length + groups[g].Continuations[0].Continuation.Length - 1;
            if (used + length > T) { row++; used = 0; }
            if (row == rowsPerPass) break;
            placed.Add((g, row, used));
            used += length;
        }
        if (results is null) return g;
        int B = placed.Count == 0 ? 0 : placed[^1].Row + 1;
        var ids = new int[B * T];
        var layout = new Models.PackedLayout(B, T);
        var targets = new List<(int Group, int Index, int Token)>();
        var rows = new List<int>();
        foreach (var (group, r, offset) in placed)
        {
            var (context, continuations) = groups[group];
            int[] continuation = continuations[0].Continuation;
            int length = context.Length + continuation.Length - 1;
            for (int t = 0; t < length; t++)
            {
                int at = r * T + offset + t;
                ids[at] = t < context.Length ? context[t] : continuation[t - context.Length];
                layout.Positions[at] = t;
                layout.SegmentStarts[at] = offset;
            }
            for (int j = 0; j < continuation.Length; j++)
            {
                rows.Add(r * T + offset + context.Length - 1 + j);
                targets.Add((group, j, continuation[j]));
            }
        }
        // Padding after each row's last request is a segment of its own (token 0 at positions 0, 1, …).
        for (int r = 0; r < B; r++)
        {
            int end = placed.Where(p => p.Row == r).Max(p => p.Offset + groups[p.Group].Context.Length + groups[p.Group].Continuations[0].Continuation.Length - 1);
            for (int t = end; t < T; t++) { layout.Positions[r * T + t] = t - end; layout.SegmentStarts[r * T + t] = end; }
        }
        var sums = new Dictionary<int, (double Sum, bool Greedy)>();
        _tape.Reset();
        using (_tape.Activate())
        using (Tape.NoGrad())
        {
            var hidden = _model.Hidden(_model.Embed(ids, B, T), B, T, layout);
            var logits = Ops.Contiguous(_model.Head(Ops.GatherRows(hidden, rows.ToArray())));
            for (int i = 0; i < targets.Count; i++)
            {
                var (group, _, token) = targets[i];
                var (log, argmax) = LogProb(logits, i, token);
                var s = sums.GetValueOrDefault(group, (Sum: 0.0, Greedy: true));
                sums[group] = (s.Sum + log, s.Greedy && argmax == token);
            }
        }
        foreach (var (group, (sum, greedy)) in sums)
            foreach (int request in groups[group].Continuations[0].Requests) results[request] = new LogLikelihood(sum, greedy);
        return g;
    }

    (int[] Context, int[] Continuation) Fit(LogLikelihoodRequest r, int index)
    {
        if (r.Context.Length == 0) throw new ArgumentException($"request {index}: the context is empty (start it with a BOS or end-of-text token).");
        if (r.Continuation.Length == 0) throw new ArgumentException($"request {index}: the continuation is empty.");
        if (r.Continuation.Length > _context) throw new ArgumentException($"request {index}: the continuation has {r.Continuation.Length} tokens; the model's window is {_context}.");
        // The last continuation token is predicted, never input: context + continuation may hold window + 1 tokens.
        int keep = Math.Min(r.Context.Length, _context + 1 - r.Continuation.Length);
        return (r.Context[^keep..], r.Continuation);
    }

    void ScoreGroups(List<(int[] Context, List<(int[] Continuation, List<int> Requests)> Continuations)> groups, int start, int end, LogLikelihood[] results)
    {
        int count = end - start, bs = PagedKvCache.DefaultBlockSize, blocks = 0;
        for (int g = start; g < end; g++)
        {
            blocks += (groups[g].Context.Length + bs - 1) / bs;
            foreach (var (cont, _) in groups[g].Continuations) blocks += (cont.Length + bs - 1) / bs + 1;   // + the copied last block
        }
        var cache = Cache(blocks);
        var sequences = new int[count];
        var first = new (double Log, int Argmax)[count][];   // per group, per continuation: the first token's score
        try
        {
            for (int g = 0; g < count; g++) sequences[g] = cache.AddSequence();
            // The contexts, one batched pass; each context's last row predicts every continuation's first token.
            var ids = groups.Skip(start).Take(count).SelectMany(x => x.Context).ToArray();
            var counts = groups.Skip(start).Take(count).Select(x => x.Context.Length).ToArray();
            Run(cache, ids, sequences, counts, lastOnly: true, logits =>
            {
                for (int g = 0; g < count; g++)
                {
                    var conts = groups[start + g].Continuations;
                    first[g] = new (double, int)[conts.Count];
                    for (int c = 0; c < conts.Count; c++) first[g][c] = LogProb(logits, g, conts[c].Continuation[0]);
                }
            });
            // The continuations' remaining tokens, forked from their context, in passes of about batch-tokens rows.
            var pending = new List<(int Group, int Choice)>();
            for (int g = 0; g < count; g++)
                for (int c = 0; c < groups[start + g].Continuations.Count; c++) pending.Add((g, c));
            for (int p = 0; p < pending.Count;)
            {
                var part = new List<(int Group, int Choice)>();
                int rows = 0;
                for (; p < pending.Count && (part.Count == 0 || rows + groups[start + pending[p].Group].Continuations[pending[p].Choice].Continuation.Length - 1 <= _batchTokens); p++)
                {
                    part.Add(pending[p]);
                    rows += groups[start + pending[p].Group].Continuations[pending[p].Choice].Continuation.Length - 1;
                }
                var scores = part.Select(x => (Sum: first[x.Group][x.Choice].Log, Greedy: first[x.Group][x.Choice].Argmax == groups[start + x.Group].Continuations[x.Choice].Continuation[0])).ToArray();
                var longer = part.Select((x, i) => (x, i)).Where(t => groups[start + t.x.Group].Continuations[t.x.Choice].Continuation.Length > 1).ToList();
                if (longer.Count > 0)
                {
                    var forks = longer.Select(t => cache.Fork(sequences[t.x.Group])).ToArray();
                    var conts = longer.Select(t => groups[start + t.x.Group].Continuations[t.x.Choice].Continuation).ToArray();
                    try
                    {
                        Run(cache, conts.SelectMany(c => c[..^1]).ToArray(), forks, conts.Select(c => c.Length - 1).ToArray(), lastOnly: false, logits =>
                        {
                            int row = 0;
                            for (int f = 0; f < conts.Length; f++)
                            {
                                ref var s = ref scores[longer[f].i];
                                for (int t = 1; t < conts[f].Length; t++, row++)
                                {
                                    var (log, argmax) = LogProb(logits, row, conts[f][t]);
                                    s.Sum += log;
                                    s.Greedy &= argmax == conts[f][t];
                                }
                            }
                        });
                    }
                    finally { foreach (int f in forks) cache.Free(f); }
                }
                for (int i = 0; i < part.Count; i++)
                    foreach (int request in groups[start + part[i].Group].Continuations[part[i].Choice].Requests)
                        results[request] = new LogLikelihood(scores[i].Sum, scores[i].Greedy);
            }
        }
        finally { foreach (int s in sequences) cache.Free(s); }
    }

    /// <summary>Rolling log-likelihood of whole texts (perplexity): <paramref name="texts"/>[i] is a token sequence
    /// whose first token is context only (a BOS or end-of-text token); every later token is predicted once. A text
    /// longer than the window is cut into disjoint windows, each predicting its tokens from the tokens before them in
    /// the window (lm-evaluation-harness's rolling windows with one token of context).</summary>
    /// <returns>Per text: the sum of log-probabilities (nats) and the number of tokens predicted.</returns>
    /// <remarks>With a <paramref name="world"/> of K ranks the passes are dealt round-robin; each rank records its
    /// tokens' log-probabilities in the order it added them and every rank adds all of them up in pass order, so the
    /// sums have the single process's bits.</remarks>
    public (double Sum, int Tokens)[] ScoreRolling(IReadOnlyList<int[]> texts, Communicator? world = null)
    {
        var results = new (double Sum, int Tokens)[texts.Count];
        int rank = world?.Rank ?? 0, ranks = world?.Size ?? 1, pass = -1;
        var terms = ranks > 1 ? new List<RankedScoring.Term>() : null;
        // Windows: (text, first input position, inputs); inputs predict the tokens one after each.
        var windows = new List<(int Text, int Start, int Length)>();
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i].Length < 2) throw new ArgumentException($"text {i} has {texts[i].Length} token(s); a rolling score needs a context token and one more.");
            for (int start = 0; start < texts[i].Length - 1; start += _context)
                windows.Add((i, start, Math.Min(_context, texts[i].Length - 1 - start)));
        }
        for (int w = 0; w < windows.Count;)
        {
            var part = new List<(int Text, int Start, int Length)>();
            int rows = 0;
            for (; w < windows.Count && (part.Count == 0 || rows + windows[w].Length <= _batchTokens); w++) { part.Add(windows[w]); rows += windows[w].Length; }
            if (++pass % ranks != rank) continue;
            var cache = Cache(part.Sum(x => (x.Length + PagedKvCache.DefaultBlockSize - 1) / PagedKvCache.DefaultBlockSize));
            var sequences = part.Select(_ => cache.AddSequence()).ToArray();
            try
            {
                // A window longer than a pass runs in chunks on its own sequence (its keys and values carry over).
                int longest = part.Max(x => x.Length);
                for (int offset = 0; offset < longest; offset += _batchTokens)
                {
                    var live = Enumerable.Range(0, part.Count).Where(j => part[j].Length > offset).ToArray();
                    var counts = live.Select(j => Math.Min(_batchTokens, part[j].Length - offset)).ToArray();
                    var ids = live.SelectMany((j, k) => texts[part[j].Text].AsSpan(part[j].Start + offset, counts[k]).ToArray()).ToArray();
                    Run(cache, ids, live.Select(j => sequences[j]).ToArray(), counts, lastOnly: false, logits =>
                    {
                        int row = 0;
                        for (int k = 0; k < live.Length; k++)
                        {
                            var (text, start, _) = part[live[k]];
                            for (int t = 0; t < counts[k]; t++, row++)
                            {
                                var (log, _) = LogProb(logits, row, texts[text][start + offset + t + 1]);
                                if (terms is not null) { terms.Add(new RankedScoring.Term(pass, text, log)); continue; }
                                results[text].Sum += log;
                                results[text].Tokens++;
                            }
                        }
                    });
                }
            }
            finally { foreach (int s in sequences) cache.Free(s); }
        }
        if (terms is not null) RankedScoring.Sum(world!, terms, results);
        return results;
    }

    // One forward pass under a fresh tape; the logits are read inside, while the tape still owns them.
    void Run(PagedKvCache cache, int[] ids, int[] sequences, int[] counts, bool lastOnly, Action<Tensor> read)
    {
        _tape.Reset();
        using (_tape.Activate())
        using (Tape.NoGrad())
            read(Ops.Contiguous(cache.Forward(_model, ids, sequences, counts, lastOnly)));
    }

    /// <summary>log softmax(logits[row])[target] in double precision, and the row's argmax (the first, on ties).</summary>
    (double Log, int Argmax) LogProb(Tensor logits, int row, int target)
    {
        int V = logits.Shape[1];
        if ((uint)target >= (uint)V) throw new ArgumentException($"token {target} is outside the vocabulary of {V}.");
        var x = logits.AsSpan().Slice(row * V, V);
        if (_row.Length < V) _row = new float[V];
        int argmax = TensorPrimitives.IndexOfMax(x);
        float max = x[argmax];
        var shifted = _row.AsSpan(0, V);
        TensorPrimitives.Subtract(x, max, shifted);
        TensorPrimitives.Exp(shifted, shifted);
        double sum = 0;
        foreach (float e in shifted) sum += e;
        return ((double)x[target] - max - Math.Log(sum), argmax);
    }

    PagedKvCache Cache(int blocks)
    {
        if (_cache is null || _cache.Blocks < blocks)
        {
            _cache?.Dispose();
            _cache = new PagedKvCache(_model.Config, Math.Max(blocks, 2 * (_batchTokens / PagedKvCache.DefaultBlockSize + 1)));
        }
        return _cache;
    }

    public void Dispose()
    {
        _cache?.Dispose();
        _tape.Dispose();
    }
}

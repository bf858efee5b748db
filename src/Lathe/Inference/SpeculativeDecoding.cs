using System.Runtime.InteropServices;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

/// <summary>Speculative decoding (Leviathan et al. 2023; Chen et al. 2023) for many sequences at once: a small draft
/// model with the target's tokenizer proposes k tokens per sequence, one batched draft pass per proposal position (all
/// sequences as rows), and the target scores every sequence's last token and its k proposals in ONE batched pass
/// (k + 1 rows per sequence). Greedy: the proposals stand while they equal the target's own argmax, then the target's
/// token follows — the output is the target's greedy output. Sampled: proposal x stands with probability
/// min(1, p(x)/q(x)), a rejected one is replaced by a draw from norm(max(0, p − q)), and after k accepted a bonus token
/// is drawn from p — the output follows the target's distribution (p and q after every sampling stage). Rejected
/// positions leave both KV caches (<see cref="PagedKvCache.Truncate"/>).</summary>
/// <remarks>A step either runs whole (<see cref="Step"/>) or in two halves around a target pass the caller runs itself
/// (<see cref="Propose"/>, the caller's forward of each sequence's <see cref="AddVerifyRows"/> rows with
/// <c>lastOnly: false</c>, then <see cref="Verify"/>) — a server can put prompt chunks of other requests in that pass.
/// Sequences without room or with <see cref="SpeculativeSequence.DraftTokens"/> = 0 take a plain one-token step in the
/// same pass.</remarks>
public sealed class SpeculativeDecoder : IDisposable
{
    readonly ICachedDecoder _target, _draft;
    readonly Tape _draftTape = new(), _targetTape = new();
    readonly List<int> _ids = [], _sequences = [], _counts = [];
    readonly List<SpeculativeSequence> _rows = [];
    int[] _rowStart = [];
    Tensor? _targetLogits;                 // (N, Vt): the last Step's target pass, valid until the next Step

    /// <param name="target">The model whose output counts.</param>
    /// <param name="draft">The proposer: same tokenizer (see <see cref="CheckVocabularies"/>), its own KV cache.</param>
    public SpeculativeDecoder(ICachedDecoder target, ICachedDecoder draft)
    {
        _target = target;
        _draft = draft;
    }

    /// <summary>Refuses a draft whose tokenizer is not the target's: a different vocabulary size (the error names both),
    /// or the same size with a token that differs (the error names it) — a special token by its text (a GGUF file's
    /// tokenizer decodes control tokens to nothing where tokenizer.json gives their text, so their bytes cannot be
    /// compared), every other token by its bytes. Ids past the tokenizers' vocabulary (a config's padded vocab_size)
    /// never reach the target: the draft proposes only ids the target has.</summary>
    public static void CheckVocabularies(LoadedModel target, LoadedModel draft)
    {
        int Vt = target.Tokenizer.VocabSize, Vd = draft.Tokenizer.VocabSize;
        if (Vt != Vd)
            throw new ArgumentException($"draft: the draft's tokenizer has {Vd} tokens and the target's {Vt}; speculative decoding needs the target's tokenizer.");
        var targetSpecials = Specials(target.Tokenizer);
        var draftSpecials = Specials(draft.Tokenizer);
        // Every token (cheap next to loading a model): a retrained tokenizer of the same size is caught too.
        var one = new int[1];
        for (int id = 0; id < Vt; id++)
        {
            string? a, b;
            if (targetSpecials.ContainsKey(id) || draftSpecials.ContainsKey(id))
            {
                a = targetSpecials.TryGetValue(id, out var ta) ? Show(ta) + " (special)" : "not special";
                b = draftSpecials.TryGetValue(id, out var tb) ? Show(tb) + " (special)" : "not special";
            }
            else
            {
                one[0] = id;
                byte[] x = target.Tokenizer.DecodeBytes(one), y = draft.Tokenizer.DecodeBytes(one);
                if (x.AsSpan().SequenceEqual(y)) continue;
                (a, b) = (Show(System.Text.Encoding.UTF8.GetString(x)), Show(System.Text.Encoding.UTF8.GetString(y)));
            }
            if (a != b)
                throw new ArgumentException($"draft: token {id} is {a} in the target's tokenizer but {b} in the draft's; speculative decoding needs the target's tokenizer.");
        }
    }

    static Dictionary<int, string> Specials(Lathe.Tokenizers.ITokenizer tokenizer)
    {
        var specials = new Dictionary<int, string>();
        foreach (var (text, id) in tokenizer.SpecialTokens) specials.TryAdd(id, text);
        return specials;
    }

    static string Show(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    /// <summary>One speculative step for every sequence in <paramref name="sequences"/>: the draft proposes, the target
    /// verifies in one pass, each sequence's <see cref="SpeculativeSequence.Emitted"/> holds 1 … k + 1 new tokens, and
    /// both caches are cut back to what was emitted.</summary>
    public void Step(PagedKvCache targetCache, PagedKvCache draftCache, IReadOnlyList<SpeculativeSequence> sequences)
    {
        if (sequences.Count == 0) return;
        Propose(targetCache, draftCache, sequences);
        _ids.Clear(); _sequences.Clear(); _counts.Clear();
        foreach (var s in sequences) AddVerifyRows(s, _ids, _sequences, _counts);
        _targetTape.Reset();
        using (_targetTape.Activate())
        using (Tape.NoGrad())
            _targetLogits = Ops.Contiguous(targetCache.Forward(_target, Span(_ids), Span(_sequences), Span(_counts), lastOnly: false));   // (N, Vt)
        int Vt = _targetLogits.Shape[1];
        if (_rowStart.Length < sequences.Count) _rowStart = new int[Math.Max(sequences.Count, 2 * _rowStart.Length)];
        unsafe
        {
            var all = new ReadOnlySpan<float>(_targetLogits.Data, _ids.Count * Vt);
            for (int i = 0, row = 0; i < sequences.Count; row += _counts[i], i++)
            {
                _rowStart[i] = row;
                Verify(targetCache, draftCache, sequences[i], all.Slice(row * Vt, _counts[i] * Vt));
            }
        }
    }

    /// <summary>The raw target logits (Vt) from which <paramref name="sequence"/>'s emitted token
    /// <paramref name="emitted"/> was chosen in the last <see cref="Step"/> (for log-probabilities); valid until the next
    /// Step.</summary>
    public unsafe ReadOnlySpan<float> EmittedLogits(int sequence, int emitted)
    {
        var logits = _targetLogits ?? throw new InvalidOperationException("speculative: no step has run.");
        int Vt = logits.Shape[1];
        return new ReadOnlySpan<float>(logits.Data + (long)(_rowStart[sequence] + emitted) * Vt, Vt);
    }

    /// <summary>The first half of a step: plans each sequence's proposals (its <see cref="SpeculativeSequence.DraftTokens"/>,
    /// fewer where the target's or the draft's context has no room), brings the draft's cache up to each sequence's
    /// tokens, and runs the draft passes (one per proposal position, all proposing sequences as rows).</summary>
    /// <exception cref="InvalidOperationException">A sequence's target cache does not hold its tokens but the last, or
    /// the target's context has no room for one more token.</exception>
    public void Propose(PagedKvCache targetCache, PagedKvCache draftCache, IReadOnlyList<SpeculativeSequence> sequences)
    {
        _rows.Clear();
        foreach (var s in sequences)
        {
            s.Begin();
            int n = s.Tokens.Count, cached = targetCache.Length(s.TargetSequence);
            if (cached != n - 1)
                throw new InvalidOperationException($"speculative: target sequence {s.TargetSequence} caches {cached} tokens; it must cache all {n} but the last.");
            if (n > targetCache.MaxLength)
                throw new InvalidOperationException($"speculative: sequence {s.TargetSequence} has filled the target's context of {targetCache.MaxLength}.");
            if (draftCache.Length(s.DraftSequence) > n - 1)
                throw new InvalidOperationException($"speculative: draft sequence {s.DraftSequence} caches {draftCache.Length(s.DraftSequence)} tokens, more than the {n - 1} the step expects.");
            // The target takes k + 1 rows after n − 1 cached; the draft holds the n tokens and k − 1 proposals.
            s.Planned = Math.Clamp(Math.Min(s.DraftTokens, Math.Min(targetCache.MaxLength - n, draftCache.MaxLength - n + 1)), 0, s.DraftTokens);
            if (s.Planned > 0) _rows.Add(s);
        }
        if (_rows.Count == 0) return;

        // Catch-up: a backlog longer than one chunk (a whole prompt) goes in chunks first, as Generator prefills, so the
        // draft's pass stays small; the rest goes with the first proposal pass.
        int chunk = Generator.PromptChunk;
        while (true)
        {
            _ids.Clear(); _sequences.Clear(); _counts.Clear();
            foreach (var s in _rows)
            {
                var backlog = s.DraftBacklog(draftCache.Length(s.DraftSequence));
                if (backlog.Length <= chunk) continue;
                foreach (int t in backlog[..chunk]) _ids.Add(t);
                _sequences.Add(s.DraftSequence);
                _counts.Add(chunk);
            }
            if (_sequences.Count == 0) break;
            DraftPass(draftCache, null, 0);
        }

        int Vt = _target.Config.VocabSize;
        for (int j = 0; ; j++)
        {
            _ids.Clear(); _sequences.Clear(); _counts.Clear();
            foreach (var s in _rows)
            {
                if (s.Planned <= j) continue;
                if (j == 0)
                {
                    var backlog = s.DraftBacklog(draftCache.Length(s.DraftSequence));
                    foreach (int t in backlog) _ids.Add(t);
                    _counts.Add(backlog.Length);
                }
                else { _ids.Add(s.LastProposal); _counts.Add(1); }
                _sequences.Add(s.DraftSequence);
            }
            if (_sequences.Count == 0) break;
            DraftPass(draftCache, Vt, j);
        }
    }

    // One draft pass over the scheduled rows; with `targetVocab`, each proposing sequence draws its next proposal
    // from its row of logits, cut to the ids the target has.
    unsafe void DraftPass(PagedKvCache draftCache, int? targetVocab, int j)
    {
        _draftTape.Reset();
        using (_draftTape.Activate())
        using (Tape.NoGrad())
        {
            var logits = Ops.Contiguous(draftCache.Forward(_draft, Span(_ids), Span(_sequences), Span(_counts)));   // (sequences, Vd)
            if (targetVocab is not int Vt) return;
            int Vd = logits.Shape[1], width = Math.Min(Vd, Vt), row = 0;
            foreach (var s in _rows)
            {
                if (s.Planned <= j) continue;
                if (!s.Propose(new ReadOnlySpan<float>(logits.Data + (long)row * Vd, width))) s.Planned = j;   // unsure: stop here
                row++;
            }
        }
    }

    /// <summary>Adds <paramref name="sequence"/>'s rows of the target pass: its last token and its proposals (after
    /// <see cref="Propose"/>), as the ids, the target sequence and the row count of a batched
    /// <see cref="PagedKvCache.Forward(ICachedDecoder, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, bool)"/>.</summary>
    public static void AddVerifyRows(SpeculativeSequence sequence, List<int> ids, List<int> sequences, List<int> counts)
    {
        sequence.AddVerifyIds(ids);
        sequences.Add(sequence.TargetSequence);
        counts.Add(sequence.Proposals + 1);
    }

    /// <summary>The second half of a step for one sequence: <paramref name="rows"/> are the target's logits of the rows
    /// <see cref="AddVerifyRows"/> gave ((k + 1) × Vt, in order). Fills <see cref="SpeculativeSequence.Emitted"/> and
    /// cuts both caches back to the emitted tokens.</summary>
    public static void Verify(PagedKvCache targetCache, PagedKvCache draftCache, SpeculativeSequence sequence, ReadOnlySpan<float> rows)
    {
        int k = sequence.Proposals;
        if (rows.Length == 0 || rows.Length % (k + 1) != 0) throw new ArgumentException($"speculative: {rows.Length} logits are not {k + 1} rows.");
        int keep = sequence.Verify(rows, rows.Length / (k + 1));
        targetCache.Truncate(sequence.TargetSequence, sequence.Tokens.Count - 1);
        if (draftCache.Length(sequence.DraftSequence) > keep) draftCache.Truncate(sequence.DraftSequence, keep);
    }

    static ReadOnlySpan<int> Span(List<int> list) => CollectionsMarshal.AsSpan(list);

    public void Dispose()
    {
        _draftTape.Dispose();
        _targetTape.Dispose();
    }
}

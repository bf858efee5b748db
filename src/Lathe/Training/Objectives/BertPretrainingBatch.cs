using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Training.Objectives;

/// <summary>BERT's pre-training examples (Devlin et al. 2019, §3.1 and appendix A.1) built from the trainer's corpus
/// rows of T + 1 tokens (inputs + the last target): for each row, "[CLS] A [SEP] B [SEP]" of S = max(T, 5) tokens
/// with segment ids 0 (through the first [SEP]) and 1 (the rest), where A and B are the row's first S − 3 tokens
/// split at a uniform point (each side ≥ 1 token), and, with probability ½, B is replaced by a span of the same
/// length from another row of the batch (NotNext, NSP label 1; with a batch of one, from another offset of the same
/// row). Then ⌊0.15·(S − 3) + ½⌋ (at least 1) distinct non-special positions are chosen; each becomes [MASK]
/// with probability 0.8, a uniform random non-special token with
/// probability 0.1, and stays unchanged otherwise; its MLM label is the original token (−100 everywhere else).</summary>
/// <remarks>Every random choice comes from one <see cref="Philox"/> seeded with the micro-batch seed, in a fixed
/// order, so a resumed run rebuilds the same examples. Rows need no padding (the corpus stream is contiguous);
/// end-of-text separators inside a row stay ordinary tokens. S exceeds T only for rows shorter than 5 tokens (the
/// evaluator's tail window). Buffers are reused from call to call.</remarks>
public sealed class BertPretrainingBatch(ModelConfig config)
{
    /// <summary>Fraction of the content positions whose token is predicted.</summary>
    public const float MaskFraction = 0.15f;
    /// <summary>Of the predicted positions: the share replaced by [MASK], then the share given a random token.</summary>
    public const float MaskTokenShare = 0.8f, RandomTokenShare = 0.1f;
    /// <summary>The shortest sequence the layout fits: [CLS] a [SEP] b [SEP].</summary>
    public const int MinLength = ModelConfig.BertMinSequence;

    int[] _ids = [], _types = [], _labels = [], _nsp = [], _candidates = [];
    int _n, _b;

    /// <summary>Sequence length S = max(T, <see cref="MinLength"/>) of the last <see cref="Build"/>.</summary>
    public int Length { get; private set; }

    /// <summary>The sequence length built from rows of <paramref name="T"/> tokens.</summary>
    public static int SequenceLength(int T) => Math.Max(T, MinLength);

    /// <summary>Input ids (B, S) of the last <see cref="Build"/>.</summary>
    public ReadOnlySpan<int> Ids => _ids.AsSpan(0, _n);
    /// <summary>Segment ids (B, S): 0 for [CLS] A [SEP], 1 for B [SEP].</summary>
    public ReadOnlySpan<int> TokenTypes => _types.AsSpan(0, _n);
    /// <summary>MLM labels (B, S): the original token at predicted positions, <see cref="BertModel.IgnoreLabel"/> elsewhere.</summary>
    public ReadOnlySpan<int> MlmLabels => _labels.AsSpan(0, _n);
    /// <summary>NSP labels (B): 0 when B continues A, 1 when B is a random span.</summary>
    public ReadOnlySpan<int> NspLabels => _nsp.AsSpan(0, _b);

    /// <summary>Builds the examples of one micro-batch of corpus rows (<paramref name="inputs"/>, <paramref name="targets"/>
    /// both (B, T)) from <paramref name="seed"/>. A corpus token equal to a special id is a one-line error.</summary>
    public void Build(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int B, int T, ulong seed)
    {
        if (B <= 0 || T <= 0 || inputs.Length != B * T || targets.Length != B * T)
            throw new ArgumentException($"bert: {inputs.Length} inputs and {targets.Length} targets for B={B}, T={T}.");
        var c = config;
        for (int i = 0; i < inputs.Length; i++) CheckToken(inputs[i]);
        for (int b = 0; b < B; b++) CheckToken(targets[b * T + T - 1]);
        int S = SequenceLength(T);
        Ensure(ref _ids, B * S); Ensure(ref _types, B * S); Ensure(ref _labels, B * S); Ensure(ref _nsp, B); Ensure(ref _candidates, S);
        _n = B * S; _b = B; Length = S;
        var rng = new Philox(seed);
        int content = S - 3;                                    // ≤ T + 1, the tokens a row has
        int predictions = Math.Max(1, (int)(MaskFraction * content + 0.5f));
        for (int b = 0; b < B; b++)
        {
            var ids = _ids.AsSpan(b * S, S);
            var types = _types.AsSpan(b * S, S);
            int a = 1 + rng.NextInt(content - 1);              // |A| ∈ [1, content − 1]
            int lengthB = content - a;
            bool notNext = (rng.NextUInt() & 1) != 0;
            // Source of B: this row right after A, or a span of another row (T + 1 tokens: inputs + last target).
            int sourceRow = b, start = a;
            if (notNext)
            {
                int span = T + 1 - lengthB + 1;                 // possible starts in a row of T + 1 tokens
                if (B > 1)
                {
                    sourceRow = (b + 1 + rng.NextInt(B - 1)) % B;
                    start = rng.NextInt(span);
                }
                else
                {
                    start = rng.NextInt(span - 1);              // any start but the true continuation's
                    if (start >= a) start++;
                }
            }
            _nsp[b] = notNext ? 1 : 0;
            ids[0] = c.ClsId;
            for (int j = 0; j < a; j++) ids[1 + j] = RowToken(inputs, targets, T, b, j);
            ids[a + 1] = c.SepId;
            for (int j = 0; j < lengthB; j++) ids[a + 2 + j] = RowToken(inputs, targets, T, sourceRow, start + j);
            ids[S - 1] = c.SepId;
            types[..(a + 2)].Fill(0);
            types[(a + 2)..].Fill(1);

            // Choose the predicted positions by a partial Fisher–Yates shuffle of the content positions.
            var labels = _labels.AsSpan(b * S, S);
            labels.Fill(BertModel.IgnoreLabel);
            var candidates = _candidates.AsSpan(0, content);
            for (int j = 0; j < a; j++) candidates[j] = 1 + j;
            for (int j = 0; j < lengthB; j++) candidates[a + j] = a + 2 + j;
            for (int j = 0; j < predictions; j++)
            {
                int pick = j + rng.NextInt(content - j);
                (candidates[j], candidates[pick]) = (candidates[pick], candidates[j]);
                int p = candidates[j];
                labels[p] = ids[p];
                float u = rng.NextFloat();
                if (u < MaskTokenShare) ids[p] = c.MaskId;
                else if (u < MaskTokenShare + RandomTokenShare) ids[p] = RandomToken(rng);
            }
        }
    }

    // Token k of row b's T + 1 tokens: the T inputs, then the last target.
    static int RowToken(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int T, int b, int k) =>
        k < T ? inputs[b * T + k] : targets[b * T + T - 1];

    // A uniform token that is not one of the four special ids (rejection keeps it uniform).
    int RandomToken(Philox rng)
    {
        while (true)
        {
            int t = rng.NextInt(config.VocabSize);
            if (!config.IsBertSpecial(t)) return t;
        }
    }

    // [SEP] may appear in the corpus: it is the document separator `data prepare` writes with a WordPiece tokenizer
    // (its end-of-text), and is kept as an ordinary content token. [CLS], [MASK] and [PAD] must not appear.
    void CheckToken(int t)
    {
        if (config.IsBertSpecial(t) && t != config.SepId)
            throw new InvalidDataException($"bert: corpus token {t} is a special id ([CLS] {config.ClsId}, [SEP] {config.SepId}, [MASK] {config.MaskId}, [PAD] {config.PadId}); " +
                "pretrain adds the four to the data folder's tokenizer.json, or set cls_token_id/mask_token_id/pad_token_id outside the corpus ids");
    }

    static void Ensure(ref int[] a, int n) { if (a.Length < n) a = new int[n]; }
}

using Lathe.Formats;
using Lathe.Tokenizers;

namespace Lathe.Data;

/// <summary>One tokenized conversation: its ids and, per token, whether the model is trained to produce it (a token
/// of an assistant's reply or of its end-of-turn marker).</summary>
public sealed record SftExample(int[] Ids, bool[] Trainable)
{
    /// <summary>Tokens the loss covers (each is the target of the token before it).</summary>
    public int TrainableCount { get { int n = 0; foreach (bool t in Trainable) if (t) n++; return n; } }
}

/// <summary>What to do with a conversation longer than the context allows.</summary>
public enum OverlongPolicy
{
    /// <summary>Keep its start and cut the tail (a reply may lose its end).</summary>
    Truncate,
    /// <summary>Leave it out.</summary>
    Drop,
}

/// <summary>What tokenizing a set of conversations did, so no conversation is lost silently.</summary>
public sealed record SftStats
{
    public int Conversations { get; init; }
    /// <summary>Examples kept (truncated ones included).</summary>
    public int Examples { get; init; }
    /// <summary>Conversations longer than the context + 1 tokens.</summary>
    public int Overlong { get; init; }
    /// <summary>Overlong conversations kept with their tail cut (policy truncate).</summary>
    public int Truncated { get; init; }
    /// <summary>Conversations left out: overlong under policy drop, or truncated to no trainable token.</summary>
    public int Dropped { get; init; }
    public long Tokens { get; init; }
    public long TrainableTokens { get; init; }

    public override string ToString() =>
        $"{Examples} examples from {Conversations} conversations ({Tokens} tokens, {TrainableTokens} trained); {Overlong} overlong: {Truncated} truncated, {Dropped} dropped";
}

/// <summary>Turns conversations into token ids with a loss mask, by a chat template and the model's tokenizer.</summary>
/// <remarks>Tokenization: the whole rendered conversation is tokenized once (special-token text parsed, as inference
/// does), and a token is trainable when its character span overlaps a trainable piece of
/// <see cref="ChatTemplate.RenderForTraining"/>. Tokenizing piece by piece and concatenating would differ at piece
/// boundaries: a SentencePiece tokenizer adds its ▁ prefix at the start of every text it is given, and a BPE merge
/// can cross a boundary inside one pre-token. With the whole text, the ids are exactly those inference sees for the
/// same conversation; where a token does straddle the boundary between prompt and reply it is trainable (the model
/// must produce it). For byte-level BPE tokenizers with GPT-2-style pre-tokenizers and the family's markers as
/// special tokens, the boundaries fall on pre-token splits and the prompt's ids are exactly
/// <c>Encode(Render(prompt))</c> (tested).</remarks>
public sealed class SftEncoder
{
    readonly ChatTemplate _template;
    readonly ITokenizer _tokenizer;
    readonly int? _bos;
    readonly int _maxTokens;
    readonly OverlongPolicy _policy;

    /// <param name="bosId">Put first when the model adds BOS (as <c>LoadedModel.Encode</c>: never twice); null: none.</param>
    /// <param name="context">The training context T: an example holds at most T + 1 tokens (T inputs, T targets).</param>
    public SftEncoder(ChatTemplate template, ITokenizer tokenizer, int? bosId, int context, OverlongPolicy policy)
    {
        if (context < 1) throw new ArgumentException($"sft: context {context} must be at least 1.");
        _template = template; _tokenizer = tokenizer; _bos = bosId; _maxTokens = context + 1; _policy = policy;
    }

    /// <summary>The ids and mask of one conversation, at full length (no overlong policy applied).</summary>
    public SftExample Encode(IReadOnlyList<ChatMessage> messages)
    {
        var pieces = _template.RenderForTraining(messages);
        string text = string.Concat(pieces.Select(p => p.Text));
        var tokens = _tokenizer.EncodeWithOffsets(text, allowSpecial: true);
        bool addBos = _bos is int b && (tokens.Count == 0 || tokens[0].Id != b);
        int n = tokens.Count + (addBos ? 1 : 0);
        var ids = new int[n];
        var trainable = new bool[n];
        int k = 0;
        if (addBos) ids[k++] = _bos!.Value;
        int piece = 0, pieceStart = 0;
        foreach (var t in tokens)
        {
            // Pieces and tokens both run left to right: skip the pieces that end before this token starts, then
            // look for a trainable one among those it overlaps. Empty spans (added BOS/EOS) are never trainable.
            while (piece < pieces.Count && pieceStart + pieces[piece].Text.Length <= t.Start) pieceStart += pieces[piece++].Text.Length;
            bool train = false;
            for (int p = piece, s = pieceStart; p < pieces.Count && s < t.End && !train; s += pieces[p++].Text.Length)
                train = pieces[p].Trainable && t.End > t.Start;
            ids[k] = t.Id;
            trainable[k++] = train;
        }
        return new SftExample(ids, trainable);
    }

    /// <summary>Every conversation tokenized, the overlong ones truncated or dropped by the policy, and the counts.</summary>
    public (List<SftExample> Examples, SftStats Stats) EncodeAll(IEnumerable<ChatConversation> conversations)
    {
        var examples = new List<SftExample>();
        int count = 0, overlong = 0, truncated = 0, dropped = 0;
        long tokens = 0, trained = 0;
        foreach (var c in conversations)
        {
            count++;
            var e = Encode(c.Messages);
            if (e.Ids.Length > _maxTokens)
            {
                overlong++;
                if (_policy == OverlongPolicy.Drop) { dropped++; continue; }
                e = new SftExample(e.Ids[.._maxTokens], e.Trainable[.._maxTokens]);
                // A cut that leaves nothing to learn (the reply fell wholly after the cut) is no example.
                if (Array.IndexOf(e.Trainable, true, 1) < 0) { dropped++; continue; }
                truncated++;
            }
            else if (Array.IndexOf(e.Trainable, true, Math.Min(1, e.Trainable.Length)) < 0)
                throw new InvalidDataException($"data: {c.Source}: the conversation has no trainable token");
            examples.Add(e);
            tokens += e.Ids.Length;
            trained += e.TrainableCount;
        }
        return (examples, new SftStats
        {
            Conversations = count, Examples = examples.Count, Overlong = overlong, Truncated = truncated, Dropped = dropped,
            Tokens = tokens, TrainableTokens = trained,
        });
    }
}
